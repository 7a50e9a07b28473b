"""hyrun: an MMCV-style training runtime driven by Hydra.

Attributes load on first use, so ``import hyrun`` (and ``hyrun --help``) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Hook": "hyrun.hooks.base",
    "Priority": "hyrun.hooks.priority",
    "Order": "hyrun.hooks.priority",
    "TrainRecordHook": "hyrun.hooks.logger.train_record",
    "Runner": "hyrun.runner.base",
    "EpochBasedRunner": "hyrun.runner.epoch",
    "IterBasedRunner": "hyrun.runner.iter",
    "LoggerHook": "hyrun.hooks.logger.base",
    "build_optimizer": "hyrun.optim.builder",
    "build_runner": "hyrun.build",
    "register": "hyrun.registry",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hyrun' has no attribute {name!r}")
