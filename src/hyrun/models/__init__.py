"""Models of the embedded experiments, and the default train/val steps."""
