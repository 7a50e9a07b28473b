"""What a model is, in numbers: its parameters (all, and those that train) and its size.

Logged at the start of a run and given to the trackers with the run's params
(``model_summary.parameters``, ``model_summary.trainable_parameters``, ``model_summary.size_mb``),
as other frameworks' model summaries are. The size counts parameters and buffers (BatchNorm's
statistics): what the weights take in memory and, near enough, in a checkpoint.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

KEY = "model_summary"  # its key in runner.meta and the prefix of its params


def model_summary(model: "nn.Module") -> dict[str, Any]:
    parameters = list(model.parameters())  # a parameter shared by two layers counts once
    size = sum(p.numel() * p.element_size() for p in parameters)
    size += sum(b.numel() * b.element_size() for b in model.buffers())
    return {"parameters": sum(p.numel() for p in parameters),
            "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
            "size_mb": round(size / 2**20, 3)}


def describe(model: "nn.Module", summary: dict[str, Any]) -> str:
    """``DigitsCNN: 19,018 parameters (19,018 trainable), 0.073 MB``."""
    return (f"{type(model).__name__}: {summary['parameters']:,} parameters ({summary['trainable_parameters']:,} "
            f"trainable), {summary['size_mb']} MB")
