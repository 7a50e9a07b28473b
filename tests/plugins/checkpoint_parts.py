"""A hook that makes a tiny model's checkpoints big: slow to write, or over a file-size limit."""
from __future__ import annotations

import torch

from hyrun import Hook


class Ballast(Hook):
    """Adds ``megabytes`` of zeros (``checkpoint["ballast"]``) to each checkpoint of iteration
    ``from_iter`` or later. Training is untouched: no random numbers are drawn."""

    priority = "LOWEST"

    def __init__(self, megabytes: float, from_iter: int = 0) -> None:
        self.from_iter = from_iter
        self.ballast = torch.zeros(int(megabytes * 2**20), dtype=torch.uint8)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint["meta"]["iter"] >= self.from_iter:
            checkpoint["ballast"] = self.ballast
