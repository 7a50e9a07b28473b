"""Where hooks and steps leave values for the loggers.

Per-iteration values are kept as they come (floats or 0-d tensors, never converted on
the training path) and reduced only when a logger asks, at its interval.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LogBuffer:
    """Values by key. With ``keep`` set, only the last ``keep`` values of each key are kept
    (trimmed in batches, so an update stays O(1)); loggers raise it to their interval."""

    def __init__(self, keep: int | None = None) -> None:
        self.history: dict[str, list[Any]] = {}
        self.keep = keep

    def keep_at_least(self, n: int) -> None:
        if self.keep is not None and n > self.keep:
            self.keep = n

    def update(self, values: Mapping[str, Any]) -> None:
        history = self.history
        for key, value in values.items():
            values_of_key = history.get(key)
            if values_of_key is None:
                history[key] = [value]
                continue
            values_of_key.append(value)
            if self.keep is not None and len(values_of_key) >= 2 * self.keep + 64:
                del values_of_key[: -self.keep]

    def mean(self, last: int = 0) -> dict[str, float]:
        """Mean of each key over its ``last`` values (all of them when 0), as Python floats."""
        means = {}
        for key, values in self.history.items():
            window = values[-last:] if last > 0 else values
            if window:
                means[key] = sum(float(v) for v in window) / len(window)
        return means

    def clear(self) -> None:
        self.history.clear()
