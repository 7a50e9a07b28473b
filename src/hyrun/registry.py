"""Registration: a class of yours becomes a config group option.

    from hyrun import register

    @register("optimizer")           # optimizer=my_optimizer, fields from its signature
    class MyOptimizer(torch.optim.Optimizer):
        def __init__(self, params, a, b=1.0): ...

    @register("hooks")               # hooks=[my_hook], fields from its signature
    class MyHook(hyrun.Hook): ...

    @register("logger")              # logger=[text,my_logger]
    class MyLogger(hyrun.LoggerHook): ...

    @register("optimizer_constructor")   # optimizer.constructor=my_constructor
    class MyConstructor: ...

The module must be imported before the config is composed: name it in ``custom_imports``
(on the command line or in the primary config) or declare it as an entry point of the
``hyrun.plugins`` group in your package's metadata; hyrun imports both at start.
"""
from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T", bound=type)

KINDS = ("optimizer", "optimizer_constructor", "hooks", "logger")
REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}
ENTRY_POINT_GROUP = "hyrun.plugins"
_plugins_loaded = False  # load_plugins has imported them all


def snake_case(name: str) -> str:
    """``MyOptimizer`` -> ``my_optimizer``, ``SGDWithWarmup`` -> ``sgd_with_warmup``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def register(kind: str, name: str | None = None) -> Callable[[T], T]:
    if kind not in KINDS:
        raise ValueError(f"cannot register a {kind!r}; kinds: {', '.join(KINDS)}")

    def add(cls: T) -> T:
        option = name or snake_case(cls.__name__)
        REGISTRY[kind][option] = cls
        _store(kind, option, cls)
        return cls

    return add


def _store(kind: str, option: str, cls: type) -> None:
    from hydra.core.config_store import ConfigStore

    from hyrun.config import hook_options
    from hyrun.config.generate import TYPES, config_class, signature_fields
    from hyrun.config.optimizers import FIELD_CHECKS
    from hyrun.config.store import store, store_multi

    cs = ConfigStore.instance()
    if kind == "optimizer":
        fields = [(n, TYPES[t], d) for n, t, d in signature_fields(cls)]
        node = config_class(f"{cls.__name__}Config", [("_target_", str, hook_options.target_path(cls)), *fields],
                            module=cls.__module__, checks=FIELD_CHECKS)
        store(cs, group="optimizer", name=option, node=node)
    elif kind == "hooks":
        store_multi(cs, "hooks", option, hook_options.hook_schema(cls, module=cls.__module__))
    elif kind == "logger":
        store_multi(cs, "logger", option, hook_options.logger_schema(cls, module=cls.__module__))


def load_plugins() -> None:
    """Import every ``hyrun.plugins`` entry point (their registrations take effect); once a
    process: reading the installed packages' entry points takes ~5-15 ms, and the command line
    and hyrun's search-path plugin both ask."""
    global _plugins_loaded
    from hyrun.config.errors import ConfigError

    if _plugins_loaded:
        return
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:
            raise ConfigError(f"entry point {ENTRY_POINT_GROUP}:{entry_point.name}", entry_point.value,
                              f"an importable module ({type(error).__name__}: {error})") from error
    _plugins_loaded = True


def resolve(kind: str, name_or_path: str) -> Any:
    """A registered name, or a dotted import path."""
    if name_or_path in REGISTRY[kind]:
        return REGISTRY[kind][name_or_path]
    from hydra.utils import get_object

    return get_object(name_or_path)
