"""The iteration-based runner: ``max_iters`` training iterations across epochs of the loader."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from hyrun.runner.base import Runner, Workflow


class IterBasedRunner(Runner):
    """MMCV's IterBasedRunner: ``[("train", N), ("val", M)]`` runs N training iterations,
    then M val iterations, until ``max_iters``. Unlike MMCV, before/after_train_epoch fire at
    the real epoch boundaries of the training loader (a run that ends mid-epoch closes it),
    so samplers are re-seeded and per-epoch hooks work as in the epoch runner."""

    by_epoch = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._train_batches: Iterator | None = None
        self._val_batches: Iterator | None = None

    def run(self, workflow: Workflow) -> None:
        workflow = list(workflow)
        self.call_hook("before_run")
        while self.iter < self.max_iters and not self.should_stop:
            for phase, iters in workflow:
                if phase == "train":
                    self.train(iters)
                else:
                    self.val(iters)
        if self._train_batches is not None and not self.should_stop:
            self._end_train_epoch()  # a stopped run leaves its epoch open, for a resume to finish
        self._end_run()

    def train(self, iters: int) -> None:
        self.model.train()
        for _ in range(iters):
            if self.iter >= self.max_iters or self.should_stop:
                return
            if self._train_batches is None:
                self._start_epoch("train")
                self._train_batches = self._train_batches_of_epoch()
                self.call_hook("before_train_epoch")
            elif self.mode != "train":  # coming back from a val phase mid-epoch
                self.mode, self.data_loader = "train", self.data_loaders["train"]
                self.iters_per_epoch = len(self.data_loader)
                self.log_buffer = self.log_buffers["train"]
                self.model.train()
            self._train_iter(next(self._train_batches))
            self.inner_iter += 1
            if self.inner_iter == self.iters_per_epoch:
                self._end_train_epoch()

    def _end_train_epoch(self) -> None:
        self.inner_iter -= 1  # hooks see the index of the epoch's last iteration, as in the epoch runner
        self.call_hook("after_train_epoch")
        self.epoch += 1
        self.inner_iter = 0
        self._train_batches = None

    @torch.no_grad()
    def val(self, iters: int) -> None:
        self.model.eval()
        train_inner_iter = self.inner_iter
        self._start_epoch("val")
        self.call_hook("before_val_epoch")
        for self.inner_iter in range(iters):
            if self._val_batches is None:
                self._val_batches = iter(self.data_loader)
            try:
                batch = next(self._val_batches)
            except StopIteration:
                self._val_batches = iter(self.data_loader)
                batch = next(self._val_batches)
            self._val_iter(batch)
        self._finish_val()
        self.inner_iter = train_inner_iter
