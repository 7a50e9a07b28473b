"""A resumed run continues its MLflow run (README, "Stopping and resuming"): after SIGKILL and
``resume=auto`` the store holds one run, FINISHED, with one point per step and the values of a
run that never stopped; a config changed on resume is a tag; a resumed sweep job continues its
own child run under the sweep's parent. Real processes, a real SQLite store read back with
MlflowClient."""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import read_metrics, run_hyrun
from tests.test_mlflow import client, env, history_of, ok, runs_of

# 256 samples of 32: 8 iterations an epoch; every iteration logged, a checkpoint every 5
# iterations (so a kill falls between two), evaluation each epoch
RUN = ["data=synthetic", "model=mlp", "data.num_samples=256", "log_config.interval=1", "log_config.progress_bar=false",
       "checkpoint_config.by_epoch=false", "checkpoint_config.interval=5", "logger=[text,mlflow]"]
PLUGINS = "tests.plugins.crash_parts"
pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")]  # mlflow's own


def hyrun(run_dir: Path, *args: str, **extra_env: str):
    return run_hyrun(*RUN, f"hydra.run.dir={run_dir}", *args, cwd=run_dir.parent, env=env(**extra_env))


def kill_at(tmp_path: Path, at_iter: int) -> list[str]:
    return [f"+custom_hooks.kill._target_={PLUGINS}.KillOnce", f"+custom_hooks.kill.at_iter={at_iter}",
            f"+custom_hooks.kill.marker={tmp_path / 'killed'}"]


def sleep_before(at_iter: int) -> list[str]:
    """Hold iteration ``at_iter`` past the MLflow logger's flush interval (0.5 s): the records
    before it reach the tracking worker before the kill."""
    return [f"+custom_hooks.sleep._target_={PLUGINS}.SleepAt", f"+custom_hooks.sleep.at_iter={at_iter}",
            "+custom_hooks.sleep.seconds=0.7"]


def store_in(folder: Path, empty: Path) -> str:
    shutil.copy(empty, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


def histories(store, run_id: str) -> dict[str, list[tuple[int, float]]]:
    return {key: history_of(store, run_id, key) for key in store.get_run(run_id).data.metrics}


def is_timing(key: str) -> bool:
    return key.endswith("time")


def only_run(store):
    (run,) = runs_of(store)
    return run


def wait_gone(pid: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise AssertionError(f"process {pid} still runs")


def assert_like_straight(store, run_id: str, straight: dict[str, list[tuple[int, float]]]) -> None:
    """One point per step, at the steps and (timings aside) with the values of the straight run."""
    resumed = histories(store, run_id)
    assert set(resumed) == set(straight)
    assert [step for step, _ in resumed["train/loss"]] == list(range(1, 25))
    assert [step for step, _ in resumed["val/accuracy"]] == [8, 16, 24]
    for key, points in resumed.items():
        if is_timing(key):
            assert [step for step, _ in points] == [step for step, _ in straight[key]], key
        else:
            assert points == straight[key], key


@pytest.fixture(scope="module")
def straight(tmp_path_factory, empty_store) -> dict[str, list[tuple[int, float]]]:
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    store = client(store_in(run_dir.parent, empty_store))
    ok(hyrun(run_dir, "runner.max_epochs=3"))
    return histories(store, only_run(store).info.run_id)


@pytest.mark.parametrize("at_iter, hold, replay_in_store", [
    (7, True, True),    # mid-epoch, the records of iterations 6-7 sent before the kill: the store has the replay
    (7, False, None),   # mid-epoch, 6-7 most likely still in the training process's buffer: the replay is logged
    (10, False, False),  # right after the checkpoint of iteration 10 (which sends what is buffered): no replay
])
def test_a_killed_run_resumed_continues_its_mlflow_run(tmp_path, empty_store, straight, at_iter, hold,
                                                        replay_in_store):
    run_dir = tmp_path / "run"
    store = client(store_in(tmp_path, empty_store))
    args = ["runner.max_epochs=3", *kill_at(tmp_path, at_iter), *(sleep_before(at_iter) if hold else [])]
    assert hyrun(run_dir, *args).returncode == -signal.SIGKILL
    ok(hyrun(run_dir, *args, "resume=auto"))

    run = only_run(store)  # the earlier attempt's, continued: no second run
    assert run.info.status == "FINISHED"
    assert_like_straight(store, run.info.run_id, straight)
    assert run.data.tags["resumed.at_iter"] == str(at_iter - at_iter % 5)  # the checkpoint it resumed from
    assert not [key for key in run.data.tags if key.startswith("resumed.changed.")]
    recorded = json.loads((run_dir / "mlflow_run.json").read_text())
    assert recorded["run_id"] == run.info.run_id
    log = (run_dir / "hyrun.log").read_text()
    assert "continued (the earlier attempt's run)" in log and "MLflow: not logged" not in log
    if replay_in_store is not None:
        assert ("of replayed steps, in the store already" in log) == replay_in_store


def test_the_checkpoint_alone_names_the_run_to_continue(tmp_path, empty_store, straight):
    """The checkpoints taken once the run exists carry its id: without the output dir's
    ``mlflow_run.json`` the resumed run still continues it."""
    import torch

    run_dir = tmp_path / "run"
    store = client(store_in(tmp_path, empty_store))
    args = ["runner.max_epochs=3", *kill_at(tmp_path, 7), f"+custom_hooks.wait._target_={PLUGINS}.WaitForMlflowRun",
            "+custom_hooks.wait.at_iter=3"]
    assert hyrun(run_dir, *args, HYRUN_MLFLOW_WORKER_CPU="1").returncode == -signal.SIGKILL
    recorded = json.loads((run_dir / "mlflow_run.json").read_text())
    checkpoint = torch.load(run_dir / "checkpoints" / "latest.pth", weights_only=True)
    assert checkpoint["meta"]["iter"] == 5 and checkpoint["hooks"]["mlflow"]["run_id"] == recorded["run_id"]
    wait_gone(recorded["pid"])  # the killed attempt's worker, still sending what it had
    (run_dir / "mlflow_run.json").unlink()
    ok(hyrun(run_dir, *args, "resume=auto"))

    run = only_run(store)
    assert run.info.run_id == recorded["run_id"] and run.info.status == "FINISHED"
    assert_like_straight(store, run.info.run_id, straight)


def test_a_config_changed_on_resume_is_a_tag(tmp_path, empty_store, straight):
    run_dir = tmp_path / "run"
    store = client(store_in(tmp_path, empty_store))
    ok(hyrun(run_dir, "runner.max_epochs=2"))
    first = only_run(store)
    ok(hyrun(run_dir, "runner.max_epochs=3", "resume=auto"))  # a finished run, made longer

    run = only_run(store)
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    assert run.data.params["runner.max_epochs"] == "2"  # a param's value is final in MLflow ...
    assert run.data.tags["resumed.changed.runner.max_epochs"] == "2 -> 3"  # ... what changed is a tag
    assert run.data.tags["override.runner.max_epochs"] == "3"
    assert run.data.params["resume"] == "null"  # and resume itself is no change
    assert {key for key in run.data.tags if key.startswith("resumed.changed.")} == {
        "resumed.changed.runner.max_epochs"}
    assert_like_straight(store, run.info.run_id, straight)
    assert "MLflow: not logged" not in (run_dir / "hyrun.log").read_text()


def test_a_resumed_sweep_job_continues_its_child_run_under_the_same_parent(tmp_path, empty_store):
    """Job 1 of the sweep is killed (SIGKILL: the whole sweep process) mid-epoch 2; the sweep
    re-run with resume=auto leaves job 0 alone and resumes job 1."""
    store = client(store_in(tmp_path, empty_store))
    sweep = ["-m", "data=synthetic", "model=mlp", "runner.max_epochs=1,2", "log_config.interval=4",
             "log_config.progress_bar=false", "logger=[text,mlflow]", "hydra.sweep.dir=sweep", *kill_at(tmp_path, 38)]
    assert run_hyrun(*sweep, cwd=tmp_path, env=env()).returncode == -signal.SIGKILL
    for state in ("sweep/mlflow_parent_run.json", "sweep/1/mlflow_run.json"):  # the killed sweep's workers ...
        wait_gone(json.loads((tmp_path / state).read_text())["pid"])  # ... finish on their own
    before = {r.info.run_name: r for r in runs_of(store)}
    assert {r.info.status for r in before.values()} == {"FINISHED", "FAILED"}  # job 0; the parent and job 1
    ok(run_hyrun(*sweep, "resume=auto", cwd=tmp_path, env=env()))

    runs = runs_of(store)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if r is not parent}
    assert set(children) == {"runner.max_epochs=1", "runner.max_epochs=2"} and len(runs) == 3
    assert parent.info.run_id == before[parent.info.run_name].info.run_id and parent.info.status == "FINISHED"
    for name, child in children.items():
        assert child.info.run_id == before[name].info.run_id  # each job keeps its run ...
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id  # ... under the one parent
        assert child.info.status == "FINISHED"
    job1 = children["runner.max_epochs=2"]
    assert job1.data.tags["resumed.at_iter"] == "32"
    lines = [r for r in read_metrics(tmp_path / "sweep" / "1") if r["mode"] == "train"]
    assert [r["iter"] for r in lines] == list(range(4, 65, 4))
    assert history_of(store, job1.info.run_id, "train/loss") == [(r["iter"], r["loss"]) for r in lines]
