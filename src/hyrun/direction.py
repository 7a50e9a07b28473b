"""Which way a metric improves: its rule, ``greater`` or ``less``.

When a rule is not given it is inferred from the metric's name as MMCV 1.x's EvalHook does
(``_init_rule``): lower-cased, an exact match in the greater keys then in the less keys, then
a substring of any greater key, then of any less key. Every hook that compares scores (best
checkpoint, top-k, early stopping, the plateau scheduler) uses the helpers here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

GREATER, LESS = "greater", "less"
RULES = (GREATER, LESS)

# MMCV's EvalHook._default_greater_keys / _default_less_keys, matched case-insensitively
DEFAULT_GREATER_KEYS = ("acc", "top", "AR@", "auc", "precision", "mAP", "mDice", "mIoU", "mAcc", "aAcc")
DEFAULT_LESS_KEYS = ("loss",)


def infer_rule(metric: str, greater_keys: str | Sequence[str] | None = None,
               less_keys: str | Sequence[str] | None = None) -> str:
    """MMCV's ``_init_rule`` for ``rule=None``: ``greater`` or ``less`` from the metric's name;
    ValueError when the name says neither."""
    name = metric.lower()
    greater = [key.lower() for key in (DEFAULT_GREATER_KEYS if greater_keys is None else _seq(greater_keys))]
    less = [key.lower() for key in (DEFAULT_LESS_KEYS if less_keys is None else _seq(less_keys))]
    if name in greater:
        return GREATER
    if name in less:
        return LESS
    if any(key in name for key in greater):
        return GREATER
    if any(key in name for key in less):
        return LESS
    raise ValueError(f"cannot infer the rule for metric {metric!r}: set evaluation.rule to greater or less")


def check_rule(rule: str, what: str) -> str:
    """``rule`` if it is one of RULES, else ValueError naming ``what`` it was given for."""
    if rule not in RULES:
        raise ValueError(f"{what} must be greater or less, got {rule!r}")
    return rule


def is_better(rule: str, score: float, than: float) -> bool:
    """Whether ``score`` is strictly better than ``than`` by ``rule`` (NaN never is)."""
    return score > than if rule == GREATER else score < than


def worst(rule: str) -> float:
    """The score every finite score beats: -inf for ``greater``, +inf for ``less``."""
    return -math.inf if rule == GREATER else math.inf


def _seq(keys: str | Sequence[str]) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys)
