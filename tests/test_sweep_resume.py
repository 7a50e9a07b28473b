"""Re-running a sweep with ``resume=auto`` and the same sweep dir: unfinished jobs continue
from their checkpoints, finished ones are left alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import hyrun_env, read_metrics, run_hyrun

ROOT = Path(__file__).resolve().parents[1]
# synthetic: 32 iterations an epoch; job 0 trains 1 epoch, job 1 two
SWEEP = ["-m", "data=synthetic", "model=mlp", "runner.max_epochs=1,2", "log_config.interval=8",
         "log_config.progress_bar=false", "hydra.sweep.dir=sweep"]
PREEMPT_AT_40 = ["+custom_hooks.preempt._target_=tests.plugins.custom_parts.SignalAt", "+custom_hooks.preempt.iter=40"]


def files_and_times(folder: Path) -> dict[str, int]:
    """The job's outputs and when they were written, but what every start writes: Hydra's
    own files, the config tree, and the log (the re-run says there that it left the job alone)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")
            if ".hydra" not in p.parts and p.name not in ("hyrun.log", "config_tree.txt")}


@pytest.mark.slow
def test_resume_auto_continues_the_cut_jobs_and_leaves_the_finished_alone(tmp_path):
    env = hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    first = run_hyrun(*SWEEP, *PREEMPT_AT_40, cwd=tmp_path, env=env)
    assert first.returncode == 75, first.stderr[-3000:]  # job 1 was preempted at iteration 40
    job0, job1 = tmp_path / "sweep/0", tmp_path / "sweep/1"
    assert json.loads((job0 / "finished.json").read_text())["iter"] == 32
    assert not (job1 / "finished.json").exists()
    finished_before = files_and_times(job0)

    again = run_hyrun(*SWEEP, "resume=auto", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "this run finished before (epoch 1, iter 32, accuracy" in again.stdout
    assert "Resumed from" in again.stdout and "8 iterations into it (iter 40)" in again.stdout
    assert files_and_times(job0) == finished_before  # not a file written
    assert "leaving it alone" in (job0 / "hyrun.log").read_text()
    assert [r["iter"] for r in read_metrics(job1) if r["mode"] == "val"] == [32, 64]
    assert json.loads((job1 / "finished.json").read_text())["iter"] == 64


def test_a_longer_run_is_not_finished(tmp_path):
    """Raising the length of a finished run and resuming it trains on."""
    from omegaconf import OmegaConf

    from hyrun.finished import FILENAME, finished_result

    (tmp_path / FILENAME).write_text(json.dumps({
        "epoch": 2, "iter": 64, "length": {"type": "epoch", "max_epochs": 2}, "metric": "accuracy", "value": 0.5}))
    two = OmegaConf.create({"runner": {"type": "epoch", "max_epochs": 2, "max_iters": None}})
    three = OmegaConf.create({"runner": {"type": "epoch", "max_epochs": 3, "max_iters": None}})
    assert finished_result(tmp_path, two).value == 0.5
    assert finished_result(tmp_path, three) is None
