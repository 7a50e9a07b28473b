"""MMEngine's ``param_scheduler`` (one dict or a list) as hyrun's ``param_scheduler``, whose
values at every iteration are MMEngine's (``hyrun.optim.param_schedulers``).

MMEngine's class names are hyrun's types in CamelCase with the param they drive as a suffix:
``MultiStepLR`` -> ``multi_step`` on ``lr``, ``CosineAnnealingMomentum`` -> ``cosine_annealing`` on
``momentum``, ``LinearParamScheduler`` -> ``linear`` on its own ``param_name``. The fields keep
their names. hyrun's ``lr_config`` stays ``fixed`` (without warmup it leaves the lr alone) and
``momentum_config`` ``none``, as README ("Parameter schedulers, MMEngine style") asks.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from hyrun.convert.experiment import Experiment
from hyrun.optim.param_schedulers import PARAM_SCHEDULERS
from hyrun.registry import snake_case

# class-name suffix -> the param it drives (None: the entry's own param_name)
SUFFIXES = {"LR": "lr", "Momentum": "momentum", "ParamScheduler": None}
# MMEngine arguments that change nothing at their default, and why others are not carried
_NEUTRAL = {"last_step": -1, "verbose": False}


def scheduler_type(class_name: Any) -> tuple[str, str | None] | None:
    """``('multi_step', 'lr')`` for ``'MultiStepLR'``; None when hyrun has no such scheduler."""
    if not isinstance(class_name, str):
        return None
    for suffix, param in SUFFIXES.items():
        if class_name.endswith(suffix) and len(class_name) > len(suffix):
            kind = snake_case(class_name[:-len(suffix)])
            return (kind, param) if kind in PARAM_SCHEDULERS else None
    return None


def convert_param_scheduler(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["param_scheduler"]
    entries = [spec] if isinstance(spec, dict) else list(spec) if isinstance(spec, (list, tuple)) else None
    if entries is None:
        out.skip("param_scheduler", spec, "not a dict or a list of dicts")
        return
    carried: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        key = "param_scheduler" if isinstance(spec, dict) else f"param_scheduler[{i}]"
        converted = _entry(entry, key, carried, out)
        if converted is not None:
            carried.append(converted)
    out.set("param_scheduler", carried)
    out.choose("lr_config", "fixed")
    out.choose("momentum_config", "none")
    out.note("param_scheduler", f"{len(carried)} of {len(entries)} schedulers carried (lr_config=fixed, "
                                "momentum_config=none: the param schedulers set the values)")


def _entry(entry: Any, key: str, earlier: list[dict[str, Any]], out: Experiment) -> dict[str, Any] | None:
    kind = scheduler_type(entry.get("type")) if isinstance(entry, dict) else None
    if kind is None:
        names = ", ".join(f"{''.join(p.title() for p in k.split('_'))}LR" for k in PARAM_SCHEDULERS)
        out.skip(key, entry, f"not a scheduler hyrun has ({names}, their Momentum and ParamScheduler forms)")
        return None
    hyrun_type, param = kind
    args = {k: v for k, v in entry.items() if k != "type"}
    if param is not None:
        if args.get("param_name", param) != param:
            out.skip(f"{key}.param_name", args["param_name"], f"{entry['type']} drives {param} only")
        args["param_name"] = param
    elif "param_name" not in args:
        out.skip(key, entry, "a ParamScheduler needs param_name")
        return None
    fields = {f.name for f in dataclasses.fields(PARAM_SCHEDULERS[hyrun_type])}
    result: dict[str, Any] = {"type": hyrun_type}
    for name, value in args.items():
        if name in fields:
            result[name] = value
        elif _NEUTRAL.get(name, object()) != value:
            out.skip(f"{key}.{name}", value, f"hyrun's {hyrun_type} scheduler takes no {name!r}")
    if hyrun_type == "cosine_annealing" and result.get("eta_min_ratio") is not None and any(
            e["type"] == "one_cycle" and e["param_name"] == result["param_name"] for e in earlier):
        # MMEngine's OneCycle rewrites initial_<param>, the base eta_min_ratio is taken of
        out.skip(key, entry, "eta_min_ratio after a OneCycle scheduler: MMEngine takes it of eta_max / div_factor, "
                             "hyrun of the optimizer's lr")
        return None
    return result
