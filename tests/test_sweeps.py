"""Sweeps beyond the basic launcher, for real where this machine allows: submitit's local
executor (the code path of SLURM jobs: each job pickled and run in a process of its own), the
SLURM configs up to the sbatch script they make, and an Optuna search over the digits
experiment (conf/hydra/launcher/, conf/hparams_search/; the README's "Sweeps")."""
from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import read_metrics, run_hyrun
from tests.test_mlflow import client, env, ok, runs_of

TINY = ("data=synthetic", "model=mlp", "data.num_samples=64", "runner.max_epochs=1")  # 2 iterations
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own


def only_sweep_dir(root: Path) -> Path:
    (sweep_dir,) = root.glob("multirun/*/*")
    return sweep_dir


def last_val(run_dir: Path, metric: str = "accuracy") -> float:
    return [line for line in read_metrics(run_dir) if line["mode"] == "val"][-1][metric]


def job_overrides(job_dir: Path) -> list[str]:
    return yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())


# -- submitit: the jobs pickled into processes of their own ---------------------------------------
@pytest.fixture(scope="module")
def submitit_sweep(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("submitit")
    proc = ok(run_hyrun("-m", "hydra/launcher=submitit_local", *TINY, "optimizer=sgd,adam", "logger=[text,mlflow]",
                        cwd=root, env=env()))
    return {"root": root, "proc": proc, "sweep_dir": only_sweep_dir(root)}


@pytest.mark.slow
def test_submitit_jobs_leave_their_outputs_in_their_own_dirs(submitit_sweep):
    sweep_dir = submitit_sweep["sweep_dir"]
    assert len(list((sweep_dir / ".submitit").glob("*/*_0_result.pkl"))) == 2  # run by submitit, one job each
    for job, optimizer in (("0", "sgd"), ("1", "adam")):
        job_dir = sweep_dir / job
        assert f"optimizer={optimizer}" in job_overrides(job_dir)
        assert [(r["mode"], r["iter"]) for r in read_metrics(job_dir) if r["mode"] == "val"] == [("val", 2)]
        assert {p.name for p in (job_dir / "checkpoints").iterdir()} == {"epoch_1.pth", "latest.pth"}


@pytest.mark.slow
def test_submitit_jobs_are_nested_under_the_sweeps_one_mlflow_parent(submitit_sweep):
    root, sweep_dir = submitit_sweep["root"], submitit_sweep["sweep_dir"]
    runs = runs_of(client(f"sqlite:///{root / 'mlflow.db'}"))
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if r is not parent}
    assert parent.info.status == "FINISHED" and set(children) == {"optimizer=sgd", "optimizer=adam"}
    assert json.loads((sweep_dir / "mlflow_parent_run.json").read_text())["run_id"] == parent.info.run_id
    for job, name in (("0", "optimizer=sgd"), ("1", "optimizer=adam")):
        child = children[name]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id and child.info.status == "FINISHED"
        assert child.data.tags["hydra.output_dir"] == str(sweep_dir.resolve() / job)
        assert child.data.metrics["val/accuracy"] == last_val(sweep_dir / job)


def test_a_job_on_another_machine_waits_for_the_sweeps_parent_run():
    from hyrun.tracking.state_file import worker_alive as parent_worker_alive

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs here
    here = socket.gethostname()
    assert parent_worker_alive({"pid": os.getpid(), "host": here})
    assert not parent_worker_alive({"pid": gone.pid, "host": here})  # on this machine: gone is gone
    assert parent_worker_alive({"pid": gone.pid, "host": f"not-{here}"})  # a SLURM node cannot tell: wait


@pytest.mark.slow
def test_submitit_tasks_of_a_job_train_as_one_ddp_run(tmp_path):
    """hyrun's TorchrunEnvFromSubmitit callback (conf/config.yaml) exports torchrun's variables."""
    # 2 tasks in one job, as slurm_multi_gpu starts one per GPU; 256 samples at batch 32: each
    # of the 2 ranks takes 4 of the 8 batches an epoch, so one epoch is 4 iterations, not 8
    proc = run_hyrun("-m", "hydra/launcher=submitit_local", "hydra.launcher.tasks_per_node=2",
                     "data=synthetic", "model=mlp", "data.num_samples=256", "runner.max_epochs=1",
                     cwd=tmp_path, env=env())
    ok(proc)
    sweep_dir = only_sweep_dir(tmp_path)
    assert len(list((sweep_dir / ".submitit").glob("*/*_1_result.pkl"))) == 1  # a second task ran
    assert [(r["mode"], r["iter"]) for r in read_metrics(sweep_dir / "0") if r["mode"] == "val"] == [("val", 4)]
    assert "DistributedDataParallel: 2 processes" in (sweep_dir / "0/hyrun.log").read_text()


# -- SLURM: what sbatch is asked for (no cluster here: sbatch is a stand-in that refuses) ----------
STAND_IN = {"sbatch": 'echo "sbatch: no cluster here" >&2\nexit 1\n', "srun": "exit 1\n"}


@pytest.mark.slow
@pytest.mark.parametrize("launcher, extra, gpus_and_tasks", [
    ("slurm_gpu", [], "1 1"),
    ("slurm_multi_gpu", ["hydra.launcher.gpus_per_node=8"], "8 8"),  # a process per GPU
])
def test_slurm_configs_ask_sbatch_for_a_node_with_their_gpus(tmp_path, launcher, extra, gpus_and_tasks):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STAND_IN.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    proc = run_hyrun("-m", f"hydra/launcher={launcher}", "hydra.launcher.partition=gpu", *extra, "optimizer=sgd,adam",
                     cwd=tmp_path, env=env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert proc.returncode != 0 and "sbatch: no cluster here" in proc.stderr
    (script,) = (only_sweep_dir(tmp_path) / ".submitit").glob(".submission_file_*.sh")
    flags = dict(line.removeprefix("#SBATCH --").partition("=")[::2] for line in script.read_text().splitlines()
                 if line.startswith("#SBATCH --"))
    gpus, tasks = gpus_and_tasks.split()
    assert flags["gpus-per-node"] == gpus and flags["ntasks-per-node"] == tasks and flags["nodes"] == "1"
    assert flags["partition"] == "gpu" and flags["job-name"] == "hyrun"
    assert flags["array"] == "0-1%2"  # the sweep's 2 jobs, one array
    assert "srun" in script.read_text() and "submitit.core._submit" in script.read_text()


# -- Optuna: the jobs' val accuracy is what the study maximizes -----------------------------------
@pytest.mark.slow
def test_optuna_search_maximizes_the_val_accuracy_the_jobs_return(tmp_path):
    proc = ok(run_hyrun("-m", "hparams_search=digits_optuna", "hydra.sweeper.n_trials=3", "runner.max_epochs=1",
                        cwd=tmp_path, env=env()))
    sweep_dir = only_sweep_dir(tmp_path)
    trials = []
    for job_dir in sorted(p for p in sweep_dir.iterdir() if p.name.isdigit()):
        params = dict(o.split("=", 1) for o in job_overrides(job_dir) if o.startswith("optimizer."))
        trials.append(({k: float(v) for k, v in params.items()}, last_val(job_dir)))
    assert len(trials) == 3
    for params, _ in trials:  # the search space of conf/hparams_search/digits_optuna.yaml
        assert set(params) == {"optimizer.lr", "optimizer.weight_decay"}
        assert 1e-3 <= params["optimizer.lr"] <= 0.5 and 1e-6 <= params["optimizer.weight_decay"] <= 1e-2
    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    best = max(value for _, value in trials)
    assert result["best_value"] == best
    assert result["best_params"] in [params for params, value in trials if value == best]
    assert f"Best value: {best}" in proc.stdout + proc.stderr
