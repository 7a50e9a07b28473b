"""One structured config per ``torch.optim`` optimizer, generated from torch's signatures.

Reading the signatures needs ``import torch`` (~2 s), which ``--help`` and ``--cfg`` should
not pay, so the fields are cached per torch version in the user's cache folder.
"""
from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
from pathlib import Path
from typing import Any, List, Optional

from hyrun.config.generate import config_class

# Where the seed tutorial gives settings, the preset starts from them (it shows
# SGD lr=0.02 momentum=0.9 weight_decay=1e-4 and Adam lr=3e-4 weight_decay=1e-4);
# every other field keeps torch's default.
SEED_PRESETS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.0001},
    "Adam": {"lr": 0.0003, "weight_decay": 0.0001},
}

TYPES = {"bool": bool, "int": int, "float": float, "str": str, "any": Any,
          "floats": List[float], "list": List[Any]}
_CACHE_FORMAT = 1


def optimizer_fields() -> dict[str, list[tuple[str, str, Any]]]:
    """``{class name: [(field, type name, default), ...]}`` for every torch.optim optimizer."""
    cache = _cache_file()
    if cache is not None:
        try:
            return json.loads(cache.read_text())
        except (OSError, ValueError):
            pass
    fields = _read_signatures()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(fields))
            os.replace(tmp, cache)
        except OSError:
            pass  # a read-only home: read the signatures again next time
    return fields


def optimizer_schemas() -> dict[str, type]:
    """``{option name: dataclass}``, e.g. ``{"sgd": SGDConfig, "adam": AdamConfig, ...}``."""
    return {name.lower(): make_schema(name, fields, f"torch.optim.{name}")
            for name, fields in optimizer_fields().items()}


def make_schema(class_name: str, fields: list[tuple[str, str, Any]], target: str) -> type:
    """The optimizer's own fields, then MMCV's ``paramwise_cfg`` and ``constructor``."""
    from hyrun.config.schema import ParamwiseConfig

    preset = SEED_PRESETS.get(class_name, {})
    spec = [("_target_", str, target)]
    spec += [(name, TYPES[type_name], preset.get(name, default)) for name, type_name, default in fields]
    spec += [("paramwise_cfg", ParamwiseConfig, ParamwiseConfig()), ("constructor", Optional[str], None)]
    return config_class(f"{class_name}Config", spec)


def signature_fields(cls: type) -> list[tuple[str, str, Any]]:
    """The typed fields of a class's ``__init__`` (all but ``params``); a required argument is
    ``???`` (missing until set)."""
    fields = []
    for name, param in inspect.signature(cls).parameters.items():
        if name in ("self", "params") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:  # required: the config says ??? until it is set
            fields.append((name, "any", "???"))
            continue
        fields.append((name, _type_name(param.annotation, param.default), _jsonable(param.default)))
    return fields


def _read_signatures() -> dict[str, list[tuple[str, str, Any]]]:
    import torch.optim

    return {
        name: signature_fields(cls)
        for name, cls in sorted(vars(torch.optim).items())
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
    }


def _type_name(annotation: Any, default: Any) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (int, float)):
        # SGD's momentum=0 is a float knob; only fields annotated plainly `int` are ints
        return "int" if annotation in (int, "int") else "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)):
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in default)
        return "floats" if numeric else "list"
    text = str(annotation)
    if default is None and text.replace("typing.", "").startswith(("bool", "Optional[bool]")):
        return "bool"
    if default is None and text.startswith(("int", "Optional[int]")):
        return "int"
    if default is None and text.startswith(("float", "Optional[float]")):
        return "float"
    if default is None and text.startswith(("str", "Optional[str]")):
        return "str"
    return "any"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str, list)) or value is None:
        return value
    return None  # a default that a config cannot hold (a tensor): leave it to torch


def _cache_file() -> Path | None:
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "hyrun" / f"optimizers-torch-{version}-v{_CACHE_FORMAT}.json"
