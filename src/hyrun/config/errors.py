"""The one error a user sees for a bad config (README, "Choosing and overriding"): key, value, what is allowed."""
from __future__ import annotations

import sys
from typing import Any, NoReturn


class ConfigError(ValueError):
    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: expected {allowed}")


def exit_with(problem: str) -> NoReturn:
    """The command line's way out for a bad config: the message on stderr, exit status 2."""
    print(f"Error in config: {problem}", file=sys.stderr)
    sys.exit(2)
