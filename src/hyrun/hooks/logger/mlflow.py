"""The MLflow logger (``logger=[text,mlflow]``): each record to an MLflow run, off the training path.

MLflow's work (``import mlflow`` 2.5 s, opening a SQLite store 1-4 s, ~0.15 ms of SQLAlchemy
per metric even batched) is done by a *tracking worker*, a process of its own
(``hyrun.tracking.worker``), started at ``before_run`` so that its start-up overlaps training.
This hook only buffers each record with its time (a few microseconds) and every 0.5 s (or 256
records) writes the buffer to the worker's stdin as one JSON line, without ever blocking.
The training process never imports mlflow. The worker keeps to ~10% of a core while training
runs (``HYRUN_MLFLOW_WORKER_CPU``; see ``hyrun.tracking.pacing``), so the run appears in MLflow
some seconds after training starts, and catches up at the end.

What the run gets (see ``hyrun.tracking.worker`` for the worker's side):
  * tracking URI ``logger.mlflow.tracking_uri``, by default ``sqlite:///<launch folder>/mlflow.db``
    (absolute); experiment ``logger.mlflow.experiment_name`` or the Hydra job name (``hyrun``);
    run name ``logger.mlflow.run_name``, or in a sweep the job's overrides of the swept keys
    (``optimizer=adam,optimizer.lr=0.1``), else the output dir relative to the launch folder;
  * tags: ``git_commit`` (and ``mlflow.source.git.commit``) when the launch folder is in a git
    repository, ``hydra.overrides`` (the job's overrides, space-separated), ``override.<key>``
    for each of them, ``hydra.output_dir``, ``hydra.job_num`` and ``mlflow.parentRunId`` in a
    sweep, then ``logger.mlflow.tags``;
  * params: the composed config with dotted keys (``hyrun.tracking.params``), then the model
    summary (``model_summary.parameters``, ``.trainable_parameters``, ``.size_mb``); artifacts
    ``config.yaml`` (the whole composed config, resolved) and ``overrides.yaml``;
  * the run's start and end times: the training's own (its start, before the first iteration,
    and its end), not when the worker, seconds later, made and ended it; a continued run keeps
    its first attempt's start;
  * metrics ``train/<key>`` (loss, lr, momentum, time, data_time, ...) and ``val/<metric>``
    (with ``val/best_<metric>``) at step = the record's ``iter`` (finished training iterations),
    with the time each record was made; a non-numeric value (``best_checkpoint``) is a tag;
  * ``log_model: true``: at the end the model (``runner.model``, unwrapped from DataParallel/DDP) is
    pickled with ``torch.save`` to a temporary file in the output dir and the worker logs it with
    ``mlflow.pytorch.log_model`` as the run's model ``model`` (loadable with
    ``mlflow.pytorch.load_model("runs:/<run_id>/model")`` where its classes, e.g. hyrun's, are
    importable); the file is removed once logged, kept (and named) if it could not be;
  * ``log_system_metrics: true``: MLflow's system metrics monitor (``system/...``, every 10 s)
    runs in the worker; it needs psutil, and without it a warning says so.

A resumed run (``runner.resumed``: ``resume=auto``, a torchrun restart) continues the MLflow
run of the attempt it resumes, whose id is in the checkpoint (this hook's state) and in the
output dir's ``mlflow_run.json`` (``hyrun.tracking.run_file``): the new worker waits for the
earlier attempt's worker to be done, then continues that run, each step logged once
(``hyrun.tracking.continuation``).

Failures never stop training: a worker that cannot start, a store that cannot be reached or
written, are each warned about once; the worker keeps what failed and retries, so a store that
comes back gets the rest; at the end the hook waits (at most ``HYRUN_MLFLOW_END_TIMEOUT``, 60 s)
for the worker to finish and logs what was not logged.
"""
from __future__ import annotations

import atexit
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hyrun.hooks.logger.base import LoggerHook, run_summary
from hyrun.records import record_values
from hyrun.tracking import (
    DEFAULT_EXPERIMENT,
    WORKER_LOG,
    parent_file,
    resolve_tracking_uri,
    run_file,
    split_override,
    swept_run_name,
)
from hyrun.tracking.channel import WorkerChannel
from hyrun.tracking.protocol import (
    FAILING,
    NOTE,
    RECOVERED,
    STARTED,
    SUMMARY,
    WorkerSummary,
    end_message,
    model_message,
    records_message,
)
from hyrun.tracking.settings import WorkerSettings
from hyrun.tracking.state_file import worker_of

FLUSH_EVERY_S = 0.5
FLUSH_EVERY_RECORDS = 256
STATE_KEY = "mlflow"  # the hook's entry in a checkpoint's "hooks": the run it logs to


def end_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get("HYRUN_MLFLOW_END_TIMEOUT", "60")))
    except ValueError:
        return 60.0


class MlflowLoggerHook(LoggerHook):
    def __init__(self, tracking_uri: str | None = None, experiment_name: str | None = None,
                 run_name: str | None = None, tags: dict[str, Any] | None = None, log_model: bool = False,
                 log_system_metrics: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.log_model = log_model
        self.log_system_metrics = log_system_metrics
        self.uri: str | None = None
        self.run_id: str | None = None
        self.summary: WorkerSummary | None = None  # the worker's, after the run
        self._checkpointed: dict[str, Any] = {}  # the run a resumed checkpoint was logging to
        self._channel: WorkerChannel | None = None
        self._rows: list[tuple[float, dict[str, Any]]] = []
        self._flush_at = 0.0
        self._lost_metrics = 0  # records that never reached the worker, counted in metrics
        self._warned = False
        self._gone_reported = False
        self._finished = False

    # -- start --------------------------------------------------------------------------------
    def before_run(self, runner) -> None:
        self.run_id = self.summary = None
        self._channel = None
        self._rows = []
        self._lost_metrics = 0
        self._warned = self._gone_reported = self._finished = False
        self._flush_at = time.monotonic() + FLUSH_EVERY_S
        try:
            settings = self.worker_settings(runner)
        except Exception as error:  # noqa: BLE001 - a tracking problem never stops training
            self._warn_once(runner, f"MLflow logging is off for this run: its settings failed ({error})")
            return
        self._channel = WorkerChannel(settings.to_message(), cwd=settings.cwd,
                                      log_path=Path(runner.work_dir) / WORKER_LOG)
        if not self._channel.ok:
            self._warn_once(runner, f"MLflow logging is off for this run: {self._channel.dead_reason} "
                                    "(text logs go on)")
            self._channel = None
            return
        run_file.claim(Path(settings.run_file), self._channel.proc.pid)  # the next attempt waits for this worker
        atexit.register(self._abandon)
        runner.logger.info("MLflow: logging to %s, experiment %r (tracking worker pid %d, its log %s)", self.uri,
                           settings.experiment_name, self._channel.proc.pid, self._channel.log_path)

    def worker_settings(self, runner) -> WorkerSettings:
        hydra = runner.meta.get("hydra") or {}
        launch_dir = str(hydra.get("cwd") or os.getcwd())
        self.uri = uri = resolve_tracking_uri(self.tracking_uri, launch_dir)
        overrides = [str(o) for o in hydra.get("overrides") or []]
        parent = None
        swept = None
        if hydra.get("mode") == "MULTIRUN" and hydra.get("sweep_dir"):
            parent = parent_file(hydra["sweep_dir"], launch_dir)
            try:
                swept = json.loads(parent.read_text(encoding="utf-8")).get("swept_keys")
            except (OSError, ValueError):
                swept = None
        run_name = self.run_name
        if not run_name and parent is not None and overrides:
            run_name = swept_run_name(overrides, swept)
        if not run_name:
            run_name = default_run_name(runner.work_dir, launch_dir)
        tags: dict[str, str] = {"hydra.overrides": " ".join(overrides)}
        if hydra.get("output_dir"):
            tags["hydra.output_dir"] = str(hydra["output_dir"])
        if parent is not None:
            tags["hydra.job_num"] = str(hydra.get("job_num"))
            tags["hydra.sweep_dir"] = str(hydra["sweep_dir"])
        for override in overrides:
            key_value = split_override(override)
            if key_value is not None:
                tags[f"override.{key_value[0]}"] = key_value[1]
        tags.update(self.tags)
        system_metrics = self.log_system_metrics
        if system_metrics and importlib.util.find_spec("psutil") is None:
            runner.logger.warning("MLflow: log_system_metrics is on but psutil is not installed "
                                  "(pip install psutil): system metrics are not logged")
            system_metrics = False
        run_path = Path(runner.work_dir) / run_file.FILENAME
        checkpointed = self._checkpointed if runner.resumed and self._checkpointed.get("tracking_uri") == uri else {}
        return WorkerSettings(
            tracking_uri=uri, experiment_name=self.experiment_name or hydra.get("job_name") or DEFAULT_EXPERIMENT,
            run_name=run_name, tags=tags, config=runner.meta.get("config") or {},
            extra_params=run_summary(runner.meta), overrides=overrides,
            parent_file=str(parent) if parent is not None else None, system_metrics=system_metrics, cwd=launch_dir,
            run_file=str(run_path), continue_run=bool(runner.resumed), run_id=checkpointed.get("run_id"),
            resumed_at_iter=runner.iter if runner.resumed else None, start_time=time.time(),
            predecessor=worker_of(run_file.read(run_path)))

    # -- checkpoints: the run's id, for a resumed run to continue -------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict[str, Any]) -> None:
        # the records so far go to the worker now: a kill after this checkpoint loses none of
        # them (the worker outlives the training process), and a resumed run replays only later ones
        self._flush(runner)  # (and reads the run's id, once the worker has said it)
        if self.run_id is not None:
            checkpoint.setdefault("hooks", {})[STATE_KEY] = {"run_id": self.run_id, "tracking_uri": self.uri}

    def after_load_checkpoint(self, runner, checkpoint: dict[str, Any]) -> None:
        self._checkpointed = dict(checkpoint.get("hooks", {}).get(STATE_KEY) or {})

    # -- per record: a few microseconds ---------------------------------------------------------
    def log(self, runner, record: dict[str, Any]) -> None:
        channel = self._channel
        if channel is None or not channel.ok:
            self._lost_metrics += count_metrics(record)
            return
        rows = self._rows
        rows.append((time.time(), record))
        if len(rows) >= FLUSH_EVERY_RECORDS or time.monotonic() >= self._flush_at:
            self._flush(runner)
        elif channel.backlog:
            channel.pump()

    def after_train_epoch(self, runner) -> None:
        self._flush(runner)

    def after_val_epoch(self, runner) -> None:
        self._flush(runner)

    def _flush(self, runner) -> None:
        self._flush_at = time.monotonic() + FLUSH_EVERY_S
        channel = self._channel
        if channel is None:
            return
        if self._rows:
            rows, self._rows = self._rows, []
            if not channel.send(records_message(rows)):
                self._lost_metrics += sum(count_metrics(record) for _, record in rows)
        self._handle_events(runner, channel.events())
        if not channel.ok:
            self._report_gone(runner)

    def _handle_events(self, runner, events: list[dict[str, Any]]) -> None:
        for event in events:
            kind = event.get("event")
            if kind == STARTED:
                self.run_id = event.get("run_id")
                how = "continued (the earlier attempt's run)" if event.get("continued") else "started"
                runner.logger.info("MLflow: run %r (%s) %s in %s", event.get("run_name"), self.run_id, how, self.uri)
            elif kind == FAILING:
                self._warn_once(runner, f"MLflow: cannot log to {self.uri} ({event.get('error')}). Training goes "
                                        "on and the text logs are complete; the tracking worker keeps what is not "
                                        "logged and retries in the background")
            elif kind == RECOVERED:
                runner.logger.info("MLflow: %s answers again; the tracking worker sends what it kept", self.uri)
            elif kind == NOTE:
                runner.logger.warning("MLflow: %s", event.get("message"))
            elif kind == SUMMARY:
                self.summary = WorkerSummary.from_json(event)

    def _warn_once(self, runner, message: str) -> None:
        if not self._warned:
            self._warned = True
            runner.logger.warning(message)

    def _report_gone(self, runner) -> None:
        if self._gone_reported:
            return
        self._gone_reported = True
        tail = self._channel.log_tail()
        self._warn_once(runner, f"MLflow: {self._channel.dead_reason}; nothing more is logged to MLflow "
                                f"(text logs go on). Its log {self._channel.log_path}: {tail}")

    # -- end ------------------------------------------------------------------------------------
    def after_run(self, runner) -> None:
        channel = self._channel
        if channel is None:
            if self._lost_metrics:
                runner.logger.warning("MLflow: nothing was logged (%d metrics); the text logs are complete",
                                      self._lost_metrics)
            return
        self._flush(runner)
        if self.log_model and channel.ok:
            self._send_model(runner)
        status = "FINISHED"
        try:
            from hyrun.checkpoint import SAVE_FAILED
            from hyrun.preemption import preempted

            if preempted(runner):
                status = "KILLED"
            elif runner.stop_reason == SAVE_FAILED:  # the run stops with an error (exit 74)
                status = "FAILED"
        except Exception:  # noqa: BLE001
            pass
        timeout = end_timeout()
        events = channel.finish(end_message(status, timeout, time.time()), timeout + 5.0)
        self._finished = True
        atexit.unregister(self._abandon)
        self._handle_events(runner, events)
        self._report(runner)

    def _send_model(self, runner) -> None:
        import torch

        from hyrun.models.wrappers import unwrap_model

        model = unwrap_model(runner.model)
        fd, path = tempfile.mkstemp(dir=runner.work_dir, prefix=".mlflow-model-", suffix=".pt")
        os.close(fd)
        try:
            torch.save(model, path)
        except Exception as error:  # noqa: BLE001
            os.unlink(path)
            runner.logger.warning("MLflow: log_model: the model cannot be pickled (%s: %s); it is not logged",
                                  type(error).__name__, error)
            return
        self._channel.send(model_message(path, [p for p in sys.path if p],
                                         [f"torch=={torch.__version__.split('+')[0]}"]))

    def _report(self, runner) -> None:
        summary = self.summary
        channel = self._channel
        if summary is None or summary.fatal:
            reason = (summary and summary.fatal) or channel.dead_reason or "the tracking worker gave no summary"
            lost = f"{self._lost_metrics} metrics after that were not logged; " if self._lost_metrics else ""
            runner.logger.warning("MLflow: %s; %swhat reached %s before is unknown or nothing (the text logs are "
                                  "complete). Worker log %s: %s", reason, lost, self.uri, channel.log_path,
                                  channel.log_tail())
            return
        lost_metrics = summary.metrics_not_logged + self._lost_metrics
        total_metrics = summary.metrics_received + self._lost_metrics
        missing = []
        if summary.run_id is None:
            missing.append(f"the run itself, so none of its {total_metrics} metrics, {summary.params_total} "
                           "params and artifacts")
        else:
            if lost_metrics:
                missing.append(f"{lost_metrics} of {total_metrics} metrics")
            params_missing = summary.params_total - summary.params_logged
            if params_missing:
                missing.append(f"{params_missing} of {summary.params_total} params")
            if summary.artifacts_not_logged:
                missing.append("artifacts " + ", ".join(summary.artifacts_not_logged))
            if summary.tags_not_logged:
                missing.append(f"{summary.tags_not_logged} tags")
            if summary.model not in (None, "logged"):
                missing.append(f"the model: {summary.model}")
            if not summary.terminated:
                missing.append("the run's end (it shows as running)")
        if missing:
            runner.logger.warning("MLflow: not logged to %s: %s (last error: %s). The text logs (metrics.jsonl) are "
                                  "complete; details in %s", self.uri, "; ".join(missing), summary.last_error,
                                  channel.log_path)
        else:
            extra = ", model" if summary.model == "logged" else ""
            see = f" (to see it: mlflow ui --backend-store-uri {self.uri})" if self.uri.startswith("sqlite:") else ""
            again = (f" (and {summary.metrics_in_store} of replayed steps, in the store already)"
                     if summary.metrics_in_store else "")
            runner.logger.info("MLflow: run %r (%s) %s to %s: %d metrics%s, %d params, artifacts config.yaml, "
                               "overrides.yaml%s%s", summary.run_name, summary.run_id,
                               "continued and logged" if summary.continued else "logged", self.uri,
                               summary.metrics_logged, again, summary.params_logged, extra, see)
        if summary.params_too_long:
            runner.logger.info("MLflow: too long for a param (whole in the config.yaml artifact): %s",
                               ", ".join(summary.params_too_long))

    def _abandon(self) -> None:
        """At interpreter exit when ``after_run`` never came (the run raised): hand over what
        is buffered and close the pipe; the worker then finishes on its own (run FAILED)."""
        channel = self._channel
        if channel is None or self._finished or not channel.ok:
            return
        self._finished = True
        if self._rows:
            channel.send(records_message(self._rows))
            self._rows = []
        channel.abandon(timeout=2.0)


def count_metrics(record: dict[str, Any]) -> int:
    return sum(1 for k, v in record_values(record).items() if isinstance(v, (int, float)))


def default_run_name(work_dir, launch_dir: str) -> str:
    work = Path(work_dir).resolve()
    try:
        return str(work.relative_to(Path(launch_dir).resolve()))
    except ValueError:
        return work.name
