"""Evaluation metrics: functions of all val outputs and targets, named or given by ``_target_``.

``evaluation.metric`` is one entry or a list of entries; an entry is

- a name: ``accuracy`` (top-1), ``top{k}_accuracy`` for any k >= 1 (``top3_accuracy``,
  ``top5_accuracy``, ...), or ``loss`` (the mean cross-entropy);
- a mapping ``{_target_: my_pkg.my_metric, name: f1, rule: greater, **kwargs}`` naming a user metric:
  * a function is called as ``fn(outputs, targets, **kwargs) -> float`` at each evaluation;
  * a class is instantiated once, ``cls(**kwargs)``, when the evaluation hook is built, and
    the instance is called as ``metric(outputs, targets) -> float`` at each evaluation.
  ``name`` (the record's key) defaults to the last part of ``_target_``; ``rule`` (``greater``
  | ``less``, or a ``rule`` attribute of the function or class) is which way it improves, for
  ``save_best``, top-k checkpoints and a study's direction; unset, it is inferred from the name
  (``hyrun.direction``);
- (from Python) any callable ``fn(outputs, targets) -> float``, named by its ``name``
  attribute or ``__name__``.

``outputs`` and ``targets`` are the whole val set's, concatenated over batches, on the
runner's device; the value may be a float, a number or a one-element tensor.
"""
from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from hyrun.direction import infer_rule

Metric = Callable[[torch.Tensor, torch.Tensor], Any]

TARGET_KEY, NAME_KEY, RULE_KEY = "_target_", "name", "rule"
_TOPK = re.compile(r"top([1-9][0-9]*)_accuracy")


def topk_accuracy(k: int) -> Metric:
    def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
        topk = outputs.topk(min(k, outputs.shape[1]), dim=1).indices
        return (topk == targets[:, None]).any(dim=1).float().mean().item()

    accuracy.__name__ = "accuracy" if k == 1 else f"top{k}_accuracy"
    return accuracy


def cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    return F.cross_entropy(outputs.float(), targets).item()


METRICS: dict[str, Metric] = {
    "accuracy": topk_accuracy(1),
    "top3_accuracy": topk_accuracy(3),
    "top5_accuracy": topk_accuracy(5),
    "loss": cross_entropy,
}

VALID = ", ".join(METRICS) + ", top{k}_accuracy for any k >= 1, or {_target_: ..., name: ...}"


def is_builtin(name: str) -> bool:
    return name in METRICS or _TOPK.fullmatch(name) is not None


def get_metric(name: str) -> Metric:
    """The built-in metric called ``name``; KeyError listing the valid names otherwise."""
    if name in METRICS:
        return METRICS[name]
    match = _TOPK.fullmatch(name)
    if match is None:
        raise KeyError(f"unknown metric {name!r}: valid are {VALID}")
    return topk_accuracy(int(match.group(1)))


def metric_entries(spec: Any) -> list[Any]:
    """``evaluation.metric`` as a list of entries (a single name or mapping becomes a list of
    one); OmegaConf containers become plain ones."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(spec, (DictConfig, ListConfig)):
            spec = OmegaConf.to_container(spec, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf comes with hydra
        pass
    if isinstance(spec, (str, Mapping)) or callable(spec):
        return [spec]
    if isinstance(spec, Sequence):
        return list(spec)
    raise TypeError(f"evaluation.metric must be a name, a mapping with _target_, or a list of those, "
                    f"got {spec!r}")


def metric_name(entry: Any) -> str:
    """The key an entry's value has in the val record."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        name = entry.get(NAME_KEY)
        return str(name) if name else str(entry.get(TARGET_KEY, "")).rpartition(".")[2]
    return str(getattr(entry, "name", None) or getattr(entry, "__name__", None) or type(entry).__name__)


def metric_names(spec: Any) -> list[str]:
    """The record keys of ``evaluation.metric``, in order (the first is what ``auto`` picks)."""
    return [metric_name(entry) for entry in metric_entries(spec)]


def declared_rule(entry: Any) -> str | None:
    """The rule an entry declares: a mapping's ``rule``, else a ``rule`` attribute of what it
    names (a function or class of the user's) or of a callable given from Python."""
    if isinstance(entry, str):
        return None
    if isinstance(entry, Mapping):
        if entry.get(RULE_KEY) is not None:
            return entry[RULE_KEY]
        target = entry.get(TARGET_KEY)
        return getattr(locate(target), RULE_KEY, None) if isinstance(target, str) and target else None
    return getattr(entry, RULE_KEY, None)


def metric_rule(name: str, spec: Any, greater_keys: Any = None, less_keys: Any = None) -> str:
    """Which way metric ``name`` of ``evaluation.metric`` improves: the rule its entry declares,
    else the one its name says (``hyrun.direction.infer_rule``: ValueError when it says neither)."""
    for entry in metric_entries(spec):
        if metric_name(entry) == name and (rule := declared_rule(entry)) is not None:
            return rule
    return infer_rule(name, greater_keys, less_keys)


def undeclared_rule(name: str, where: str = "evaluation.rule") -> str:
    """What a ConfigError says is allowed when metric ``name``'s rule is neither declared nor in its name."""
    return (f"greater or less: which way {name!r} improves is not in its name; declare it on the metric "
            f"({{_target_: ..., name: {name}, rule: greater}}) or set {where}")


def locate(path: str) -> Any:
    """The object a dotted ``_target_`` names (Hydra's own lookup)."""
    from hydra.utils import get_object

    return get_object(path)


def build_metric(entry: Any) -> tuple[str, Metric]:
    """(record key, callable of (outputs, targets)) for one entry; see the module doc."""
    name = metric_name(entry)
    if isinstance(entry, str):
        return name, get_metric(entry)
    if isinstance(entry, Mapping):
        if TARGET_KEY not in entry:
            raise ValueError(f"a metric mapping needs a {TARGET_KEY}: {dict(entry)!r}")
        kwargs = {k: v for k, v in entry.items() if k not in (TARGET_KEY, NAME_KEY, RULE_KEY)}
        target = locate(entry[TARGET_KEY])
        if inspect.isclass(target):
            metric = target(**kwargs)
            if not callable(metric):
                raise TypeError(f"metric {name!r}: instances of {entry[TARGET_KEY]} are not callable "
                                f"as metric(outputs, targets)")
            return name, metric
        if not callable(target):
            raise TypeError(f"metric {name!r}: {entry[TARGET_KEY]} is not callable")
        return name, functools.partial(target, **kwargs) if kwargs else target
    if callable(entry):
        return name, entry
    raise TypeError(f"a metric is a name, a mapping with {TARGET_KEY} or a callable, got {entry!r}")


def build_metrics(spec: Any) -> dict[str, Metric]:
    """Record key -> metric for ``evaluation.metric``, in order; names must be distinct."""
    metrics: dict[str, Metric] = {}
    for entry in metric_entries(spec):
        name, metric = build_metric(entry)
        if name in metrics:
            raise ValueError(f"two evaluation metrics are named {name!r}: give one a different name")
        metrics[name] = metric
    if not metrics:
        raise ValueError("evaluation.metric names no metric")
    return metrics


def as_float(name: str, value: Any) -> float:
    """A metric's value as a Python float (what records and checkpoints hold)."""
    try:
        return float(value.item() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"metric {name!r} returned {value!r}: expected a number") from error
