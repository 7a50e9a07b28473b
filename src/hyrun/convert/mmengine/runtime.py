"""MMEngine's run settings: ``visualizer`` (its backends as hyrun's loggers), ``randomness``,
``env_cfg``, ``load_from`` / ``resume``, ``work_dir``, ``auto_scale_lr``, ``model_wrapper_cfg``
and ``default_scope``."""
from __future__ import annotations

from typing import Any

from hyrun.convert.experiment import Experiment

# vis backend -> (hyrun logger, {MMEngine argument: hyrun field})
VIS_BACKENDS: dict[str, tuple[str, dict[str, str]]] = {
    "LocalVisBackend": ("text", {}),  # scalars to a local file: hyrun's metrics.jsonl
    "TensorboardVisBackend": ("tensorboard", {"save_dir": "log_dir"}),
    "MLflowVisBackend": ("mlflow", {"exp_name": "experiment_name", "run_name": "run_name",
                                    "tracking_uri": "tracking_uri", "tags": "tags"}),
}
_WRAPPERS = ("MMDistributedDataParallel",)


def convert_visualizer(cfg: dict[str, Any], out: Experiment) -> None:
    """MMEngine logs scalars to the console always, and to each of ``vis_backends``."""
    spec = cfg["visualizer"]
    loggers = ["text"]
    backends = spec.get("vis_backends", []) if isinstance(spec, dict) else None
    if not isinstance(backends, (list, tuple)):
        out.skip("visualizer", spec, "not dict(type=..., vis_backends=[...])")
        backends = []
    for i, backend in enumerate(backends):
        key = f"visualizer.vis_backends[{i}]"
        kind = backend.get("type") if isinstance(backend, dict) else None
        if kind not in VIS_BACKENDS:
            out.skip(key, backend, f"not a backend hyrun has ({', '.join(VIS_BACKENDS)})")
            continue
        logger, fields = VIS_BACKENDS[kind]
        if logger not in loggers:
            loggers.append(logger)
        for name, value in backend.items():
            if name == "type":
                continue
            if name in fields:
                if name == "tags" and isinstance(value, dict):
                    value = {str(k): str(v) for k, v in value.items()}
                out.set(f"logger.{logger}.{fields[name]}", value)
            else:
                out.skip(f"{key}.{name}", value, f"hyrun's {logger} logger takes no {name!r}"
                         + (" (it logs the whole composed config as params)" if name == "params" else ""))
    out.choose("logger", loggers)
    if isinstance(spec, dict):
        for name, value in spec.items():
            if name not in ("type", "vis_backends", "name"):
                out.skip(f"visualizer.{name}", value, "hyrun's loggers draw no images")


def convert_randomness(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["randomness"]
    if not isinstance(spec, dict):
        out.skip("randomness", spec, "not dict(seed=..., deterministic=...)")
        return
    spec = dict(spec)
    seed = spec.pop("seed", None)
    if seed is None:
        out.skip("randomness.seed", None, "MMEngine draws a random seed; hyrun's seed is fixed (0 unless set)")
    else:
        out.set("seed", seed)
    if "deterministic" in spec:
        out.set("deterministic", spec.pop("deterministic"))
    if spec.pop("diff_rank_seed", False):
        out.skip("randomness.diff_rank_seed", True, "hyrun seeds every process alike (equal initial weights)")
    for name, value in spec.items():
        out.skip(f"randomness.{name}", value, "randomness takes seed, deterministic and diff_rank_seed")


def convert_env_cfg(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["env_cfg"]
    for name, value in (spec.items() if isinstance(spec, dict) else [("", spec)]):
        key = f"env_cfg.{name}" if name else "env_cfg"
        if name == "cudnn_benchmark" and not value:
            continue  # torch's default, and hyrun's
        out.skip(key, value, "hyrun leaves cudnn.benchmark off" if name == "cudnn_benchmark" else
                 "a setting of MMEngine's launcher: hyrun's processes take torchrun's environment")


def convert_checkpoints(cfg: dict[str, Any], out: Experiment) -> None:
    """``resume=True`` resumes from ``load_from``, or without one from the latest checkpoint
    of the work dir; ``resume=False`` only loads the weights of ``load_from``."""
    load_from, resume = cfg.get("load_from"), cfg.get("resume", False)
    if resume:
        out.set("resume", load_from if isinstance(load_from, str) else "auto")
    elif isinstance(load_from, str):
        out.set("load_from", load_from)
    if isinstance(cfg.get("work_dir"), str):
        out.set("work_dir", cfg["work_dir"])


def convert_auto_scale_lr(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["auto_scale_lr"]
    if not isinstance(spec, dict) or ("base_batch_size" not in spec and spec.get("enable")):
        out.skip("auto_scale_lr", spec, "not dict(enable=..., base_batch_size=...)")
        return
    for name, value in spec.items():
        if name in ("enable", "base_batch_size"):
            out.set(f"auto_scale_lr.{name}", value)
        else:
            out.skip(f"auto_scale_lr.{name}", value, "auto_scale_lr takes enable and base_batch_size")


def convert_model_wrapper(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["model_wrapper_cfg"]
    if not isinstance(spec, dict) or spec.get("type", _WRAPPERS[0]) not in _WRAPPERS:
        out.skip("model_wrapper_cfg", spec, "hyrun wraps the model in torch's DistributedDataParallel")
        return
    for name, value in spec.items():
        if name == "find_unused_parameters":
            out.set("ddp.find_unused_parameters", value)
        elif name != "type":
            out.skip(f"model_wrapper_cfg.{name}", value, "hyrun's ddp takes find_unused_parameters and "
                                                         "broadcast_buffers")


def convert_default_scope(cfg: dict[str, Any], out: Experiment) -> None:
    out.skip("default_scope", cfg["default_scope"], "the registry scope of an OpenMMLab codebase: hyrun has one "
                                                    "registry (the codebase's models and datasets are not converted)")
