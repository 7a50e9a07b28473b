"""MMEngine's hooks: ``default_hooks`` (logger, checkpoint, timer, param_scheduler,
sampler_seed, runtime_info, visualization), ``custom_hooks`` and ``log_processor``.

hyrun registers the counterparts of MMEngine's timer, param_scheduler, sampler-seed and
runtime-info hooks itself, so those carry as they are; ``None`` for one of them (MMEngine:
no such hook) cannot be expressed and is reported.
"""
from __future__ import annotations

from typing import Any

from hyrun.convert.experiment import Experiment
from hyrun.convert import hooks as mmcv_hooks
from hyrun.convert.hooks import carry_checkpoint
from hyrun.convert.mmengine.loops import metric_name

# default_hooks entries hyrun always has: (MMEngine's type, what hyrun does instead)
BUILT_IN = {
    "timer": ("IterTimerHook", "hyrun's iteration timer"),
    "param_scheduler": ("ParamSchedulerHook", "hyrun's param scheduler hook"),
    "sampler_seed": ("DistSamplerSeedHook", "hyrun's loaders reshuffle each epoch by seed and epoch"),
    "runtime_info": ("RuntimeInfoHook", "hyrun's runner keeps epoch, iteration and lr in its records"),
}
_LOGGER_FIELDS = {"interval": "interval", "ignore_last": "ignore_last"}
# CheckpointHook arguments that go to hyrun's evaluation (it keeps the best checkpoint)
_BEST_FIELDS = ("save_best", "rule", "greater_keys", "less_keys")
_CHECKPOINT_NEUTRAL = {"save_param_scheduler": True, "save_begin": 0, "published_keys": None,
                       "filename_tmpl": None, "file_client_args": None, "backend_args": None}
_EMA_NEUTRAL = {"ema_type": "ExponentialMovingAverage", "begin_iter": 0, "begin_epoch": 0, "update_buffers": False,
                "strict_load": False, "interval": 1}


def convert_default_hooks(cfg: dict[str, Any], out: Experiment) -> None:
    hooks = cfg["default_hooks"]
    if not isinstance(hooks, dict):
        out.skip("default_hooks", hooks, "not a dict of name=dict(type=...)")
        return
    for name, spec in hooks.items():
        key = f"default_hooks.{name}"
        if name in BUILT_IN:
            if spec is None or (isinstance(spec, dict) and spec.get("type") != BUILT_IN[name][0]):
                out.skip(key, spec, f"{BUILT_IN[name][1]} is always on")
            continue
        if name == "visualization" and isinstance(spec, dict) and spec.get("enable") is False:
            continue  # drawing nothing, as hyrun
        if spec is None:
            if name == "checkpoint":
                out.set("checkpoint_config", None)
            elif name != "logger" and name != "visualization":
                out.skip(key, spec, "not a hook hyrun has")
            continue
        if name == "logger" and isinstance(spec, dict):
            _carry_logger(spec, key, out)
        elif name == "checkpoint" and isinstance(spec, dict):
            _carry_checkpoint(spec, key, out)
        else:
            out.skip(key, spec, "not a hook hyrun has (visualizing predictions is the codebase's own)"
                     if name == "visualization" else "not a hook hyrun has")


def _carry_logger(spec: dict[str, Any], key: str, out: Experiment) -> None:
    for name, value in spec.items():
        if name == "type" and value == "LoggerHook":
            continue
        if name in _LOGGER_FIELDS:
            out.set(f"log_config.{_LOGGER_FIELDS[name]}", value)
        else:
            out.skip(f"{key}.{name}", value, "hyrun's loggers take interval and ignore_last (log_config)")


def _carry_checkpoint(spec: dict[str, Any], key: str, out: Experiment) -> None:
    spec = dict(spec)
    if spec.pop("type", "CheckpointHook") != "CheckpointHook":
        out.skip(key, spec, "not MMEngine's CheckpointHook")
        return
    for name in _BEST_FIELDS:
        if name in spec and spec[name] is not None:
            value = spec.pop(name)
            out.set(f"evaluation.{name}", metric_name(value) if name == "save_best" else value)
    for name, neutral in _CHECKPOINT_NEUTRAL.items():
        if name in spec and spec[name] == neutral:
            spec.pop(name)
    carry_checkpoint(spec, key, out)


def convert_custom_hooks(cfg: dict[str, Any], out: Experiment) -> None:
    mmcv_hooks.convert_custom_hooks(cfg, out, adapt=_as_mmcv_hook)


def _as_mmcv_hook(key: str, hook: Any, out: Experiment) -> Any:
    """MMEngine's EMAHook and EarlyStoppingHook in MMCV's (hyrun's) terms."""
    if isinstance(hook, dict) and hook.get("type") == "EMAHook":
        return _ema_as_hyrun(hook, key, out)
    if isinstance(hook, dict) and hook.get("type") == "EarlyStoppingHook" and "monitor" in hook:
        return {**hook, "monitor": metric_name(hook["monitor"])}
    return hook


def _ema_as_hyrun(hook: dict[str, Any], key: str, out: Experiment) -> dict[str, Any] | None:
    """MMEngine's EMAHook with ExponentialMovingAverage: ``avg += momentum * (param - avg)``
    after every step, no warm-up; hyrun's (MMCV's) with ``warm_up=1`` is that update."""
    hook = dict(hook)
    for name, neutral in _EMA_NEUTRAL.items():
        if name in hook and hook[name] != neutral:
            out.skip(key, hook, f"MMEngine's EMAHook with {name}={hook[name]!r}: hyrun's EMA updates every "
                                f"iteration from the start with ExponentialMovingAverage's rule")
            return None
        hook.pop(name, None)
    out.note(key, "EMAHook: hyrun's ema with warm_up=1 (MMEngine's rule); MMEngine copies the weights at its first "
                  "update, hyrun starts the average from the initial weights")
    return {"type": "EMAHook", "momentum": hook.pop("momentum", 0.0002), "warm_up": 1, **hook}


def convert_log_processor(cfg: dict[str, Any], out: Experiment) -> None:
    """hyrun's loggers average each value over the logging interval, MMEngine's LogProcessor
    over its last ``window_size`` iterations: the same when they are equal."""
    spec = cfg["log_processor"]
    if not isinstance(spec, dict):
        out.skip("log_processor", spec, "not dict(window_size=..., by_epoch=...)")
        return
    interval = out.get("log_config.interval", 10)  # default_hooks runs first
    for name, value in spec.items():
        if name == "type" and value == "LogProcessor":
            continue
        if name == "by_epoch":
            out.set("log_config.by_epoch", value)
        elif name == "window_size" and value == interval:
            continue
        else:
            why = (f"hyrun averages over the logging interval ({interval})" if name == "window_size"
                   else "hyrun's loggers have no such setting")
            out.skip(f"log_processor.{name}", value, why)
