"""The event loop: epoch- and iteration-based runners, hook priorities, the log buffer."""
