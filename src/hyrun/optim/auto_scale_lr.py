"""Scaling the lr by the batch size, as MMEngine's ``Runner.scale_lr`` does.

With ``auto_scale_lr.enable``, every param group's lr is multiplied by the real total batch
size over ``base_batch_size``: the per-process ``data.batch_size`` times the number of
processes. MMEngine counts no gradient accumulation in it (``accumulative_counts`` is not
part of its batch), and neither does this. It runs right after the optimizer is built, before
any schedule records its base lr, so schedules start from the scaled lr, as in MMEngine.
"""
from __future__ import annotations

import logging

import torch

_log = logging.getLogger("hyrun")


def scale_lr(optimizer: torch.optim.Optimizer, enable: bool, base_batch_size: int | None, batch_size: int,
             world_size: int) -> float | None:
    """Scale ``optimizer``'s lrs in place; the ratio applied, or None when disabled."""
    if not enable:
        return None
    if not isinstance(base_batch_size, int) or isinstance(base_batch_size, bool) or base_batch_size <= 0:
        raise ValueError(f"auto_scale_lr.base_batch_size must be a positive integer, got {base_batch_size!r}")
    real_batch_size = world_size * batch_size
    ratio = real_batch_size / base_batch_size
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * ratio
    _log.info("auto_scale_lr: the lr is scaled by %s (batch size %d = %d process(es) x %d, base_batch_size %d)",
              ratio, real_batch_size, world_size, batch_size, base_batch_size)
    return ratio
