"""Where hooks and steps leave values for the loggers.

Per-iteration values are kept as they come (floats or 0-d tensors, never converted on
the training path) and reduced only when a logger asks, at its interval.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LogBuffer:
    def __init__(self) -> None:
        self.history: dict[str, list[Any]] = {}

    def update(self, values: Mapping[str, Any]) -> None:
        history = self.history
        for key, value in values.items():
            values_of_key = history.get(key)
            if values_of_key is None:
                history[key] = [value]
            else:
                values_of_key.append(value)

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
