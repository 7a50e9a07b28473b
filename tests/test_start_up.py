"""What a run says as it starts (README, "What a run leaves"): the model summary (in the log,
and in the trackers' params: tests/test_mlflow.py, tests/test_tensorboard.py), the hooks in
one line (the table by stage at debug level), and the DDP settings it passes on."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from hyrun.build import build_runner
from hyrun.config.errors import ConfigError
from hyrun.models.ddp import sync_batchnorm
from hyrun.models.summary import describe, model_summary
from tests import helpers


class Frozen(nn.Module):
    """A conv with BatchNorm (4 buffers' worth of statistics), a frozen embedding and a shared head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)  # 18 + 2
        self.norm = nn.BatchNorm2d(2)  # 2 + 2 parameters; running mean, var (2 each), count (1 int64)
        self.embed = nn.Embedding(5, 2).requires_grad_(False)  # 10, frozen
        self.head = nn.Linear(2, 2)  # 4 + 2
        self.tied = self.head  # shared: counted once


def test_the_summary_counts_parameters_once_trainable_ones_and_the_size():
    summary = model_summary(Frozen())
    assert summary["parameters"] == 20 + 4 + 10 + 6
    assert summary["trainable_parameters"] == 20 + 4 + 6
    assert summary["size_mb"] == round(((20 + 4 + 10 + 6) * 4 + (2 + 2) * 4 + 8) / 2**20, 3)
    assert describe(Frozen(), summary) == "Frozen: 40 parameters (30 trainable), 0.0 MB"


def test_a_run_logs_its_model_and_keeps_the_summary_for_the_trackers(tmp_path, caplog):
    cfg = helpers.composed("data=synthetic", "model=mlp", "model.hidden=[16]")
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        runner = build_runner(cfg, tmp_path, logging.getLogger("hyrun.test"))
    parameters = 32 * 16 + 16 + 16 * 10 + 10
    assert runner.meta["model_summary"] == {"parameters": parameters, "trainable_parameters": parameters,
                                            "size_mb": round(parameters * 4 / 2**20, 3)}
    assert f"Model MLP: {parameters:,} parameters ({parameters:,} trainable), 0.003 MB" in caplog.messages


def test_the_hooks_in_one_line_the_table_by_stage_apart(tmp_path):
    runner = build_runner(helpers.composed("data=synthetic", "model=mlp"), tmp_path)
    line = runner.hook_info(by_stage=False)
    assert "\n" not in line and line.startswith("LrUpdaterHook (10), OptimizerHook (40), ")
    assert line.split(", ") == [f"{type(h).__name__} ({h.priority})" for h in runner.hooks]
    assert runner.hook_info().startswith("before_run:\n")


@pytest.mark.slow
def test_the_console_shows_the_model_and_the_hooks_in_a_line_each(tmp_path, run_hyrun):
    proc = run_hyrun("data=synthetic", "model=mlp", "runner.max_epochs=1", "data.num_samples=64",
                     f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "INFO Model MLP: 2,762 parameters (2,762 trainable), 0.011 MB" in proc.stdout
    (hooks,) = [line for line in proc.stdout.splitlines() if " Hooks, in run order: " in line]
    assert "CheckpointHook (85)" in hooks and "Hooks by stage" not in proc.stdout
    assert "before_train_iter:" not in proc.stdout


def test_sync_batchnorm_converts_every_batchnorm_and_keeps_the_parameters():
    model = Frozen()
    weight, mean = model.norm.weight, model.norm.running_mean
    converted = sync_batchnorm(model, torch.device("cuda"))  # converting needs no GPU; running does
    assert isinstance(converted.norm, nn.SyncBatchNorm) and converted.norm.weight is weight
    assert torch.equal(converted.norm.running_mean, mean)
    with pytest.raises(ConfigError, match="ddp.sync_batchnorm=True is not valid: expected false for a run on cpu"):
        sync_batchnorm(Frozen(), torch.device("cpu"))

