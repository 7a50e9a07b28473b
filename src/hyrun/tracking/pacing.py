"""CPU pacing of the tracking worker, so that it does not slow the training it tracks.

A busy second process slows a training thread on a small machine even when a core looks free
(10-25% measured on 2 vCPUs), so until the run's end the worker keeps its CPU time (imports
included: ``import mlflow`` is ~2.5 s of CPU) under ``HYRUN_MLFLOW_WORKER_CPU`` (default 0.1)
of one core, raised in proportion once more than 20,000 metrics are queued, so that it keeps
up; at ``end`` the limit goes. With the default, a run shows up in MLflow some 30 s after
training starts, and an SQLite store takes ~700 metrics a second before the limit rises.
"""
from __future__ import annotations

import os
import threading
import time

CPU_SHARE = 0.1  # of one core, while training runs
BACKLOG_FOR_MORE_CPU = 20_000  # queued metrics past which the share grows in proportion
ENV_VAR = "HYRUN_MLFLOW_WORKER_CPU"


def share_from_env() -> float:
    """The share ``HYRUN_MLFLOW_WORKER_CPU`` asks for (1.0, no limit, for 0 or less)."""
    try:
        share = float(os.environ.get(ENV_VAR, CPU_SHARE))
    except ValueError:
        share = CPU_SHARE
    return share if share > 0 else 1.0


def backlog_share(base_share: float, queued: int) -> float:
    """The share for ``queued`` metrics waiting: the base, grown in proportion past the threshold."""
    return min(1.0, base_share * max(1.0, queued / BACKLOG_FOR_MORE_CPU))


class CpuBudget:
    """Keeps the process's CPU time (all threads) under ``share`` of the wall time, by sleeping
    in ``pace``; over a sliding window, so an idle spell earns no long burst later."""

    WINDOW_S = 5.0

    def __init__(self, share: float) -> None:
        self.share = self.base_share = share
        self.unlimited = threading.Event()  # set at the run's end
        self._reset()

    def _reset(self) -> None:
        self._wall0 = time.monotonic()
        self._cpu0 = time.process_time()

    def ahead(self) -> float:
        """How far (s of wall time) the process's CPU time runs ahead of its share."""
        return (time.process_time() - self._cpu0) / self.share - (time.monotonic() - self._wall0)

    def pace(self) -> None:
        while not self.unlimited.is_set() and self.share < 1.0:
            ahead = self.ahead()
            if ahead <= 0.002:
                if time.monotonic() - self._wall0 > self.WINDOW_S:
                    self._reset()
                return
            self.unlimited.wait(min(ahead, 0.25))

    def for_backlog(self, queued: int) -> None:
        self.share = backlog_share(self.base_share, queued)


class PacedImports:
    """A meta path entry that paces the worker at each import (``import mlflow`` is ~2.5 s of
    CPU in some 1500 modules) and finds nothing itself."""

    def __init__(self, budget: CpuBudget) -> None:
        self.budget = budget

    def find_spec(self, name, path=None, target=None):
        self.budget.pace()
