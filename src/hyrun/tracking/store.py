"""The tracking worker's calls to an MLflow store, made to survive a store that fails.

Each call raises to be retried: a failed call is retried after 1, 2, 4, 8, then every 10 s
(``Retrying``), keeping what failed queued, so a store that comes back gets the rest. After
``end``, three more tries (0.5, 1, 2 s apart) if the store fails, then the summary says what
was not logged. An error MLflow says is the request's fault (an invalid value) is not
retried: the batch is split in halves to find the offending entries, which are counted as
rejected (``log_isolating``). Metrics wait in a ``MetricQueue`` (at most 500,000; beyond that
the oldest are dropped and counted) and are sent with ``MlflowClient.log_batch`` (<= 1000 a
call) once a second or when 1000 are queued; tags and params go <= 100 a call.

mlflow is imported when a ``Store`` connects, never when this module is.
"""
from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hyrun.tracking.params import METRICS_PER_CALL

BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 10.0)
END_BACKOFF_S = (0.5, 1.0, 2.0)
SEND_EVERY_S = 1.0
MAX_QUEUED_METRICS = 500_000
PERMANENT_CODES = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "MALFORMED_REQUEST", "INVALID_STATE",
                   "RESOURCE_DOES_NOT_EXIST"}

MetricPoint = tuple[str, float, int, int]  # key, value, timestamp (ms), step


def is_permanent(error: BaseException) -> bool:
    """An error that retrying cannot fix (MLflow says the request is invalid)."""
    return getattr(error, "error_code", None) in PERMANENT_CODES


def describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:400]}"


def log_isolating(batch: list, call: Callable[[list], Any], reject: Callable[[Any, BaseException], None]) -> None:
    """``call(batch)``; if MLflow rejects the request, find the offending entries by halves
    and ``reject(entry, error)`` each; any other error is raised (to be retried)."""
    try:
        call(batch)
    except Exception as error:
        if not is_permanent(error):
            raise
        if len(batch) == 1:
            reject(batch[0], error)
            return
        half = len(batch) // 2
        log_isolating(batch[:half], call, reject)
        log_isolating(batch[half:], call, reject)


class Retrying:
    """A spell of failures and when to try again."""

    def __init__(self) -> None:
        self.failures = 0  # in this spell
        self.end_failures = 0  # in this spell, after the end
        self.failing = False
        self.gave_up = False  # the end's tries are spent
        self.first_error: str | None = None
        self.last_error: str | None = None
        self.retry_at = 0.0

    def failed(self, message: str, now: float, ending: bool) -> bool:
        """Count a failure and set when to retry; True when it starts a spell."""
        self.first_error = self.first_error or message
        self.last_error = message
        self.failures += 1
        started = not self.failing
        self.failing = True
        if ending:
            self.end_failures += 1
            if self.end_failures > len(END_BACKOFF_S):
                self.gave_up = True
            else:
                self.retry_at = now + END_BACKOFF_S[self.end_failures - 1]
        else:
            self.retry_at = now + BACKOFF_S[min(self.failures, len(BACKOFF_S)) - 1]
        return started

    def succeeded(self) -> bool:
        """End the spell; True when there was one."""
        ended = self.failing
        self.failing = False
        self.failures = self.end_failures = 0
        return ended

    def try_now(self) -> None:
        self.retry_at = 0.0


class MetricQueue:
    """Metrics waiting for the store, oldest first."""

    def __init__(self) -> None:
        self.points: deque[MetricPoint] = deque()
        self.dropped = 0
        self.last_send = time.monotonic()

    def __len__(self) -> int:
        return len(self.points)

    def add(self, point: MetricPoint) -> None:
        self.points.append(point)

    def trim(self) -> None:
        """Drop the oldest beyond ``MAX_QUEUED_METRICS`` (counted)."""
        while len(self.points) > MAX_QUEUED_METRICS:
            self.points.popleft()
            self.dropped += 1

    def due(self, now: float, ending: bool) -> bool:
        """Whether a batch goes now: at the end, a full batch, or a second since the last."""
        return bool(self.points) and (ending or len(self.points) >= METRICS_PER_CALL
                                      or now - self.last_send >= SEND_EVERY_S)

    def wait_time(self, now: float) -> float:
        """How long until a batch is due (0.5 s at most)."""
        return max(0.0, min(0.5, self.last_send + SEND_EVERY_S - now))

    def drop(self, unwanted: Callable[[MetricPoint], bool]) -> int:
        """Drop the points ``unwanted`` says; returns how many."""
        kept = deque(point for point in self.points if not unwanted(point))
        dropped = len(self.points) - len(kept)
        self.points = kept
        return dropped

    def batch(self) -> list[MetricPoint]:
        return list(itertools.islice(self.points, METRICS_PER_CALL))

    def sent(self, count: int, now: float) -> None:
        for _ in range(count):
            self.points.popleft()
        self.last_send = now


class Store:
    """One tracking URI's ``MlflowClient`` and the calls a job makes; each raises to be retried."""

    def __init__(self, uri: str, reject: Callable[[str, BaseException], None]) -> None:
        self.uri = uri
        self.client = None
        self._reject = reject  # told of each entry MLflow rejects: (key, error)

    def connect(self) -> None:
        if self.client is None:
            from mlflow.entities import Metric, Param, RunTag
            from mlflow.tracking import MlflowClient

            self.Metric, self.Param, self.RunTag = Metric, Param, RunTag
            self.client = MlflowClient(self.uri)

    def experiment_id(self, name: str) -> tuple[str, str | None]:
        """The id of experiment ``name``, made if missing, restored if deleted (and a note saying so)."""
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return self.client.create_experiment(name), None
            except Exception:
                experiment = self.client.get_experiment_by_name(name)  # made meanwhile by another job
                if experiment is None:
                    raise
        note = None
        if experiment.lifecycle_stage != "active":
            self.client.restore_experiment(experiment.experiment_id)
            note = f"experiment {name!r} was deleted; restored it"
        return experiment.experiment_id, note

    def log_tags(self, run_id: str, tags: list[tuple[str, str]]) -> None:
        """At most ``params.PARAMS_PER_CALL`` tags."""
        self.client.log_batch(run_id, tags=[self.RunTag(k, v) for k, v in tags])

    def log_params(self, run_id: str, params: list[tuple[str, str]]) -> list[str]:
        """At most ``params.PARAMS_PER_CALL`` params; returns the keys MLflow rejected."""
        rejected: list[str] = []
        log_isolating(params, lambda part: self.client.log_batch(run_id, params=[self.Param(k, v) for k, v in part]),
                      lambda entry, error: self._rejected(entry[0], error, rejected))
        return rejected

    def log_metrics(self, run_id: str, points: list[MetricPoint]) -> int:
        """At most ``METRICS_PER_CALL`` points; returns how many MLflow rejected."""
        rejected: list[str] = []
        log_isolating(points, lambda part: self.client.log_batch(
            run_id, metrics=[self.Metric(k, v, ts, step) for k, v, ts, step in part]),
            lambda entry, error: self._rejected(entry[0], error, rejected))
        return len(rejected)

    def _rejected(self, key: str, error: BaseException, rejected: list[str]) -> None:
        rejected.append(key)
        self._reject(key, error)

