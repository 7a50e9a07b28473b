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

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Protocol

from hyrun.optim.warmup import Warmup

Anneal = Callable[[float, float, float], float]


@dataclass(frozen=True)
class Progress:
    """Where training is when a value is needed, as MMCV's hooks read it off the runner.

    ``epoch``: training epochs finished (``runner.epoch``); ``iter``: global 0-based index of the
    iteration about to run (``runner.iter``); ``max_epochs``, ``max_iters``: the run's lengths
    (MMCV's epoch runner sets ``max_iters = max_epochs * epoch_len`` before ``before_run``);
    ``epoch_len``: training iterations per epoch, used by ``warmup_by_epoch``.
    """

    epoch: int
    iter: int
    max_epochs: int
    max_iters: int
    epoch_len: int

    def position(self, by_epoch: bool) -> tuple[int, int]:
        """``(progress, max_progress)``: epochs when ``by_epoch``, else global iterations."""
        return (self.epoch, self.max_epochs) if by_epoch else (self.iter, self.max_iters)


def epoch_runner_progress(max_epochs: int, epoch_len: int) -> Iterator[Progress]:
    """The ``Progress`` of every training iteration of an epoch-based run, in order."""
    max_iters = max_epochs * epoch_len
    for i in range(max_iters):
        yield Progress(i // epoch_len, i, max_epochs, max_iters, epoch_len)


class LrPolicy(Protocol):
    """What the hook calls: ``base_values`` once (``before_run``), ``regular`` per update."""

    @property
    def by_epoch(self) -> bool: ...

    def base_values(self, initial: Sequence[float]) -> list[float]: ...

    def regular(self, base: float, progress: Progress) -> float: ...


class GroupBases:
    """Base values are the groups' initial values (``initial_lr`` or else ``lr``), as in MMCV."""

    def base_values(self, initial: Sequence[float]) -> list[float]:
        return list(initial)


# -- the curves and checks the policies share (the momentum policies too) ------------------
def cos_anneal(start: float, end: float, fraction: float, weight: float = 1.0) -> float:
    """Half a cosine from ``weight * start + (1 - weight) * end`` (fraction 0) to ``end`` (1)."""
    return end + 0.5 * weight * (start - end) * (math.cos(math.pi * fraction) + 1)


def linear_anneal(start: float, end: float, fraction: float) -> float:
    """A straight line from ``start`` (fraction 0) to ``end`` (1)."""
    return start + (end - start) * fraction


ANNEALERS: dict[str, Anneal] = {"cos": cos_anneal, "linear": linear_anneal}


def check_anneal(strategy: str) -> None:
    if strategy not in ANNEALERS:
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {strategy!r}")


def check_target(name: str, value: float | None, ratio: float | None) -> None:
    """MMCV asserts that exactly one of ``min_lr`` / ``min_lr_ratio`` (or momentum's) is set.
    hyrun also takes neither, meaning ``min_lr=0``, so ``lr_config=cosine_annealing`` runs as is."""
    if value is not None and ratio is not None:
        raise ValueError(f"set one of {name} and {name}_ratio, not both: "
                         f"got {name}={value!r}, {name}_ratio={ratio!r}")


def target(base: float, value: float | None, ratio: float | None) -> float:
    """The end value: ``ratio * base`` (per group, from its own base), the absolute ``value``,
    or 0 when neither is set."""
    if ratio is not None:
        return base * ratio
    return 0.0 if value is None else value


def check_by_iter(name: str, by_epoch: bool) -> None:
    """MMCV's cyclic and one-cycle hooks assert ``by_epoch=False`` (and default to it)."""
    if by_epoch:
        raise ValueError(f"{name} counts iterations: by_epoch must be False (MMCV supports only that)")


def check_steps(step: int | Sequence[int]) -> int | tuple[int, ...]:
    """A positive decay interval, or a non-empty list of positive milestones (kept as given)."""
    steps = (step,) if isinstance(step, int) else tuple(step)
    if not steps or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in steps):
        raise ValueError(f"step must be a positive integer or a non-empty list of them, got {step!r}")
    return step if isinstance(step, int) else steps


def step_exponent(progress: int, step: int | tuple[int, ...]) -> int:
    """Decays so far: ``progress // step``, or the index of the first milestone still ahead
    (MMCV scans the list in the given order, without sorting it)."""
    if isinstance(step, int):
        return progress // step
    return next((i for i, s in enumerate(step) if progress < s), len(step))


def check_target_ratio(ratio: float | Sequence[float]) -> tuple[float, float]:
    """(peak, trough) multiples of the base. A single number r means (r, r / 1e5), as in MMCV
    (which takes a float or a tuple; a list is accepted here too, since YAML has no tuples)."""
    pair = (ratio,) if isinstance(ratio, (int, float)) else tuple(ratio)
    if len(pair) == 1:
        pair = (pair[0], pair[0] / 1e5)
    if len(pair) != 2:
        raise ValueError(f"target_ratio must be a number or a list of one or two numbers, got {ratio!r}")
    return pair


def check_cyclic(cyclic_times: int, step_ratio_up: float, gamma: float, strategy: str,
                 by_epoch: bool) -> None:
    check_by_iter("cyclic", by_epoch)
    if isinstance(cyclic_times, bool) or not isinstance(cyclic_times, int) or cyclic_times <= 0:
        raise ValueError(f"cyclic_times must be a positive integer, got {cyclic_times!r}")
    if not 0 <= step_ratio_up < 1:
        raise ValueError(f"step_ratio_up must be in [0, 1), got {step_ratio_up!r}")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    check_anneal(strategy)


def cyclic_value(base: float, progress: Progress, ratios: tuple[float, float], cyclic_times: int,
                 step_ratio_up: float, gamma: float, anneal: Anneal) -> float:
    """Up from ``base`` to ``base * ratios[0]``, then down to ``base * ratios[1]``, per cycle.

    Cycles are ``max_iters // cyclic_times`` long (a remainder runs a partial extra cycle); the
    rise lasts ``int(step_ratio_up * cycle)`` iterations. Cycle ``c`` shrinks the excursion by
    ``gamma ** c``: the phase starting at 0 scales its end ratio, the other its start ratio. With
    ``step_ratio_up`` so small that the rise is empty, the fall starts at 0 and so takes the
    first rule, as in MMCV.
    """
    cycle = progress.max_iters // cyclic_times
    if cycle == 0:
        raise ValueError(f"cyclic needs at least cyclic_times={cyclic_times} iterations, "
                         f"got {progress.max_iters}")
    rise = int(step_ratio_up * cycle)
    pos, scale = progress.iter % cycle, gamma ** (progress.iter // cycle)
    start, end, start_ratio, end_ratio = (0, rise, 1, ratios[0]) if pos < rise else (rise, cycle, *ratios)
    if start == 0:
        end_ratio = 1 - scale + end_ratio * scale
    else:
        start_ratio = 1 - scale + start_ratio * scale
    return anneal(base * start_ratio, base * end_ratio, (pos - start) / (end - start))


def check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def phase_fraction(cur: float, start: float, end: float) -> float:
    """Where ``cur`` is between a one-cycle phase's bounds (MMCV divides by 0 on an empty phase)."""
    if end == start:
        raise ValueError(f"a one_cycle phase is empty (it ends at iteration {end}); change pct_start")
    return (cur - start) / (end - start)


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
class CosineAnnealingLr(GroupBases):
    """``cosine_annealing``: half a cosine from base to the target (CosineAnnealingLrUpdaterHook)."""

    min_lr: float | None = None
    min_lr_ratio: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        check_target("min_lr", self.min_lr, self.min_lr_ratio)

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        return cos_anneal(base, target(base, self.min_lr, self.min_lr_ratio), now / total)


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
        peaks = (self.max_lr,) if isinstance(self.max_lr, (int, float)) else tuple(self.max_lr)
        if not peaks or any(not isinstance(p, (int, float)) or p <= 0 for p in peaks):
            raise ValueError("max_lr must be a positive number or a list of them (one per group), "
                             f"got {self.max_lr!r}")
        if self.total_steps is not None and (not isinstance(self.total_steps, int) or self.total_steps <= 0):
            raise ValueError(f"total_steps must be a positive integer or None, got {self.total_steps!r}")
        if self.div_factor <= 0 or self.final_div_factor <= 0:
            raise ValueError("div_factor and final_div_factor must be positive, "
                             f"got {self.div_factor}, {self.final_div_factor}")
        object.__setattr__(self, "pct_start", check_fraction("pct_start", self.pct_start))
        check_anneal(self.anneal_strategy)
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
class LinearAnnealingLr(GroupBases):
    """``linear_annealing``: a straight line from base to the target (LinearAnnealingLrUpdaterHook)."""

    min_lr: float | None = None
    min_lr_ratio: float | None = None
    by_epoch: bool = True

    def __post_init__(self) -> None:
        check_target("min_lr", self.min_lr, self.min_lr_ratio)

    def regular(self, base: float, progress: Progress) -> float:
        now, total = progress.position(self.by_epoch)
        return linear_anneal(base, target(base, self.min_lr, self.min_lr_ratio), now / total)


LR_POLICIES: dict[str, type] = {
    "fixed": FixedLr, "step": StepLr, "exp": ExpLr, "poly": PolyLr, "inv": InvLr,
    "cosine_annealing": CosineAnnealingLr, "flat_cosine_annealing": FlatCosineAnnealingLr,
    "cosine_restart": CosineRestartLr, "cyclic": CyclicLr, "one_cycle": OneCycleLr,
    "linear_annealing": LinearAnnealingLr,
}
LR_WARMUP_KEYS = {"warmup": "kind", "warmup_iters": "iters", "warmup_ratio": "ratio",
                  "warmup_by_epoch": "by_epoch"}


def policy_from_config(cfg: Mapping[str, Any], policies: Mapping[str, type], warmup_keys: Mapping[str, str],
                       warmup_ratio: float, what: str) -> tuple[Any, Warmup]:
    """Split an MMCV-style updater config (``policy``, the policy's parameters, ``by_epoch``,
    warmup keys) into a policy object and a ``Warmup``; unknown names are ValueErrors."""
    params = dict(cfg)
    name = params.pop("policy", None)
    if name not in policies:
        raise ValueError(f"unknown {what} policy {name!r}; valid: {', '.join(policies)}")
    warmup_args = {warmup_keys[k]: params.pop(k) for k in list(params) if k in warmup_keys}
    warmup = Warmup(**{"ratio": warmup_ratio, **warmup_args})
    allowed = [f.name for f in fields(policies[name])]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"{what} policy {name!r} takes no {unknown}; it takes {allowed + list(warmup_keys)}")
    missing = [f.name for f in fields(policies[name]) if f.default is MISSING and f.name not in params]
    if missing:
        raise ValueError(f"{what} policy {name!r} needs {missing}")
    return policies[name](**params), warmup


def build_lr_schedule(cfg: Mapping[str, Any]) -> tuple[LrPolicy, Warmup]:
    """An ``lr_config`` mapping (plain containers) as a policy and its warmup (ratio default 0.1)."""
    return policy_from_config(cfg, LR_POLICIES, LR_WARMUP_KEYS, 0.1, "lr")


def lr_at(policy: LrPolicy, warmup: Warmup, base_lr: float, progress: Progress) -> float:
    """The lr MMCV's hook has set for global iteration ``progress.iter`` when it runs."""
    return warmup.lr(policy.regular(base_lr, progress), progress.iter, progress.epoch_len)


def lr_schedule(policy: LrPolicy, warmup: Warmup, base_lr: float, max_epochs: int,
                epoch_len: int) -> list[float]:
    """The lr of every training iteration of an epoch-based run, for one group's base lr."""
    return [lr_at(policy, warmup, base_lr, progress)
            for progress in epoch_runner_progress(max_epochs, epoch_len)]
