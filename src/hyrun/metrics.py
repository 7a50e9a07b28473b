"""Evaluation metrics: functions of all val outputs and targets, by name."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def topk_accuracy(k: int) -> Callable[[torch.Tensor, torch.Tensor], float]:
    def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        topk = outputs.topk(min(k, outputs.shape[1]), dim=1).indices
        return (topk == targets[:, None]).any(dim=1).float().mean().item()

    return accuracy


def cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return F.cross_entropy(outputs.float(), targets).item()


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], float]] = {
    "accuracy": topk_accuracy(1),
    "top3_accuracy": topk_accuracy(3),
    "top5_accuracy": topk_accuracy(5),
    "loss": cross_entropy,
}
