"""``hydra/launcher=torchrun`` (plugins/hydra-torchrun-launcher): each job of a sweep as a
2-process DDP job in its own output dir, its MLflow run nested under the sweep's parent."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import hyrun_env, read_metrics, run_hyrun

ROOT = Path(__file__).resolve().parents[1]
# the checkout's plugin, ahead of the copy that the test extra installed (a copy may be stale:
# pip reuses a wheel it once built from the folder)
PLUGIN = ROOT / "plugins" / "hydra-torchrun-launcher"
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own
RUN = ["data=synthetic", "model=mlp", "runner.max_epochs=1", "log_config.interval=8", "log_config.progress_bar=false"]


def test_the_launcher_is_a_config_option_of_hydra():
    proc = run_hyrun("hydra/launcher=torchrun", "hydra.launcher.nproc_per_node=4", "--cfg", "hydra",
                     "-p", "hydra.launcher", cwd=ROOT, env=hyrun_env(PYTHONPATH=str(PLUGIN)))
    assert proc.returncode == 0, proc.stderr
    assert "TorchrunLauncher" in proc.stdout and "nproc_per_node: 4" in proc.stdout


@pytest.mark.slow
def test_a_sweep_runs_each_job_on_two_processes(tmp_path):
    sweep = run_hyrun("-m", "hydra/launcher=torchrun", "hydra.launcher.nproc_per_node=2", "optimizer=sgd,adam",
                      "data.batch_size=16", "logger=[text,mlflow]", "hydra.sweep.dir=sweep", *RUN,
                      cwd=tmp_path, env=hyrun_env(OMP_NUM_THREADS="1", PYTHONPATH=str(PLUGIN)))
    assert sweep.returncode == 0, sweep.stderr[-4000:]

    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert jobs == ["0", "1"]  # one dir per job, none per rank
    for job in jobs:
        run_dir = tmp_path / "sweep" / job
        files = {p.name for p in run_dir.iterdir()}
        assert {".hydra", "hyrun.log", "metrics.jsonl", "checkpoints", "finished.json"} <= files
        assert "DistributedDataParallel: 2 processes" in (run_dir / "hyrun.log").read_text()
        # 1024 samples dealt to 2 ranks of 16: 32 steps an epoch, each line written once
        lines = [(r["mode"], r["iter"]) for r in read_metrics(run_dir)]
        assert lines == [("train", 8), ("train", 16), ("train", 24), ("train", 32), ("val", 32)]

    from mlflow.tracking import MlflowClient

    store = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = store.search_runs([store.get_experiment_by_name("hyrun").experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2  # one run per job, not per process
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert {r.info.run_name for r in children} == {"optimizer=sgd", "optimizer=adam"}
    assert all("val/accuracy" in r.data.metrics for r in children)


@pytest.mark.parametrize("exitcode, status", [(75, 75), (1, 1), (-15, 1)], ids=["preempted", "failed", "killed"])
def test_a_failed_job_ends_the_sweep_with_its_processes_status(exitcode, status):
    """A preempted DDP job (hyrun's 75) stops the sweep with 75, so a scheduler requeues it
    and resume=auto continues, as for a job run in the launching process."""
    import importlib.util

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    spec = importlib.util.spec_from_file_location(
        "checkout_torchrun_core", PLUGIN / "hydra_plugins" / "hyrun_torchrun_launcher" / "_core.py")
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)

    failure = ChildFailedError("_run_rank", {1: ProcessFailure(local_rank=1, pid=1, exitcode=exitcode,
                                                                error_file="/nonexistent")})
    assert core.exit_status(failure, idx=0) == status
