"""The model a user wrote, inside the wrappers that training may put around it."""
from __future__ import annotations

from torch import nn

WRAPPERS = (nn.DataParallel, nn.parallel.DistributedDataParallel)


def unwrap_model(model: nn.Module) -> nn.Module:
    """``model.module`` for a DataParallel / DistributedDataParallel wrapper, else ``model``.
    Only those wrappers: MMCV unwraps anything with a ``module`` attribute, which silently
    picks a submodule of a model that has one by that name."""
    return model.module if isinstance(model, WRAPPERS) else model
