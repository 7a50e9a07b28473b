"""End a run before a wall-clock budget runs out (a cluster job's time limit, say).

Why stop early rather than be killed: a stopped run ends as any stopped run does, with
``after_run`` (CheckpointHook then saves where it is, so ``resume=auto`` continues), while
a killed one loses everything since its last checkpoint.

How. The clock starts in ``before_run``. After each training iteration the hook estimates
the time of the next one as the mean so far, ``elapsed / iterations`` (this run's
iterations; evaluation, checkpoints and the start-up amortised in it), and sets
``runner.should_stop`` when ``elapsed + mean`` would pass ``max_seconds``. The runner then
finishes the current iteration and ends the run. The check is one ``perf_counter()`` call
and a few float operations per iteration. It runs late (VERY_LOW=90) so the iteration's own
hooks are inside the measured time; it says nothing when the iteration was the run's last.
"""
from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Priority

if TYPE_CHECKING:
    from hyrun.runner.base import Runner


class TimeLimitHook(Hook):
    """``max_seconds``: the run's wall-clock budget, from ``before_run``."""

    priority = Priority.VERY_LOW

    def __init__(self, max_seconds: float) -> None:
        if not max_seconds > 0:
            raise ValueError(f"TimeLimitHook max_seconds must be > 0, got {max_seconds!r}")
        self.max_seconds = float(max_seconds)
        self._start = 0.0
        self._iters = 0

    def before_run(self, runner: Runner) -> None:
        self._start = perf_counter()
        self._iters = 0

    def after_train_iter(self, runner: Runner) -> None:
        self._iters += 1
        elapsed = perf_counter() - self._start
        mean = elapsed / self._iters
        if elapsed + mean <= self.max_seconds or runner.should_stop or runner.iter + 1 >= runner.max_iters:
            return
        runner.should_stop = True
        runner.stop_reason = "time limit"
        runner.logger.warning(
            f"Time limit: stopping after iter {runner.iter + 1} (epoch {runner.epoch + 1}): {elapsed:.1f} s "
            f"elapsed, {mean:.3g} s per iteration, the next would end past max_seconds={self.max_seconds:g}")
