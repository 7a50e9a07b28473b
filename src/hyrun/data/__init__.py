"""Data sets of the embedded experiments, and loaders with a reproducible order."""
