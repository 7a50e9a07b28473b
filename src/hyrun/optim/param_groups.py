"""The fields of an optimizer's param group that schedules and records read and write.

``momentum`` means SGD's ``momentum`` or, for Adam-style optimizers, the first of ``betas``
(MMCV's and MMEngine's rule): one place decides which, for the momentum schedules, the
MMEngine-style param schedulers and the train records.
"""
from __future__ import annotations

from typing import Any

MOMENTUM, BETAS = "momentum", "betas"


def momentum_field(group: dict[str, Any]) -> str | None:
    """Where ``group`` keeps its momentum: ``momentum``, ``betas`` (its first value) or None."""
    if MOMENTUM in group:
        return MOMENTUM
    if BETAS in group:
        return BETAS
    return None


def get_momentum(group: dict[str, Any]) -> float | None:
    """SGD's momentum or the first of Adam-style betas; None when the group has neither."""
    if MOMENTUM in group:
        return group[MOMENTUM]
    if BETAS in group:
        return group[BETAS][0]
    return None


def set_momentum(group: dict[str, Any], value: float) -> None:
    """Write ``value`` where ``group`` keeps its momentum (``betas`` keeps its second value)."""
    if MOMENTUM in group:
        group[MOMENTUM] = value
    else:
        group[BETAS] = (value, *group[BETAS][1:])


def get_param(group: dict[str, Any], name: str) -> float | None:
    """A scheduled field of ``group`` (``momentum`` by the rule above); None when absent."""
    return get_momentum(group) if name == MOMENTUM else group.get(name)


def set_param(group: dict[str, Any], name: str, value: float) -> None:
    if name == MOMENTUM:
        set_momentum(group, value)
    else:
        group[name] = value
