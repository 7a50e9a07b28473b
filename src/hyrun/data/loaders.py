"""DataLoaders from the datasets a data config builds, with a reproducible data order."""
from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochSeededSampler(Sampler[int]):
    """Random order drawn from ``seed + epoch``: each epoch's order depends on nothing else,
    so a run resumed at epoch N sees the same batches as one that never stopped.

    ``loader_generator`` (the DataLoader's own generator, which seeds its workers) is reseeded
    with each epoch too, and keeps loaders off the global torch RNG that the model uses.
    ``set_epoch(epoch, start)`` starts the epoch's order at position ``start`` (a resumed run
    continuing mid-epoch).

    With ``num_replicas`` > 1 (data-parallel training) every rank draws the same order and
    takes every ``num_replicas``-th item from position ``rank``, so batch k of all ranks
    together is batch k of one process with ``num_replicas`` times the batch size.
    ``pad=True`` (training) repeats items from the start so that every rank has as many
    (DDP needs the same number of steps on each); ``pad=False`` (evaluation) deals each item
    to exactly one rank."""

    def __init__(self, size: int, seed: int, shuffle: bool = True,
                 loader_generator: torch.Generator | None = None,
                 num_replicas: int = 1, rank: int = 0, pad: bool = True) -> None:
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.epoch, self.start = 0, 0
        self.loader_generator = loader_generator
        self.num_replicas, self.rank, self.pad = num_replicas, rank, pad

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start
        if self.loader_generator is not None:
            self.loader_generator.manual_seed(self.seed + epoch + 1)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            order = list(range(self.size))
        else:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.size, generator=generator).tolist()
        if self.num_replicas > 1:
            if self.pad and self.size % self.num_replicas:
                padding = self.num_replicas - self.size % self.num_replicas
                order += (order * (padding // len(order) + 1))[:padding]
            order = order[self.rank::self.num_replicas]
        return iter(order[self.start:])

    def __len__(self) -> int:
        if self.num_replicas == 1:
            return self.size
        if self.pad:
            return -(-self.size // self.num_replicas)
        return len(range(self.rank, self.size, self.num_replicas))


def build_loaders(
    datasets: Mapping[str, Dataset | DataLoader],
    *,
    batch_size: int,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    multiprocessing_context: str | None = None,
    persistent_workers: bool | None = None,
    prefetch_factor: int | None = None,
    seed: int = 0,
    num_replicas: int = 1,
    rank: int = 0,
) -> dict[str, Any]:
    """One loader per phase; ``train`` is shuffled (seeded), others keep their order. With
    ``num_replicas`` > 1 each phase is dealt out to the ranks (``EpochSeededSampler``).
    A value that is already a DataLoader is used as it is. The worker settings
    (``multiprocessing_context``, ``persistent_workers``, ``prefetch_factor``) apply with
    ``num_workers`` > 0 and are left out without workers; unset, ``worker_settings`` says."""
    workers = worker_settings(num_workers, multiprocessing_context, persistent_workers, prefetch_factor)
    loaders: dict[str, Any] = {}
    for phase, dataset in datasets.items():
        if isinstance(dataset, DataLoader):
            loaders[phase] = dataset
            continue
        train = phase == "train"
        generator = torch.Generator().manual_seed(seed)
        loaders[phase] = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochSeededSampler(len(dataset), seed, shuffle=train, loader_generator=generator,
                                       num_replicas=num_replicas, rank=rank, pad=train),
            generator=generator,
            num_workers=num_workers,
            drop_last=drop_last and train,
            pin_memory=pin_memory,
            **workers,
        )
    return loaders


# the start methods a DataLoader's workers can use; another default (joblib's workers set
# "loky", whose processes a DataLoader cannot start) is replaced by ``worker_context``
STANDARD_START_METHODS = ("fork", "spawn", "forkserver")


def worker_settings(num_workers: int, multiprocessing_context: str | None = None,
                    persistent_workers: bool | None = None, prefetch_factor: int | None = None) -> dict[str, Any]:
    """The DataLoader arguments for its worker processes (none without workers): the context
    as ``worker_context`` says, persistent workers unless told otherwise (workers started once,
    not every epoch), torch's prefetch factor unless one is given."""
    if num_workers <= 0:
        return {}
    settings: dict[str, Any] = {
        "persistent_workers": True if persistent_workers is None else persistent_workers,
        "multiprocessing_context": worker_context(multiprocessing_context)}
    if prefetch_factor is not None:
        settings["prefetch_factor"] = prefetch_factor
    return settings


def worker_context(requested: str | None = None) -> str | None:
    """How a DataLoader's workers start: ``requested`` when given; else this process's default
    start method when it is one of multiprocessing's own (None: torch's choice, the default);
    else (a launcher's worker process, e.g. joblib's, whose default is "loky") ``fork`` where
    the platform has it, else ``spawn`` (the dataset must then be picklable)."""
    if requested is not None:
        return requested
    current = multiprocessing.get_start_method(allow_none=True)
    if current is None or current in STANDARD_START_METHODS:
        return None
    chosen = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    logging.getLogger("hyrun").info("data.multiprocessing_context: %s (this process's default start method, %r, "
                                    "cannot start DataLoader workers; set data.multiprocessing_context to choose)",
                                    chosen, current)
    return chosen
