"""The ``lr_config`` and ``momentum_config`` options: one structured config per policy,
generated from the policy classes (their fields, types and defaults), plus by_epoch and
the warmup fields of MMCV's updater hooks."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from omegaconf import MISSING

from hyrun.config.generate import annotation_type, config_class

LR_HOOK = "hyrun.hooks.schedule.LrUpdaterHook"
MOMENTUM_HOOK = "hyrun.hooks.schedule.MomentumUpdaterHook"

# Values for the fields MMCV leaves without a default, so that every option runs as it is
# with the default 10-epoch experiment (`lr_config=step` decays at epochs 7 and 9). A policy's
# required field without a preset is ??? in its option: an error only when it is selected.
REQUIRED_PRESETS: dict[str, dict[str, Any]] = {
    "step": {"step": [7, 9]},
    "exp": {"gamma": 0.9},
    "inv": {"gamma": 0.1},
    "cosine_restart": {"periods": [5, 5]},
    "one_cycle": {"max_lr": 0.1},
}

_LR_WARMUP = [("warmup", Optional[str], None), ("warmup_iters", int, 0), ("warmup_ratio", float, 0.1),
              ("warmup_by_epoch", bool, False)]
_MOMENTUM_WARMUP = [("warmup", Optional[str], None), ("warmup_iters", int, 0), ("warmup_ratio", float, 0.9)]


def lr_schemas() -> dict[str, type]:
    from hyrun.optim.lr_policies import LR_POLICIES

    return {name: _schema(name, cls, LR_HOOK, _LR_WARMUP, "Lr") for name, cls in LR_POLICIES.items()}


def momentum_schemas() -> dict[str, type]:
    from hyrun.optim.momentum_policies import MOMENTUM_POLICIES

    return {name: _schema(name, cls, MOMENTUM_HOOK, _MOMENTUM_WARMUP, "Momentum")
            for name, cls in MOMENTUM_POLICIES.items()}


def _schema(name: str, policy: type, target: str, warmup: list, kind: str) -> type:
    preset = REQUIRED_PRESETS.get(name, {})
    spec: list[tuple[str, Any, Any]] = [("_target_", str, target), ("policy", str, name),
                                        ("by_epoch", Optional[bool], None)]  # None: the policy's own / the runner's
    for field in dataclasses.fields(policy):
        if field.name == "by_epoch":
            continue
        default = preset.get(field.name, field.default)
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        if default is dataclasses.MISSING:  # required: an error when this policy is selected without it
            default = MISSING
        spec.append((field.name, annotation_type(str(field.type)), default))
    spec += warmup
    title = "".join(part.title() for part in name.split("_"))
    return config_class(f"{title}{kind}Config", spec)
