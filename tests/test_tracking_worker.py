"""The tracking worker's parts on their own (``hyrun.tracking``): the store's batches and how
it finds the entries MLflow rejects, against a real SQLite store read back with MlflowClient;
the retry schedule; the metric queue; the summary and the settings through the protocol;
the CPU pacing's arithmetic; a job continuing an earlier attempt's run (README, "Stopping
and resuming"), fed in process."""
from __future__ import annotations

import io
import json
import shutil
import time

import pytest

from hyrun.tracking import pacing, store
from hyrun.tracking.protocol import SUMMARY, Events, WorkerSummary, decode, encode, last_summary
from hyrun.tracking.settings import WorkerSettings

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory, empty_store) -> str:
    path = tmp_path_factory.mktemp("parts") / "mlflow.db"
    shutil.copy(empty_store, path)
    return f"sqlite:///{path}"


@pytest.fixture
def run_in_store(sqlite_uri):
    """A fresh run in the module's store, and a ``Store`` on it that keeps what it is told is rejected."""
    rejected: list[tuple[str, str]] = []
    tracking = store.Store(sqlite_uri, lambda key, error: rejected.append((key, getattr(error, "error_code", None))))
    tracking.connect()
    experiment_id, _ = tracking.experiment_id("parts")
    run_id = tracking.client.create_run(experiment_id).info.run_id
    return tracking, run_id, rejected


def history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


# -- the store -----------------------------------------------------------------------------------
def test_a_rejected_metric_is_found_by_halves_and_the_rest_is_logged(run_in_store):
    tracking, run_id, rejected = run_in_store
    points = [("train/loss", 1.0 / step, 1000 + step, step) for step in range(1, 8)]
    points.insert(5, ("train//bad", 0.0, 1000, 6))  # a key MLflow refuses (INVALID_PARAMETER_VALUE)
    calls = []
    real = tracking.client.log_batch
    tracking.client.log_batch = lambda *args, **kwargs: (calls.append(len(kwargs["metrics"])), real(*args, **kwargs))
    assert tracking.log_metrics(run_id, points) == 1
    assert rejected == [("train//bad", "INVALID_PARAMETER_VALUE")]
    assert history(tracking.client, run_id, "train/loss") == [(step, 1.0 / step) for step in range(1, 8)]
    assert calls == [8, 4, 4, 2, 1, 1, 2]  # the whole, then by halves: a clean half in one call


def test_a_param_mlflow_refuses_to_change_is_rejected_alone(run_in_store):
    tracking, run_id, rejected = run_in_store
    assert tracking.log_params(run_id, [("a", "1"), ("b", "2")]) == []
    assert tracking.log_params(run_id, [("b", "3"), ("c", "4"), ("a", "1")]) == ["b"]  # a param's value is final
    assert tracking.client.get_run(run_id).data.params == {"a": "1", "b": "2", "c": "4"}
    assert [key for key, _ in rejected] == ["b"]


def test_an_error_of_the_store_is_raised_to_be_retried_not_split(run_in_store):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

    calls = []

    def down(batch):
        calls.append(len(batch))
        raise MlflowException("connection refused", error_code=TEMPORARILY_UNAVAILABLE)

    with pytest.raises(MlflowException):
        store.log_isolating(list(range(8)), down, lambda entry, error: None)
    assert calls == [8]


def test_retries_back_off_then_the_end_gives_three_more_tries():
    retry = store.Retrying()
    assert retry.failed("e1", now=100.0, ending=False)  # the spell starts
    waits = [retry.retry_at - 100.0]
    for n in range(5):
        assert not retry.failed(f"e{n + 2}", now=100.0, ending=False)
        waits.append(retry.retry_at - 100.0)
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    end_waits = []
    for _ in range(3):
        retry.failed("end", now=200.0, ending=True)
        end_waits.append(retry.retry_at - 200.0)
    assert end_waits == [0.5, 1.0, 2.0] and not retry.gave_up
    retry.failed("end", now=200.0, ending=True)
    assert retry.gave_up
    assert (retry.first_error, retry.last_error) == ("e1", "end")
    assert retry.succeeded() and not retry.succeeded()  # a spell ends once


def test_the_metric_queue_sends_full_batches_at_once_and_the_rest_each_second(monkeypatch):
    queue = store.MetricQueue()
    now = queue.last_send
    for step in range(2500):
        queue.add(("train/loss", 0.5, 0, step))
    assert queue.due(now, ending=False)  # 1000 queued: a batch goes now
    assert [p[3] for p in queue.batch()] == list(range(1000))
    queue.sent(1000, now)
    queue.sent(1000, now)
    assert len(queue) == 500 and not queue.due(now + 0.5, ending=False)
    assert queue.wait_time(now + 0.25) == 0.5 and queue.wait_time(now + 0.75) == pytest.approx(0.25)
    assert queue.due(now + 1.0, ending=False) and queue.due(now, ending=True)
    monkeypatch.setattr(store, "MAX_QUEUED_METRICS", 200)
    queue.trim()
    assert len(queue) == 200 and queue.dropped == 300
    assert queue.batch()[0][3] == 2300  # the oldest went


# -- the protocol ----------------------------------------------------------------------------------
def test_the_summary_goes_through_the_protocol_whole():
    summary = WorkerSummary(run_id="abc", run_name="outputs/x", experiment_id="3", tracking_uri="sqlite:///m.db",
                            metrics_received=12, metrics_logged=10, metrics_not_logged=2, params_total=5,
                            params_logged=4, params_too_long=["note"], artifacts_not_logged=["config.yaml"],
                            model="logged", terminated=True, last_error="E: x", notes=["one", "two"])
    out = io.StringIO()
    Events(out).emit(SUMMARY, **summary.to_json())
    (line,) = out.getvalue().splitlines()
    event = decode(line.encode())
    assert event["event"] == SUMMARY
    assert WorkerSummary.from_json(event) == summary
    assert last_summary([{"event": "note", "message": "m"}, event]) == summary
    assert last_summary([{"event": "note"}]) is None
    # a key this version does not know (a newer worker) is left out, a missing one takes its default
    assert WorkerSummary.from_json({"run_id": "r", "new_field": 1}) == WorkerSummary(run_id="r")


def test_settings_go_through_the_start_message_whole():
    settings = WorkerSettings(tracking_uri="sqlite:///m.db", experiment_name="e", run_name="n", tags={"t": "v"},
                              config={"a": {"b": 1.5}}, overrides=["a.b=1.5"], parent_file="/s/p.json",
                              system_metrics=True, cwd="/launch")
    message = decode(encode(settings.to_message()))
    assert message["op"] == "start" and WorkerSettings.from_message(message) == settings
    assert WorkerSettings.from_message({"op": "start", "tracking_uri": "u", "tags": None}).tags == {}


def test_events_past_the_limit_are_dropped_but_never_the_summary():
    out = io.StringIO()
    events = Events(out)
    for n in range(60):
        events.emit("note", message=str(n))
    events.emit(SUMMARY, **WorkerSummary().to_json())
    kinds = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert kinds.count("note") == 40 and kinds[-1] == SUMMARY


def test_a_line_that_is_not_a_json_object_is_refused():
    assert decode(b"  \n") is None
    with pytest.raises(ValueError):
        decode(b"[1, 2]")
    with pytest.raises(ValueError):
        decode(b'{"op": "rec')


# -- pacing ------------------------------------------------------------------------------------------
def test_the_share_grows_with_the_backlog_past_the_threshold():
    threshold = pacing.BACKLOG_FOR_MORE_CPU
    assert pacing.backlog_share(0.1, 0) == 0.1
    assert pacing.backlog_share(0.1, threshold) == 0.1
    assert pacing.backlog_share(0.1, 3 * threshold) == pytest.approx(0.3)
    assert pacing.backlog_share(0.1, 100 * threshold) == 1.0  # never more than a core


@pytest.mark.parametrize("value, share", [(None, 0.1), ("0.25", 0.25), ("0", 1.0), ("-1", 1.0), ("lots", 0.1)])
def test_the_share_from_the_environment(monkeypatch, value, share):
    monkeypatch.setattr(pacing, "usable_cores", lambda: 2)
    if value is None:
        monkeypatch.delenv(pacing.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(pacing.ENV_VAR, value)
    assert pacing.share_from_env() == share


@pytest.mark.parametrize("cores, share", [(1, 0.1), (2, 0.1), (3, 0.5), (4, 1.0), (64, 1.0)])
def test_the_default_share_follows_the_cores(monkeypatch, cores, share):
    """A machine with a core to spare does not pace the worker: the run shows up at once."""
    monkeypatch.delenv(pacing.ENV_VAR, raising=False)
    monkeypatch.setattr(pacing, "usable_cores", lambda: cores)
    assert pacing.share_from_env() == share


def test_the_usable_cores_are_the_processs_affinity():
    """taskset / a SLURM allocation limits the cores a process may use: those count."""
    import subprocess
    import sys

    code = "import os; os.sched_setaffinity(0, {0}); from hyrun.tracking import pacing; print(pacing.usable_cores())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def spin(cpu_s: float) -> None:
    until = time.process_time() + cpu_s
    while time.process_time() < until:
        pass


def test_pacing_sleeps_off_the_cpu_time_spent_past_the_share():
    budget = pacing.CpuBudget(0.1)
    spin(0.03)  # 30 ms of CPU is 300 ms of wall time at a tenth of a core
    assert budget.ahead() > 0
    budget.pace()
    assert budget.ahead() <= 0.01
    budget.unlimited.set()  # the run's end
    spin(0.03)
    budget.pace()  # returns at once, however far ahead
    assert budget.ahead() > 0


# -- continuing an earlier attempt's run -------------------------------------------------------------
def test_params_the_run_has_are_kept_and_a_changed_value_is_a_tag():
    from hyrun.tracking.continuation import resume_tags, split_params

    stored = {"runner.max_epochs": "2", "optimizer.lr": "0.1", "resume": "null"}
    params = [("runner.max_epochs", "3"), ("optimizer.lr", "0.1"), ("resume", "auto"), ("seed", "0")]
    missing, changed = split_params(params, stored)
    assert missing == [("seed", "0")] and changed == {"runner.max_epochs": ("2", "3")}
    assert resume_tags(changed, {}, 10) == {"resumed.changed.runner.max_epochs": "2 -> 3", "resumed.at_iter": "10"}
    assert resume_tags({}, {"resumed.at_iter": "10"}, 15) == {"resumed.at_iter": "10,15"}
    assert resume_tags({}, {}, None) == {}  # a sweep's parent run resumes at no iteration


def rows(first: int, last: int, scale: float = 1.0) -> dict:
    return {"op": "records", "rows": [[time.time(), {"mode": "train", "epoch": 1, "iter": i, "loss": scale / i,
                                                     "note": f"n{i}"}] for i in range(first, last + 1)]}


def run_job(settings: WorkerSettings, *messages):
    import queue

    from hyrun.tracking.run_worker import RunJob

    inbox: queue.Queue = queue.Queue()
    for message in messages:
        inbox.put(message)
    out = io.StringIO()
    summary = RunJob(settings, inbox, Events(out)).run()
    return summary, [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_continued_run_skips_the_steps_the_store_has_and_logs_the_rest(sqlite_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    run_path = tmp_path / "mlflow_run.json"
    first = WorkerSettings(tracking_uri=sqlite_uri, experiment_name="continued", config={"runner": {"max_epochs": 2}},
                           cwd=str(tmp_path), run_file=str(run_path))
    killed, _ = run_job(first, rows(1, 7), None)  # end of file: the training process was killed
    assert killed.status == "FAILED" and killed.metrics_logged == 7
    assert json.loads(run_path.read_text())["run_id"] == killed.run_id

    # resumed from the checkpoint of iteration 5: 6 and 7 come again (here with other values,
    # to tell which attempt's are kept), the run's id from the run file
    again = WorkerSettings(tracking_uri=sqlite_uri, experiment_name="continued", config={"runner": {"max_epochs": 3}},
                           cwd=str(tmp_path), run_file=str(run_path), continue_run=True, resumed_at_iter=5)
    summary, events = run_job(again, rows(6, 10, scale=2.0), {"op": "end", "status": "FINISHED", "timeout": 30})
    assert summary.run_id == killed.run_id and summary.continued
    assert (summary.metrics_received, summary.metrics_in_store, summary.metrics_logged) == (5, 2, 3)
    assert summary.params_total == summary.params_logged == 1
    assert events[0]["event"] == "started" and events[0]["continued"] is True
    store = MlflowClient(sqlite_uri)
    run = store.get_run(killed.run_id)
    assert run.info.status == "FINISHED"
    assert history(store, run.info.run_id, "train/loss") == [(i, 1.0 / i) for i in range(1, 8)] + [
        (i, 2.0 / i) for i in range(8, 11)]
    assert run.data.params == {"runner.max_epochs": "2"}
    assert run.data.tags["resumed.changed.runner.max_epochs"] == "2 -> 3" and run.data.tags["train/note"] == "n10"
    assert len(store.search_runs([run.info.experiment_id])) == 1


def test_a_run_that_cannot_be_continued_is_made_anew(sqlite_uri, tmp_path):
    settings = WorkerSettings(tracking_uri=sqlite_uri, experiment_name="anew", cwd=str(tmp_path), continue_run=True,
                              run_id="0123456789abcdef0123456789abcdef")
    summary, events = run_job(settings, rows(1, 2), {"op": "end", "status": "FINISHED", "timeout": 30})
    assert summary.run_id not in (None, settings.run_id) and not summary.continued and summary.metrics_logged == 2
    assert any("cannot be continued" in e.get("message", "") for e in events if e["event"] == "note")


def test_the_earlier_attempts_worker_is_waited_for(sqlite_uri, tmp_path):
    import subprocess
    import threading

    from mlflow.tracking import MlflowClient

    earlier, _ = run_job(WorkerSettings(tracking_uri=sqlite_uri, experiment_name="waited", cwd=str(tmp_path)),
                         rows(1, 3), None)
    still_writing = subprocess.Popen(["sleep", "60"])  # stands for the earlier attempt's worker
    settings = WorkerSettings(tracking_uri=sqlite_uri, experiment_name="waited", cwd=str(tmp_path), continue_run=True,
                              run_id=earlier.run_id, predecessor={"pid": still_writing.pid})
    done = {}
    thread = threading.Thread(target=lambda: done.update(summary=run_job(
        settings, rows(4, 5), {"op": "end", "status": "FINISHED", "timeout": 60})[0]))
    try:
        thread.start()
        time.sleep(1.5)
        assert MlflowClient(sqlite_uri).get_run(earlier.run_id).info.status == "FAILED"  # not touched yet
    finally:
        still_writing.kill()
        still_writing.wait()
    thread.join(60)
    assert done["summary"].continued and done["summary"].metrics_logged == 2
    assert MlflowClient(sqlite_uri).get_run(earlier.run_id).info.status == "FINISHED"


def test_the_run_file_keeps_each_writers_fields(tmp_path):
    from hyrun.tracking import run_file

    path = tmp_path / run_file.FILENAME
    run_file.claim(path, 111)
    run_file.record(path, run_id="r1", experiment_id="1", tracking_uri="sqlite:///a.db")
    run_file.claim(path, 222)  # the next attempt's worker
    info = run_file.read(path)
    assert (info["pid"], info["run_id"]) == (222, "r1")
    assert run_file.recorded_run_id(path, "sqlite:///a.db") == "r1"
    assert run_file.recorded_run_id(path, "sqlite:///other.db") is None  # a run of another store is not continued


# -- the worker process ------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_worker_ends_cleanly_with_the_runs_own_start_and_end(tmp_path, empty_store):
    """Its starter keeps the pipe open until the worker is gone: the worker exits 0, with no fatal
    error at shutdown in its log, and the run has the start and end times it was sent."""
    import os
    import subprocess
    import sys

    from mlflow.tracking import MlflowClient

    from hyrun.tracking.protocol import end_message, records_message

    shutil.copy(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = WorkerSettings(tracking_uri=uri, experiment_name="ends", run_name="r", config={"a": 1}, overrides=[],
                              start_time=1_700_000_000.25)
    log_path = tmp_path / "mlflow_worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "hyrun.tracking.worker"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log, env={**os.environ, "HYRUN_MLFLOW_WORKER_CPU": "1"})
        for message in (settings.to_message(),
                        records_message([(1_700_000_001.0, {"mode": "train", "epoch": 1, "iter": 1, "loss": 0.5})]),
                        end_message("FINISHED", 60.0, 1_700_000_002.5)):
            worker.stdin.write(encode(message))
        worker.stdin.flush()
        summary = last_summary([decode(line) for line in iter(worker.stdout.readline, b"")])
        status = worker.wait(timeout=60)  # stdin still open
        worker.stdin.close()
    assert status == 0 and summary.terminated
    assert "Fatal Python error" not in log_path.read_text()
    run = MlflowClient(uri).get_run(summary.run_id)
    assert (run.info.start_time, run.info.end_time) == (1_700_000_000_250, 1_700_000_002_500)
