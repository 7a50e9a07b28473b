"""The tracking worker's job for a training run (role "run"): the run nested under its sweep's
parent when there is one, the records as metrics and tags, the model at the end, MLflow's
system metrics monitor beside it.

A sweep job waits for its parent run (made by the sweep's worker, its id in the sweep's
parent file) before touching the store; without that file, or when the parent cannot be had,
it logs its run unnested and says why. A continued run (``hyrun.tracking.continuation``)
keeps the parent it has. The run's id goes to the output dir's ``mlflow_run.json``
(``hyrun.tracking.run_file``) as soon as the run exists.
"""
from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path
from typing import Any

from hyrun.records import RECORD_HEADER
from hyrun.tracking import run_file
from hyrun.tracking.continuation import ContinuedRun, in_store, stored_steps
from hyrun.tracking.job import END_MARGIN_S, Job
from hyrun.tracking.params import PARAMS_PER_CALL, clip_tag, safe_key
from hyrun.tracking.protocol import WorkerSummary
from hyrun.tracking.state_file import read_json, worker_alive
from hyrun.tracking.store import MetricQueue, describe

log = logging.getLogger("hyrun.tracking.worker")


class RunJob(Job):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parent_file = self.settings.parent_path
        # a sweep job waits for its parent (made by the sweep's worker) before touching the store
        self.parent_state = "waiting" if self.parent_file else "none"
        self.queue = MetricQueue()
        self.record_tags: dict[str, str] = {}
        self.received = self.logged = self.rejected = 0
        self.stored: dict[str, int] = {}  # a continued run: the largest step the store holds, by key
        self.in_store = 0  # points not logged: the store had them (replayed steps)
        self.keys: dict[str, str] = {}  # record key -> metric key
        self.model: dict[str, Any] | None = None
        self.model_state: str | None = None  # None | "logged" | "not logged: ..."
        self.monitor = None
        self.monitor_tried = not self.settings.system_metrics

    # -- messages -------------------------------------------------------------------------------
    def add_records(self, rows: list) -> None:
        keys = self.keys
        queue = self.queue
        stored = self.stored
        for stamp, record in rows:
            mode = record.get("mode", "train")
            step = int(record.get("iter", 0))
            ms = int(stamp * 1000)
            for name, value in record.items():
                if name in RECORD_HEADER:
                    continue
                full = f"{mode}/{name}"
                key = keys.get(full)
                if key is None:
                    key = keys[full] = safe_key(full)
                if isinstance(value, (int, float)):
                    self.received += 1
                    if stored and in_store(stored, key, step):
                        self.in_store += 1
                    else:
                        queue.add((key, float(value), ms, step))
                elif value is not None:
                    self.record_tags[key] = clip_tag(str(value))
        queue.trim()
        self.budget.for_backlog(len(queue))

    def take_model(self, message: dict[str, Any]) -> None:
        self.model = message

    # -- the sweep's parent run -------------------------------------------------------------------
    def waiting(self) -> bool:
        return super().waiting() or self.parent_state == "waiting"

    def queue_wait(self, now: float) -> float:
        return self.queue.wait_time(now) if len(self.queue) else 0.5

    def ready(self, now: float) -> bool:
        if self.parent_state == "waiting":
            self._check_parent(now)
        return self.parent_state != "waiting"

    # -- an earlier attempt's run -------------------------------------------------------------------
    def recorded_run_id(self) -> str | None:
        path = self.settings.run_path
        return run_file.recorded_run_id(path, self.uri) if path is not None else None

    def run_known(self) -> None:
        if self.continue_id is not None:
            self.parent_state = "none"  # the continued run keeps its parent

    def could_not_continue(self) -> None:
        self.parent_state = "waiting" if self.parent_file else "none"

    def continue_metrics(self, run: ContinuedRun) -> None:
        self.stored = stored_steps(self.store.client, run.run_id, run.metric_keys)
        self.in_store += self.queue.drop(lambda point: in_store(self.stored, point[0], point[3]))

    def run_created(self) -> None:
        path = self.settings.run_path
        if path is not None:
            run_file.record(path, run_id=self.run_id, experiment_id=self.experiment_id, tracking_uri=self.uri)

    def _check_parent(self, now: float) -> None:
        info = read_json(self.parent_file) if self.parent_file.exists() else None
        if info is None:
            self.parent_state = "none"
            self.note(f"no sweep parent run ({self.parent_file} is missing: the MLflow sweep callback is "
                      "not configured), so this run is not nested")
            return
        status = info.get("status")
        if status in ("ready", "ended") and info.get("run_id"):
            same = info.get("tracking_uri") == self.uri and info.get("experiment_name") == self.settings.experiment_name
            if same:
                self.parent_id = info["run_id"]
                self.parent_experiment_id = info.get("experiment_id")
                self.parent_state = "ready"
            else:
                self.parent_state = "none"
                self.note("this job's tracking URI or experiment differs from the sweep parent's: not nested")
            return
        alive = worker_alive(info)
        if status in ("pending", "failing") and alive:
            if not self.ending:
                return
            if status == "pending" and now < self.end_deadline - END_MARGIN_S:
                return
        self.parent_state = "none"
        self.note(f"the sweep parent run is not available ({status}{'' if alive else ', its worker is gone'}); "
                  "this run is logged without it")

    # -- the run's work ---------------------------------------------------------------------------
    def feed(self, now: float) -> None:
        if not self.monitor_tried:
            self._start_monitor()
        self._send_metrics(now)
        self._send_record_tags()

    def _send_metrics(self, now: float) -> None:
        queue = self.queue
        while queue.due(now, self.ending):
            batch = queue.batch()
            rejected = self.store.log_metrics(self.run_id, batch)
            queue.sent(len(batch), now)
            self.rejected += rejected
            self.logged += len(batch) - rejected
            self.budget.for_backlog(len(queue))
            self.budget.pace()

    def _send_record_tags(self) -> None:
        while self.record_tags:
            batch = list(self.record_tags.items())[:PARAMS_PER_CALL]
            self.store.log_tags(self.run_id, batch)
            for key, value in batch:
                if self.record_tags.get(key) == value:
                    del self.record_tags[key]

    def _start_monitor(self) -> None:
        self.monitor_tried = True
        try:
            import psutil  # noqa: F401 - what mlflow's monitor needs
        except ImportError:
            self.note("system metrics are not logged: psutil is not installed (pip install psutil)")
            return
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            # a continued run's system metrics go on from its last step
            self.monitor = SystemMetricsMonitor(self.run_id, tracking_uri=self.uri, resume_logging=self.continued)
            self.monitor.start()
        except Exception as error:  # noqa: BLE001
            self.monitor = None
            self.note(f"system metrics are not logged: {describe(error)}")

    def before_end(self) -> None:
        self._log_model()

    def _log_model(self) -> None:
        if self.model is None or self.model_state is not None:
            return
        path = Path(self.model["path"])
        try:
            for entry in self.model.get("sys_path") or []:
                if entry not in sys.path:
                    sys.path.append(entry)
            import mlflow
            import mlflow.pytorch
            import torch

            model = torch.load(path, map_location="cpu", weights_only=False)
            mlflow.set_tracking_uri(self.uri)
            mlflow.set_experiment(experiment_id=self.experiment_id)  # the logged model's experiment: the run's
            options: dict[str, Any] = {}
            if "serialization_format" in inspect.signature(mlflow.pytorch.log_model).parameters:
                # MLflow >= 3.? defaults to "pt2" (torch.export), which needs an input example and
                # does not fit every model; pickle (as in torch.save) fits any nn.Module
                options["serialization_format"] = "pickle"
            mlflow.pytorch.log_model(model, name="model", run_id=self.run_id,
                                     pip_requirements=self.model.get("pip_requirements"), **options)
        except Exception as error:
            log.exception("the model could not be logged")
            self.model_state = f"not logged ({describe(error)}); the file is kept: {path}"
            return
        self.model_state = "logged"
        try:
            path.unlink()
        except OSError:
            pass

    def stop_feeding(self) -> None:
        if self.monitor is not None:
            try:
                self.monitor.finish()
            except Exception:
                log.exception("system metrics monitor")
            self.monitor = None

    def finish(self) -> None:
        self.stop_feeding()  # the loop may end without the run's end (the deadline, the store given up)

    def summary(self) -> WorkerSummary:
        summary = super().summary()
        summary.metrics_received = self.received
        summary.metrics_logged = self.logged
        summary.metrics_not_logged = len(self.queue) + self.queue.dropped + self.rejected
        summary.metrics_in_store = self.in_store
        summary.tags_not_logged += len(self.record_tags)
        summary.model = (self.model_state or "not logged") if self.model is not None else None
        return summary

