"""Average the model's buffers across processes at the end of each training epoch (MMCV's
SyncBuffersHook).

Why: in data-parallel training each process updates buffers such as BatchNorm's running
mean and variance from its own batches only, so they drift apart; evaluation and the
checkpoint (rank 0's) should see one agreed value. MMCV all-reduces every buffer and
divides by the world size, coalesced into one flat tensor per dtype; so does this hook,
in ``after_train_epoch`` (a val epoch changes no buffer). Floating-point buffers get the
mean. Integer buffers (BatchNorm's ``num_batches_tracked``) get the sum floor-divided by the
world size, which MMCV's in-place true division could not do; boolean ones are left alone.

Without ``torch.distributed`` initialised, or with one process, it does nothing. It stands
at ``Order.SYNC_BUFFERS``: before EMAHook's swap, evaluation and the checkpoint at the end of
an epoch, so the saved and evaluated buffers are the synchronised ones (MMCV's NORMAL would
save rank 0's own before syncing). EMAHook's
``ema_*`` buffers are averaged too, harmlessly: every process holds the same ones.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order

if TYPE_CHECKING:
    import torch

    from hyrun.runner.base import Runner


class SyncBuffersHook(Hook):
    priority = Order.SYNC_BUFFERS

    def after_train_epoch(self, runner: Runner) -> None:
        world_size = _world_size()
        if world_size > 1:
            from hyrun.models.wrappers import unwrap_model

            allreduce_buffers(list(unwrap_model(runner.model).buffers()), world_size)


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def allreduce_buffers(buffers: list[torch.Tensor], world_size: int) -> None:
    """Replace each buffer by its mean over the processes (floor of it for integers), one
    all-reduce per (device, dtype) group."""
    import torch
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for buffer in buffers:
        if buffer.dtype != torch.bool and buffer.numel():
            groups.setdefault((buffer.device, buffer.dtype), []).append(buffer)
    for (_, dtype), tensors in groups.items():
        flat = _flatten_dense_tensors(tensors)
        torch.distributed.all_reduce(flat)
        if dtype.is_floating_point or dtype.is_complex:
            flat.div_(world_size)
        else:
            flat.floor_divide_(world_size)
        for tensor, synced in zip(tensors, _unflatten_dense_tensors(flat, tensors)):
            tensor.copy_(synced)
