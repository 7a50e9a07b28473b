"""How the runner gets a loss from a model.

A model is a plain ``nn.Module``. If it defines ``train_step(batch) -> dict`` and/or
``val_step(batch) -> dict`` the runner calls those; otherwise the defaults below treat
the batch as ``(inputs, targets)`` of a classifier.

The dict a step returns:
  ``loss``      the scalar tensor to minimise (train) or report (val), required;
  ``log_vars``  optional scalars to log each iteration (default: ``{"loss": loss}``);
  ``outputs``, ``targets``  (val) what the evaluation metrics compare.
"""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import nn


def default_train_step(model: nn.Module, batch: Any) -> dict[str, Any]:
    inputs, targets = batch
    loss = F.cross_entropy(model(inputs), targets)
    return {"loss": loss, "log_vars": {"loss": loss.detach()}}


def default_val_step(model: nn.Module, batch: Any) -> dict[str, Any]:
    inputs, targets = batch
    logits = model(inputs)
    loss = F.cross_entropy(logits, targets)
    return {"loss": loss, "log_vars": {"loss": loss}, "outputs": logits, "targets": targets}
