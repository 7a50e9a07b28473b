"""Build a torch optimizer from a config node shaped like hyrun's ``optimizer``."""
from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from hyrun.optim.paramwise import DefaultOptimizerConstructor
from hyrun.registry import resolve

logger = logging.getLogger("hyrun")

# keys of the optimizer node that are not the optimizer's own arguments
CONSTRUCTOR_KEY, PARAMWISE_KEY = "constructor", "paramwise_cfg"


def build_optimizer(model: nn.Module, cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer for ``model``: ``cfg`` holds ``_target_`` (the optimizer class), its
    arguments, and optionally ``paramwise_cfg`` (MMCV's per-parameter rules) and
    ``constructor`` (a registered name or import path of a constructor class, called as
    ``Constructor(optimizer_cfg, paramwise_cfg)(model)``; MMCV's default otherwise)."""
    optimizer_cfg = optimizer_arguments(cfg)
    constructor = optimizer_cfg.pop(CONSTRUCTOR_KEY, None)
    paramwise = set_fields(optimizer_cfg.pop(PARAMWISE_KEY, None))
    constructor_cls = resolve("optimizer_constructor", constructor) if constructor else DefaultOptimizerConstructor
    return constructor_cls(optimizer_cfg, paramwise or None)(model)


def optimizer_arguments(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The node as plain data, fitted to its ``_target_``: when the target was changed on the
    command line (``optimizer._target_=my_pkg.MyOptimizer +optimizer.a=1``), the fields of the
    preset it replaced that the new class does not take are left out if they still hold the
    preset's defaults; one set to another value is an error (ValueError naming it)."""
    plain = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    schema = OmegaConf.get_type(cfg) if isinstance(cfg, DictConfig) else None
    preset = OmegaConf.to_container(OmegaConf.structured(schema)) if _is_dataclass(schema) else {}
    if not preset or preset.get("_target_") == plain["_target_"]:
        return plain
    target = resolve("optimizer", plain["_target_"])
    accepted = inspect.signature(target).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in accepted.values())
    fitted = {}
    for key, value in plain.items():
        if key.startswith("_") or key in (CONSTRUCTOR_KEY, PARAMWISE_KEY) or key in accepted or takes_any:
            fitted[key] = value
        elif key in preset and value == preset[key]:
            logger.debug("optimizer.%s (from the preset) is not an argument of %s: left out", key, target)
        else:
            raise ValueError(f"optimizer.{key}={value!r}: {plain['_target_']} takes no {key!r} "
                             f"(it takes {', '.join(k for k in accepted if k != 'params')})")
    return fitted


def set_fields(paramwise: Mapping[str, Any] | None) -> dict[str, Any]:
    """The paramwise fields that are set: None, False and {} mean "not given" (0 is a value)."""
    return {k: v for k, v in (paramwise or {}).items() if v is not None and v is not False and v != {}}


def _is_dataclass(obj: Any) -> bool:
    return isinstance(obj, type) and hasattr(obj, "__dataclass_fields__")
