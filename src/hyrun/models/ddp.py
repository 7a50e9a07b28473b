"""The training step under DistributedDataParallel.

DDP synchronises gradients only for what runs inside its ``forward``; a model's own
``train_step`` (or hyrun's default step) would bypass it. So the step itself is wrapped as a
module's forward and that module in DDP (as Lightning wraps ``training_step``): any step,
any model, gradients averaged over the ranks during ``backward``. The model the runner and
its hooks see stays the plain module; evaluation calls it directly (no collectives, so ranks
may hold val shards of different lengths).

The step's ``log_vars`` are averaged over the ranks (MMCV 1.x's ``_parse_losses`` does the
same), so the loss a logger writes is the global one.

BatchNorm normalizes each rank's own batch, so with it N processes x B samples are not 1 x NB;
``ddp.sync_batchnorm`` converts the model's BatchNorm layers to ``SyncBatchNorm``, whose
statistics are those of the whole step's batch (torch runs it on GPUs only).
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hyrun.config.errors import ConfigError

from hyrun.distributed import mean_over_ranks
from hyrun.models.steps import DefaultStep, default_train_step


class _TrainStep(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.step = getattr(model, "train_step", None) or DefaultStep(model, default_train_step)

    def forward(self, batch: Any) -> dict[str, Any]:
        return self.step(batch)


def distributed_train_step(model: nn.Module, device_ids: list[int] | None = None,
                           find_unused_parameters: bool = False,
                           broadcast_buffers: bool = True) -> Callable[[Any], dict[str, Any]]:
    """A ``train_step(batch)`` for ``model`` that runs through DDP and returns global
    ``log_vars``. Wrapping broadcasts rank 0's weights, so every rank starts equal."""
    ddp = DistributedDataParallel(_TrainStep(model), device_ids=device_ids,
                                  find_unused_parameters=find_unused_parameters,
                                  **{buffer_sync_argument(): broadcast_buffers})

    def train_step(batch: Any) -> dict[str, Any]:
        outputs = ddp(batch)
        log_vars = outputs.get("log_vars") or {"loss": outputs["loss"].detach()}
        return {**outputs, "log_vars": mean_over_ranks(log_vars)}

    return train_step


@functools.cache
def buffer_sync_argument() -> str:
    """DDP's argument that syncs rank 0's buffers at every forward: ``forward_sync_buffers``
    where torch has it (2.13 deprecates ``broadcast_buffers``, which also left the buffers out
    of the sync at start; every rank starts with equal ones here: seeded, or loaded), else
    ``broadcast_buffers``."""
    parameters = inspect.signature(DistributedDataParallel.__init__).parameters
    return "forward_sync_buffers" if "forward_sync_buffers" in parameters else "broadcast_buffers"


SYNC_BATCHNORM_DEVICES = ("cuda", "xpu", "hpu")  # where torch's SyncBatchNorm runs


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with its BatchNorm layers as SyncBatchNorm (the same parameters and buffers);
    a ConfigError on a device SyncBatchNorm cannot run on (CPU: it would fail at the first step)."""
    if device.type not in SYNC_BATCHNORM_DEVICES:
        raise ConfigError("ddp.sync_batchnorm", True, f"false for a run on {device.type}: torch's SyncBatchNorm "
                                                      f"runs on {', '.join(SYNC_BATCHNORM_DEVICES)} devices only")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)
