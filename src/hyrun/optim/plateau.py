"""The decision rule of MMEngine's ReduceOnPlateauParamScheduler, as a small state machine.

Kept apart from the schedule classes because it is the one schedule that is not a function of
training progress: it changes only when a validation result arrives, and carries state (best
value, bad-epoch count, cooldown) that a checkpoint must keep. ``PlateauTracker.update`` replays
MMEngine's ``step(metrics)`` order exactly:

1. the metric is better than ``best`` (by ``threshold`` in ``threshold_rule``) -> new best and
   the bad count is reset, else the bad count grows;
2. while in cooldown the cooldown counter drops by one and the bad count is forced to 0;
3. a bad count above ``patience`` reduces the value (``reduced``) and starts the cooldown.

``best`` starts at MMEngine's ``INF = int(1e9)`` (or minus it for ``greater``), not at infinity:
a monitored value beyond 1e9 never counts as an improvement, as in MMEngine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyrun.direction import LESS, check_rule

WORST = float(int(1e9))  # MMEngine's INF: the starting ``best`` (negated for rule 'greater')
THRESHOLD_RULES = ("rel", "abs")


def check_plateau(rule: str, threshold_rule: str, factor: float, threshold: float, patience: int,
                  cooldown: int, eps: float) -> None:
    """MMEngine's checks (``factor < 1``, ``threshold >= 0``, known rules), plus the ones it
    leaves to a crash later: non-negative integer counts, ``factor`` and ``eps`` not negative."""
    check_rule(rule, "reduce_on_plateau: rule")
    if threshold_rule not in THRESHOLD_RULES:
        raise ValueError(f"reduce_on_plateau: threshold_rule must be 'rel' or 'abs', got {threshold_rule!r}")
    if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 0 <= factor < 1:
        raise ValueError(f"reduce_on_plateau: factor must be in [0, 1) (new = old * factor), got {factor!r}")
    if not isinstance(threshold, (int, float)) or threshold < 0:
        raise ValueError(f"reduce_on_plateau: threshold must be >= 0, got {threshold!r}")
    for name, count in (("patience", patience), ("cooldown", cooldown)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"reduce_on_plateau: {name} must be an integer >= 0, got {count!r}")
    if not isinstance(eps, (int, float)) or eps < 0:
        raise ValueError(f"reduce_on_plateau: eps must be >= 0, got {eps!r}")


def reduced(current: float, factor: float, min_value: float, eps: float) -> float | None:
    """The reduced value, ``max(current * factor, min_value)``, or None when it would move the
    value by no more than ``eps`` (MMEngine then leaves the group alone)."""
    new = max(float(current) * factor, min_value)
    return new if current - new > eps else None


@dataclass
class PlateauTracker:
    """Best value, bad-epoch and cooldown counters of one plateau scheduler."""

    rule: str
    threshold: float
    threshold_rule: str
    patience: int
    cooldown: int
    best: float = field(default=0.0)
    num_bad_epochs: int = 0
    cooldown_counter: int = 0

    def __post_init__(self) -> None:
        self.best = WORST if self.rule == LESS else -WORST

    def is_better(self, metric: float) -> bool:
        if self.rule == LESS:
            if self.threshold_rule == "rel":
                return metric < self.best * (1 - self.threshold)
            return metric < self.best - self.threshold
        if self.threshold_rule == "rel":
            return metric > self.best * (1 + self.threshold)
        return metric > self.best + self.threshold

    def update(self, metric: float) -> bool:
        """Take one validation result; True when the value is to be reduced now."""
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"best": float(self.best), "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
