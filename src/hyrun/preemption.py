"""Stopping on SIGTERM or SIGINT at the end of the current iteration.

The first signal asks the runner to stop (``should_stop``); the run then ends as a stopped
run does: the checkpoint hook saves where it is, mid-epoch too, and ``resume=auto``
continues exactly. A second SIGINT interrupts at once. The command exits with
``EXIT_PREEMPTED``, so a scheduler can tell a preempted run from a failed one and requeue it.

Under DDP (``agree=True``) the signal only names the reason; ``AgreeOnStopHook`` makes every
rank stop at the same iteration.
"""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_PREEMPTED = 75  # EX_TEMPFAIL: try again later
SIGNALS = (signal.SIGTERM, signal.SIGINT)
NAMES = frozenset(s.name for s in SIGNALS)


@contextmanager
def stop_on_signals(runner, agree: bool = False) -> Iterator[None]:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        if runner.stop_reason in NAMES and signum == signal.SIGINT:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        runner.logger.warning("%s: stopping after this iteration, with a checkpoint (again to interrupt)", name)
        runner.stop_reason = name
        if not agree:
            runner.should_stop = True

    previous = {s: signal.signal(s, request_stop) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def preempted(runner) -> bool:
    return runner.stop_reason in NAMES
