"""Epochs cut short for debugging: the first N batches of a loader (``runner.limit_train_batches``,
``runner.limit_val_batches``), or the same N batches replayed every epoch
(``runner.overfit_batches``).

Why loaders and not a counter in the runner: the runner and its hooks take an epoch's length
from ``len(loader)`` (the epoch's iterations, ``max_iters`` of the epoch runner, lr and
momentum schedules, the progress bar, evaluation, the position a resumed run restarts at).
A loader whose length is the limited one keeps all of them in agreement, hooks written
without limits in mind included.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any


class _LoaderView:
    """What the runner and hooks read of a loader besides its batches: ``batch_size``, ``dataset``."""

    loader: Any

    @property
    def batch_size(self) -> int | None:
        return getattr(self.loader, "batch_size", None)

    @property
    def dataset(self) -> Any:
        return getattr(self.loader, "dataset", None)


class LimitedLoader(_LoaderView):
    """The first ``limit`` batches of each pass over ``loader``.

    ``sampler``, ``batch_size`` and ``dataset`` are the loader's: the runner still sets the
    sampler's epoch, so each epoch's first batches are drawn from that epoch's order."""

    def __init__(self, loader: Any, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a batch limit must be >= 1, got {limit}")
        self.loader, self.limit = loader, limit

    def __len__(self) -> int:
        return min(self.limit, len(self.loader))

    def __iter__(self) -> Iterator[Any]:
        return itertools.islice(iter(self.loader), len(self))

    @property
    def sampler(self) -> Any:
        return getattr(self.loader, "sampler", None)


class ReplayedBatches(_LoaderView):
    """The first ``count`` batches of ``loader``'s first pass, kept and replayed on every pass.

    No ``sampler`` on purpose: the batches are fixed once drawn, so nothing may re-seed their
    order, and a run resumed mid-epoch skips into the replay as into any plain loader."""

    def __init__(self, loader: Any, count: int) -> None:
        if count < 1:
            raise ValueError(f"overfit_batches must be >= 1, got {count}")
        self.loader, self.count = loader, count
        self._batches: list[Any] | None = None

    def __len__(self) -> int:
        return len(self._batches) if self._batches is not None else min(self.count, len(self.loader))

    def __iter__(self) -> Iterator[Any]:
        if self._batches is None:
            self._batches = list(itertools.islice(iter(self.loader), self.count))
        return iter(self._batches)


def limit_batches(loaders: Mapping[str, Any], *, train: int | None = None, val: int | None = None,
                  overfit: int | None = None) -> dict[str, Any]:
    """``loaders`` with the ``train`` and ``val`` ones cut to ``train`` and ``val`` batches;
    with ``overfit``, both are the first ``overfit`` training batches, replayed (the limits
    do not apply then)."""
    limited = dict(loaders)
    if overfit is not None:
        limited["train"] = limited["val"] = ReplayedBatches(loaders["train"], overfit)
        return limited
    for phase, limit in (("train", train), ("val", val)):
        if limit is not None and phase in limited:
            limited[phase] = LimitedLoader(limited[phase], limit)
    return limited
