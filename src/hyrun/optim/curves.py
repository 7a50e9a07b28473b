"""What the MMCV-style lr and momentum policies share: where training is (``Progress``), the
annealing curves, parameter checks, and the split of an updater config into a policy and its
warmup. The policies themselves are in ``lr_policies`` and ``momentum_policies``."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
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


def check_one_cycle(peak_name: str, peak: Any, total_steps: Any, pct_start: Any, anneal_strategy: str,
                    div_factor: Any, final_div_factor: Any) -> tuple[tuple[float, ...], float]:
    """The arguments of a one-cycle schedule (MMCV's ``max_lr``, MMEngine's ``eta_max``, named by
    ``peak_name``): the peaks as a tuple (one value, or one per param group) and ``pct_start``."""
    def positive(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0

    peaks = tuple(peak) if isinstance(peak, (list, tuple)) else (peak,)
    if not peaks or not all(positive(p) for p in peaks):
        raise ValueError(f"one_cycle: {peak_name} must be a positive number or a list of them (one per "
                         f"param group), got {peak!r}")
    if total_steps is not None and (not isinstance(total_steps, int) or isinstance(total_steps, bool)
                                    or total_steps <= 0):
        raise ValueError(f"one_cycle: total_steps must be a positive integer or null, got {total_steps!r}")
    for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
        if not positive(value):
            raise ValueError(f"one_cycle: {name} must be a positive number, got {value!r}")
    check_anneal(anneal_strategy)
    return peaks, check_fraction("pct_start", pct_start)


def phase_fraction(cur: float, start: float, end: float) -> float:
    """Where ``cur`` is between a one-cycle phase's bounds (MMCV divides by 0 on an empty phase)."""
    if end == start:
        raise ValueError(f"a one_cycle phase is empty (it ends at iteration {end}); change pct_start")
    return (cur - start) / (end - start)



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
