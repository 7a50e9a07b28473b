"""Hook priorities, as MMCV 1.x names them: lower runs first."""
from __future__ import annotations

from enum import IntEnum


class Priority(IntEnum):
    HIGHEST = 0
    VERY_HIGH = 10
    HIGH = 30
    ABOVE_NORMAL = 40
    NORMAL = 50
    BELOW_NORMAL = 60
    LOW = 70
    VERY_LOW = 90
    LOWEST = 100


def get_priority(priority: int | str | Priority) -> int:
    """Turn a priority name (any case) or an int into the int the runner sorts by."""
    if isinstance(priority, str):
        try:
            return int(Priority[priority.upper()])
        except KeyError:
            names = ", ".join(p.name for p in Priority)
            raise ValueError(f"unknown priority {priority!r}; allowed: {names} or an int") from None
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise TypeError(f"priority must be a name or an int, got {priority!r}")
    return int(priority)
