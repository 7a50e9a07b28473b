"""Structured configs generated from Python signatures (torch's optimizers, hyrun's
schedule policies), so that every argument is a typed, overridable field."""
from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any, Dict, List, Optional

_SCALARS = {"bool": bool, "int": int, "float": float, "str": str}
# the field types signature_fields names (names, so that torch's optimizers' fields can be cached as JSON)
TYPES = {**_SCALARS, "any": Any, "floats": List[float], "list": List[Any], "dict": Dict[str, Any]}


def config_class(class_name: str, spec: list[tuple[str, Any, Any]], module: str | None = None,
                 checks: dict[str, Any] | None = None) -> type:
    """A dataclass with fields ``(name, type, default)``; a None default makes the type
    Optional, a list or dict default is copied per instance, ``dataclasses.MISSING`` is required.

    It is importable by name, so that configs holding it pickle (jobs of joblib, submitit or
    torchrun launchers run in other processes): from this module, or, for the config of a
    user's registered class, from ``module`` (the user's), whose import in the other process
    registers it again. ``checks``: field -> ``hyrun.config.checks.Check``, for the fields
    that exist (a generated schema need not have them all)."""
    from hyrun.config.checks import CHECK

    checks = checks or {}
    fields: list[tuple[str, Any, Any]] = []
    for name, field_type, default in spec:
        if default is None and field_type is not Any:
            field_type = Optional[field_type]
        metadata = {CHECK: checks[name]} if name in checks else {}
        if isinstance(default, (list, tuple)):
            made = dataclasses.field(default_factory=lambda d=default: list(d), metadata=metadata)
        elif isinstance(default, dict):
            made = dataclasses.field(default_factory=lambda d=default: dict(d), metadata=metadata)
        elif dataclasses.is_dataclass(default):
            made = dataclasses.field(default_factory=lambda d=default: dataclasses.replace(d), metadata=metadata)
        else:
            made = dataclasses.field(default=default, metadata=metadata)
        fields.append((name, field_type, made))
    spec_key = repr((spec, sorted(checks)))
    if module is None and getattr(_GENERATED.get(class_name), "__hyrun_spec__", None) == spec_key:
        # made again (register_configs in a process twice): the same class, so that the configs
        # composed with the first still pickle by name
        return _GENERATED[class_name]
    cls = dataclasses.make_dataclass(class_name, fields)
    cls.__qualname__ = class_name
    cls.__hyrun_spec__ = spec_key
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


def signature_fields(cls: type) -> list[tuple[str, str, Any]]:
    """The typed fields of a class's ``__init__`` (all but ``params``), as (name, TYPES key,
    default). A required argument is ``???``: missing until set, an error only when the
    class is selected. An argument annotated as a mapping that defaults to None is an empty
    mapping, so that ``+node.arg.key=value`` can add to it."""
    fields = []
    for name, param in inspect.signature(cls).parameters.items():
        if name in ("self", "params") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty:
            fields.append((name, _type_name(param.annotation, None), "???"))
            continue
        type_name = _type_name(param.annotation, param.default)
        default = {} if type_name == "dict" and param.default is None else _jsonable(param.default)
        fields.append((name, type_name, default))
    return fields


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
    if isinstance(default, dict):
        return "dict"
    if default is not None:
        return "any"
    text = str(annotation).replace("typing.", "")
    for prefix, type_name in (("bool", "bool"), ("int", "int"), ("float", "float"), ("str", "str"),
                              ("dict[", "dict"), ("Dict[", "dict"), ("Mapping[", "dict")):
        if text.startswith((prefix, f"Optional[{prefix}")):
            return type_name
    return "any"


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, int, float, str, list)) or value is None:
        return value
    return None  # a default that a config cannot hold (a tensor): leave it to torch
