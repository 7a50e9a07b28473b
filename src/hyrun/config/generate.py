"""Structured configs generated from Python signatures (torch's optimizers, hyrun's
schedule policies), so that every argument is a typed, overridable field."""
from __future__ import annotations

import dataclasses
from typing import Any, List, Optional

_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}


def config_class(class_name: str, spec: list[tuple[str, Any, Any]]) -> type:
    """A dataclass with fields ``(name, type, default)``; a None default makes the type
    Optional, a list default is copied per instance, ``dataclasses.MISSING`` is required."""
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
    # importable by name, so that configs holding these types pickle (joblib's sweep workers)
    cls.__module__, cls.__qualname__ = __name__, class_name
    _GENERATED[class_name] = cls
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
