"""Optimizers from config."""
