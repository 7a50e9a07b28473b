"""The tracking worker: one process that does all of MLflow's work for one run (or for a
sweep's parent run), so that training never waits on MLflow and never shares its GIL.

    python -m hyrun.tracking.worker      (started by the MLflow logger or the sweep callback)

Protocol: JSON lines on stdin, JSON lines (events) on stdout; everything else the worker
or MLflow prints goes to stderr (the log file ``mlflow_worker.log`` its starter gives it).

stdin messages (``op``):
  start    the settings, first: role ("run" | "sweep"), tracking_uri, experiment_name,
           run_name, tags, config (the composed config: params and ``config.yaml``),
           overrides (``overrides.yaml``), parent_file (a sweep job: where its parent's id
           appears), system_metrics, and for role "sweep": swept_keys, parent_file to write.
  records  ``rows``: [[time (s), record], ...] with the loggers' records (mode, epoch, iter,
           values): numbers become metrics ``<mode>/<key>`` at step = ``iter``, any other value
           a tag of the same name (e.g. ``val/best_checkpoint``).
  model    ``path`` of a pickled ``nn.Module`` (``torch.save(model)``) to log with
           ``mlflow.pytorch.log_model`` as the run's model ``model`` (the file is removed once
           logged); ``sys_path`` to import its classes.
  end      the run's final ``status`` and ``timeout`` (s): write what is left and stop.
  (end of file without ``end``: the training process died; the run ends as FAILED.)

stdout events (``event``): started (run_id, experiment_id), failing (error; at the first
failure of a spell), recovered, note (message), summary (last: what was and was not logged).

Work and retries: the setup (store, experiment, run, tags, params in calls of <= 100,
artifacts) is done in order, each step retried until it succeeds; metrics are sent with
``MlflowClient.log_batch`` (<= 1000 a call) once a second or when 1000 are queued. A failed
call is retried after 1, 2, 4, 8, then every 10 s, keeping what failed queued (at most
500,000 metrics; beyond that the oldest are dropped and counted), so a store that comes back
gets the rest. An error MLflow says is the request's fault (an invalid value) is not retried:
the batch is split to find the offending entries, which are counted as rejected. After
``end``, three more tries (0.5, 1, 2 s apart) if the store fails, then the summary says what
was not logged.

CPU pacing: a busy second process slows a training thread on a small machine even when a core
looks free (10-25% measured on 2 vCPUs), so until the run's end the worker keeps its CPU time
(imports included: ``import mlflow`` is ~2.5 s of CPU) under ``HYRUN_MLFLOW_WORKER_CPU`` (default
0.1) of one core, raised in proportion once more than 20,000 metrics are queued, so that it keeps
up; at ``end`` the limit goes. With the default, a run shows up in MLflow some 30 s after training
starts, and an SQLite store takes ~700 metrics a second before the limit rises.
"""
from __future__ import annotations

import getpass
import inspect
import itertools
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any

from hyrun.tracking.params import (
    METRICS_PER_CALL,
    PARAMS_PER_CALL,
    chunks,
    clip_tag,
    flatten_params,
    safe_key,
)

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 10.0)
END_BACKOFF_S = (0.5, 1.0, 2.0)
SEND_EVERY_S = 1.0
MAX_QUEUED_METRICS = 500_000
PARENT_POLL_S = 0.25
END_PARENT_MARGIN_S = 15.0  # at the end, wait for a pending sweep parent until this long before the deadline
DEFAULT_END_TIMEOUT_S = 60.0
MAX_EVENTS = 40
# CPU pacing: the worker uses at most this share of one core while training runs (a busy second
# process slows a training thread by 10-25% on a small shared machine), more when its queue
# grows (proportionally past BACKLOG_FOR_MORE_CPU metrics), all it wants once the run ends.
CPU_SHARE = 0.1
BACKLOG_FOR_MORE_CPU = 20_000
PERMANENT_CODES = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST", "INVALID_STATE",
                   "RESOURCE_DOES_NOT_EXIST"}
RECORD_HEADER = ("mode", "epoch", "iter")

log = logging.getLogger("hyrun.tracking.worker")


class Events:
    """JSON lines on the real stdout (the starter reads them)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.count = 0

    def emit(self, event: str, **fields: Any) -> None:
        if event not in ("summary", "started") and self.count >= MAX_EVENTS:
            return
        self.count += 1
        try:
            self.stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # nobody listens any more


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

    def pace(self) -> None:
        while not self.unlimited.is_set() and self.share < 1.0:
            wall = time.monotonic() - self._wall0
            ahead = (time.process_time() - self._cpu0) / self.share - wall
            if ahead <= 0.002:
                if wall > self.WINDOW_S:
                    self._reset()
                return
            self.unlimited.wait(min(ahead, 0.25))

    def for_backlog(self, queued: int) -> None:
        self.share = min(1.0, self.base_share * max(1.0, queued / BACKLOG_FOR_MORE_CPU))


class PacedImports:
    """A meta path entry that paces the worker at each import (``import mlflow`` is ~2.5 s of
    CPU in some 1500 modules) and finds nothing itself."""

    def __init__(self, budget: CpuBudget) -> None:
        self.budget = budget

    def find_spec(self, name, path=None, target=None):
        self.budget.pace()


def read_stdin(inbox: queue.Queue, budget: CpuBudget | None = None) -> None:
    """Parse stdin's lines as they come (from the start, so the pipe never fills while the
    main thread imports mlflow or waits on the store); None at end of file. The end (or end
    of file) lifts the CPU budget at once."""
    try:
        for line in sys.stdin.buffer:
            if line.strip():
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("ignored a line that is not JSON: %.200r", line)
                    continue
                if budget is not None and message.get("op") == "end":
                    budget.unlimited.set()
                inbox.put(message)
    finally:
        if budget is not None:
            budget.unlimited.set()
        inbox.put(None)


def is_permanent(error: BaseException) -> bool:
    """An error that retrying cannot fix (MLflow says the request is invalid)."""
    return getattr(error, "error_code", None) in PERMANENT_CODES


def describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:400]}"


def git_commit(folder: str) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=False,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def parent_worker_alive(info: dict[str, Any]) -> bool:
    """Whether the sweep's tracking worker (``info``: the parent file) still runs. A job on
    another machine than the sweep (submitit on SLURM) cannot look up that pid, so it takes the
    worker to be alive and waits for the parent run as long as it may."""
    if info.get("host") not in (None, socket.gethostname()):
        return True
    return pid_alive(info.get("pid"))


class Worker:
    def __init__(self, start: dict[str, Any], inbox: queue.Queue, events: Events,
                 budget: CpuBudget | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        self.budget = budget or CpuBudget(1.0)
        self.Metric, self.Param, self.RunTag = Metric, Param, RunTag
        self.start = start
        self.inbox = inbox
        self.events = events
        self.role = start.get("role", "run")
        self.uri = start["tracking_uri"]
        self.client = None
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self.run_name = start.get("run_name")
        self.parent_file = Path(start["parent_file"]) if start.get("parent_file") else None
        self.parent_id: str | None = None
        self.parent_experiment_id: str | None = None
        # a sweep job waits for its parent (made by the sweep's worker) before touching the store
        self.parent_state = "waiting" if self.role == "run" and self.parent_file else "none"
        self.notes: list[str] = []

        config = start.get("config") or {}
        params, self.too_long = flatten_params(config)
        self.params = list(params.items())
        self.params_done = 0
        self.params_rejected: list[str] = []
        self.tags = self._initial_tags()
        self.tags_done = 0
        self.artifacts: list[tuple[str, str]] = self._artifacts(config)
        self.artifacts_failed: list[str] = []

        self.pending: deque[tuple[str, float, int, int]] = deque()
        self.record_tags: dict[str, str] = {}
        self.received = self.logged = self.dropped = self.rejected = 0
        self.rejected_keys: set[str] = set()
        self.keys: dict[str, str] = {}
        self.model: dict[str, Any] | None = None
        self.model_state: str | None = None  # None | "logged" | "not logged: ..."
        self.monitor = None
        self.monitor_tried = not start.get("system_metrics")

        self.ending = False
        self.end_status = "FINISHED"
        self.end_deadline = float("inf")
        self.end_failures = 0
        self.failures = 0
        self.failing = False
        self.first_error: str | None = None
        self.last_error: str | None = None
        self.retry_at = 0.0
        self.last_send = time.monotonic()
        self.done = False
        self.terminated = False

    # -- settings -------------------------------------------------------------------------
    def _initial_tags(self) -> dict[str, str]:
        tags: dict[str, str] = {"mlflow.source.name": "hyrun", "mlflow.source.type": "LOCAL"}
        try:
            tags["mlflow.user"] = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name in this environment
            pass
        commit = git_commit(self.start.get("cwd") or os.getcwd())
        if commit:
            tags["git_commit"] = commit
            tags["mlflow.source.git.commit"] = commit
        if self.too_long:
            tags["hyrun.params_too_long"] = ",".join(self.too_long)
        tags.update({str(k): str(v) for k, v in (self.start.get("tags") or {}).items()})
        return {safe_key(k): clip_tag(v) for k, v in tags.items()}

    def _artifacts(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        import yaml

        artifacts = []
        if config:
            artifacts.append(("config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True)))
        if self.start.get("overrides") is not None:
            artifacts.append(("overrides.yaml", yaml.safe_dump(list(self.start["overrides"]), allow_unicode=True)))
        return artifacts

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        while not self.done:
            self._receive(self._wait_time())
            self.budget.pace()
            now = time.monotonic()
            if self.ending and now >= self.end_deadline:
                self.notes.append("stopped at the end's deadline")
                break
            if now < self.retry_at:
                continue
            try:
                self._work(now)
            except Exception as error:  # noqa: BLE001 - every failure is retried or reported
                self._failed(error)
            else:
                self._succeeded()
        return self._finish()

    def _wait_time(self) -> float:
        now = time.monotonic()
        if self.retry_at > now:
            return min(self.retry_at - now, 0.5)
        if self.parent_state == "waiting":
            return PARENT_POLL_S
        if self.ending:
            return 0.0
        if self.pending:
            return max(0.0, min(0.5, self.last_send + SEND_EVERY_S - now))
        return 0.5

    def _receive(self, timeout: float) -> None:
        try:
            message = self.inbox.get(timeout=timeout) if timeout > 0 else self.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(message)
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, message: dict[str, Any] | None) -> None:
        if message is None:
            if not self.ending:
                log.warning("stdin closed without an end message: the training process ended abruptly")
                self._begin_end("FAILED", DEFAULT_END_TIMEOUT_S)
            return
        op = message.get("op")
        if op == "records":
            self._add_records(message.get("rows") or [])
        elif op == "model":
            self.model = message
        elif op == "end":
            self._begin_end(message.get("status") or "FINISHED", float(message.get("timeout") or DEFAULT_END_TIMEOUT_S))
        else:
            log.warning("ignored a message with op %r", op)

    def _begin_end(self, status: str, timeout: float) -> None:
        if self.ending:
            return
        self.ending = True
        self.end_status = status
        self.end_deadline = time.monotonic() + max(1.0, timeout - 1.0)  # the summary before the starter's deadline
        self.retry_at = 0.0  # try at once, even when in a backoff

    def _add_records(self, rows: list) -> None:
        keys = self.keys
        pending = self.pending
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
                    pending.append((key, float(value), ms, step))
                    self.received += 1
                elif value is not None:
                    self.record_tags[key] = clip_tag(str(value))
        while len(pending) > MAX_QUEUED_METRICS:
            pending.popleft()
            self.dropped += 1
        self.budget.for_backlog(len(pending))

    # -- the work, in order; each step raises to be retried -------------------------------
    def _work(self, now: float) -> None:
        if self.parent_state == "waiting":
            self._check_parent(now)
            if self.parent_state == "waiting":
                return
        if self.client is None:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(self.uri)
        if self.experiment_id is None:
            self._experiment()
        if self.run_id is None:
            self._create_run()
        self._log_tags()
        self._log_params()
        self._log_artifacts()
        if not self.monitor_tried:
            self._start_monitor()
        if self.role == "run":
            self._send_metrics(now)
            self._send_record_tags()
        if self.ending:
            self._log_model()
            self._terminate()
            self.done = True

    def _check_parent(self, now: float) -> None:
        info = read_json(self.parent_file) if self.parent_file.exists() else None
        if info is None:
            self.parent_state = "none"
            self._note(f"no sweep parent run ({self.parent_file} is missing: the MLflow sweep callback is "
                       "not configured), so this run is not nested")
            return
        status = info.get("status")
        if status in ("ready", "ended") and info.get("run_id"):
            same = info.get("tracking_uri") == self.uri and info.get("experiment_name") == self.start.get("experiment_name")
            if same:
                self.parent_id = info["run_id"]
                self.parent_experiment_id = info.get("experiment_id")
                self.parent_state = "ready"
            else:
                self.parent_state = "none"
                self._note("this job's tracking URI or experiment differs from the sweep parent's: not nested")
            return
        alive = parent_worker_alive(info)
        if status in ("pending", "failing") and alive:
            if not self.ending:
                return
            if status == "pending" and now < self.end_deadline - END_PARENT_MARGIN_S:
                return
        self.parent_state = "none"
        self._note(f"the sweep parent run is not available ({status}{'' if alive else ', its worker is gone'}); "
                   "this run is logged without it")

    def _experiment(self) -> None:
        name = self.start.get("experiment_name") or "hyrun"
        if self.parent_experiment_id is not None:
            self.experiment_id = self.parent_experiment_id
            return
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            try:
                self.experiment_id = self.client.create_experiment(name)
                return
            except Exception:
                experiment = self.client.get_experiment_by_name(name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage != "active":
            self.client.restore_experiment(experiment.experiment_id)
            self._note(f"experiment {name!r} was deleted; restored it")
        self.experiment_id = experiment.experiment_id

    def _create_run(self) -> None:
        first = {k: v for k, v in self.tags.items() if k.startswith("mlflow.")}
        if self.parent_id:
            first["mlflow.parentRunId"] = self.parent_id
        run = self.client.create_run(self.experiment_id, run_name=self.run_name, tags=first)
        self.run_id = run.info.run_id
        self.run_name = run.info.run_name
        self.tags = {k: v for k, v in self.tags.items() if k not in first}
        self.events.emit("started", run_id=self.run_id, experiment_id=self.experiment_id, run_name=self.run_name,
                         parent_run_id=self.parent_id)
        if self.role == "sweep":
            self._write_parent("ready", run_id=self.run_id, experiment_id=self.experiment_id)

    def _log_tags(self) -> None:
        items = [self.RunTag(k, v) for k, v in self.tags.items()]
        for batch in chunks(items[self.tags_done:], PARAMS_PER_CALL):
            self.client.log_batch(self.run_id, tags=batch)
            self.tags_done += len(batch)

    def _log_params(self) -> None:
        while self.params_done < len(self.params):
            batch = self.params[self.params_done:self.params_done + PARAMS_PER_CALL]
            self._log_isolating(batch, lambda part: self.client.log_batch(
                self.run_id, params=[self.Param(k, v) for k, v in part]), self.params_rejected)
            self.params_done += len(batch)

    def _log_isolating(self, batch: list, call, rejected: list) -> None:
        """``call(batch)``; if MLflow rejects the request, find the offending entries by halves."""
        try:
            call(batch)
        except Exception as error:
            if not is_permanent(error):
                raise
            if len(batch) == 1:
                key = batch[0][0]
                rejected.append(key)
                if key not in self.rejected_keys:  # said once a key
                    self.rejected_keys.add(key)
                    self._note(f"MLflow rejected {key!r}: {describe(error)}")
                return
            half = len(batch) // 2
            self._log_isolating(batch[:half], call, rejected)
            self._log_isolating(batch[half:], call, rejected)

    def _log_artifacts(self) -> None:
        while self.artifacts:
            name, text = self.artifacts[0]
            try:
                self.client.log_text(self.run_id, text, name)
            except Exception as error:
                if not is_permanent(error):
                    raise
                self.artifacts_failed.append(name)
                self._note(f"artifact {name} not logged: {describe(error)}")
            self.artifacts.pop(0)

    def _start_monitor(self) -> None:
        self.monitor_tried = True
        try:
            import psutil  # noqa: F401 - what mlflow's monitor needs
        except ImportError:
            self._note("system metrics are not logged: psutil is not installed (pip install psutil)")
            return
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self.monitor = SystemMetricsMonitor(self.run_id, tracking_uri=self.uri)
            self.monitor.start()
        except Exception as error:  # noqa: BLE001
            self.monitor = None
            self._note(f"system metrics are not logged: {describe(error)}")

    def _send_metrics(self, now: float) -> None:
        pending = self.pending
        while pending and (self.ending or len(pending) >= METRICS_PER_CALL or now - self.last_send >= SEND_EVERY_S):
            batch = list(itertools.islice(pending, METRICS_PER_CALL))
            rejected: list = []
            self._log_isolating(batch, lambda part: self.client.log_batch(
                self.run_id, metrics=[self.Metric(k, v, ts, step) for k, v, ts, step in part]), rejected)
            for _ in range(len(batch)):
                pending.popleft()
            self.rejected += len(rejected)
            self.logged += len(batch) - len(rejected)
            self.last_send = now
            self.budget.for_backlog(len(pending))
            self.budget.pace()

    def _send_record_tags(self) -> None:
        while self.record_tags:
            batch = list(itertools.islice(self.record_tags.items(), PARAMS_PER_CALL))
            self.client.log_batch(self.run_id, tags=[self.RunTag(k, v) for k, v in batch])
            for key, value in batch:
                if self.record_tags.get(key) == value:
                    del self.record_tags[key]

    def _log_model(self) -> None:
        if self.model is None or self.model_state is not None:
            return
        path = Path(self.model["path"])
        try:
            for entry in self.model.get("sys_path") or []:
                if entry not in sys.path:
                    sys.path.append(entry)
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

    def _terminate(self) -> None:
        if self.monitor is not None:
            try:
                self.monitor.finish()
            except Exception:
                log.exception("system metrics monitor")
            self.monitor = None
        if self.run_id is not None and not self.terminated:
            self.client.set_terminated(self.run_id, self.end_status)
            self.terminated = True
        if self.role == "sweep":
            self._write_parent("ended", run_id=self.run_id, experiment_id=self.experiment_id)

    # -- failures ---------------------------------------------------------------------------
    def _failed(self, error: BaseException) -> None:
        message = describe(error)
        now = time.monotonic()
        if self.first_error is None:
            log.error("tracking store %s: %s", self.uri, "".join(traceback.format_exception(error)).rstrip())
        else:
            log.error("tracking store %s: %s", self.uri, message)
        self.first_error = self.first_error or message
        self.last_error = message
        self.failures += 1
        if not self.failing:
            self.failing = True
            self.events.emit("failing", error=message)
            if self.role == "sweep" and self.run_id is None:
                self._write_parent("failing", error=message)
        if self.ending:
            self.end_failures += 1
            if self.end_failures > len(END_BACKOFF_S):
                self.done = True
                return
            self.retry_at = now + END_BACKOFF_S[self.end_failures - 1]
        else:
            self.retry_at = now + BACKOFF_S[min(self.failures, len(BACKOFF_S)) - 1]

    def _succeeded(self) -> None:
        if self.failing:
            self.failing = False
            log.info("tracking store %s reachable again", self.uri)
            self.events.emit("recovered")
        self.failures = 0
        self.end_failures = 0

    def _note(self, message: str) -> None:
        log.warning("%s", message)
        self.notes.append(message)
        self.events.emit("note", message=message)

    def _write_parent(self, status: str, **fields: Any) -> None:
        if self.parent_file is None:
            return
        info = read_json(self.parent_file) or {}
        info.update(fields, status=status, pid=os.getpid())
        try:
            write_json_atomic(self.parent_file, info)
        except OSError as error:
            log.error("could not write %s: %s", self.parent_file, error)

    # -- the end ------------------------------------------------------------------------------
    def _finish(self) -> dict[str, Any]:
        if self.monitor is not None:
            try:
                self.monitor.finish()
            except Exception:  # noqa: BLE001
                pass
        if self.role == "sweep" and self.run_id is None:
            self._write_parent("failed", error=self.last_error)
        unsent = len(self.pending)
        params_logged = self.params_done - len(self.params_rejected) if self.run_id else 0
        summary = {
            "role": self.role,
            "run_id": self.run_id,
            "run_name": self.run_name,
            "experiment_id": self.experiment_id,
            "parent_run_id": self.parent_id,
            "tracking_uri": self.uri,
            "metrics_received": self.received,
            "metrics_logged": self.logged,
            "metrics_not_logged": unsent + self.dropped + self.rejected,
            "params_total": len(self.params),
            "params_logged": params_logged,
            "params_too_long": self.too_long,
            "tags_not_logged": (len(self.tags) - self.tags_done) + len(self.record_tags),
            "artifacts_not_logged": self.artifacts_failed + [name for name, _ in self.artifacts],
            "model": (self.model_state or "not logged") if self.model is not None else None,
            "terminated": self.terminated,
            "status": self.end_status,
            "first_error": self.first_error,
            "last_error": self.last_error,
            "notes": self.notes,
        }
        log.info("summary: %s", json.dumps(summary))
        return summary


def main() -> int:
    events = Events(os.fdopen(os.dup(1), "w", encoding="utf-8"))  # the protocol's stream
    os.dup2(2, 1)  # anything else printed (by MLflow, alembic, ...) goes to the log
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    inbox: queue.Queue = queue.Queue()
    try:
        share = float(os.environ.get("HYRUN_MLFLOW_WORKER_CPU", CPU_SHARE))
    except ValueError:
        share = CPU_SHARE
    budget = CpuBudget(share if share > 0 else 1.0)
    threading.Thread(target=read_stdin, args=(inbox, budget), daemon=True, name="hyrun-tracking-stdin").start()
    try:
        os.nice(10)  # training first when the cores are busy
    except OSError:
        pass
    sys.meta_path.insert(0, PacedImports(budget))
    start = inbox.get()
    if start is None:
        return 0
    if start.get("op") != "start":
        events.emit("summary", fatal="the first message was not 'start'")
        return 2
    if start.get("role") == "sweep":
        budget.unlimited.set()  # no training in this process to make room for, and the jobs wait for it
    try:
        import mlflow  # noqa: F401 - the slow part (seconds), overlapping the training's start
    except Exception as error:
        log.exception("cannot import mlflow")
        events.emit("summary", fatal=f"mlflow cannot be imported ({describe(error)})", role=start.get("role"),
                    tracking_uri=start.get("tracking_uri"))
        return 3
    worker = Worker(start, inbox, events, budget)
    summary = worker.run()
    events.emit("summary", **summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
