"""Options of the multi-select ``hooks`` and ``logger`` groups: one node per hook class,
generated from its signature (fields, types and defaults are the class's own), for the
built-in hooks and for those a user registers (``hyrun.register``).

A node is ``_target_``, then (hooks group) ``priority``, the class's default (build pops it
and registers the hook with it), then the class's arguments.
``hooks=[ema,early_stopping] hooks.ema.momentum=0.001`` selects and sets them.
"""
from __future__ import annotations

import functools
from typing import Any

from hyrun.config.generate import TYPES, config_class, signature_fields

# option -> class; imported when the options are stored (their modules import torch lazily)
BUILTIN_HOOKS: dict[str, str] = {
    "ema": "hyrun.hooks.ema.EMAHook",
    "early_stopping": "hyrun.hooks.early_stopping.EarlyStoppingHook",
    "nan_guard": "hyrun.hooks.nan_guard.NanGuardHook",
    "time_limit": "hyrun.hooks.time_limit.TimeLimitHook",
    "profiler": "hyrun.hooks.profiler.ProfilerHook",
    "sync_buffers": "hyrun.hooks.sync_buffers.SyncBuffersHook",
    "empty_cache": "hyrun.hooks.empty_cache.EmptyCacheHook",
}
BUILTIN_LOGGERS: dict[str, str] = {
    "text": "hyrun.hooks.logger.text.TextLoggerHook",
    "tensorboard": "hyrun.hooks.logger.tensorboard.TensorboardLoggerHook",
    "mlflow": "hyrun.hooks.logger.mlflow.MlflowLoggerHook",
}


def target_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def hook_schema(cls: type, module: str | None = None) -> type:
    """The ``hooks`` group's node for a hook class: its priority by name where it has one.
    ``module``: where the node is importable from (``config_class``), for a user's class."""
    from hyrun.hooks.priority import priority_name

    priority = getattr(cls, "priority")  # a name, an int, a Priority or an Order place
    if not isinstance(priority, str):
        priority = priority_name(priority) or int(priority)
    return _schema(cls, [("priority", Any, priority)], module)


def logger_schema(cls: type, module: str | None = None) -> type:
    """The ``logger`` group's node for a logger class (loggers stand at ``Order.LOG``)."""
    return _schema(cls, [], module)


def _schema(cls: type, head: list[tuple[str, Any, Any]], module: str | None) -> type:
    fields = [(name, TYPES[type_name], default) for name, type_name, default in signature_fields(cls)]
    return config_class(f"{cls.__name__}Config", [("_target_", str, target_path(cls)), *head, *fields],
                        module=module)


@functools.cache
def builtin_hook_schemas() -> dict[str, type]:
    return {option: hook_schema(_load(path)) for option, path in BUILTIN_HOOKS.items()}


@functools.cache
def builtin_logger_schemas() -> dict[str, type]:
    return {option: logger_schema(_load(path)) for option, path in BUILTIN_LOGGERS.items()}


def _load(path: str) -> type:
    import importlib

    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
