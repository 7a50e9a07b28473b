"""MMCV's ``lr_config`` and ``momentum_config`` as hyrun's options of the same policy.

MMCV finds the updater hook of ``policy`` as ``<Policy>LrUpdaterHook``, title-casing a
lower-case name first (``'poly'`` -> ``Poly``, ``'CosineAnnealing'`` as it is); hyrun's option
is that class name in snake case (``poly``, ``cosine_annealing``). The parameters keep their
names, so they carry over as they are; ``None`` means no updater hook: the lr stays fixed
(``fixed``), the momentum untouched (``none``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from hyrun.config.schedules import lr_schemas, momentum_schemas
from hyrun.convert.experiment import Experiment
from hyrun.registry import snake_case

NO_SCHEDULE = {"lr_config": "fixed", "momentum_config": "none"}


def convert_lr_config(cfg: dict[str, Any], out: Experiment) -> None:
    _convert_schedule("lr_config", cfg["lr_config"], lr_schemas(), out)


def convert_momentum_config(cfg: dict[str, Any], out: Experiment) -> None:
    _convert_schedule("momentum_config", cfg["momentum_config"], momentum_schemas(), out)


def option_name(policy: Any) -> str | None:
    """hyrun's option for an MMCV policy name: ``'CosineAnnealing'`` -> ``cosine_annealing``."""
    if not isinstance(policy, str) or not policy:
        return None
    return snake_case(policy.title() if policy == policy.lower() else policy)


def _convert_schedule(key: str, spec: Any, schemas: dict[str, type], out: Experiment) -> None:
    if spec is None:
        out.choose(key, NO_SCHEDULE[key])
        return
    mmcv_names = ", ".join("".join(part.title() for part in name.split("_")) for name in schemas)
    if not isinstance(spec, dict):
        out.skip(key, spec, f"not dict(policy=..., ...): hyrun's {key}={NO_SCHEDULE[key]} stays")
        return
    spec = dict(spec)
    policy = spec.pop("policy", None)
    option = option_name(policy)
    if option not in schemas:
        out.skip(key, {"policy": policy, **spec}, f"policy {policy!r} is not one hyrun has ({mmcv_names}): "
                                                  f"hyrun's {key}={NO_SCHEDULE[key]} stays")
        return
    out.choose(key, option)
    fields = [f.name for f in dataclasses.fields(schemas[option]) if f.name not in ("_target_", "policy")]
    for name, value in spec.items():
        if name not in fields:
            out.skip(f"{key}.{name}", value, f"the {option} policy takes no {name!r} (it takes {', '.join(fields)})")
        elif name == "by_epoch" and value and out.counts_iterations():
            out.skip(f"{key}.by_epoch", value, "by-epoch schedules need hyrun's epoch runner: with the iter runner "
                                               "hyrun counts iterations")
        else:
            out.set(f"{key}.{name}", value)
