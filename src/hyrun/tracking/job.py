"""A tracking worker's job: one MLflow run made, fed and ended, whichever role it has.

The loop takes the starter's messages as they come, and in between does the work in order,
each step retried until it succeeds (``hyrun.tracking.store``): when an earlier attempt's
worker may still write to the run (``predecessor``), waiting until it is gone (at most
``PREDECESSOR_WAIT_S``); the store, the experiment, the run (made, or the earlier attempt's
continued: ``hyrun.tracking.continuation``), its tags, params (in calls of <= 100) and
artifacts, then what the role adds
(``RunJob``: metrics, the model; ``SweepParentJob``: the parent file), and at ``end`` the
run's final status. The end has a deadline (the starter's timeout, less a second for the
summary); the summary (``WorkerSummary``) says what was and was not logged.
"""
from __future__ import annotations

import logging
import queue
import time
import traceback
from typing import Any

from hyrun.tracking.continuation import ContinuedRun, open_run, resume_tags, split_params
from hyrun.tracking.pacing import CpuBudget
from hyrun.tracking.params import PARAMS_PER_CALL, chunks
from hyrun.tracking.protocol import END, FAILING, MODEL, NOTE, RECORDS, RECOVERED, STARTED, Events, WorkerSummary
from hyrun.tracking.settings import WorkerSettings, run_artifacts, run_params, run_tags
from hyrun.tracking.state_file import worker_alive
from hyrun.tracking.store import Retrying, Store, describe, is_permanent

DEFAULT_END_TIMEOUT_S = 60.0
POLL_S = 0.25  # how often a job waiting on another process looks again
# an earlier attempt's worker, its training process gone, ends within its end timeout
PREDECESSOR_WAIT_S = DEFAULT_END_TIMEOUT_S + 15.0
END_MARGIN_S = 15.0  # at the end, a wait on another process stops this long before the deadline

log = logging.getLogger("hyrun.tracking.worker")


class Job:
    """The steps and the loop both roles share; a role adds its own through the methods below
    the line ``-- what a role adds``."""

    def __init__(self, settings: WorkerSettings, inbox: queue.Queue, events: Events,
                 budget: CpuBudget | None = None) -> None:
        self.settings = settings
        self.inbox = inbox
        self.events = events
        self.budget = budget or CpuBudget(1.0)
        self.uri = settings.tracking_uri
        self.store = Store(self.uri, self._rejected)
        self.retry = Retrying()
        self.notes: list[str] = []
        self.rejected_keys: set[str] = set()

        self.predecessor = settings.predecessor
        self.predecessor_deadline = time.monotonic() + PREDECESSOR_WAIT_S
        self.settled = False  # whether the run to continue, if any, is known (the predecessor gone)
        self.continue_id: str | None = None
        self.continued = False

        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self.run_name = settings.run_name
        self.parent_id: str | None = None
        self.parent_experiment_id: str | None = None
        self.params, self.too_long = run_params(settings)
        self.params_kept = 0  # a continued run's params that the run had already
        self.params_done = 0
        self.params_rejected: list[str] = []
        self.tags = run_tags(settings, self.too_long)
        self.tags_done = 0
        self.artifacts = run_artifacts(settings)
        self.artifacts_failed: list[str] = []

        self.ending = False
        self.end_status = "FINISHED"
        self.end_time: float | None = None  # when the run ended (s), its end in MLflow
        self.end_deadline = float("inf")
        self.done = False
        self.terminated = False

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> WorkerSummary:
        while not self.done:
            self._receive(self._wait_time())
            self.budget.pace()
            now = time.monotonic()
            if self.ending and now >= self.end_deadline:
                self.notes.append("stopped at the end's deadline")
                break
            if now < self.retry.retry_at:
                continue
            try:
                self._work(now)
            except Exception as error:  # noqa: BLE001 - every failure is retried or reported
                self._failed(error)
            else:
                self._succeeded()
        self.finish()
        summary = self.summary()
        log.info("summary: %s", summary.to_json())
        return summary

    def _wait_time(self) -> float:
        now = time.monotonic()
        if self.retry.retry_at > now:
            return min(self.retry.retry_at - now, 0.5)
        if self.waiting():
            return POLL_S
        if self.ending:
            return 0.0
        return self.queue_wait(now)

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
                self._begin_end("FAILED", DEFAULT_END_TIMEOUT_S, time.time())
            return
        op = message.get("op")
        if op == RECORDS:
            self.add_records(message.get("rows") or [])
        elif op == MODEL:
            self.take_model(message)
        elif op == END:
            self._begin_end(message.get("status") or "FINISHED", float(message.get("timeout") or DEFAULT_END_TIMEOUT_S),
                            message.get("end_time") or time.time())
        else:
            log.warning("ignored a message with op %r", op)

    def _begin_end(self, status: str, timeout: float, end_time: float) -> None:
        if self.ending:
            return
        self.ending = True
        self.end_status = status
        self.end_time = end_time
        self.end_deadline = time.monotonic() + max(1.0, timeout - 1.0)  # the summary before the starter's deadline
        self.retry.try_now()  # at once, even when in a backoff

    # -- the work, in order; each step raises to be retried -------------------------------
    def _work(self, now: float) -> None:
        if not self._settle(now) or not self.ready(now):
            return
        self.store.connect()
        if self.run_id is None and self.continue_id is not None:
            self._continue_run()
            if self.run_id is None:
                self.could_not_continue()
                return
        if self.experiment_id is None:
            self._experiment()
        if self.run_id is None:
            self._create_run()
        self._log_tags()
        self._log_params()
        self._log_artifacts()
        self.feed(now)
        if self.ending:
            self.before_end()
            self._terminate()
            self.done = True

    def _settle(self, now: float) -> bool:
        """Wait for the predecessor to be gone, then know the run to continue; False while waiting."""
        if self.settled:
            return True
        if self.predecessor is not None:
            alive = worker_alive(self.predecessor)
            if alive and now < min(self.predecessor_deadline, self.end_deadline - END_MARGIN_S):
                return False
            if alive:
                self.note(f"the earlier attempt's tracking worker (pid {self.predecessor.get('pid')}) still runs; "
                          "going on without waiting for it")
            self.predecessor = None
        self.settled = True
        if self.settings.continue_run:
            self.continue_id = self.settings.run_id or self.recorded_run_id()
        self.run_known()
        return True

    def _experiment(self) -> None:
        if self.parent_experiment_id is not None:
            self.experiment_id = self.parent_experiment_id
            return
        self.experiment_id, note = self.store.experiment_id(self.settings.experiment_name or "hyrun")
        if note:
            self.note(note)

    def _create_run(self) -> None:
        first = {k: v for k, v in self.tags.items() if k.startswith("mlflow.")}
        if self.parent_id:
            first["mlflow.parentRunId"] = self.parent_id
        start = self.settings.start_time
        run = self.store.client.create_run(self.experiment_id, run_name=self.run_name, tags=first,
                                           start_time=int(start * 1000) if start else None)
        self.run_id = run.info.run_id
        self.run_name = run.info.run_name
        self.tags = {k: v for k, v in self.tags.items() if k not in first}
        self._started()

    def _continue_run(self) -> None:
        run, why_not = open_run(self.store.client, self.continue_id)
        if run is None:
            self.note(f"the earlier attempt's run cannot be continued ({why_not}): a new run")
            self.continue_id = None
            return
        missing, changed = split_params(self.params, run.params)
        self.continue_metrics(run)  # before anything is kept: a failure here retries the whole step
        self.run_id, self.experiment_id, self.run_name = run.run_id, run.experiment_id, run.run_name
        self.parent_id = run.parent_id
        self.continued = True
        self.params_kept = len(self.params) - len(missing)
        self.params = missing
        self.tags.update(resume_tags(changed, run.tags, self.settings.resumed_at_iter))
        log.info("continuing run %r (%s)%s", self.run_name, self.run_id,
                 f"; changed since: {', '.join(sorted(changed))}" if changed else "")
        self._started()

    def _started(self) -> None:
        self.events.emit(STARTED, run_id=self.run_id, experiment_id=self.experiment_id, run_name=self.run_name,
                         parent_run_id=self.parent_id, continued=self.continued)
        self.run_created()

    def _log_tags(self) -> None:
        items = list(self.tags.items())
        for batch in chunks(items[self.tags_done:], PARAMS_PER_CALL):
            self.store.log_tags(self.run_id, batch)
            self.tags_done += len(batch)

    def _log_params(self) -> None:
        while self.params_done < len(self.params):
            batch = self.params[self.params_done:self.params_done + PARAMS_PER_CALL]
            self.params_rejected += self.store.log_params(self.run_id, batch)
            self.params_done += len(batch)

    def _log_artifacts(self) -> None:
        while self.artifacts:
            name, text = self.artifacts[0]
            try:
                self.store.client.log_text(self.run_id, text, name)
            except Exception as error:
                if not is_permanent(error):
                    raise
                self.artifacts_failed.append(name)
                self.note(f"artifact {name} not logged: {describe(error)}")
            self.artifacts.pop(0)

    def _terminate(self) -> None:
        self.stop_feeding()
        if self.run_id is not None and not self.terminated:
            self.store.client.set_terminated(self.run_id, self.end_status,
                                             end_time=int(self.end_time * 1000) if self.end_time else None)
            self.terminated = True
        self.ended()

    # -- failures ---------------------------------------------------------------------------
    def _failed(self, error: BaseException) -> None:
        message = describe(error)
        if self.retry.first_error is None:
            log.error("tracking store %s: %s", self.uri, "".join(traceback.format_exception(error)).rstrip())
        else:
            log.error("tracking store %s: %s", self.uri, message)
        if self.retry.failed(message, time.monotonic(), self.ending):
            self.events.emit(FAILING, error=message)
            self.started_failing(message)
        if self.retry.gave_up:
            self.done = True

    def _succeeded(self) -> None:
        if self.retry.succeeded():
            log.info("tracking store %s reachable again", self.uri)
            self.events.emit(RECOVERED)

    def _rejected(self, key: str, error: BaseException) -> None:
        if key not in self.rejected_keys:  # said once a key
            self.rejected_keys.add(key)
            self.note(f"MLflow rejected {key!r}: {describe(error)}")

    def note(self, message: str) -> None:
        log.warning("%s", message)
        self.notes.append(message)
        self.events.emit(NOTE, message=message)

    def summary(self) -> WorkerSummary:
        return WorkerSummary(
            role=self.settings.role, run_id=self.run_id, run_name=self.run_name, experiment_id=self.experiment_id,
            parent_run_id=self.parent_id, tracking_uri=self.uri, continued=self.continued,
            params_total=self.params_kept + len(self.params),
            params_logged=self.params_kept + self.params_done - len(self.params_rejected) if self.run_id else 0,
            params_too_long=self.too_long, tags_not_logged=len(self.tags) - self.tags_done,
            artifacts_not_logged=self.artifacts_failed + [name for name, _ in self.artifacts],
            terminated=self.terminated, status=self.end_status, first_error=self.retry.first_error,
            last_error=self.retry.last_error, notes=self.notes)

    # -- what a role adds -----------------------------------------------------------------------
    def waiting(self) -> bool:
        """Whether the job waits on another process (and looks again every ``POLL_S``)."""
        return self.predecessor is not None

    def queue_wait(self, now: float) -> float:
        """How long the loop may sleep when nothing else is due."""
        return 0.5

    def ready(self, now: float) -> bool:
        """Whether the store may be touched yet (a sweep job waits for its parent run)."""
        return True

    def recorded_run_id(self) -> str | None:
        """The earlier attempt's run, when the starter did not know it."""
        return None

    def run_known(self) -> None:
        """Whether there is a run to continue is known (``continue_id``)."""

    def continue_metrics(self, run: ContinuedRun) -> None:
        """Take what the earlier attempt logged of the metrics (raises to be retried)."""

    def could_not_continue(self) -> None:
        """The earlier attempt's run cannot be continued: a new one is made."""

    def add_records(self, rows: list) -> None:
        log.warning("ignored %d records: this worker logs no metrics", len(rows))

    def take_model(self, message: dict[str, Any]) -> None:
        log.warning("ignored a model: this worker logs none")

    def run_created(self) -> None:
        """The run exists (its id in ``run_id``)."""

    def feed(self, now: float) -> None:
        """Log what came since the last call (the run is set up)."""

    def before_end(self) -> None:
        """The last work before the run's end."""

    def stop_feeding(self) -> None:
        """Stop what runs beside the loop (the run is about to end)."""

    def ended(self) -> None:
        """The run's end is logged (or there is no run)."""

    def started_failing(self, message: str) -> None:
        """The store failed, after working or from the start."""

    def finish(self) -> None:
        """The loop is over, the run ended or not."""
