"""CPU pacing of the tracking worker, so that it does not slow the training it tracks.

A busy second process slows a training thread on a small machine even when a core looks free
(10-25% measured on 2 vCPUs), so until the run's end the worker keeps its CPU time (imports
included: ``import mlflow`` is ~2.5 s of CPU) under a share of one core, raised in proportion
once more than 20,000 metrics are queued, so that it keeps up; at ``end`` the limit goes.

The share follows the cores this process may run on (its CPU affinity): with 4 or more the
worker is not paced (it has a core of its own: the run and its params are in the store some
4 s after it starts, what importing mlflow and opening the store take), with 3 it takes half a
core, with 1 or 2 a tenth (a run then shows up in MLflow some 30 s after training starts, and
an SQLite store takes ~700 metrics a second before the limit rises).
``HYRUN_MLFLOW_WORKER_CPU`` sets the share (0 or less: no limit).
"""
from __future__ import annotations

import os
import threading
import time

CPU_SHARE = 0.1  # of one core, while training runs on a machine of 1 or 2 cores
BACKLOG_FOR_MORE_CPU = 20_000  # queued metrics past which the share grows in proportion
ENV_VAR = "HYRUN_MLFLOW_WORKER_CPU"


def share_for_cores(cores: int) -> float:
    """The default share of a machine with ``cores`` usable cores (1.0: not paced)."""
    if cores >= 4:
        return 1.0
    return 0.5 if cores == 3 else CPU_SHARE


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def share_from_env() -> float:
    """The share ``HYRUN_MLFLOW_WORKER_CPU`` asks for (1.0, no limit, for 0 or less), else
    the default for the usable cores."""
    default = share_for_cores(usable_cores())
    try:
        share = float(os.environ.get(ENV_VAR, default))
    except ValueError:
        share = default
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
