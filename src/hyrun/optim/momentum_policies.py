"""The momentum policies of MMCV 1.x's MomentumUpdaterHook family, as pure functions of progress.

Same sequencing as the lr (see ``lr_policies``): base momentum per group is
``group.setdefault("initial_momentum", momentum or betas[0])``; by-epoch policies use
``runner.epoch``, the others ``runner.iter``. The value goes to SGD's ``momentum`` or to Adam's
``betas[0]``; that is the hook's business. Warmup divides (``Warmup.momentum``), has no
``warmup_by_epoch`` and defaults ``warmup_ratio`` to 0.9.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from hyrun.optim.curves import (
    ANNEALERS,
    GroupBases,
    LrPolicy,
    Progress,
    check_anneal,
    check_by_iter,
    check_cyclic,
    check_fraction,
    check_steps,
    check_target,
    check_target_ratio,
    cos_anneal,
    cyclic_value,
    linear_anneal,
    phase_fraction,
    policy_from_config,
    step_exponent,
    target,
)
from hyrun.optim.warmup import Warmup

MomentumPolicy = LrPolicy  # the same protocol: ``by_epoch``, ``base_values``, ``regular``


@dataclass(frozen=True)
class StepMomentum(GroupBases):
    """``step``: ``base * gamma ** decays``, floored at ``min_momentum`` (StepMomentumUpdaterHook;
    note ``gamma`` defaults to 0.5 here, 0.1 for the lr)."""

    step: int | tuple[int, ...]
    gamma: float = 0.5
    min_momentum: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", check_steps(self.step))

    def regular(self, base: float, progress: Progress) -> float:
        momentum = base * self.gamma ** step_exponent(progress.position(self.by_epoch)[0], self.step)
        return momentum if self.min_momentum is None else max(momentum, self.min_momentum)


@dataclass(frozen=True)
class _AnnealedMomentum(GroupBases):
    """From base to the target (``min_momentum``, or ``min_momentum_ratio`` of base) over the
    run, along the subclass's ``anneal`` curve."""

    min_momentum: float | None = None
    min_momentum_ratio: float | None = None
    by_epoch: bool = True
    anneal: ClassVar[Callable[[float, float, float], float]]

    def __post_init__(self) -> None:
        check_target("min_momentum", self.min_momentum, self.min_momentum_ratio)

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        return type(self).anneal(base, target(base, self.min_momentum, self.min_momentum_ratio), now / total)


@dataclass(frozen=True)
class CosineAnnealingMomentum(_AnnealedMomentum):
    """``cosine_annealing``: half a cosine from base to the target (CosineAnnealingMomentumUpdaterHook)."""

    anneal = staticmethod(cos_anneal)


@dataclass(frozen=True)
class LinearAnnealingMomentum(_AnnealedMomentum):
    """``linear_annealing``: a straight line from base to the target (LinearAnnealingMomentumUpdaterHook)."""

    anneal = staticmethod(linear_anneal)


@dataclass(frozen=True)
class CyclicMomentum(GroupBases):
    """``cyclic``: the lr's cycle shape with momentum ratios, by default down to ``0.85 / 0.95``
    of base while the lr rises, back to base while it falls (CyclicMomentumUpdaterHook)."""

    target_ratio: float | tuple[float, float] = (0.85 / 0.95, 1.0)
    cyclic_times: int = 1
    step_ratio_up: float = 0.4
    anneal_strategy: str = "cos"
    gamma: float = 1.0
    by_epoch: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_ratio", check_target_ratio(self.target_ratio))
        check_cyclic(self.cyclic_times, self.step_ratio_up, self.gamma, self.anneal_strategy, self.by_epoch)

    def regular(self, base: float, progress: Progress) -> float:
        return cyclic_value(base, progress, self.target_ratio, self.cyclic_times,  # type: ignore[arg-type]
                            self.step_ratio_up, self.gamma, ANNEALERS[self.anneal_strategy])


@dataclass(frozen=True)
class OneCycleMomentum:
    """``one_cycle`` (OneCycleMomentumUpdaterHook): from ``max_momentum`` down to
    ``base_momentum`` at iteration ``pct_start * max_iters - 1``, back up at ``max_iters - 1``
    (``three_phase``: up at ``2 * pct_start * max_iters - 2``, then flat). Unlike the lr, the
    phases follow the run's ``max_iters``: MMCV's momentum hook has no ``total_steps``.

    The groups' own momentum is ignored: MMCV overwrites it with ``max_momentum`` in
    ``before_run`` (``base_values`` gives that) and anneals between the two bounds, so
    ``regular`` does not use ``base``. MMCV also takes one bound per group; here the bounds are
    single numbers (build one policy per group for different ones).
    """

    base_momentum: float = 0.85
    max_momentum: float = 0.95
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    three_phase: bool = False
    by_epoch: bool = False

    def __post_init__(self) -> None:
        check_by_iter("one_cycle", self.by_epoch)
        for name in ("base_momentum", "max_momentum"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), (int, float)):
                raise ValueError(f"{name} must be a number (one policy per group for per-group bounds), "
                                 f"got {getattr(self, name)!r}")
        object.__setattr__(self, "pct_start", check_fraction("pct_start", self.pct_start))
        check_anneal(self.anneal_strategy)

    def base_values(self, initial: Sequence[float]) -> list[float]:
        return [self.max_momentum] * len(initial)

    def regular(self, base: float, progress: Progress) -> float:
        total, low, high = progress.max_iters, self.base_momentum, self.max_momentum
        if self.three_phase:
            phases = [(float(self.pct_start * total) - 1, high, low),
                      (float(2 * self.pct_start * total) - 2, low, high), (total - 1, high, high)]
        else:
            phases = [(float(self.pct_start * total) - 1, high, low), (total - 1, low, high)]
        anneal, start = ANNEALERS[self.anneal_strategy], 0.0
        for end, start_value, end_value in phases[:-1]:
            if progress.iter <= end:
                return anneal(start_value, end_value, phase_fraction(progress.iter, start, end))
            start = end
        end, start_value, end_value = phases[-1]  # MMCV's last phase also answers any later iteration
        return anneal(start_value, end_value, phase_fraction(progress.iter, start, end))


MOMENTUM_POLICIES: dict[str, type] = {
    "step": StepMomentum, "cosine_annealing": CosineAnnealingMomentum, "cyclic": CyclicMomentum,
    "one_cycle": OneCycleMomentum, "linear_annealing": LinearAnnealingMomentum,
}
MOMENTUM_WARMUP_KEYS = {"warmup": "kind", "warmup_iters": "iters", "warmup_ratio": "ratio"}


def build_momentum_schedule(cfg: Mapping[str, Any]) -> tuple[MomentumPolicy, Warmup]:
    """A ``momentum_config`` mapping as a policy and its warmup (ratio default 0.9, as in MMCV)."""
    return policy_from_config(cfg, MOMENTUM_POLICIES, MOMENTUM_WARMUP_KEYS, 0.9, "momentum")


def momentum_at(policy: MomentumPolicy, warmup: Warmup, base_momentum: float, progress: Progress) -> float:
    """The momentum MMCV's hook has set for global iteration ``progress.iter`` when it runs."""
    return warmup.momentum(policy.regular(base_momentum, progress), progress.iter)
