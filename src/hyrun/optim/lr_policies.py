"""The lr policies of MMCV 1.x's LrUpdaterHook family, as pure functions of training progress.

Each policy is a frozen dataclass holding its config parameters and a ``regular(base, progress)``
method: the lr a param group with base (initial) lr ``base`` gets before warmup, as MMCV's
``get_lr(runner, base_lr)`` computes it. ``lr_at`` adds warmup and gives the exact value MMCV's
hook sets before an iteration runs.

How MMCV's hook sequences these (reproduced here: a hook built on this keeps only the bases):

* ``before_run``: base lr per group = ``group.setdefault("initial_lr", group["lr"])``, so a
  resumed optimizer that saved ``initial_lr`` keeps its original base (``base_values``).
* by-epoch policies compute the regular lr from ``runner.epoch`` once per epoch
  (``before_train_epoch``), so the last epoch uses ``(max_epochs - 1) / max_epochs`` and never
  reaches ``min_lr``; by-iteration policies recompute it from ``runner.iter`` before every
  iteration (``before_train_iter``), likewise stopping one iteration short.
* warmup (see ``Warmup``) scales that regular lr for global iterations below its length.
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
    check_by_iter,
    check_cyclic,
    check_fraction,
    check_one_cycle,
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


# -- the policies ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FixedLr(GroupBases):
    """``fixed``: the base lr throughout (FixedLrUpdaterHook); warmup still applies."""

    by_epoch: bool = True

    def regular(self, base: float, progress: Progress) -> float:
        return base


@dataclass(frozen=True)
class StepLr(GroupBases):
    """``step``: ``base * gamma ** decays``, floored at ``min_lr`` when set (StepLrUpdaterHook).
    An int ``step`` decays every ``step`` epochs/iterations; a list decays at each milestone."""

    step: int | tuple[int, ...]
    gamma: float = 0.1
    min_lr: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", check_steps(self.step))

    def regular(self, base: float, progress: Progress) -> float:
        lr = base * self.gamma ** step_exponent(progress.position(self.by_epoch)[0], self.step)
        return lr if self.min_lr is None else max(lr, self.min_lr)


@dataclass(frozen=True)
class ExpLr(GroupBases):
    """``exp``: ``base * gamma ** progress`` (ExpLrUpdaterHook)."""

    gamma: float
    by_epoch: bool = True

    def regular(self, base: float, progress: Progress) -> float:
        return base * self.gamma ** progress.position(self.by_epoch)[0]


@dataclass(frozen=True)
class PolyLr(GroupBases):
    """``poly``: ``(base - min_lr) * (1 - progress / max) ** power + min_lr`` (PolyLrUpdaterHook)."""

    power: float = 1.0
    min_lr: float = 0.0
    by_epoch: bool = True

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        return (base - self.min_lr) * (1 - now / total) ** self.power + self.min_lr


@dataclass(frozen=True)
class InvLr(GroupBases):
    """``inv``: ``base * (1 + gamma * progress) ** -power`` (InvLrUpdaterHook)."""

    gamma: float
    power: float = 1.0
    by_epoch: bool = True

    def regular(self, base: float, progress: Progress) -> float:
        return base * (1 + self.gamma * progress.position(self.by_epoch)[0]) ** (-self.power)


@dataclass(frozen=True)
class _AnnealedLr(GroupBases):
    """From base to the target (``min_lr``, or ``min_lr_ratio`` of base) over the run, along
    the subclass's ``anneal`` curve."""

    min_lr: float | None = None
    min_lr_ratio: float | None = None
    by_epoch: bool = True
    anneal: ClassVar[Callable[[float, float, float], float]]

    def __post_init__(self) -> None:
        check_target("min_lr", self.min_lr, self.min_lr_ratio)

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        return type(self).anneal(base, target(base, self.min_lr, self.min_lr_ratio), now / total)


@dataclass(frozen=True)
class CosineAnnealingLr(_AnnealedLr):
    """``cosine_annealing``: half a cosine from base to the target (CosineAnnealingLrUpdaterHook)."""

    anneal = staticmethod(cos_anneal)


@dataclass(frozen=True)
class FlatCosineAnnealingLr(GroupBases):
    """``flat_cosine_annealing``: base until ``round(max * start_percent)`` (Python's round, so
    halves go to even), then cosine to the target over the rest (FlatCosineAnnealingLrUpdaterHook)."""

    start_percent: float = 0.75
    min_lr: float | None = None
    min_lr_ratio: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        check_target("min_lr", self.min_lr, self.min_lr_ratio)
        object.__setattr__(self, "start_percent", check_fraction("start_percent", self.start_percent))

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        flat = round(total * self.start_percent)
        if now < flat:
            return base
        return cos_anneal(base, target(base, self.min_lr, self.min_lr_ratio), (now - flat) / (total - flat))


@dataclass(frozen=True)
class CosineRestartLr(GroupBases):
    """``cosine_restart``: a cosine per period, restarting at ``weight * base + (1 - weight) *
    target`` (CosineRestartLrUpdaterHook). Progress past the periods' sum is an error, as in MMCV."""

    periods: tuple[int, ...]
    restart_weights: tuple[float, ...] = (1.0,)
    min_lr: float | None = None
    min_lr_ratio: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        check_target("min_lr", self.min_lr, self.min_lr_ratio)
        periods, weights = tuple(self.periods), tuple(self.restart_weights)
        if not periods or any(isinstance(p, bool) or not isinstance(p, int) or p <= 0 for p in periods):
            raise ValueError(f"periods must be a non-empty list of positive integers, got {self.periods!r}")
        if len(weights) != len(periods):
            raise ValueError(f"periods and restart_weights must have the same length, "
                             f"got {periods} and {weights}")
        object.__setattr__(self, "periods", periods)
        object.__setattr__(self, "restart_weights", weights)

    def regular(self, base: float, progress: Progress) -> float:
        now = progress.position(self.by_epoch)[0]
        restart = 0
        for period, weight in zip(self.periods, self.restart_weights, strict=True):
            if now < restart + period:
                end = target(base, self.min_lr, self.min_lr_ratio)
                return cos_anneal(base, end, (now - restart) / period, weight)
            restart += period
        raise ValueError(f"progress {now} is past the cosine_restart periods {list(self.periods)} "
                         f"(sum {restart})")


@dataclass(frozen=True)
class CyclicLr(GroupBases):
    """``cyclic``: cosine (or linear) rise to ``target_ratio[0] * base`` then fall to
    ``target_ratio[1] * base``, ``cyclic_times`` times (CyclicLrUpdaterHook; see ``cyclic_value``).
    Iteration-based only: ``by_epoch`` defaults to False and True is rejected, as in MMCV."""

    target_ratio: float | tuple[float, float] = (10, 1e-4)
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
class OneCycleLr:
    """``one_cycle`` (OneCycleLrUpdaterHook): from ``max_lr / div_factor`` up to ``max_lr`` at
    iteration ``pct_start * total_steps - 1``, then down to ``max_lr / div_factor /
    final_div_factor`` at ``total_steps - 1`` (``three_phase``: back to the start value at
    ``2 * pct_start * total_steps - 2`` first). Phase ends are those floats, not rounded.

    The base is not the optimizer's lr: MMCV's ``before_run`` sets each group's base to
    ``max_lr / div_factor`` (``max_lr`` one value or one per group) and only *setdefault*s it
    into ``initial_lr``; ``base_values`` gives it. ``total_steps`` defaults to ``max_iters`` and
    may not be smaller. Iteration-based only, as in MMCV.
    """

    max_lr: float | tuple[float, ...]
    total_steps: int | None = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    by_epoch: bool = False

    def __post_init__(self) -> None:
        check_by_iter("one_cycle", self.by_epoch)
        peaks, pct_start = check_one_cycle("max_lr", self.max_lr, self.total_steps, self.pct_start,
                                           self.anneal_strategy, self.div_factor, self.final_div_factor)
        object.__setattr__(self, "pct_start", pct_start)
        if not isinstance(self.max_lr, (int, float)):
            object.__setattr__(self, "max_lr", peaks)

    def base_values(self, initial: Sequence[float]) -> list[float]:
        if isinstance(self.max_lr, (int, float)):
            return [self.max_lr / self.div_factor] * len(initial)
        if len(self.max_lr) != len(initial):
            raise ValueError(f"max_lr has {len(self.max_lr)} values for {len(initial)} param groups")
        return [peak / self.div_factor for peak in self.max_lr]

    def regular(self, base: float, progress: Progress) -> float:
        total = progress.max_iters if self.total_steps is None else self.total_steps
        if total < progress.max_iters:
            raise ValueError(f"total_steps ({total}) must be at least the run's max_iters "
                             f"({progress.max_iters})")
        peak, low = self.div_factor, 1 / self.final_div_factor  # multiples of the base
        phases = [(float(self.pct_start * total) - 1, 1.0, peak)]
        if self.three_phase:
            phases += [(float(2 * self.pct_start * total) - 2, peak, 1.0), (total - 1, 1.0, low)]
        else:
            phases += [(total - 1, peak, low)]
        anneal, start = ANNEALERS[self.anneal_strategy], 0.0
        for end, start_mult, end_mult in phases:
            if progress.iter <= end:
                return anneal(base * start_mult, base * end_mult, phase_fraction(progress.iter, start, end))
            start = end
        raise ValueError(f"iteration {progress.iter} is past one_cycle's total_steps ({total})")


@dataclass(frozen=True)
class LinearAnnealingLr(_AnnealedLr):
    """``linear_annealing``: a straight line from base to the target (LinearAnnealingLrUpdaterHook)."""

    anneal = staticmethod(linear_anneal)


LR_POLICIES: dict[str, type] = {
    "fixed": FixedLr, "step": StepLr, "exp": ExpLr, "poly": PolyLr, "inv": InvLr,
    "cosine_annealing": CosineAnnealingLr, "flat_cosine_annealing": FlatCosineAnnealingLr,
    "cosine_restart": CosineRestartLr, "cyclic": CyclicLr, "one_cycle": OneCycleLr,
    "linear_annealing": LinearAnnealingLr,
}
LR_WARMUP_KEYS = {"warmup": "kind", "warmup_iters": "iters", "warmup_ratio": "ratio",
                  "warmup_by_epoch": "by_epoch"}




def build_lr_schedule(cfg: Mapping[str, Any]) -> tuple[LrPolicy, Warmup]:
    """An ``lr_config`` mapping (plain containers) as a policy and its warmup (ratio default 0.1)."""
    return policy_from_config(cfg, LR_POLICIES, LR_WARMUP_KEYS, 0.1, "lr")


def lr_at(policy: LrPolicy, warmup: Warmup, base_lr: float, progress: Progress) -> float:
    """The lr MMCV's hook has set for global iteration ``progress.iter`` when it runs."""
    return warmup.lr(policy.regular(base_lr, progress), progress.iter, progress.epoch_len)
