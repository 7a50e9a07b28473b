"""The debug group (fast_dev_run, overfit, profile) and the batch limits under it:
epochs cut to a few batches that every count agrees with."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from hyrun import EpochBasedRunner, Hook, IterBasedRunner
from hyrun.config.errors import ConfigError
from hyrun.config.validate import validate
from hyrun.data.loaders import build_loaders
from hyrun.hooks.optimizer import OptimizerHook
from hyrun.hooks.schedule import LrUpdaterHook
from hyrun.runner.base import epoch_batches
from hyrun.runner.batch_limits import limit_batches
from tests.helpers import Recorder, composed, tiny_loaders

# A user's experiment from their own config folder that turns TensorBoard on and trains long.
USER_EXPERIMENT = """\
# @package _global_
defaults:
  - override /logger: [text, tensorboard]
  - _self_
runner:
  max_epochs: 7
"""


@pytest.fixture(name="user_conf")
def _user_conf(tmp_path) -> Path:
    conf = tmp_path / "user_conf"
    (conf / "experiment").mkdir(parents=True)
    (conf / "experiment" / "with_tensorboard.yaml").write_text(USER_EXPERIMENT)
    return conf


def seeded_loaders(num_train: int = 20, batch_size: int = 4) -> dict:
    """hyrun's own loaders (a shuffled, epoch-seeded train order) over a small dataset."""
    x = torch.arange(num_train, dtype=torch.float32).unsqueeze(1)
    datasets = {"train": TensorDataset(x, torch.zeros(num_train, dtype=torch.long)),
                "val": TensorDataset(x[:8], torch.zeros(8, dtype=torch.long))}
    return build_loaders(datasets, batch_size=batch_size, seed=3)


def limited_runner(runner_cls, work_dir, **limits_and_length):
    length = {k: limits_and_length.pop(k) for k in ("max_epochs", "max_iters") if k in limits_and_length}
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loaders = limit_batches(tiny_loaders(num_train=12, num_val=12, batch_size=4), **limits_and_length)  # 3 + 3 batches
    runner = runner_cls(model, optimizer, loaders, work_dir, logger=logging.getLogger("hyrun.test"), **length)
    runner.register_hook(OptimizerHook())
    return runner


class LrLog(Hook):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def after_train_iter(self, runner) -> None:
        self.lrs.append(runner.current_lr()[0])


# -- the limits in the runner ------------------------------------------------------------------
def test_limited_epochs_are_what_the_runner_and_a_schedule_count(tmp_path):
    runner = limited_runner(EpochBasedRunner, tmp_path, max_epochs=3, train=2, val=1)
    log, lrs = [], LrLog()
    runner.register_hook(Recorder(log))
    runner.register_hook(LrUpdaterHook(policy="poly", power=1.0, min_lr=0.0, by_epoch=False))
    runner.register_hook(lrs)
    assert (runner.max_iters, len(runner.data_loaders["train"]), len(runner.data_loaders["val"])) == (6, 2, 1)
    runner.run([("train", 1), ("val", 1)])
    stages = [entry[1] for entry in log]
    assert stages.count("after_train_iter") == 6 and stages.count("after_val_iter") == 3
    assert runner.iter == 6 and runner.epoch == 3
    # poly over 6 iterations, not 9: the schedule saw the limited epoch length
    assert lrs.lrs == pytest.approx([0.1 * (1 - i / 6) for i in range(6)])


def test_the_iter_runner_closes_an_epoch_at_the_limit(tmp_path):
    runner = limited_runner(IterBasedRunner, tmp_path, max_iters=5, train=2)
    log = []
    runner.register_hook(Recorder(log))
    runner.run([("train", 5)])
    ends = [(epoch, it) for _, stage, epoch, it, _ in log if stage == "after_train_epoch"]
    assert ends == [(0, 2), (1, 4), (2, 5)]  # epochs of 2, 2 and the run's last 1 iteration


def test_a_resumed_epoch_still_ends_at_the_limit():
    whole = list(epoch_batches(limit_batches(seeded_loaders(), train=3)["train"], epoch=1))
    rest = list(epoch_batches(limit_batches(seeded_loaders(), train=3)["train"], epoch=1, skip=1))
    assert len(whole) == 3 and len(rest) == 2
    assert all(torch.equal(a[0], b[0]) for a, b in zip(whole[1:], rest))


def test_a_limited_epoch_still_follows_the_epochs_order():
    train = limit_batches(seeded_loaders(), train=2)["train"]
    first, second = (torch.cat([x for x, _ in epoch_batches(train, epoch=e)]) for e in (0, 1))
    assert not torch.equal(first, second)  # each epoch's first 2 batches of its own order


def test_overfit_replays_the_same_first_batches_for_train_and_val():
    loaders = seeded_loaders()
    first_two = [x for x, _ in list(epoch_batches(loaders["train"], epoch=0))[:2]]
    overfit = limit_batches(seeded_loaders(), overfit=2)
    assert overfit["val"] is overfit["train"] and len(overfit["train"]) == 2
    for epoch in (0, 1, 2):
        replayed = [x for x, _ in epoch_batches(overfit["train"], epoch=epoch)]
        assert all(torch.equal(a, b) for a, b in zip(replayed, first_two)) and len(replayed) == 2


# -- the config --------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, key", [
    (["runner.limit_train_batches=0"], "runner.limit_train_batches"),
    (["runner.overfit_batches=4", "runner.limit_val_batches=2"], "runner.limit_val_batches"),
])
def test_bad_limits_are_refused_by_name(overrides, key):
    with pytest.raises(ConfigError, match=key):
        validate(composed(*overrides))


def test_fast_dev_run_is_one_batch_each_without_checkpoints():
    cfg = composed("debug=fast_dev_run")
    runner = cfg.runner
    assert (runner.max_epochs, runner.max_iters, runner.limit_train_batches, runner.limit_val_batches) == (1, 1, 1, 1)
    assert cfg.checkpoint_config is None and list(cfg.logger) == ["text"]
    validate(cfg)


def test_a_debug_option_wins_over_the_experiment_and_the_command_line_over_both(user_conf):
    searchpath = f"hydra.searchpath=[file://{user_conf}]"
    cfg = composed(searchpath, "experiment=with_tensorboard", "debug=fast_dev_run")
    assert cfg.runner.max_epochs == 1 and list(cfg.logger) == ["text"]
    cfg = composed(searchpath, "experiment=with_tensorboard", "debug=overfit", "runner.max_epochs=3")
    assert cfg.runner.max_epochs == 3 and cfg.runner.overfit_batches == 4
    assert list(cfg.logger) == ["text", "tensorboard"]  # overfit leaves the loggers as they are
    assert composed("experiment=digits_cyclic", "debug=fast_dev_run").lr_config.policy == "cyclic"


def test_profile_adds_the_profiler_to_the_hooks_already_selected():
    cfg = composed("debug=profile", "hooks=[ema]")
    assert list(cfg.hooks) == ["ema", "profiler"]
    assert cfg.runner.limit_train_batches == cfg.hooks.profiler.wait + cfg.hooks.profiler.warmup + cfg.hooks.profiler.active


# -- end to end --------------------------------------------------------------------------------
@pytest.mark.slow
def test_fast_dev_run_end_to_end_writes_logs_only(tmp_path, user_conf, run_hyrun, read_metrics):
    run_dir = tmp_path / "run"
    proc = run_hyrun(f"hydra.searchpath=[file://{user_conf}]", "experiment=with_tensorboard", "debug=fast_dev_run",
                     f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_metrics(run_dir)
    assert [(r["mode"], r["epoch"], r["iter"]) for r in records] == [("train", 1, 1), ("val", 1, 1)]
    assert (run_dir / "hyrun.log").is_file()
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "tensorboard").exists()


@pytest.mark.slow
def test_overfit_end_to_end_memorizes_its_batches(tmp_path, run_hyrun, read_metrics):
    run_dir = tmp_path / "run"
    proc = run_hyrun("debug=overfit", "runner.max_epochs=10", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_metrics(run_dir)
    train = [r for r in records if r["mode"] == "train"]
    assert [r["iter"] for r in train] == [4 * epoch for epoch in range(1, 11)]  # 4 batches an epoch
    assert train[-1]["loss"] < 0.05 * train[0]["loss"]
    assert [r for r in records if r["mode"] == "val"][-1]["accuracy"] == 1.0  # on the batches it trained on
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.slow
def test_profile_end_to_end_writes_the_trace(tmp_path, run_hyrun, read_metrics):
    run_dir = tmp_path / "run"
    proc = run_hyrun("debug=profile", "data=synthetic", "model=mlp", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["iter"] for r in read_metrics(run_dir) if r["mode"] == "train"] == [1, 2, 3, 4, 5]
    assert [p.name for p in (run_dir / "profiler").iterdir()] == ["trace_5.json"]
    assert "Profiler trace" in (run_dir / "hyrun.log").read_text()
