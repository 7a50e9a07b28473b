"""MMEngine's loops: ``train_cfg`` (the training length and when to validate), ``val_cfg``
(whether to validate at all) and ``val_evaluator`` (the metrics), as hyrun's ``runner`` and
``evaluation``."""
from __future__ import annotations

from typing import Any

from hyrun.convert.experiment import Experiment

# loop type -> (hyrun runner, length key, MMEngine's default val_interval)
LOOPS = {"EpochBasedTrainLoop": ("epoch", "max_epochs", 1), "IterBasedTrainLoop": ("iter", "max_iters", 1000)}


def convert_train_cfg(cfg: dict[str, Any], out: Experiment) -> None:
    spec = cfg["train_cfg"]
    if not isinstance(spec, dict):
        out.skip("train_cfg", spec, "not dict(type=..., max_epochs | max_iters, ...)")
        return
    spec = dict(spec)
    by_epoch = spec.pop("by_epoch", None)
    kind_name = spec.pop("type", "EpochBasedTrainLoop" if by_epoch is not False else "IterBasedTrainLoop")
    if kind_name not in LOOPS:
        out.skip("train_cfg", cfg["train_cfg"], f"{kind_name!r} is not a loop hyrun has ({', '.join(LOOPS)})")
        return
    runner, length, default_interval = LOOPS[kind_name]
    out.set("runner.type", runner)
    if runner == "iter":
        out.set("runner.max_epochs", None)
    if length in spec:
        out.set(f"runner.{length}", spec.pop(length))
    interval, begin = spec.pop("val_interval", default_interval), spec.pop("val_begin", 1)
    _carry_validation_times(interval, begin, out.get(f"runner.{length}"), out)
    for name, value in spec.items():
        out.skip(f"train_cfg.{name}", value, f"hyrun's {runner} runner takes {length}, val_interval and val_begin")


def _carry_validation_times(interval: Any, begin: Any, length: Any, out: Experiment) -> None:
    """MMEngine validates after step ``n`` (epoch or iteration) when ``n >= val_begin`` and
    ``n % val_interval == 0``, and after the last step; hyrun's EvalHook (MMCV's) when
    ``n % interval == 0``, or with ``start`` when ``(n - start) % interval == 0``."""
    if not (isinstance(interval, int) and isinstance(begin, int)) or interval < 1:
        out.skip("train_cfg.val_interval", interval, "not a positive integer")
        return
    out.set("evaluation.interval", interval)
    if begin > interval:
        if begin % interval:
            out.skip("train_cfg.val_begin", begin, f"MMEngine validates at multiples of {interval} from {begin}; "
                                                   f"hyrun counts its interval from evaluation.start")
        else:
            out.set("evaluation.start", begin)
    if isinstance(length, int) and length % interval:
        out.skip("train_cfg.val_interval", interval, f"MMEngine also validates after the last step ({length}), "
                                                     f"which is not a multiple of {interval}: hyrun does not")


def convert_val_cfg(cfg: dict[str, Any], out: Experiment) -> None:
    """MMEngine validates when ``val_cfg`` (with ``val_dataloader`` and ``val_evaluator``) is set."""
    spec = cfg.get("val_cfg")
    if spec is None:
        out.set("evaluation", None)
        return
    if isinstance(spec, dict):
        for name, value in spec.items():
            if name == "type" and value == "ValLoop":
                continue
            out.skip(f"val_cfg.{name}", value, "hyrun's evaluation runs the val loader once, in full precision")
    if "val_evaluator" in cfg:
        _carry_metrics(cfg["val_evaluator"], out)


def _carry_metrics(evaluator: Any, out: Experiment) -> None:
    """mmpretrain's ``Accuracy(topk=...)`` are hyrun's ``accuracy`` and ``top{k}_accuracy``."""
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    names: list[str] = []
    for i, metric in enumerate(metrics):
        key = "val_evaluator" if not isinstance(evaluator, (list, tuple)) else f"val_evaluator[{i}]"
        if isinstance(metric, dict) and metric.get("type") == "Accuracy" and set(metric) <= {"type", "topk"}:
            topk = metric.get("topk", (1,))
            names += [metric_name(f"accuracy/top{k}") for k in ((topk,) if isinstance(topk, int) else topk)]
        else:
            out.skip(key, metric, "not a metric hyrun has (Accuracy with topk): hyrun's accuracy stays")
    if names:
        out.set("evaluation.metric", names)


def metric_name(mmengine_name: Any) -> Any:
    """MMEngine's metric keys as hyrun's: ``accuracy/top1`` -> ``accuracy``, ``accuracy/top5``
    -> ``top5_accuracy``; ``auto`` and other names as they are."""
    if isinstance(mmengine_name, str) and mmengine_name.startswith("accuracy/top"):
        k = mmengine_name[len("accuracy/top"):]
        return "accuracy" if k == "1" else f"top{k}_accuracy"
    return mmengine_name
