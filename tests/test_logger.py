"""The text logger: when it writes (interval, by_epoch, ignore_last) and what (README, "What a run leaves")."""
from __future__ import annotations

import json
import logging

import pytest
import torch
from torch import nn

from hyrun import EpochBasedRunner, Hook, IterBasedRunner
from hyrun.hooks.logger.text import TextLoggerHook
from hyrun.hooks.logger.train_record import TrainRecordHook
from hyrun.hooks.optimizer import OptimizerHook
from hyrun.hooks.timer import IterTimerHook
from hyrun.runner.log_buffer import LogBuffer
from tests.helpers import tiny_loaders


class FixedLosses(nn.Module):
    """A model whose training loss at global iteration i is losses[i] (plus a learnable 0)."""

    def __init__(self, losses):
        super().__init__()
        self.zero = nn.Parameter(torch.zeros(()))
        self.losses = losses
        self.calls = 0

    def train_step(self, batch):
        loss = self.zero * 0 + self.losses[self.calls]
        self.calls += 1
        return {"loss": loss}

    def val_step(self, batch):
        return {"loss": self.zero + 0.25}


def run_logged(tmp_path, runner_cls=EpochBasedRunner, losses=None, num_train=10, batch_size=1, **logger_kwargs):
    losses = losses or [float(i + 1) for i in range(100)]
    model = FixedLosses(losses)
    loaders = tiny_loaders(num_train=num_train, batch_size=batch_size)
    length = {"max_epochs": 2} if runner_cls is EpochBasedRunner else {"max_iters": 12}
    runner = runner_cls(model, torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9), loaders, tmp_path,
                        logger=logging.getLogger("hyrun.test"), **length)
    runner.register_hook(OptimizerHook())
    runner.register_hook(IterTimerHook())
    runner.register_hook(TrainRecordHook(**logger_kwargs))
    runner.register_hook(TextLoggerHook())
    runner.run([("train", 1)])
    return [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]


def test_by_epoch_logs_every_interval_within_the_epoch_and_skips_the_last_partial_window(tmp_path):
    lines = run_logged(tmp_path, interval=4)  # 10 iterations an epoch
    assert [(r["epoch"], r["iter"]) for r in lines] == [(1, 4), (1, 8), (2, 14), (2, 18)]
    # the loss is the mean over the interval
    assert [r["loss"] for r in lines] == [2.5, 6.5, 12.5, 16.5]


def test_ignore_last_false_logs_the_end_of_each_epoch_averaging_the_last_interval(tmp_path):
    lines = run_logged(tmp_path, interval=4, ignore_last=False)
    assert [(r["epoch"], r["iter"]) for r in lines] == [(1, 4), (1, 8), (1, 10), (2, 14), (2, 18), (2, 20)]
    # MMCV's rule: the last window averages the epoch's last `interval` values (7..10)
    assert lines[2]["loss"] == (7 + 8 + 9 + 10) / 4


def test_not_by_epoch_counts_global_iterations(tmp_path):
    lines = run_logged(tmp_path, interval=4, by_epoch=False)
    assert [r["iter"] for r in lines] == [4, 8, 12, 16, 20]
    # the mean over the interval, also when it spans two epochs
    assert lines[2]["loss"] == (9 + 10 + 11 + 12) / 4


def test_train_line_has_the_contract_keys_and_full_precision(tmp_path):
    losses = [1 / 3 + i for i in range(100)]
    lines = run_logged(tmp_path, losses=losses, interval=1)
    first = lines[0]
    assert list(first) == ["mode", "epoch", "iter", "lr", "momentum", "loss", "time", "data_time"]
    assert first["mode"] == "train" and first["lr"] == 0.5 and first["momentum"] == 0.9
    assert first["loss"] == pytest.approx(1 / 3, rel=1e-7) and len(repr(first["loss"])) > 10
    assert all(r["time"] > 0 and r["data_time"] >= 0 for r in lines)


def test_iter_runner_lines(tmp_path):
    lines = run_logged(tmp_path, IterBasedRunner, interval=5, by_epoch=False)
    assert [(r["epoch"], r["iter"]) for r in lines] == [(1, 5), (1, 10)]


def test_published_records_reach_the_logger_once(tmp_path):
    class Evaluator(Hook):
        def after_train_epoch(self, runner):
            runner.publish({"mode": "val", "epoch": runner.epoch + 1, "iter": runner.iter, "accuracy": 0.5})

    model = FixedLosses([1.0] * 100)
    runner = EpochBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), tiny_loaders(), tmp_path,
                              max_epochs=2, logger=logging.getLogger("hyrun.test"))
    runner.register_hook(Evaluator(), "LOW")
    runner.register_hook(TextLoggerHook())
    runner.run([("train", 1), ("val", 1)])
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["mode"], r["epoch"], r["iter"], sorted(set(r) - {"mode", "epoch", "iter"})) for r in lines] == [
        ("val", 1, 3, ["accuracy"]), ("val", 1, 3, ["loss"]), ("val", 2, 6, ["accuracy"]), ("val", 2, 6, ["loss"])]


def test_human_line_shows_epoch_position_lr_and_loss(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        run_logged(tmp_path, interval=5)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Epoch [")]
    assert lines[0].startswith("Epoch [1][5/10]\tlr: 5.000e-01, eta: ")
    assert "loss: 3.0000" in lines[0]


def test_log_buffer_mean_of_last_values_mixes_floats_and_tensors():
    buffer = LogBuffer()
    for value in (1.0, torch.tensor(2.0), 3.0, torch.tensor(6.0)):
        buffer.update({"loss": value})
    assert buffer.mean() == {"loss": 3.0}
    assert buffer.mean(2) == {"loss": 4.5}
