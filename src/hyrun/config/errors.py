"""The one error a user sees for a bad config (README, "Choosing and overriding"): key, value, what is allowed."""
from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: expected {allowed}")
