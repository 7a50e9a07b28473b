"""MLflow tracking, kept off the training path.

The pieces:

* ``hyrun.hooks.logger.mlflow.MlflowLoggerHook`` (``logger=[...,mlflow]``), in the training
  process: it buffers each record (a few microseconds) and every ~0.5 s writes the buffer as
  one JSON line to the stdin pipe of a *tracking worker* process; it never waits on MLflow.
* ``hyrun.tracking.worker`` (``python -m hyrun.tracking.worker``): the worker. It alone
  imports mlflow; it creates the experiment and the run, logs tags, params and artifacts,
  batches metrics (``MlflowClient.log_batch``, <= 1000 a call), retries what fails with
  backoff, and at the end reports on its stdout what was not logged. Its parts:
  ``protocol`` (what starter and worker say: messages, events, the ``WorkerSummary``),
  ``settings`` (the ``start`` message, typed, and the run's tags, params and artifacts),
  ``job`` (the loop and the steps of every worker), ``run_worker`` (a training run's job),
  ``sweep_worker`` (a sweep parent's job), ``store`` (the calls to MLflow: retries, batches,
  rejected entries), ``pacing`` (its CPU share while training runs), ``state_file`` (the
  JSON files processes share), ``continuation`` (continuing an earlier attempt's run),
  ``run_file`` (``mlflow_run.json`` in a run's output dir: its run, for a resumed run).
* ``hyrun.tracking.channel.WorkerChannel``: the training process's end of that pipe
  (non-blocking writes, the worker's events read back).
* ``hyrun.tracking.callback.MlflowSweepCallback``: a Hydra callback that makes a sweep's
  parent run once, at multirun start (through a worker of its own), and writes its id to
  ``<sweep dir>/mlflow_parent_run.json`` for the jobs' workers.
* ``hyrun.tracking.params``: the composed config as MLflow params (dotted keys, MLflow's limits).

Nothing in this package imports mlflow, torch or omegaconf when imported: ``import hyrun``,
the CLI and runs without the MLflow logger never load mlflow.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from hyrun.urls import absolute_sqlite_url

PARENT_FILE = "mlflow_parent_run.json"  # in the sweep dir: the sweep's parent run, for the jobs
WORKER_LOG = "mlflow_worker.log"  # in a run's output dir (a sweep's: in the sweep dir)
DEFAULT_DB = "mlflow.db"
DEFAULT_EXPERIMENT = "hyrun"

_OVERRIDE_KEY = re.compile(r"^(?:\+\+|\+|~)?(?P<key>[^=]+)=(?P<value>.*)$", re.DOTALL)


def resolve_tracking_uri(uri: str | None, launch_dir: str | os.PathLike | None = None) -> str:
    """``uri``, or ``sqlite:///<launch_dir>/mlflow.db`` when None (README, "TensorBoard and
    MLflow"). A relative SQLite path is made absolute against ``launch_dir``, once, so that every job of a sweep
    (whatever its working directory) writes the same database."""
    base = Path(launch_dir) if launch_dir else Path.cwd()
    if not uri:
        return "sqlite:///" + str((base / DEFAULT_DB).resolve())
    return absolute_sqlite_url(str(uri), base)


def parent_file(sweep_dir: str | os.PathLike, launch_dir: str | os.PathLike | None = None) -> Path:
    """Where a sweep's parent run id is written (``sweep_dir`` relative to ``launch_dir``)."""
    base = Path(launch_dir) if launch_dir else Path.cwd()
    return (base / sweep_dir / PARENT_FILE).resolve()


def split_override(override: str) -> tuple[str, str] | None:
    """``"+a.b=1"`` -> ``("a.b", "1")``; None for a delete override without a value."""
    match = _OVERRIDE_KEY.match(override)
    if match is None:
        return None
    return match.group("key").strip(), match.group("value")


def swept_run_name(overrides: list[str], swept_keys: list[str] | None) -> str:
    """A sweep job's run name: its overrides of the swept keys, joined by commas
    (``optimizer=adam,optimizer.lr=0.1``); all its overrides when the swept keys are unknown."""
    if swept_keys:
        keys = set(swept_keys)
        chosen = [o for o in overrides if (kv := split_override(o)) is not None and kv[0] in keys]
        if chosen:
            return ",".join(chosen)
    return ",".join(overrides)
