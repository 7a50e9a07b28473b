"""One structured config per ``torch.optim`` optimizer, generated from torch's signatures.

Reading the signatures needs ``import torch`` (~2 s), which ``--help`` and ``--cfg`` should
not pay, so the fields are cached per torch version in the user's cache folder.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path
from typing import Any, Optional

from hyrun.config.checks import at_least
from hyrun.config.generate import TYPES, config_class, signature_fields

# Where the seed tutorial gives settings, the preset starts from them (it shows
# SGD lr=0.02 momentum=0.9 weight_decay=1e-4 and Adam lr=3e-4 weight_decay=1e-4);
# every other field keeps torch's default.
SEED_PRESETS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.0001},
    "Adam": {"lr": 0.0003, "weight_decay": 0.0001},
}

# checked wherever an optimizer has the field (betas: validate's own check)
FIELD_CHECKS = {"lr": at_least(0), "weight_decay": at_least(0), "momentum": at_least(0), "eps": at_least(0)}
_CACHE_FORMAT = 2  # of the cached signature_fields


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
    return config_class(f"{class_name}Config", spec, checks=FIELD_CHECKS)


def _read_signatures() -> dict[str, list[tuple[str, str, Any]]]:
    import torch.optim

    return {
        name: signature_fields(cls)
        for name, cls in sorted(vars(torch.optim).items())
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer
    }


def _cache_file() -> Path | None:
    try:
        version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "hyrun" / f"optimizers-torch-{version}-v{_CACHE_FORMAT}.json"
