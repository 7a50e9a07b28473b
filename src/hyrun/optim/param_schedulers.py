"""MMEngine's parameter schedulers (``param_scheduler = [...]``) as pure closed forms.

Each class is a frozen dataclass of one config entry: ``param_name`` (any param-group key; the
hook maps ``momentum`` to ``betas[0]`` on Adam-style optimizers), ``begin``/``end`` (steps in
epochs when ``by_epoch``, else iterations; ``end`` None means the end of the run, as MMEngine's
runner defaults it) and ``convert_to_iter_based`` (an epoch-based entry stepped every iteration:
``begin``, ``end`` and the step counts it owns are multiplied by the epoch length, then
truncated with ``int`` as MMEngine's ``build_iter_from_epoch`` does). ``resolve`` fills in those
run-dependent numbers; ``value`` needs a resolved instance.

``value(t, start, base)`` is the param's value at step ``t = step - begin`` (MMEngine's
``last_step``), given ``start``, the value the param had just before this scheduler's first step,
and ``base``, MMEngine's ``base_values`` entry: the group's ``initial_<param>``, i.e. the value
before *any* scheduler touched it (recorded once with ``setdefault``, shared by every scheduler
on the param and kept across a resume). Only cosine annealing reads ``base`` (``eta_min_ratio``
and its restart past ``T_max``); every other curve starts from ``start``.

MMEngine computes these recursively (new = old * ratio(t)); the products telescope to the closed
forms below, which equal MMEngine's sequence to rounding (relative 1e-12 over long runs) and make
a resume depend on nothing but the step counters and the bases. Quirks kept on purpose:

* constant: ``factor`` applies for steps ``0 .. end-begin-2`` and the last step of the range is
  back at the start value; a one-step range keeps the factor for good (the first-step rule wins);
* multi_step: milestones count from ``begin`` (``last_step``), not from the start of training;
* cosine: ``T_max`` defaults to ``end - begin``; past ``T_max`` the curve rises again, its
  amplitude taken from ``base`` rather than ``start`` (MMEngine's restart branch);
* one_cycle: absolute values from ``eta_max`` (not chainable, as MMEngine says); ``total_steps``
  defaults to ``end - begin``; a step past ``total_steps`` is an error.

Differences, where MMEngine crashes or surprises: ``start_factor=0`` (linear) and ``factor=0``
(constant) work instead of dividing by zero; one_cycle takes any ``param_name`` and does not
overwrite the group's ``initial_<param>`` (MMEngine sets it to ``eta_max / div_factor``, which
changes the base of cosine schedulers built after it); every type may schedule ``momentum`` on
Adam-style optimizers (MMEngine needs its ``*Momentum`` classes for that); config-checking is
stricter (non-negative integer steps, positive ``step_size``/``T_max``, ``eta_max > 0``).
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any

from hyrun.optim.curves import ANNEALERS, check_one_cycle, cos_anneal, phase_fraction
from hyrun.optim.plateau import PlateauTracker, check_plateau


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_number(owner: str, name: str, value: Any, low: float | None = None, high: float | None = None) -> None:
    if not _is_number(value) or (low is not None and value < low) or (high is not None and value > high):
        bounds = f" in [{low}, {high}]" if high is not None else (f" >= {low}" if low is not None else "")
        raise ValueError(f"{owner}: {name} must be a number{bounds}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ParamScheduler:
    """What every entry has: the param, its step range and unit."""

    param_name: str
    begin: int | float = 0
    end: int | float | None = None
    by_epoch: bool = True
    convert_to_iter_based: bool = False

    def __post_init__(self) -> None:
        owner = self.type_name
        if not isinstance(self.param_name, str) or not self.param_name:
            raise ValueError(f"{owner}: param_name must be a param-group key such as 'lr', "
                             f"got {self.param_name!r}")
        if self.convert_to_iter_based and not self.by_epoch:
            raise ValueError(f"{owner}: convert_to_iter_based needs by_epoch=True "
                             "(it converts epochs to iterations)")
        step = _is_number if self.convert_to_iter_based else _is_int  # MMEngine scales then int()s
        for name, value in (("begin", self.begin), ("end", self.end)):
            if value is not None and (not step(value) or value < 0):
                raise ValueError(f"{owner}: {name} must be a non-negative integer, got {value!r}")
        if self.end is not None and self.end <= self.begin:
            raise ValueError(f"{owner}: end should be larger than begin, got begin={self.begin}, end={self.end}")

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(type(self), type(self).__name__)

    @property
    def iter_based(self) -> bool:
        """Whether it steps every iteration (by iteration, or converted from epochs)."""
        return not self.by_epoch or self.convert_to_iter_based

    @property
    def multiplicative(self) -> bool:
        """Whether each step only multiplies the value, so it composes with another scheduler
        active at the same time as MMEngine's chain does (by multiplying)."""
        return True

    def resolve(self, *, max_epochs: int, max_iters: int, epoch_len: int) -> ParamScheduler:
        """This entry with concrete steps: ``end`` defaulted to the run's end, epochs converted
        to iterations when asked."""
        end = self.end if self.end is not None else (max_epochs if self.by_epoch else max_iters)
        if not self.convert_to_iter_based:
            return replace(self, end=end)
        return replace(self, begin=int(self.begin * epoch_len), end=int(end * epoch_len), by_epoch=False,
                       convert_to_iter_based=False, **self._scaled(epoch_len))

    def _scaled(self, epoch_len: int) -> dict[str, Any]:
        """The entry's own step counts in iterations (``build_iter_from_epoch``)."""
        return {}

    @property
    def total(self) -> int:
        """MMEngine's ``total_iters``: the last ``t`` of the range."""
        return self.end - self.begin - 1  # type: ignore[operator]

    def per_group(self, num_groups: int) -> list[ParamScheduler]:
        """One scalar instance per param group (only one_cycle takes per-group values)."""
        return [self] * num_groups

    def value(self, t: int, start: float, base: float) -> float:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class ConstantParamScheduler(ParamScheduler):
    """``constant``: ``start * factor`` over the range but its last step (e.g. a constant warmup)."""

    factor: float = 1.0 / 3

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("constant", "factor", self.factor, 0, 1)

    def value(self, t: int, start: float, base: float) -> float:
        return start * self.factor if t == 0 or t < self.total else start


@dataclass(frozen=True, kw_only=True)
class LinearParamScheduler(ParamScheduler):
    """``linear``: the factor goes in a straight line from ``start_factor`` (first step) to
    ``end_factor`` (last step of the range) — the usual warmup."""

    start_factor: float = 1.0 / 3
    end_factor: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("linear", "start_factor", self.start_factor, 0, 1)
        _check_number("linear", "end_factor", self.end_factor, 0, 1)

    def value(self, t: int, start: float, base: float) -> float:
        if t == 0:  # also the whole of a one-step range
            return start * self.start_factor
        return start * (self.start_factor + (self.end_factor - self.start_factor) * t / self.total)


@dataclass(frozen=True, kw_only=True)
class ExponentialParamScheduler(ParamScheduler):
    """``exponential``: ``start * gamma ** t``."""

    gamma: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("exponential", "gamma", self.gamma)

    def value(self, t: int, start: float, base: float) -> float:
        return start * self.gamma ** t


@dataclass(frozen=True, kw_only=True)
class StepParamScheduler(ParamScheduler):
    """``step``: ``start * gamma ** (t // step_size)``."""

    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _is_int(self.step_size) or self.step_size <= 0:
            raise ValueError(f"step: step_size must be a positive integer, got {self.step_size!r}")
        _check_number("step", "gamma", self.gamma)

    def _scaled(self, epoch_len: int) -> dict[str, Any]:
        return {"step_size": self.step_size * epoch_len}

    def value(self, t: int, start: float, base: float) -> float:
        return start * self.gamma ** (t // self.step_size)


@dataclass(frozen=True, kw_only=True)
class MultiStepParamScheduler(ParamScheduler):
    """``multi_step``: times ``gamma`` at each milestone reached (counted from ``begin``; a
    repeated milestone decays once per occurrence, as MMEngine's Counter does)."""

    milestones: tuple[int, ...]
    gamma: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        milestones = tuple(self.milestones) if isinstance(self.milestones, (list, tuple)) else None
        if not milestones or not all(_is_int(m) and m >= 0 for m in milestones):
            raise ValueError(f"multi_step: milestones must be a non-empty list of non-negative integers, "
                             f"got {self.milestones!r}")
        object.__setattr__(self, "milestones", tuple(sorted(milestones)))
        _check_number("multi_step", "gamma", self.gamma)

    def _scaled(self, epoch_len: int) -> dict[str, Any]:
        return {"milestones": tuple(m * epoch_len for m in self.milestones)}

    def value(self, t: int, start: float, base: float) -> float:
        return start * self.gamma ** bisect.bisect_right(self.milestones, t)


@dataclass(frozen=True, kw_only=True)
class CosineAnnealingParamScheduler(ParamScheduler):
    """``cosine_annealing``: half a cosine from ``start`` down to ``eta_min`` (absolute) or
    ``eta_min_ratio * base`` over ``T_max`` steps (default ``end - begin``); neither means 0."""

    T_max: int | None = None
    eta_min: float | None = None
    eta_min_ratio: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eta_min is not None and self.eta_min_ratio is not None:
            raise ValueError("cosine_annealing: set either eta_min or eta_min_ratio, not both")
        for name in ("eta_min", "eta_min_ratio"):
            if getattr(self, name) is not None:
                _check_number("cosine_annealing", name, getattr(self, name))
        if self.T_max is not None and (not _is_int(self.T_max) or self.T_max <= 0):
            raise ValueError(f"cosine_annealing: T_max must be a positive integer or null, got {self.T_max!r}")

    def _scaled(self, epoch_len: int) -> dict[str, Any]:
        return {} if self.T_max is None else {"T_max": self.T_max * epoch_len}

    @property
    def multiplicative(self) -> bool:
        floor = self.eta_min_ratio if self.eta_min_ratio is not None else self.eta_min
        return not floor and (self.T_max is None or self.T_max > self.total)

    def value(self, t: int, start: float, base: float) -> float:
        if t == 0:
            return start
        floor = self.eta_min_ratio * base if self.eta_min_ratio is not None else (self.eta_min or 0.0)
        period = self.T_max or (self.end - self.begin)  # type: ignore[operator]
        return cos_anneal(start if t <= period else base, floor, t / period)


@dataclass(frozen=True, kw_only=True)
class PolyParamScheduler(ParamScheduler):
    """``poly``: ``(start - eta_min) * (1 - t / total) ** power + eta_min``, reaching ``eta_min``
    at the last step of the range."""

    eta_min: float = 0.0
    power: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_number("poly", "eta_min", self.eta_min)
        _check_number("poly", "power", self.power)

    @property
    def multiplicative(self) -> bool:
        return not self.eta_min

    def value(self, t: int, start: float, base: float) -> float:
        if t == 0:
            return start
        return (start - self.eta_min) * (1 - t / self.total) ** self.power + self.eta_min


@dataclass(frozen=True, kw_only=True)
class OneCycleParamScheduler(ParamScheduler):
    """``one_cycle``: from ``eta_max / div_factor`` up to ``eta_max`` at step
    ``pct_start * total_steps - 1``, then down to ``eta_max / div_factor / final_div_factor`` at
    ``total_steps - 1`` (``three_phase``: back to the start value at ``2 * pct_start *
    total_steps - 2`` first). ``eta_max`` is one value or one per param group."""

    eta_max: float | tuple[float, ...]
    total_steps: int | None = None
    pct_start: float = 0.3
    anneal_strategy: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        peaks, _ = check_one_cycle("eta_max", self.eta_max, self.total_steps, self.pct_start,
                                   self.anneal_strategy, self.div_factor, self.final_div_factor)
        if isinstance(self.eta_max, list):
            object.__setattr__(self, "eta_max", peaks)

    def _scaled(self, epoch_len: int) -> dict[str, Any]:
        return {} if self.total_steps is None else {"total_steps": self.total_steps * epoch_len}

    @property
    def multiplicative(self) -> bool:
        return False

    def per_group(self, num_groups: int) -> list[ParamScheduler]:
        if not isinstance(self.eta_max, tuple):
            return [self] * num_groups
        if len(self.eta_max) != num_groups:
            raise ValueError(f"one_cycle: eta_max has {len(self.eta_max)} values for {num_groups} param groups")
        return [replace(self, eta_max=peak) for peak in self.eta_max]

    def value(self, t: int, start: float, base: float) -> float:
        total = self.total_steps or (self.end - self.begin)  # type: ignore[operator]
        if t > total:
            raise ValueError(f"one_cycle: step {t} is past total_steps ({total})")
        peak = self.eta_max
        assert not isinstance(peak, tuple), "one_cycle.value needs a per_group() instance"
        low = peak / self.div_factor
        phases = [(float(self.pct_start * total) - 1, low, peak)]
        if self.three_phase:
            phases += [(float(2 * self.pct_start * total) - 2, peak, low),
                       (total - 1, low, low / self.final_div_factor)]
        else:
            phases += [(total - 1, peak, low / self.final_div_factor)]
        anneal, phase_start = ANNEALERS[self.anneal_strategy], 0.0
        for i, (phase_end, high_or_low, target) in enumerate(phases):
            if t <= phase_end or i == len(phases) - 1:  # the last phase takes any later step
                return anneal(high_or_low, target, phase_fraction(t, phase_start, phase_end))
            phase_start = phase_end
        raise AssertionError("unreachable")


@dataclass(frozen=True, kw_only=True)
class ReduceOnPlateauParamScheduler(ParamScheduler):
    """``reduce_on_plateau``: times ``factor`` (floored at ``min_value``, one value or one per
    group) when the val metric ``monitor`` has not improved for more than ``patience``
    validations (see ``hyrun.optim.plateau``). Epoch-based only, as in MMEngine: a validation
    counts when ``begin <= epochs finished < end``. ``threshold_mode`` (PyTorch's name) is
    accepted for ``threshold_rule`` by ``build_param_scheduler``."""

    monitor: str = "loss"
    rule: str = "less"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_rule: str = "rel"
    cooldown: int = 0
    min_value: float | tuple[float, ...] = 0.0
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.by_epoch or self.convert_to_iter_based:
            raise ValueError("reduce_on_plateau: only by_epoch=True is supported (as in MMEngine), "
                             "without convert_to_iter_based")
        if not isinstance(self.monitor, str) or not self.monitor:
            raise ValueError(f"reduce_on_plateau: monitor must be a metric name, got {self.monitor!r}")
        check_plateau(self.rule, self.threshold_rule, self.factor, self.threshold, self.patience,
                      self.cooldown, self.eps)
        floors = tuple(self.min_value) if isinstance(self.min_value, (list, tuple)) else (self.min_value,)
        if not floors or not all(_is_number(v) for v in floors):
            raise ValueError(f"reduce_on_plateau: min_value must be a number or a list of them, "
                             f"got {self.min_value!r}")
        if isinstance(self.min_value, list):
            object.__setattr__(self, "min_value", floors)

    def min_values(self, num_groups: int) -> list[float]:
        if not isinstance(self.min_value, tuple):
            return [float(self.min_value)] * num_groups
        if len(self.min_value) != num_groups:
            raise ValueError(f"reduce_on_plateau: min_value has {len(self.min_value)} values for "
                             f"{num_groups} param groups")
        return [float(v) for v in self.min_value]

    def tracker(self) -> PlateauTracker:
        return PlateauTracker(self.rule, self.threshold, self.threshold_rule, self.patience, self.cooldown)

    def value(self, t: int, start: float, base: float) -> float:
        raise TypeError("reduce_on_plateau has no closed form: it follows val results (ParamSchedulerHook)")


PARAM_SCHEDULERS: dict[str, type[ParamScheduler]] = {
    "constant": ConstantParamScheduler, "linear": LinearParamScheduler,
    "exponential": ExponentialParamScheduler, "step": StepParamScheduler,
    "multi_step": MultiStepParamScheduler, "cosine_annealing": CosineAnnealingParamScheduler,
    "poly": PolyParamScheduler, "one_cycle": OneCycleParamScheduler,
    "reduce_on_plateau": ReduceOnPlateauParamScheduler,
}
TYPE_NAMES = {cls: name for name, cls in PARAM_SCHEDULERS.items()}
_ALIASES = {"reduce_on_plateau": {"threshold_mode": "threshold_rule"}}


def build_param_scheduler(cfg: Mapping[str, Any]) -> ParamScheduler:
    """One ``param_scheduler`` entry (``type`` plus fields, plain containers) as its class;
    unknown types, unknown or missing fields are ValueErrors that list the valid ones."""
    params = dict(cfg)
    name = params.pop("type", None)
    if name not in PARAM_SCHEDULERS:
        raise ValueError(f"unknown param scheduler type {name!r}; valid: {', '.join(PARAM_SCHEDULERS)}")
    for alias, field_name in _ALIASES.get(name, {}).items():
        if alias in params:
            if field_name in params:
                raise ValueError(f"param scheduler {name!r}: give {field_name} or {alias}, not both")
            params[field_name] = params.pop(alias)
    cls = PARAM_SCHEDULERS[name]
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"param scheduler {name!r} takes no {unknown}; it takes type, {', '.join(allowed)}")
    missing = [f.name for f in fields(cls)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in params]
    if missing:
        raise ValueError(f"param scheduler {name!r} needs {missing}")
    return cls(**params)
