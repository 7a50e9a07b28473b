"""torch.distributed for hyrun: the process group a run joins, and the few collectives the
runner and its hooks need.

A process is part of a distributed run when the launcher set ``WORLD_SIZE`` > 1 in its
environment (``torchrun``, hyrun's torchrun launcher for Hydra, or submitit's
``TorchDistributedEnvironment``). Everything here is a no-op in a single process, so hooks
may call these functions unconditionally. Rank 0 is the one that writes (logs, checkpoints,
tracking); see ``is_main``.
"""
from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist


def launched_with_ranks() -> bool:
    """Whether a launcher started this process as one of several (before any group exists)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def restart_count() -> int:
    """How many times torchrun has restarted this job's workers (``--max-restarts``): 0 for
    the first attempt and outside torchrun."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes the run's outputs (rank 0, or the only process)."""
    return rank() == 0


def local_device(requested: str) -> torch.device:
    """The device this process trains on: ``auto`` is this rank's GPU (``LOCAL_RANK``; the
    only one when a process sees one) when there are GPUs, else the CPU."""
    if requested != "auto":
        return torch.device(requested)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    # a cluster that binds one GPU to each task shows each process its own as cuda:0
    device = torch.device("cuda", local_rank if local_rank < torch.cuda.device_count() else 0)
    torch.cuda.set_device(device)
    return device


@contextmanager
def process_group(timeout_s: float = 1800.0) -> Iterator[None]:
    """Join the launcher's process group for the duration of a run (gloo for CPU tensors,
    NCCL for CUDA ones), and leave it after. A group that already exists (a launcher that
    made it) is used as it is and left alone."""
    if not launched_with_ranks() or dist.is_initialized():
        yield
        return
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    timeout = datetime.timedelta(seconds=timeout_s)
    # torchrun keeps its store across restarts: without a prefix of its own, a restarted
    # attempt may read the dead attempt's addresses and fail to connect
    store, rank_, size = next(dist.rendezvous("env://", timeout=timeout))
    store = dist.PrefixStore(f"hyrun/attempt_{restart_count()}", store)
    dist.init_process_group(backend, store=store, rank=rank_, world_size=size, timeout=timeout)
    try:
        yield
    finally:
        dist.destroy_process_group()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if world_size() == 1:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one."""
    if world_size() == 1:
        return flag
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32)  # CPU: gloo, no device sync
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def mean_over_ranks(values: Mapping[str, Any], weight: float = 1.0) -> dict[str, Any]:
    """Each value averaged over the ranks, rank ``r`` counting ``weight_r`` (e.g. its number of
    samples); values are floats or scalar tensors and come back as the same kinds. One
    all-reduce for all keys (every rank must pass the same keys)."""
    if world_size() == 1 or not values:
        return dict(values)
    keys = sorted(values)
    device = next((v.device for v in values.values() if isinstance(v, torch.Tensor)), torch.device("cpu"))
    stacked = torch.stack([torch.as_tensor(values[k], dtype=torch.float64, device=device).reshape(())
                           for k in keys] + [torch.tensor(float(weight), dtype=torch.float64, device=device)])
    stacked[:-1] *= weight
    dist.all_reduce(stacked)
    means = stacked[:-1] / stacked[-1]
    return {k: (mean.to(values[k].dtype) if isinstance(values[k], torch.Tensor) else float(mean))
            for k, mean in zip(keys, means)}


def gather_strided(shard: torch.Tensor) -> torch.Tensor:
    """The whole of a tensor that the ranks hold in strided shards (rank ``r`` has items
    ``r, r + world, r + 2 * world, ...``, as hyrun's samplers deal them), in the original order:
    no item twice, none dropped."""
    world = world_size()
    if world == 1:
        return shard
    shards: list[Any] = [None] * world
    dist.all_gather_object(shards, shard.cpu())
    whole = torch.empty((sum(len(s) for s in shards), *shard.shape[1:]), dtype=shard.dtype)
    for r, part in enumerate(shards):
        whole[r::world] = part
    return whole.to(shard.device)


@torch.no_grad()
def broadcast_buffers(module: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm statistics) on every rank, so that every rank evaluates
    the model that rank 0 saves (MMCV's DistEvalHook ``broadcast_bn_buffer``)."""
    if world_size() == 1:
        return
    for buffer in module.buffers():
        if buffer.numel():
            dist.broadcast(buffer, src=0)
