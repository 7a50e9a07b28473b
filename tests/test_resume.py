"""Exact resume: a run stopped and resumed ends bit-identical to one that never stopped."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests import helpers
from tests.conftest import hyrun_env

ROOT = Path(__file__).resolve().parents[1]
# the default experiment's model (dropout and BatchNorm: random numbers and buffers matter)
# on a quarter of the digits, logged every 4 iterations
RUN = ["data.val_fraction=0.75", "log_config.interval=4", "log_config.progress_bar=false"]
TIMING = ("time", "data_time")


def train(work_dir, *overrides):
    return helpers.train(work_dir, *RUN, *overrides)


def records(work_dir, after_iter=0):
    """metrics.jsonl lines after ``after_iter``, without timings, checkpoint paths by file name."""
    lines = [json.loads(line) for line in (Path(work_dir) / "metrics.jsonl").read_text().splitlines()]
    return [{k: Path(v).name if k == "best_checkpoint" else v for k, v in r.items() if k not in TIMING}
            for r in lines if r["iter"] > after_iter]


def assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_epoch_runner_resumed_at_an_epoch_boundary(tmp_path):
    straight = train(tmp_path / "straight", "runner.max_epochs=4", "workflow=train_val")
    train(tmp_path / "resumed", "runner.max_epochs=2", "workflow=train_val")
    resumed = train(tmp_path / "resumed", "runner.max_epochs=4", "workflow=train_val", "resume=auto")
    assert_same_weights(straight.model, resumed.model)
    assert records(tmp_path / "resumed", after_iter=2 * 15) == records(tmp_path / "straight", after_iter=2 * 15)
    assert len(records(tmp_path / "straight", after_iter=30)) > 8  # train, val loss and accuracy lines


def test_iter_runner_resumed_mid_epoch(tmp_path):
    common = ["runner.type=iter", "checkpoint_config.interval=20", "evaluation.interval=10"]
    straight = train(tmp_path / "straight", "runner.max_iters=40", *common)
    train(tmp_path / "resumed", "runner.max_iters=22", *common)  # iter_20.pth is 5 iterations into epoch 2
    meta = torch.load(tmp_path / "resumed/checkpoints/iter_20.pth", weights_only=True)["meta"]
    assert (meta["epoch"], meta["iter"], meta["inner_iter"]) == (1, 20, 5)
    os.remove(tmp_path / "resumed/checkpoints/latest.pth")
    os.link(tmp_path / "resumed/checkpoints/iter_20.pth", tmp_path / "resumed/checkpoints/latest.pth")
    (tmp_path / "resumed/metrics.jsonl").write_text("")
    resumed = train(tmp_path / "resumed", "runner.max_iters=40", *common, "resume=auto")
    assert_same_weights(straight.model, resumed.model)
    assert records(tmp_path / "resumed") == records(tmp_path / "straight", after_iter=20)


@pytest.mark.parametrize("stop_at", [15, 22], ids=["epoch-end", "mid-epoch"])
def test_schedules_continue_after_a_stop(tmp_path, stop_at):
    """Stopped (as by a time limit) and resumed: schedules that depend on the run's length too."""
    common = ["runner.max_epochs=3", "lr_config=cosine_annealing", "lr_config.warmup=linear",
              "lr_config.warmup_iters=20", "momentum_config=cyclic"]
    straight = train(tmp_path / "straight", *common)
    stopped = train(tmp_path / "resumed", *common, "+custom_hooks.stop._target_=tests.plugins.custom_parts.StopAt",
                    f"+custom_hooks.stop.iter={stop_at}")
    assert stopped.iter == stop_at
    resumed = train(tmp_path / "resumed", *common, "resume=auto")
    assert_same_weights(straight.model, resumed.model)
    assert resumed.current_lr() == straight.current_lr()
    assert records(tmp_path / "resumed", after_iter=stop_at) == records(tmp_path / "straight", after_iter=stop_at)


def hyrun(cwd, *args):
    env = hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "hyrun", *RUN, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)


@pytest.mark.slow
def test_sigterm_mid_epoch_checkpoints_and_resume_auto_continues_exactly(tmp_path):
    run_dir = tmp_path / "preempted"
    args = ["runner.max_epochs=3"]  # 15 iterations an epoch
    stop = ["+custom_hooks.preempt._target_=tests.plugins.custom_parts.SignalAt", "+custom_hooks.preempt.iter=22"]
    stopped = hyrun(tmp_path, *args, *stop, f"hydra.run.dir={run_dir}")
    assert stopped.returncode == 75, stopped.stderr
    assert "SIGTERM: stopping after this iteration" in stopped.stdout + stopped.stderr
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == ["epoch_1.pth", "iter_22.pth", "latest.pth"]
    meta = torch.load(run_dir / "checkpoints/latest.pth", weights_only=True)["meta"]
    assert (meta["epoch"], meta["iter"], meta["inner_iter"]) == (1, 22, 7)

    resumed = hyrun(tmp_path, *args, "resume=auto", f"hydra.run.dir={run_dir}")
    assert resumed.returncode == 0, resumed.stderr
    straight = hyrun(tmp_path, *args, f"hydra.run.dir={tmp_path}/straight")
    assert straight.returncode == 0, straight.stderr
    a = torch.load(run_dir / "checkpoints/latest.pth", weights_only=True)
    b = torch.load(tmp_path / "straight/checkpoints/latest.pth", weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    assert records(run_dir, after_iter=22) == records(tmp_path / "straight", after_iter=22)


@pytest.mark.slow
def test_a_second_sigint_interrupts_at_once(tmp_path):
    stop = ["+custom_hooks.a._target_=tests.plugins.custom_parts.SignalAt", "+custom_hooks.a.iter=3",
            "+custom_hooks.a.signal_name=SIGINT", "+custom_hooks.b._target_=tests.plugins.custom_parts.SignalAt",
            "+custom_hooks.b.iter=3", "+custom_hooks.b.signal_name=SIGINT"]
    result = hyrun(tmp_path, *stop, f"hydra.run.dir={tmp_path}/run")
    assert result.returncode != 0 and result.returncode != 75
    assert "KeyboardInterrupt" in result.stderr


@pytest.mark.parametrize("stop_at", [15, 22], ids=["epoch-end", "mid-epoch"])
def test_hook_states_continue_after_a_stop(tmp_path, stop_at):
    """EMA weights, the best score and early stopping's count come back with a resume."""
    common = ["runner.max_epochs=3", "hooks=[ema,early_stopping]", "hooks.ema.momentum=0.05",
              "hooks.ema.warm_up=5", "evaluation.save_best=auto", "hooks.early_stopping.patience=1",
              "hooks.early_stopping.min_delta=0.5"]
    straight = train(tmp_path / "straight", *common)
    train(tmp_path / "resumed", *common, "+custom_hooks.stop._target_=tests.plugins.custom_parts.StopAt",
          f"+custom_hooks.stop.iter={stop_at}")
    resumed = train(tmp_path / "resumed", *common, "resume=auto")
    assert straight.stop_reason and straight.stop_reason == resumed.stop_reason  # early stopping, at the same point
    assert (straight.epoch, straight.iter) == (resumed.epoch, resumed.iter)
    assert_same_weights(straight.model, resumed.model)  # the EMA buffers included
    assert records(tmp_path / "resumed", after_iter=stop_at) == records(tmp_path / "straight", after_iter=stop_at)
