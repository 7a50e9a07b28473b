"""hyrun: an MMCV-style training runtime driven by Hydra.

From Python (README "Your own project"): ``hyrun.compose(overrides)`` composes and validates a
config as ``python -m hyrun`` does, ``hyrun.train(cfg)`` runs it as one job (also from a
project's own ``@hydra.main`` function); ``hyrun.EpochBasedRunner`` with the hooks runs a
loop built by hand, without Hydra.

Attributes load on first use, so ``import hyrun`` (and ``hyrun --help``) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "compose": "hyrun.config.compose",
    "train": "hyrun.job",
    "ConfigError": "hyrun.config.errors",
    "Hook": "hyrun.hooks.base",
    "OptimizerHook": "hyrun.hooks.optimizer",
    "CheckpointHook": "hyrun.hooks.checkpoint",
    "EvalHook": "hyrun.hooks.evaluation",
    "TextLoggerHook": "hyrun.hooks.logger.text",
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

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports on use
    from hyrun.build import build_runner
    from hyrun.config.compose import compose
    from hyrun.config.errors import ConfigError
    from hyrun.hooks.base import Hook
    from hyrun.hooks.checkpoint import CheckpointHook
    from hyrun.hooks.evaluation import EvalHook
    from hyrun.hooks.logger.base import LoggerHook
    from hyrun.hooks.logger.text import TextLoggerHook
    from hyrun.hooks.logger.train_record import TrainRecordHook
    from hyrun.hooks.optimizer import OptimizerHook
    from hyrun.hooks.priority import Order, Priority
    from hyrun.job import train
    from hyrun.optim.builder import build_optimizer
    from hyrun.registry import register
    from hyrun.runner.base import Runner
    from hyrun.runner.epoch import EpochBasedRunner
    from hyrun.runner.iter import IterBasedRunner


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hyrun' has no attribute {name!r}")
