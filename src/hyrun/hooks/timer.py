"""Per-iteration wall time and data-loading time (MMCV's IterTimerHook)."""
from __future__ import annotations

from time import perf_counter

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order


class IterTimerHook(Hook):
    priority = Order.MEASURE_TIME

    def before_epoch(self, runner) -> None:
        self._last = perf_counter()

    def before_iter(self, runner) -> None:
        self._data_time = perf_counter() - self._last

    def after_iter(self, runner) -> None:
        now = perf_counter()
        runner.log_buffer.update({"time": now - self._last, "data_time": self._data_time})
        self._last = now
