"""Structured configs generated from Python signatures (torch's optimizers, hyrun's
schedule policies), so that every argument is a typed, overridable field."""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, List, Optional

_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}


def config_class(class_name: str, spec: list[tuple[str, Any, Any]], module: str | None = None) -> type:
    """A dataclass with fields ``(name, type, default)``; a None default makes the type
    Optional, a list default is copied per instance, ``dataclasses.MISSING`` is required.

    It is importable by name, so that configs holding it pickle (jobs of joblib, submitit or
    torchrun launchers run in other processes): from this module, or, for the config of a
    user's registered class, from ``module`` (the user's), whose import in the other process
    registers it again."""
    fields: list[tuple[str, Any, Any]] = []
    for name, field_type, default in spec:
        if default is None and field_type is not Any:
            field_type = Optional[field_type]
        if isinstance(default, (list, tuple)):
            fields.append((name, field_type, dataclasses.field(default_factory=lambda d=default: list(d))))
        elif dataclasses.is_dataclass(default):
            fields.append((name, field_type, dataclasses.field(default_factory=lambda d=default: dataclasses.replace(d))))
        else:
            fields.append((name, field_type, dataclasses.field(default=default)))
    cls = dataclasses.make_dataclass(class_name, fields)
    cls.__qualname__ = class_name
    if module is None:
        cls.__module__ = __name__
        _GENERATED[class_name] = cls
    else:
        cls.__module__ = module
        setattr(sys.modules[module], class_name, cls)
    return cls


_GENERATED: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """A generated class, by name: in a fresh process (a sweep worker unpickling a config),
    hyrun's configs are registered first."""
    if name not in _GENERATED and not name.startswith("__"):
        from hyrun.config.store import register_configs

        register_configs()
    try:
        return _GENERATED[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def annotation_type(annotation: str) -> Any:
    """The config type for a field annotated ``annotation`` (as a string): the scalar types
    and their Optional forms map to themselves, ``tuple[X, ...]`` to ``List[X]``; anything
    else (unions such as ``int | tuple[int, ...]``) to Any, checked where it is used."""
    parts = [p.strip() for p in annotation.split("|") if p.strip() != "None"]
    if len(parts) == 1 and parts[0] in _SCALARS:
        return _SCALARS[parts[0]]
    if len(parts) == 1 and parts[0].startswith("tuple[") and parts[0].endswith(", ...]"):
        element = parts[0][len("tuple["):-len(", ...]")]
        if element in _SCALARS:
            return List[_SCALARS[element]]  # type: ignore[index]
    return Any
