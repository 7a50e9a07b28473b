"""The tracking worker: one process that does all of MLflow's work for one run (or for a
sweep's parent run), so that training never waits on MLflow and never shares its GIL.

    python -m hyrun.tracking.worker      (started by the MLflow logger or the sweep callback)

What it is told and tells: ``hyrun.tracking.protocol``. Its job: ``hyrun.tracking.job`` (the
loop and the steps both roles share), ``run_worker`` (a training run), ``sweep_worker`` (a
sweep's parent run); its calls to the store and their retries: ``hyrun.tracking.store``; its
CPU pacing: ``hyrun.tracking.pacing``.
"""
from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Iterator

from hyrun.tracking.pacing import CpuBudget, PacedImports, share_from_env
from hyrun.tracking.protocol import END, START, SUMMARY, SWEEP, Events, WorkerSummary, decode
from hyrun.tracking.settings import WorkerSettings
from hyrun.tracking.store import describe

log = logging.getLogger("hyrun.tracking.worker")


def stdin_lines(fd: int = 0) -> Iterator[bytes]:
    """The lines of file descriptor ``fd``, read with ``os.read``. Not ``sys.stdin``: its
    buffered reader holds a lock while it waits for input, and a daemon thread waiting there
    when the worker exits (its starter keeps the pipe open until the worker is gone) makes
    Python abort at shutdown ("Fatal Python error: _enter_buffered_busy: could not acquire
    lock for <_io.BufferedReader name='<stdin>'>"). ``os.read`` holds no lock."""
    pending = b""
    while chunk := os.read(fd, 1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending


def read_stdin(inbox: queue.Queue, budget: CpuBudget | None = None) -> None:
    """Parse stdin's lines as they come (from the start, so the pipe never fills while the
    main thread imports mlflow or waits on the store); None at end of file. The end (or end
    of file) lifts the CPU budget at once."""
    try:
        for line in stdin_lines(sys.stdin.fileno()):
            try:
                message = decode(line)
            except ValueError:
                log.warning("ignored a line that is not JSON: %.200r", line)
                continue
            if message is None:
                continue
            if budget is not None and message.get("op") == END:
                budget.unlimited.set()
            inbox.put(message)
    finally:
        if budget is not None:
            budget.unlimited.set()
        inbox.put(None)


def main() -> int:
    events = Events(os.fdopen(os.dup(1), "w", encoding="utf-8"))  # the protocol's stream
    os.dup2(2, 1)  # anything else printed (by MLflow, alembic, ...) goes to the log
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    inbox: queue.Queue = queue.Queue()
    budget = CpuBudget(share_from_env())
    threading.Thread(target=read_stdin, args=(inbox, budget), daemon=True, name="hyrun-tracking-stdin").start()
    try:
        os.nice(10)  # training first when the cores are busy
    except OSError:
        pass
    sys.meta_path.insert(0, PacedImports(budget))
    start = inbox.get()
    if start is None:
        return 0
    if start.get("op") != START:
        events.emit(SUMMARY, **WorkerSummary(fatal="the first message was not 'start'").to_json())
        return 2
    settings = WorkerSettings.from_message(start)
    if settings.role == SWEEP:
        budget.unlimited.set()  # no training in this process to make room for, and the jobs wait for it
    try:
        import mlflow  # noqa: F401 - the slow part (seconds), overlapping the training's start
    except Exception as error:
        log.exception("cannot import mlflow")
        events.emit(SUMMARY, **WorkerSummary(fatal=f"mlflow cannot be imported ({describe(error)})", role=settings.role,
                                             tracking_uri=settings.tracking_uri).to_json())
        return 3
    if settings.role == SWEEP:
        from hyrun.tracking.sweep_worker import SweepParentJob as JobClass
    else:
        from hyrun.tracking.run_worker import RunJob as JobClass
    summary = JobClass(settings, inbox, events, budget).run()
    events.emit(SUMMARY, **summary.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
