"""DataLoaders from the datasets a data config builds, with a reproducible data order."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochSeededSampler(Sampler[int]):
    """Random order drawn from ``seed + epoch``: each epoch's order depends on nothing else,
    so a run resumed at epoch N sees the same batches as one that never stopped."""

    def __init__(self, size: int, seed: int, shuffle: bool = True) -> None:
        self.size, self.seed, self.shuffle, self.epoch = size, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.size))
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


def build_loaders(
    datasets: Mapping[str, Dataset | DataLoader],
    *,
    batch_size: int,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """One loader per phase; ``train`` is shuffled (seeded), others keep their order.
    A value that is already a DataLoader is used as it is."""
    loaders: dict[str, Any] = {}
    for phase, dataset in datasets.items():
        if isinstance(dataset, DataLoader):
            loaders[phase] = dataset
            continue
        train = phase == "train"
        loaders[phase] = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochSeededSampler(len(dataset), seed, shuffle=train),
            num_workers=num_workers,
            drop_last=drop_last and train,
            pin_memory=pin_memory,
            persistent_workers=num_workers > 0,
        )
    return loaders
