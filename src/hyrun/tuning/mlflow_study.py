"""A study in MLflow: the search's parent run describes the study, its children the trials.

hyrun's sweep callback (``hyrun.tracking.callback``) makes the parent run of a search with
``logger=[...,mlflow]`` and writes its id to ``<sweep dir>/mlflow_parent_run.json``; each job's
run is a child of it, tagged by the job with ``optuna.trial_number`` (``hyrun.tuning.trial``).
The sweeper adds, through ``StudyRun``:

* on the parent, once: its name, ``<job name> study <study name>``, and params ``optuna.*``
  (study, storage, sampler, pruner, directions, objectives, n_trials, n_jobs,
  ``optuna.space.<key>`` for each searched key);
* on the parent, as trials end: tags ``optuna.best_value``, ``optuna.best_trial``,
  ``optuna.best_params`` (JSON) and ``optuna.best_param.<key>`` (a study of several objectives:
  ``optuna.best_trials``, the Pareto front's trial numbers), ``optuna.trials.<state>`` counts,
  and the metric ``optuna/best_value`` at step = the number of trials ended;
* on each trial's child run: ``optuna.trial_state`` (COMPLETE, PRUNED, FAIL).

mlflow is imported in a thread of the sweeper's process (it trains nothing), so trials never
wait on it; ``close`` waits for what is queued. A store that fails is warned about once and
never stops the search.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

from hyrun.tracking import parent_file

log = logging.getLogger("hyrun")
PARENT_WAIT_S = 120.0  # the sweep callback's worker makes the parent run in the background
POLL_S = 0.5


class StudyRun:
    def __init__(self, parent_path: Path) -> None:
        self.parent_path = parent_path
        self._queue: queue.Queue = queue.Queue()
        self._warned = False
        self._thread = threading.Thread(target=self._work, name="hyrun-study-mlflow", daemon=True)
        self._thread.start()

    @classmethod
    def of_sweep(cls, sweep_dir: str | os.PathLike, launch_dir: str | os.PathLike) -> StudyRun | None:
        """The study's parent run, when the sweep has one (the MLflow logger is on)."""
        path = parent_file(sweep_dir, launch_dir)
        return cls(path) if path.exists() else None

    # -- what the sweeper says (the main thread; never blocks) ---------------------------------
    def log_study(self, params: dict[str, Any], run_name: str | None = None) -> None:
        self._queue.put(("params", {k: str(v) for k, v in params.items()}, run_name))

    def log_progress(self, tags: dict[str, Any], best_value: float | None, trials_ended: int) -> None:
        self._queue.put(("progress", {k: str(v) for k, v in tags.items()}, best_value, trials_ended))

    def tag_trial(self, number: int, tags: dict[str, Any]) -> None:
        self._queue.put(("trial", number, {k: str(v) for k, v in tags.items()}))

    def close(self, timeout: float = 60.0) -> None:
        """Wait, at most ``timeout`` seconds, for what is queued to be logged."""
        self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("MLflow: the study's parent run may miss its last updates (still logging after %.0f s)",
                        timeout)

    # -- the thread ----------------------------------------------------------------------------
    def _work(self) -> None:
        client, parent = self._connect()
        while (item := self._queue.get()) is not None:
            if client is None:
                continue
            try:
                self._apply(client, parent, item)
            except Exception as error:  # noqa: BLE001 - tracking never stops a search
                self._warn(f"{type(error).__name__}: {error}")

    def _connect(self) -> tuple[Any, dict[str, Any] | None]:
        deadline = time.monotonic() + PARENT_WAIT_S
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                info = json.loads(self.parent_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                info = {}
            if info.get("run_id") or info.get("status") == "failed":
                break
            time.sleep(POLL_S)
        if not info.get("run_id"):
            self._warn(f"no parent run in {self.parent_path} ({info.get('status', 'missing')})")
            return None, None
        try:
            from mlflow.tracking import MlflowClient

            return MlflowClient(info["tracking_uri"]), info
        except Exception as error:  # noqa: BLE001
            self._warn(f"{type(error).__name__}: {error}")
            return None, None

    def _apply(self, client: Any, parent: dict[str, Any], item: tuple) -> None:
        from mlflow.entities import Metric, Param, RunTag

        run_id = parent["run_id"]
        kind = item[0]
        if kind == "params":
            _, values, run_name = item
            params = [Param(k, v) for k, v in values.items()]
            for start in range(0, len(params), 100):
                client.log_batch(run_id, params=params[start:start + 100])
            if run_name:
                client.set_tag(run_id, "mlflow.runName", run_name)
        elif kind == "progress":
            _, tags, best_value, trials_ended = item
            metrics = [] if best_value is None else [
                Metric("optuna/best_value", float(best_value), int(time.time() * 1000), trials_ended)]
            client.log_batch(run_id, metrics=metrics, tags=[RunTag(k, v) for k, v in tags.items()])
        elif kind == "trial":
            _, number, tags = item
            child = self._child(client, parent, number)
            if child is not None:
                client.log_batch(child, tags=[RunTag(k, v) for k, v in tags.items()])

    @staticmethod
    def _child(client: Any, parent: dict[str, Any], number: int) -> str | None:
        """The run of trial ``number`` under the parent (the job made it before it returned)."""
        runs = client.search_runs([parent["experiment_id"]],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent['run_id']}'",
                                  max_results=5000)
        found = [r for r in runs if r.data.tags.get("optuna.trial_number") == str(number)]
        return found[0].info.run_id if found else None  # (newest first)

    def _warn(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning("MLflow: the study is not (fully) logged to its parent run: %s", reason)
