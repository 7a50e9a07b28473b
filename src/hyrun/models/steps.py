"""How the runner gets a loss from a model.

A model is a plain ``nn.Module``. If it defines ``train_step(batch) -> dict`` and/or
``val_step(batch) -> dict`` the runner calls those; otherwise the defaults below treat
the batch as ``(inputs, targets)`` of a classifier.

The dict a step returns:
  ``loss``      the scalar tensor to minimise (train) or report (val), required;
  ``log_vars``  optional scalars to log each iteration (default: ``{"loss": loss}``);
  ``outputs``, ``targets``  (val) what the evaluation metrics compare.

The default steps look at their first batch and the model's first output (``DefaultStep``):
a batch or an output they cannot take (a dict, a tuple of three, targets of the wrong type)
stops the run with a ``StepError``, one line saying what came and what to do, instead of an
error from deep inside torch. Later iterations are not checked (no cost on the training path).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hyrun.messages import first_line

OWN_STEP = "or define train_step(batch) and val_step(batch) on the model (README, \"Bringing your own model and data\")"


class StepError(TypeError):
    """What the default step got cannot be a classifier's ``(inputs, targets)`` and logits."""


def default_train_step(model: nn.Module, batch: Any, check: bool = False) -> dict[str, Any]:
    loss, _, _ = _classify(model, batch, check)
    return {"loss": loss, "log_vars": {"loss": loss.detach()}}


def default_val_step(model: nn.Module, batch: Any, check: bool = False) -> dict[str, Any]:
    loss, logits, targets = _classify(model, batch, check)
    return {"loss": loss, "log_vars": {"loss": loss}, "outputs": logits, "targets": targets}


class DefaultStep:
    """``step(model, batch)`` as a ``step(batch)`` of ``model``, checking the first call's batch
    and output (``check=True``), none after it."""

    def __init__(self, model: nn.Module, step: Callable[..., dict[str, Any]]) -> None:
        self.model, self.step = model, step
        self.checked = False

    def __call__(self, batch: Any) -> dict[str, Any]:
        if self.checked:
            return self.step(self.model, batch)
        result = self.step(self.model, batch, check=True)
        self.checked = True
        return result


def _classify(model: nn.Module, batch: Any, check: bool) -> tuple[torch.Tensor, Any, torch.Tensor]:
    if check:
        check_batch(batch)
    inputs, targets = batch
    logits = model(inputs)
    if not check:
        return F.cross_entropy(logits, targets), logits, targets
    check_output(logits, targets)
    try:
        loss = F.cross_entropy(logits, targets)
    except (RuntimeError, ValueError, IndexError) as error:
        raise StepError(f"cross_entropy(model output {_describe(logits)}, targets {_describe(targets)}) failed: "
                        f"{first_line(error)}; the default step takes logits [batch, classes] and class indices "
                        f"[batch] (int64) below the number of classes, {OWN_STEP}") from None
    return loss, logits, targets


def check_batch(batch: Any) -> None:
    """A StepError unless ``batch`` is an ``(inputs, targets)`` pair with tensor targets."""
    if isinstance(batch, Mapping):
        raise StepError(f"the batch is a dict with keys [{', '.join(map(str, batch))}]: the default step takes "
                        f"(inputs, targets); return (inputs, targets) from the dataset, {OWN_STEP}")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise StepError(f"the batch is {_describe(batch)}: the default step takes (inputs, targets); return "
                        f"(inputs, targets) from the dataset, {OWN_STEP}")
    targets = batch[1]
    if not isinstance(targets, torch.Tensor):
        raise StepError(f"the batch's targets (its second item) are {_describe(targets)}: the default step takes "
                        f"a tensor of class indices; return (inputs, class index) from the dataset, {OWN_STEP}")


def check_output(logits: Any, targets: torch.Tensor) -> None:
    """A StepError unless the model's output is a logits tensor that fits ``targets``."""
    if not isinstance(logits, torch.Tensor):
        what = (f"a dict with keys [{', '.join(map(str, logits))}]" if isinstance(logits, Mapping)
                else _describe(logits))
        raise StepError(f"the model's forward returned {what}: the default step takes a tensor of logits "
                        f"[batch, classes]; return it from forward, {OWN_STEP}")
    if logits.ndim < 2 or logits.shape[0] != (targets.shape[0] if targets.ndim else 1):
        raise StepError(f"the model's output is {_describe(logits)} for targets {_describe(targets)}: the default "
                        f"step takes logits [batch, classes] and class indices [batch]; {OWN_STEP}")
    if targets.is_floating_point() and targets.shape != logits.shape:
        raise StepError(f"the targets are {_describe(targets)} for a model output {_describe(logits)}: class "
                        f"indices are int64 (torch.long), class probabilities have the output's shape; {OWN_STEP}")
    if not targets.is_floating_point() and targets.dtype != torch.long:
        raise StepError(f"the targets are {_describe(targets)}: class indices are int64 (torch.long); return them "
                        f"as such from the dataset (torch.tensor(label) or an int), {OWN_STEP}")


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {list(value.shape)} of {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"
