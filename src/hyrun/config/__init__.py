"""Typed config schema, ConfigStore registration and validation."""
