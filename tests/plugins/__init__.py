"""Modules a user would write: registered optimizer, hook and constructor (imported by tests)."""
