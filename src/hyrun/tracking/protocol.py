"""What a starter (the MLflow logger, the sweep callback) and its tracking worker say to each
other: JSON lines on the worker's stdin (messages), JSON lines on its stdout (events).
Everything else the worker or MLflow prints goes to stderr (the log file ``mlflow_worker.log``
its starter gives it).

stdin messages (``op``):
  start    the settings, first (``hyrun.tracking.settings.WorkerSettings``): role ("run" |
           "sweep"), tracking_uri, experiment_name, run_name, tags, config (the composed config:
           params and ``config.yaml``), overrides (``overrides.yaml``), parent_file (a sweep job:
           where its parent's id appears; role "sweep": the file to write), system_metrics,
           cwd (the launch folder), run_file (role "run": the output dir's ``mlflow_run.json``);
           to continue an earlier attempt's run: continue_run, run_id (when the starter knows
           it), resumed_at_iter, predecessor (the earlier attempt's worker: pid, host);
           start_time (the run's start in MLflow).
  records  ``rows``: [[time (s), record], ...] with the loggers' records (mode, epoch, iter,
           values): numbers become metrics ``<mode>/<key>`` at step = ``iter``, any other value
           a tag of the same name (e.g. ``val/best_checkpoint``).
  model    ``path`` of a pickled ``nn.Module`` (``torch.save(model)``) to log with
           ``mlflow.pytorch.log_model`` as the run's model ``model`` (the file is removed once
           logged); ``sys_path`` to import its classes.
  end      the run's final ``status``, ``end_time`` (s since the epoch: when the run ended, its
           end in MLflow) and ``timeout`` (s): write what is left and stop.
  (end of file without ``end``: the training process died; the run ends as FAILED, then.)

stdout events (``event``): started (run_id, experiment_id, run_name, parent_run_id,
continued), failing (error; at the first failure of a spell), recovered, note (message),
summary (last: a ``WorkerSummary``, what was and was not logged; with ``fatal`` set when the
worker could not work at all).

Plain Python only: the training process encodes with it without importing mlflow.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import IO, Any

# message ops
START, RECORDS, MODEL, END = "start", "records", "model", "end"
# roles
RUN, SWEEP = "run", "sweep"
# events
STARTED, FAILING, RECOVERED, NOTE, SUMMARY = "started", "failing", "recovered", "note", "summary"
MAX_EVENTS = 40  # notes and failures past this many are left to the log; started and summary never are


def encode(message: dict[str, Any]) -> bytes:
    """One message or event as a line; a value JSON has no spelling for becomes a number or text."""
    return (json.dumps(message, separators=(",", ":"), default=_jsonable) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any] | None:
    """A line back as a dict; None for a blank line; ValueError for one that is not a JSON object."""
    if not line.strip():
        return None
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError(f"not a JSON object: {value!r:.200}")  # noqa: TRY004 - a bad line, as a JSON error is
    return value


def records_message(rows: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """The ``records`` message: (time in s, record) pairs."""
    return {"op": RECORDS, "rows": rows}


def model_message(path: str, sys_path: list[str], pip_requirements: list[str]) -> dict[str, Any]:
    """The ``model`` message: a pickled model to log, and what loading it needs."""
    return {"op": MODEL, "path": path, "sys_path": sys_path, "pip_requirements": pip_requirements}


def end_message(status: str, timeout: float, end_time: float | None = None) -> dict[str, Any]:
    """The ``end`` message: the run's final status, when it ended (s since the epoch; now when
    not given), and how long the starter waits (s)."""
    return {"op": END, "status": status, "timeout": timeout, "end_time": time.time() if end_time is None else end_time}


def last_summary(events: list[dict[str, Any]]) -> WorkerSummary | None:
    """The summary among a worker's events, if it sent one."""
    event = next((e for e in reversed(events) if e.get("event") == SUMMARY), None)
    return WorkerSummary.from_json(event) if event is not None else None


def _jsonable(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class Events:
    """The worker's events: JSON lines on the stream its starter reads."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.count = 0

    def emit(self, event: str, **fields: Any) -> None:
        if event not in (SUMMARY, STARTED) and self.count >= MAX_EVENTS:
            return
        self.count += 1
        try:
            self.stream.write(encode({"event": event, **fields}).decode())
            self.stream.flush()
        except (OSError, ValueError):
            pass  # nobody listens any more


@dataclass
class WorkerSummary:
    """What a worker did, its last event: the starter reports from it what was not logged."""

    role: str = RUN
    run_id: str | None = None
    run_name: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    tracking_uri: str | None = None
    continued: bool = False  # the run is an earlier attempt's, continued
    metrics_received: int = 0
    metrics_logged: int = 0
    metrics_not_logged: int = 0
    metrics_in_store: int = 0  # points of replayed steps that an earlier attempt had logged: not logged twice
    params_total: int = 0
    params_logged: int = 0
    params_too_long: list[str] = field(default_factory=list)
    tags_not_logged: int = 0
    artifacts_not_logged: list[str] = field(default_factory=list)
    model: str | None = None  # None: not asked for; "logged"; else why not
    terminated: bool = False
    status: str = "FINISHED"
    first_error: str | None = None
    last_error: str | None = None
    notes: list[str] = field(default_factory=list)
    fatal: str | None = None  # the worker could not work at all (mlflow not importable, no start)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerSummary:
        """From a summary event (its ``event`` key and any key this version does not know are left out)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
