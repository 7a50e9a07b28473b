"""The MLflow logger and sweep callback, end to end: what a run, a sweep and a failing store
leave in MLflow, read back with MlflowClient (README, "TensorBoard and MLflow"; the tracking worker design in
``hyrun.tracking``).

Each end-to-end test starts ``python -m hyrun`` (cwd = a temporary folder, so the default
``mlflow.db`` lands there); the runs are shared by module-scoped fixtures. mlflow is imported
by this test process only inside the tests that read stores back.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hyrun.hooks.base import Hook
from tests.conftest import TIMEOUT_S, hyrun_env, read_metrics, run_hyrun

REPO = Path(__file__).resolve().parents[1]
CALLBACK = "++hydra.callbacks.mlflow_sweep._target_=hyrun.tracking.callback.MlflowSweepCallback"
TINY = ("data=synthetic", "model=mlp", "data.num_samples=64")  # 2 iterations an epoch
SWEEP = ("-m", "optimizer=sgd,adam", "optimizer.lr=0.1,0.01", "logger=[text,mlflow]", *TINY, "runner.max_epochs=1",
         CALLBACK)
CHILD_NAMES = {"optimizer=sgd,optimizer.lr=0.1", "optimizer=sgd,optimizer.lr=0.01",
               "optimizer=adam,optimizer.lr=0.1", "optimizer=adam,optimizer.lr=0.01"}
IMPORTTIME = (sys.executable, "-X", "importtime", "-m", "hyrun")
HEADER = ("mode", "epoch", "iter")
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own


def env(**extra: str) -> dict[str, str]:
    """A user's shell, plus this checkout on the path (for the test hooks below), one thread."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return hyrun_env(PYTHONPATH=path, OMP_NUM_THREADS="1", **extra)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    return proc


def imported_modules(importtime_stderr: str) -> set[str]:
    """Top-level packages in ``python -X importtime`` output."""
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def runs_of(mlflow_client, experiment: str = "hyrun"):
    found = mlflow_client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return mlflow_client.search_runs([found.experiment_id])


def metric_values(lines: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """``metrics.jsonl`` as MLflow histories: key ``<mode>/<name>`` -> [(step, value)]."""
    history: dict[str, list[tuple[int, float]]] = {}
    for line in lines:
        for name, value in line.items():
            if name not in HEADER and isinstance(value, (int, float)):
                history.setdefault(f"{line['mode']}/{name}", []).append((line["iter"], float(value)))
    return history


def history_of(mlflow_client, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in mlflow_client.get_metric_history(run_id, key))


def only_run_dir(root: Path) -> Path:
    (metrics,) = root.glob("outputs/*/*/metrics.jsonl")
    return metrics.parent


# -- pieces, in process ---------------------------------------------------------------------
def test_config_becomes_dotted_params_never_cut():
    from hyrun.tracking.params import TOO_LONG, chunks, flatten_params, safe_key

    config = {"optimizer": {"lr": 0.1, "betas": [0.9, 0.999], "nesterov": False, "foreach": None},
              "lr_config": {"policy": "step", "step": [2, 3]}, "hooks": {}, "seed": 0,
              "note": "x" * 6001, "custom_hooks": {"a b@c": {"_target_": "m.H"}}}
    params, too_long = flatten_params(config)
    assert params["optimizer.lr"] == "0.1" and params["optimizer.betas"] == "[0.9,0.999]"
    assert params["optimizer.nesterov"] == "false" and params["optimizer.foreach"] == "null"
    assert params["lr_config.policy"] == "step" and params["lr_config.step"] == "[2,3]"
    assert params["hooks"] == "{}" and params["seed"] == "0"
    assert params["note"] == TOO_LONG.format(n=6001) and too_long == ["note"]
    assert params["custom_hooks.a b_c._target_"] == "m.H"
    assert all(len(v) <= 6000 for v in params.values())
    assert safe_key("a//b/") == "a_b" and len(safe_key("k" * 300)) == 250
    assert [len(c) for c in chunks(list(range(250)), 100)] == [100, 100, 50]


def test_tracking_uri_defaults_to_the_launch_folders_sqlite_file(tmp_path):
    from hyrun.tracking import resolve_tracking_uri

    assert resolve_tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert resolve_tracking_uri("sqlite:///sub/x.db", tmp_path) == f"sqlite:///{tmp_path.resolve()}/sub/x.db"
    assert resolve_tracking_uri("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_tracking_uri("http://127.0.0.1:5000", tmp_path) == "http://127.0.0.1:5000"


def test_sweep_run_names_are_the_swept_overrides():
    from hyrun.tracking import swept_run_name
    from hyrun.tracking.callback import swept_keys

    sweep = ["optimizer=sgd,adam", "optimizer.lr=0.1,0.01", "logger=[text,mlflow]", "data=synthetic",
             "+seed=range(3)"]
    assert swept_keys(sweep) == ["optimizer", "optimizer.lr", "seed"]
    job = ["optimizer=adam", "optimizer.lr=0.1", "logger=[text,mlflow]", "data=synthetic", "+seed=2"]
    assert swept_run_name(job, ["optimizer", "optimizer.lr", "seed"]) == "optimizer=adam,optimizer.lr=0.1,+seed=2"
    assert swept_run_name(job[:2], None) == "optimizer=adam,optimizer.lr=0.1"


def tiny_run(tmp_path, *extra_hooks, **hook_kwargs):
    from hyrun import EpochBasedRunner
    from hyrun.hooks.logger.mlflow import MlflowLoggerHook
    from hyrun.hooks.logger.text import TextLoggerHook
    from hyrun.hooks.logger.train_record import TrainRecordHook
    from tests.helpers import tiny_runner

    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(TrainRecordHook(interval=1))
    runner.register_hook(TextLoggerHook())
    hook = MlflowLoggerHook(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", **hook_kwargs)
    runner.register_hook(hook)
    for extra in extra_hooks:
        runner.register_hook(extra)
    runner.run([("train", 1)])
    return runner, hook


def test_a_worker_that_cannot_start_warns_once_and_training_goes_on(tmp_path, monkeypatch, caplog):
    from hyrun.tracking import channel

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(channel.sys, "executable", str(tmp_path / "no-such-python"))
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        runner, _ = tiny_run(tmp_path)
    lines = read_metrics(tmp_path)
    assert runner.iter == 6 and len(lines) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "could not be started" in warnings[0]
    assert f"nothing was logged ({numeric_count(lines)} metrics)" in warnings[1]


class KillWorker(Hook):
    """Kills the MLflow hook's tracking worker after the first iteration."""

    def __init__(self, hook) -> None:
        self.hook = hook

    def after_train_iter(self, runner) -> None:
        if runner.iter == 0:
            proc = self.hook._channel.proc
            proc.kill()
            proc.wait()


def test_a_worker_that_dies_is_reported_and_training_goes_on(tmp_path, monkeypatch, caplog):
    from hyrun.hooks.logger.mlflow import MlflowLoggerHook

    monkeypatch.chdir(tmp_path)
    hook = MlflowLoggerHook(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        from hyrun import EpochBasedRunner
        from hyrun.hooks.logger.text import TextLoggerHook
        from hyrun.hooks.logger.train_record import TrainRecordHook
        from tests.helpers import tiny_runner

        runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
        runner.register_hook(TrainRecordHook(interval=1))
        runner.register_hook(TextLoggerHook())
        runner.register_hook(hook)
        runner.register_hook(KillWorker(hook), "LOWEST")
        runner.run([("train", 1)])
    assert runner.iter == 6 and len(read_metrics(tmp_path)) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("worker" in w and ("exited" in w or "stopped reading" in w) for w in warnings), warnings
    assert "unknown or nothing" in warnings[-1]


class FakeStore:
    """An MlflowClient stand-in that is down until told otherwise and rejects the key train/bad."""

    def __init__(self) -> None:
        self.down = True
        self.failures = 0
        self.metrics: list[tuple[str, int, float]] = []
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.status = None

    def _check(self) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

        if self.down:
            self.failures += 1
            raise MlflowException("connection refused", error_code=TEMPORARILY_UNAVAILABLE)

    def get_experiment_by_name(self, name):
        self._check()

    def create_experiment(self, name):
        self._check()
        return "7"

    def create_run(self, experiment_id, run_name=None, tags=None, start_time=None):
        from types import SimpleNamespace

        self._check()
        self.tags.update(tags or {})
        return SimpleNamespace(info=SimpleNamespace(run_id="r1", run_name=run_name))

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        self._check()
        if any(m.key == "train/bad" for m in metrics):
            raise MlflowException("bad metric", error_code=INVALID_PARAMETER_VALUE)
        self.metrics += [(m.key, m.step, m.value) for m in metrics]
        self.params.update({p.key: p.value for p in params})
        self.tags.update({t.key: t.value for t in tags})

    def log_text(self, run_id, text, name):
        self._check()
        self.texts[name] = text

    def set_terminated(self, run_id, status, end_time=None):
        self._check()
        self.status = status


def test_the_worker_keeps_what_fails_and_sends_it_when_the_store_is_back(monkeypatch, tmp_path):
    import io
    import queue
    import threading

    import mlflow.tracking

    from hyrun.tracking import store as tracking_store
    from hyrun.tracking.protocol import Events
    from hyrun.tracking.run_worker import RunJob
    from hyrun.tracking.settings import WorkerSettings

    store = FakeStore()
    monkeypatch.setattr(mlflow.tracking, "MlflowClient", lambda uri: store)
    monkeypatch.setattr(tracking_store, "BACKOFF_S", (0.05, 0.1))
    monkeypatch.setattr(tracking_store, "SEND_EVERY_S", 0.05)
    inbox, out = queue.Queue(), io.StringIO()
    start = {"op": "start", "tracking_uri": "fake://", "experiment_name": "e", "run_name": "n", "tags": {"t": "v"},
             "config": {"a": {"b": 1}}, "overrides": ["a.b=1"], "cwd": str(tmp_path)}
    job = RunJob(WorkerSettings.from_message(start), inbox, Events(out))
    result = {}
    thread = threading.Thread(target=lambda: result.update(job.run().to_json()))
    thread.start()

    def rows(first, last):
        return {"op": "records", "rows": [[time.time(), {"mode": "train", "epoch": 1, "iter": i, "loss": i / 10,
                                                          "bad": 1.0, "note": f"n{i}"}] for i in range(first, last)]}

    inbox.put(rows(1, 4))
    wait_until(lambda: store.failures >= 3, 10, "failures")  # retried with backoff while down
    store.down = False
    inbox.put(rows(4, 7))
    inbox.put({"op": "end", "status": "FINISHED", "timeout": 10})
    thread.join(20)
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events[0] == "failing" and events.count("failing") == 1 and "recovered" in events
    assert events.count("note") == 1  # the rejected key, said once
    assert sorted((k, step) for k, step, _ in store.metrics) == [("train/loss", i) for i in range(1, 7)]
    assert store.params == {"a.b": "1"} and store.tags["t"] == "v" and store.tags["train/note"] == "n6"
    assert set(store.texts) == {"config.yaml", "overrides.yaml"} and store.status == "FINISHED"
    assert result["metrics_received"] == 12 and result["metrics_logged"] == 6
    assert result["metrics_not_logged"] == 6  # the rejected key, found by halving the batches, not retried


# -- one run, end to end ---------------------------------------------------------------------
LONG_TAG = "n" * 7000


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    root = tmp_path_factory.mktemp("single")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=root, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                            check=True).stdout.strip()
    proc = run_hyrun(*TINY, "runner.max_epochs=2", "log_config.interval=1", "evaluation.save_best=auto",
                     "logger=[text,mlflow]", "+logger.mlflow.tags.team=vision", f"+logger.mlflow.tags.note={LONG_TAG}",
                     "logger.mlflow.log_model=true", "logger.mlflow.log_system_metrics=true",
                     cwd=root, env=env(), program=IMPORTTIME)
    ok(proc)
    store = client(f"sqlite:///{root / 'mlflow.db'}")
    (run,) = runs_of(store)
    return {"root": root, "proc": proc, "run_dir": only_run_dir(root), "client": store, "run": run, "commit": commit}


@pytest.mark.slow
def test_the_runs_start_and_end_are_the_trainings_own(single):
    """Not when the worker made the run and ended it (seconds later, at its own pace): the UI's
    duration is the training's."""
    import datetime

    run, store = single["run"], single["client"]
    stamps = [point.timestamp for key in ("train/loss", "val/accuracy")
              for point in store.get_metric_history(run.info.run_id, key)]
    assert run.info.start_time <= min(stamps) <= max(stamps) <= run.info.end_time
    worker_log = (single["run_dir"] / "mlflow_worker.log").read_text()
    (summary,) = [line for line in worker_log.splitlines() if "hyrun.tracking.worker: summary:" in line]
    worker_done = datetime.datetime.strptime(summary[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp() * 1000
    assert run.info.end_time < worker_done
    assert "Fatal Python error" not in worker_log and "Traceback" not in worker_log


@pytest.mark.slow
def test_the_training_process_never_imports_mlflow(single):
    modules = imported_modules(single["proc"].stderr)
    assert "torch" in modules and "hyrun" in modules  # the output is what it should be
    assert "mlflow" not in modules


@pytest.mark.slow
def test_the_run_lands_in_the_launch_folders_sqlite_store(single):
    run = single["run"]
    assert (single["root"] / "mlflow.db").is_file()
    assert run.info.status == "FINISHED"
    assert run.info.run_name == str(single["run_dir"].relative_to(single["root"]))
    log = (single["run_dir"] / "hyrun.log").read_text()
    assert f"logged to sqlite:///{single['root'].resolve()}/mlflow.db" in log
    assert "MLflow: not logged" not in log


@pytest.mark.slow
def test_params_are_the_composed_config_with_dotted_keys(single):
    import yaml

    from hyrun.tracking.params import TOO_LONG, flatten_params

    params = single["run"].data.params
    assert params["optimizer.lr"] == "0.02" and params["lr_config.policy"] == "fixed"
    assert params["runner.max_epochs"] == "2" and params["evaluation.save_best"] == "auto"
    assert params["logger.mlflow.tags.team"] == "vision"
    # never cut: a value over MLflow's 6000 characters says where it is whole
    assert params["logger.mlflow.tags.note"] == TOO_LONG.format(n=7000)
    config = yaml.safe_load(Path(single["client"].download_artifacts(single["run"].info.run_id, "config.yaml",
                                                                     str(single["root"]))).read_text())
    assert config["logger"]["mlflow"]["tags"]["note"] == LONG_TAG
    summary = weights_summary(single["run_dir"])
    # every leaf of the config, then the model summary, nothing else
    assert params == flatten_params({**config, "model_summary": summary})[0]
    assert params["model_summary.parameters"] == str(summary["parameters"]) == params[
        "model_summary.trainable_parameters"]


def weights_summary(run_dir: Path) -> dict:
    """The model summary of an MLP (no buffers, all trainable, float32) from its checkpoint's weights."""
    import torch

    state = torch.load(run_dir / "checkpoints" / "latest.pth", weights_only=True)["state_dict"]
    total = sum(tensor.numel() for tensor in state.values())
    return {"parameters": total, "trainable_parameters": total, "size_mb": round(total * 4 / 2**20, 3)}


@pytest.mark.slow
def test_metric_histories_equal_metrics_jsonl(single):
    lines = read_metrics(single["run_dir"])
    expected = metric_values(lines)
    assert {"train/loss", "train/lr", "train/momentum", "val/accuracy", "val/best_accuracy"} <= set(expected)
    assert [step for step, _ in expected["train/loss"]] == [1, 2, 3, 4]
    assert [step for step, _ in expected["val/accuracy"]] == [2, 4]
    run_id = single["run"].info.run_id
    for key, values in expected.items():
        assert history_of(single["client"], run_id, key) == values, key
    assert set(single["run"].data.metrics) == set(expected)


@pytest.mark.slow
def test_tags(single):
    tags = single["run"].data.tags
    assert tags["git_commit"] == single["commit"] == tags["mlflow.source.git.commit"]
    assert tags["team"] == "vision" and tags["note"] == LONG_TAG
    assert "logger=[text,mlflow]" in tags["hydra.overrides"].split(" ")
    assert tags["override.runner.max_epochs"] == "2" and tags["override.data"] == "synthetic"
    assert tags["val/best_checkpoint"] == "checkpoints/best_accuracy_epoch_2.pth"
    assert "mlflow.parentRunId" not in tags


@pytest.mark.slow
def test_artifacts_config_and_overrides(single):
    import yaml

    store, run_id, root = single["client"], single["run"].info.run_id, single["root"]
    assert {a.path for a in store.list_artifacts(run_id)} >= {"config.yaml", "overrides.yaml"}
    overrides = yaml.safe_load(Path(store.download_artifacts(run_id, "overrides.yaml", str(root))).read_text())
    assert overrides == yaml.safe_load((single["run_dir"] / ".hydra" / "overrides.yaml").read_text())


@pytest.mark.slow
def test_log_model_logs_a_loadable_pytorch_model(single):
    import mlflow.pytorch
    import torch

    mlflow.set_tracking_uri(f"sqlite:///{single['root'] / 'mlflow.db'}")
    model = mlflow.pytorch.load_model(f"runs:/{single['run'].info.run_id}/model")
    checkpoint = torch.load(single["run_dir"] / "checkpoints" / "latest.pth", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint)
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert not list(single["run_dir"].glob(".mlflow-model-*"))  # the temporary file is gone


@pytest.mark.slow
def test_system_metrics_need_psutil(single):
    import importlib.util

    log = (single["run_dir"] / "hyrun.log").read_text()
    if importlib.util.find_spec("psutil") is None:
        assert "psutil is not installed" in log
    else:
        assert "psutil" not in log


# -- sweeps ---------------------------------------------------------------------------------------
def check_sweep(root: Path, proc: subprocess.CompletedProcess) -> None:
    ok(proc)
    store = client(f"sqlite:///{root / 'mlflow.db'}")
    runs = runs_of(store)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and len(runs) == 5, [r.info.run_name for r in runs]
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name.startswith("hyrun sweep multirun/")
    assert "optimizer=sgd,adam" in parent.data.tags["hydra.overrides"].split(" ")
    children = [r for r in runs if r is not parent]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.info.run_name for r in children} == CHILD_NAMES
    for child in children:
        assert child.info.status == "FINISHED"
        name = dict(kv.split("=") for kv in child.info.run_name.split(","))
        assert child.data.tags["override.optimizer"] == name["optimizer"]
        assert child.data.params["optimizer.lr"] == name["optimizer.lr"]
        assert "val/accuracy" in child.data.metrics
    (sweep_dir,) = root.glob("multirun/*/*")
    assert json.loads((sweep_dir / "mlflow_parent_run.json").read_text())["run_id"] == parent.info.run_id


@pytest.mark.slow
def test_sweep_makes_one_parent_and_a_nested_run_per_job(tmp_path, empty_store):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    proc = run_hyrun(*SWEEP, cwd=tmp_path, env=env(), program=IMPORTTIME)
    check_sweep(tmp_path, proc)
    assert "mlflow" not in imported_modules(proc.stderr)  # jobs ran in this process: none imported it


@pytest.mark.slow
def test_sweep_with_the_joblib_launcher(tmp_path, empty_store):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    proc = run_hyrun(*SWEEP, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", cwd=tmp_path, env=env())
    check_sweep(tmp_path, proc)


# -- a store that cannot be reached or written ----------------------------------------------------
def numeric_count(lines: list[dict]) -> int:
    return sum(len(values) for values in metric_values(lines).values())


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory):
    """Two runs at once: a server that is not there, and a SQLite file under a regular file."""
    root = tmp_path_factory.mktemp("unreachable")
    (root / "a_file").write_text("not a folder")
    uris = {"http": "http://127.0.0.1:9", "sqlite": f"sqlite:///{root / 'a_file' / 'mlflow.db'}"}
    procs = {}
    for name, uri in uris.items():
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "hyrun", *TINY, "runner.max_epochs=2", "log_config.interval=1",
             "logger=[text,mlflow]", f"logger.mlflow.tracking_uri={uri}", f"hydra.run.dir={root / name}"],
            cwd=root, env=env(MLFLOW_HTTP_REQUEST_TIMEOUT="2"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
    done = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT_S)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return root, uris, done


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["http", "sqlite"])
def test_an_unusable_store_never_stops_training(unreachable, kind):
    root, uris, done = unreachable
    ok(done[kind])
    lines = read_metrics(root / kind)
    assert [(r["mode"], r["iter"]) for r in lines] == [("train", 1), ("train", 2), ("val", 2), ("train", 3),
                                                       ("train", 4), ("val", 4)]
    log = (root / kind / "hyrun.log").read_text()
    assert log.count(f"MLflow: cannot log to {uris[kind]}") == 1  # warned once
    assert "Final val accuracy" in log
    final = [line for line in log.splitlines() if "MLflow: not logged to" in line]
    assert len(final) == 1 and f"the run itself, so none of its {numeric_count(lines)} metrics" in final[0]


class WaitForFile(Hook):
    """Holds training after iteration ``at_iter`` until ``path`` exists (at most 3 minutes)."""

    def __init__(self, path: str, at_iter: int = 2) -> None:
        self.path = Path(path)
        self.at_iter = at_iter

    def after_train_iter(self, runner) -> None:
        if runner.iter + 1 == self.at_iter:
            deadline = time.monotonic() + 180
            while not self.path.exists() and time.monotonic() < deadline:
                time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_a_store_that_comes_back_mid_run_gets_the_rest(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    flag = tmp_path / "server-is-up"
    run_dir = tmp_path / "run"
    hyrun = subprocess.Popen(
        [sys.executable, "-m", "hyrun", *TINY, "runner.max_epochs=3", "log_config.interval=1", "logger=[text,mlflow]",
         f"logger.mlflow.tracking_uri={url}", f"hydra.run.dir={run_dir}",
         "+custom_hooks.wait._target_=tests.test_mlflow.WaitForFile", f"+custom_hooks.wait.path={flag}"],
        cwd=tmp_path, env=env(HYRUN_MLFLOW_WORKER_CPU="1"),  # no pacing: sooner to its first failure
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    server = None
    try:
        # training is held at iteration 2 while the worker finds nothing listening ...
        worker_log = run_dir / "mlflow_worker.log"
        wait_until(lambda: worker_log.is_file() and "Connection refused" in worker_log.read_text(), 90,
                   "the tracking worker's first failure")
        # ... then the server comes up, and training goes on
        (tmp_path / "server").mkdir()
        server = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
             "--backend-store-uri", f"sqlite:///{tmp_path / 'server' / 'mlflow.db'}"],
            cwd=tmp_path / "server", env=env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: healthy(url), 120, "the MLflow server")
        flag.touch()
        out, _ = hyrun.communicate(timeout=TIMEOUT_S)
        assert hyrun.returncode == 0, out[-4000:]
        log = (run_dir / "hyrun.log").read_text()
        assert log.count(f"MLflow: cannot log to {url}") == 1
        assert f"MLflow: {url} answers again" in log
        assert "MLflow: not logged" not in log and f"logged to {url}" in log
        lines = read_metrics(run_dir)
        assert len(lines) == 9
        store = client(url)
        (run,) = runs_of(store)
        assert run.info.status == "FINISHED" and run.data.params["optimizer.lr"] == "0.02"
        for key, values in metric_values(lines).items():
            assert history_of(store, run.info.run_id, key) == values, key
        assert {a.path for a in store.list_artifacts(run.info.run_id)} >= {"config.yaml", "overrides.yaml"}
    finally:
        if hyrun.poll() is None:
            hyrun.kill()
            hyrun.wait()
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
