"""A job that survives a lost worker: torchrun restarts the group and hyrun resumes from the
latest checkpoint on its own (README, "Scaling past one machine")."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from .conftest import hyrun_env, read_metrics, run_hyrun

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")
# 512 samples, 16 a rank: 16 steps an epoch, 2 epochs; a checkpoint every 5 steps
RUN = ["data=synthetic", "model=mlp", "data.num_samples=512", "data.batch_size=16", "runner.max_epochs=2",
       "log_config.interval=1", "log_config.progress_bar=false", "checkpoint_config.by_epoch=false",
       "checkpoint_config.interval=5"]
TIMING = ("time", "data_time")


def torchrun(run_dir: Path, *args: str, restarts: int = 0):
    program = (*TORCHRUN, f"--max-restarts={restarts}", "-m", "hyrun")
    return run_hyrun(*RUN, f"hydra.run.dir={run_dir}", *args, cwd=run_dir.parent, program=program,
                     env=hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"))


def without_timings(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_is_restarted_and_the_run_ends_as_if_it_never_stopped(tmp_path):
    straight = torchrun(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    kill = ["+custom_hooks.kill._target_=tests.plugins.crash_parts.KillOnce", "+custom_hooks.kill.at_iter=12",
            "+custom_hooks.kill.rank=1", f"+custom_hooks.kill.marker={tmp_path / 'killed'}"]
    survived = torchrun(tmp_path / "elastic", *kill, restarts=2)
    assert survived.returncode == 0, survived.stderr[-3000:]
    assert (tmp_path / "killed").exists()  # rank 1 did die, at iteration 12 of 32
    log = (tmp_path / "elastic" / "hyrun.log").read_text()
    assert "torchrun restarted the workers (attempt 2): resume=auto" in log
    assert "Resumed from" in log and "(iter 10)" in log  # the checkpoint before the kill

    def weights(run: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / run / "checkpoints/latest.pth", weights_only=True)["state_dict"]

    assert all(torch.equal(a, b) for a, b in zip(weights("straight").values(), weights("elastic").values()))
    lines = read_metrics(tmp_path / "elastic")
    assert without_timings(lines) == without_timings(read_metrics(tmp_path / "straight"))
    assert [r["iter"] for r in lines if r["mode"] == "train"] == list(range(1, 33))
    assert json.loads((tmp_path / "elastic" / "finished.json").read_text())["iter"] == 32
