"""Python's cyclic garbage collector around a run: paused while the command line starts,
and kept off the start-up objects while training.

Importing torch and torch._dynamo (the first optimizer does) creates about a million objects,
and the collector walks through them again and again as they arrive: 0.35 s of a 1.9 s
import here (benchmarks/overhead.py, README "Start-up"). Starting a run makes little cyclic
garbage, so ``python -m hyrun`` pauses the collector from its first line until the runner is
built (in a sweep's parent process, until the sweep starts: ``hyrun.sweep_collector``). While
a job trains, what existed before it (modules, the config, the built runner) is frozen out of
the collector's scans; the job's end gives it back, so the jobs of a sweep run in one process
free each other's cycles.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused_here = False  # by pause_for_startup(): a collector someone else switched off stays off


def pause_for_startup() -> None:
    """Stop collecting until the first job's training starts (``while_training``)."""
    global _paused_here
    if gc.isenabled():
        gc.disable()
        _paused_here = True


def resume() -> None:
    """The collector back on, if ``pause_for_startup`` paused it."""
    global _paused_here
    if _paused_here:
        gc.enable()
        _paused_here = False


@contextmanager
def while_training() -> Iterator[None]:
    """Around one job's training: the paused collector back on, and every object made before
    frozen out of its scans until the job ends."""
    resume()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
