"""``mlflow_run.json`` in a run's output dir: which MLflow run the dir's training logs to, and
which tracking worker does it, so that an attempt that resumes the run continues that MLflow
run once the earlier attempt's worker is done (README, "Stopping and resuming").

Two writers, each its own fields, each read-modify-write of the whole file: the MLflow logger
(the training process) writes its new worker's ``pid`` and ``host`` as soon as it has started
it; the worker writes ``run_id``, ``experiment_id`` and ``tracking_uri`` as soon as the run
exists. A worker outlives its training process (it has a session of its own, and after a
kill it still sends what it holds and ends the run as FAILED), so the file may name a run
that appeared after the training process was killed.
"""
from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from hyrun.tracking.state_file import read_json, write_json_atomic

FILENAME = "mlflow_run.json"

log = logging.getLogger("hyrun.tracking")


def read(path: Path) -> dict[str, Any]:
    return read_json(path) or {}


def claim(path: Path, pid: int) -> None:
    """The starter: worker ``pid`` (on this host) now works for the run in ``path``'s dir."""
    _update(path, pid=pid, host=socket.gethostname())


def record(path: Path, *, run_id: str, experiment_id: str | None, tracking_uri: str) -> None:
    """The worker: the run it logs to."""
    _update(path, run_id=run_id, experiment_id=experiment_id, tracking_uri=tracking_uri)


def recorded_run_id(path: Path, tracking_uri: str) -> str | None:
    """The run id in ``path`` if it is a run of ``tracking_uri``'s store."""
    info = read(path)
    return info.get("run_id") if info.get("tracking_uri") == tracking_uri else None


def _update(path: Path, **fields: Any) -> None:
    try:
        write_json_atomic(path, {**read(path), **fields})
    except OSError as error:
        log.warning("could not write %s: %s", path, error)
