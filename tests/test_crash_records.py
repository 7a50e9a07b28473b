"""A crash loses nothing and repeats nothing: after SIGKILL and ``resume=auto`` each logger
holds each step once, with the values of a run that never stopped (README, "Stopping and
resuming")."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from hyrun.hooks.logger.text import rewind_jsonl

from .conftest import hyrun_env, read_metrics, run_hyrun

ROOT = Path(__file__).resolve().parents[1]
# 256 samples of 32: 8 iterations an epoch, 3 epochs; every iteration logged, a checkpoint
# every 5 iterations (so a kill falls between two), evaluation each epoch
RUN = ["data=synthetic", "model=mlp", "data.num_samples=256", "runner.max_epochs=3", "log_config.interval=1",
       "log_config.progress_bar=false", "checkpoint_config.by_epoch=false", "checkpoint_config.interval=5",
       "logger=[text,tensorboard]"]
TIMING = ("time", "data_time")


def hyrun(run_dir: Path, *args: str):
    done = run_hyrun(*RUN, f"hydra.run.dir={run_dir}", *args, cwd=run_dir.parent,
                     env=hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"))
    return done


def killer(tmp_path: Path, at_iter: int, stage: str = "after_train_iter") -> list[str]:
    return ["+custom_hooks.kill._target_=tests.plugins.crash_parts.KillOnce", f"+custom_hooks.kill.at_iter={at_iter}",
            f"+custom_hooks.kill.marker={tmp_path / 'killed'}", f"+custom_hooks.kill.stage={stage}"]


def without_timings(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(run_dir / "tensorboard"))
    accumulator.Reload()
    return [(e.step, e.value) for e in accumulator.Scalars(tag)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    assert hyrun(run_dir).returncode == 0
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize("at_iter, stage", [
    (7, "after_train_iter"),    # mid-epoch, two iterations after the checkpoint of iteration 5
    (10, "after_train_iter"),   # right after the checkpoint of iteration 10
    (22, "after_train_iter"),   # in the last epoch
    (15, "save"),               # while the checkpoint of iteration 15 is being taken
])
def test_every_logger_holds_each_step_once_after_a_kill_and_resume(tmp_path, straight, at_iter, stage):
    run_dir = tmp_path / "run"
    killed = hyrun(run_dir, *killer(tmp_path, at_iter, stage))
    assert killed.returncode == -signal.SIGKILL
    resumed = hyrun(run_dir, "resume=auto", *killer(tmp_path, at_iter, stage))
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    lines = read_metrics(run_dir)
    assert without_timings(lines) == without_timings(read_metrics(straight))
    train_iters = [r["iter"] for r in lines if r["mode"] == "train"]
    assert train_iters == list(range(1, 25))  # 24 steps, once each
    rewound = "lines of the earlier attempt past it dropped" in (run_dir / "hyrun.log").read_text()
    assert rewound == (at_iter % 5 != 0 or stage == "save")  # nothing past a checkpoint just saved

    loss, straight_loss = scalars(run_dir, "train/loss"), scalars(straight, "train/loss")
    assert [step for step, _ in loss] == [step for step, _ in straight_loss] == list(range(1, 25))
    assert [value for _, value in loss] == pytest.approx([value for _, value in straight_loss], rel=1e-6)
    assert [step for step, _ in scalars(run_dir, "val/accuracy")] == [8, 16, 24]


def test_rewind_drops_what_the_resumed_run_repeats_and_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"mode": "train", "epoch": 1, "iter": i, "loss": 1.0 / i} for i in range(1, 8)]
    records.insert(5, {"mode": "val", "epoch": 1, "iter": 5, "accuracy": 0.5})
    text = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text + '{"mode": "train", "epoch": 1, "it')  # killed mid-write
    assert rewind_jsonl(path, start_iter=5) == (2, True)
    assert [json.loads(line) for line in path.read_text().splitlines()] == [r for r in records if r["iter"] <= 5]


def test_a_torn_line_is_never_joined_to_the_next_one(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"mode": "train", "epoch": 1, "iter": 1, "loss": 1.0}\n{"mode": "tr\n'
                    '{"mode": "train", "epoch": 1, "iter": 2, "loss": 0.5}\n')
    assert rewind_jsonl(path, start_iter=2) == (0, True)
    assert [json.loads(line)["iter"] for line in path.read_text().splitlines()] == [1, 2]


def test_nothing_to_rewind_leaves_the_file_alone(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"mode": "train", "epoch": 1, "iter": 1, "loss": 1.0}\n')
    before = path.stat().st_mtime_ns
    assert rewind_jsonl(path, start_iter=1) == (0, False)
    assert path.stat().st_mtime_ns == before
