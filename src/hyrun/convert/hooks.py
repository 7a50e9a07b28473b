"""MMCV's hook settings: ``custom_hooks`` (as options of hyrun's ``hooks`` group),
``log_config`` (as the ``logger`` group and ``log_config``), ``checkpoint_config`` and
``evaluation``."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from hyrun.config.hook_options import builtin_hook_schemas
from hyrun.convert.experiment import Experiment, Interpolation
from hyrun.registry import snake_case

# MMCV (and MMDetection / MMEngine) hook types that hyrun has built in: the hooks-group option
MMCV_HOOKS = {
    "EMAHook": "ema",
    "EmptyCacheHook": "empty_cache",
    "SyncBuffersHook": "sync_buffers",
    "ProfilerHook": "profiler",
    "EarlyStoppingHook": "early_stopping",  # MMEngine's
    "CheckInvalidLossHook": "nan_guard",  # MMDetection's: stop when the loss is not finite
}
# arguments of those MMCV hooks that hyrun's do not take, and why
_HOOK_WHY_NOT = {
    "resume_from": "resume the run instead (resume=...): EMA averages are in hyrun's checkpoints",
    "distributed": "hyrun syncs buffers whenever torch.distributed is initialised",
}
_PROFILER_SCHEDULE = ("wait", "warmup", "active", "repeat")
LOGGERS = {"TextLoggerHook": "text", "TensorboardLoggerHook": "tensorboard", "MlflowLoggerHook": "mlflow"}
_LOGGER_FIELDS = {"tensorboard": {"log_dir": "log_dir"},
                  "mlflow": {"exp_name": "experiment_name", "tags": "tags", "log_model": "log_model"}}
_SHARED_LOG_FIELDS = ("interval", "by_epoch", "ignore_last")
CHECKPOINT_FIELDS = ("interval", "by_epoch", "save_optimizer", "out_dir", "max_keep_ckpts", "save_last")
EVALUATION_FIELDS = ("interval", "start", "by_epoch", "save_best", "rule", "greater_keys", "less_keys")
# hyrun's built-in metric names (hyrun.metrics.is_builtin, without importing torch here)
_BUILTIN_METRIC = re.compile(r"accuracy|loss|top[1-9][0-9]*_accuracy")


# (key, hook, out) -> the hook as MMCV would write it, or None when it was reported instead
HookAdapter = Callable[[str, Any, Experiment], Any]


def convert_custom_hooks(cfg: dict[str, Any], out: Experiment, adapt: HookAdapter | None = None) -> None:
    """``custom_hooks``; ``adapt`` first rewrites an entry whose arguments mean something else
    in another codebase (MMEngine's EMAHook)."""
    hooks = cfg["custom_hooks"]
    if not isinstance(hooks, (list, tuple)):
        out.skip("custom_hooks", hooks, "not a list of dict(type=..., ...)")
        return
    selected: list[str] = []
    for i, hook in enumerate(hooks):
        key = f"custom_hooks[{i}]"
        hook = adapt(key, hook, out) if adapt is not None else hook
        if hook is not None:
            carry_custom_hook(key, hook, selected, out)
    if selected:
        out.choose("hooks", selected)


def carry_custom_hook(key: str, hook: Any, selected: list[str], out: Experiment) -> None:
    """One ``custom_hooks`` entry as an option of hyrun's hooks group, appended to ``selected``."""
    kind = hook.get("type") if isinstance(hook, dict) else None
    option = MMCV_HOOKS.get(kind)
    if option is None:
        hint = f"; port it to hyrun (@register('hooks')) and add hooks=[{snake_case(kind)}]" \
            if isinstance(kind, str) else ""
        out.skip(key, hook, f"not a hook hyrun has built in{hint}")
        return
    if option in selected:
        out.skip(key, hook, f"hyrun's hooks group takes {option} once")
        return
    selected.append(option)
    args = {k: v for k, v in hook.items() if k != "type"}
    if kind == "ProfilerHook":
        args = _profiler_args(args, key, out)
    fields = [f.name for f in dataclasses.fields(builtin_hook_schemas()[option]) if f.name != "_target_"]
    for name, value in args.items():
        if name in fields:
            out.set(f"hooks.{option}.{name}", value)
        else:
            out.skip(f"{key}.{name}", value, _HOOK_WHY_NOT.get(name, f"hyrun's {option} hook takes no {name!r} "
                                                                   f"(it takes {', '.join(fields)})"))


def _profiler_args(args: dict[str, Any], key: str, out: Experiment) -> dict[str, Any]:
    """MMCV's ProfilerHook: ``schedule=dict(wait, warmup, active, repeat)``, or without one the
    first ``profile_iters`` iterations."""
    args = dict(args)
    schedule, profile_iters = args.pop("schedule", None), args.pop("profile_iters", 1)
    if isinstance(schedule, dict):
        args.update({k: v for k, v in schedule.items() if k in _PROFILER_SCHEDULE})
        for name in set(schedule) - set(_PROFILER_SCHEDULE):
            out.skip(f"{key}.schedule.{name}", schedule[name], "torch.profiler.schedule takes wait, warmup, "
                                                               "active, repeat (skip_first is not carried)")
    else:
        args.update({"wait": 0, "warmup": 0, "active": profile_iters, "repeat": 1})
    return args


def convert_log_config(cfg: dict[str, Any], out: Experiment) -> None:
    """MMCV builds each logger of ``hooks`` with the shared ``interval``; hyrun's loggers share
    ``log_config`` (interval, by_epoch, ignore_last), so a hook's own value of those is lifted
    there (the first one wins when loggers disagree)."""
    spec = cfg["log_config"]
    if spec is None:
        out.choose("logger", [])
        return
    if not isinstance(spec, dict):
        out.skip("log_config", spec, "not dict(interval=..., hooks=[...])")
        return
    spec = dict(spec)
    if "interval" in spec:
        out.set("log_config.interval", spec.pop("interval"))
    selected: list[str] = []
    for i, hook in enumerate(spec.pop("hooks", [])):
        key = f"log_config.hooks[{i}]"
        name = LOGGERS.get(hook.get("type")) if isinstance(hook, dict) else None
        if name is None or name in selected:
            out.skip(key, hook, f"not a logger hyrun has ({', '.join(LOGGERS)})" if name is None else "a second one")
            continue
        selected.append(name)
        args = {k: v for k, v in hook.items() if k != "type"}
        if name == "mlflow":
            args.setdefault("log_model", True)  # MMCV's default; hyrun's is False
        for field, value in args.items():
            _set_logger_field(name, field, value, f"{key}.{field}", out)
    out.choose("logger", selected)
    for name, value in spec.items():
        out.skip(f"log_config.{name}", value, "log_config takes interval and hooks")


def _set_logger_field(logger: str, field: str, value: Any, key: str, out: Experiment) -> None:
    if field in _SHARED_LOG_FIELDS:
        current = out.get(f"log_config.{field}")
        if current is None or current == value:
            out.set(f"log_config.{field}", value)
        else:
            out.skip(key, value, f"hyrun's loggers share log_config.{field}, already {current!r}")
    elif field in _LOGGER_FIELDS.get(logger, {}):
        if field == "tags" and isinstance(value, dict):
            value = {str(k): str(v) for k, v in value.items()}
        out.set(f"logger.{logger}.{_LOGGER_FIELDS[logger][field]}", value)
    elif field == "params" and logger == "mlflow":
        out.skip(key, value, "hyrun logs the whole composed config as MLflow params")
    else:
        out.skip(key, value, f"hyrun's {logger} logger takes no {field!r}")


def _hook_spec(cfg: dict[str, Any], key: str, shape: str, out: Experiment) -> dict[str, Any] | None:
    """A copy of the hook's settings ``cfg[key]``; None when there is nothing more to convert:
    ``None`` (MMCV: no such hook) is carried as ``key: null``, another value is reported."""
    spec = cfg[key]
    if spec is None:
        out.set(key, None)
        return None
    if not isinstance(spec, dict):
        out.skip(key, spec, f"not {shape}")
        return None
    return dict(spec)


def convert_checkpoint_config(cfg: dict[str, Any], out: Experiment) -> None:
    spec = _hook_spec(cfg, "checkpoint_config", "dict(interval=..., ...)", out)
    if spec is not None:
        carry_checkpoint(spec, "checkpoint_config", out)


def carry_checkpoint(spec: dict[str, Any], source: str, out: Experiment) -> None:
    """MMCV's and MMEngine's CheckpointHook arguments (at ``source``) as ``checkpoint_config``."""
    spec = dict(spec)
    interval = spec.pop("interval", -1)  # MMCV's default: only the last checkpoint (save_last)
    by_iteration = spec.get("by_epoch") is False or (spec.get("by_epoch") is None and out.counts_iterations())
    if isinstance(interval, int) and interval <= 0:
        if by_iteration and not out.counts_iterations():
            out.skip(f"{source}.interval", interval, "hyrun needs an interval >= 1 for iteration checkpoints "
                                                             "of the epoch runner")
        else:
            interval = Interpolation("${runner.max_iters}" if by_iteration else "${runner.max_epochs}")
            out.note(f"{source}.interval", f"an interval <= 0 saves only at the end: {interval}")
            out.set("checkpoint_config.interval", interval)
    else:
        out.set("checkpoint_config.interval", interval)
    _carry_fields(spec, CHECKPOINT_FIELDS, "checkpoint_config", out, source)


def convert_evaluation(cfg: dict[str, Any], out: Experiment) -> None:
    spec = _hook_spec(cfg, "evaluation", "dict(interval=..., metric=...)", out)
    if spec is None:
        return
    if "metric" in spec:
        metric = spec.pop("metric")
        names = [metric] if isinstance(metric, str) else list(metric) if isinstance(metric, (list, tuple)) else []
        known = [m for m in names if isinstance(m, str) and _BUILTIN_METRIC.fullmatch(m)]
        if known:
            out.set("evaluation.metric", known)
        if len(known) < len(names) or not names:
            out.skip("evaluation.metric", [m for m in names if m not in known] or metric,
                     "not a metric hyrun has (accuracy, top{k}_accuracy, loss, or your own {_target_: ...}): "
                     + ("the others are carried" if known else "hyrun's default (accuracy) stays"))
    save_best = spec.get("save_best")
    if save_best not in (None, "auto") and save_best not in out.get("evaluation.metric", []):
        out.skip("evaluation.save_best", spec.pop("save_best"), "names a metric that is not carried")
    _carry_fields(spec, EVALUATION_FIELDS, "evaluation", out)


def _carry_fields(spec: dict[str, Any], fields: tuple[str, ...], node: str, out: Experiment,
                  source: str | None = None) -> None:
    for name, value in spec.items():
        if name in fields:
            out.set(f"{node}.{name}", value)
        else:
            out.skip(f"{source or node}.{name}", value, f"hyrun's {node} has no {name!r} (it has {', '.join(fields)})")

