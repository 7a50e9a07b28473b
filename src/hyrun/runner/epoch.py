"""The epoch-based runner: ``max_epochs`` training epochs, phases as the workflow says."""
from __future__ import annotations

import torch

from hyrun.runner.base import Runner, Workflow


class EpochBasedRunner(Runner):
    """MMCV's EpochBasedRunner: ``[("train", 1), ("val", 1)]`` alternates one training epoch
    with one pass over the val set; only training epochs count toward ``max_epochs``."""

    by_epoch = True

    def run(self, workflow: Workflow) -> None:
        workflow = list(workflow)
        self.call_hook("before_run")
        while self.epoch < self.max_epochs and not self.should_stop:
            for phase, epochs in workflow:
                for _ in range(epochs):
                    if self.should_stop or (phase == "train" and self.epoch >= self.max_epochs):
                        break
                    getattr(self, phase)()
        self._end_run()

    def train(self) -> None:
        self.model.train()
        self._start_epoch("train")
        batches = self._train_batches_of_epoch()
        self.call_hook("before_train_epoch")
        for self.inner_iter, batch in enumerate(batches, start=self.inner_iter):
            self._train_iter(batch)
            if self.should_stop and self.inner_iter + 1 < self.iters_per_epoch:
                return  # stopped mid-epoch: the epoch stays open, a resumed run finishes it
        self.call_hook("after_train_epoch")
        self.epoch += 1

    @torch.no_grad()
    def val(self) -> None:
        self.model.eval()
        self._start_epoch("val")
        self.call_hook("before_val_epoch")
        for self.inner_iter, batch in enumerate(self.data_loader):
            self._val_iter(batch)
        self._finish_val()
