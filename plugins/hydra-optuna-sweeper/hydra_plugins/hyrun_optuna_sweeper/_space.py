"""The search space, in Hydra's override grammar, read as hydra-optuna-sweeper reads it.

From ``hydra.sweeper.params`` (key -> expression) and the command line (``key=expression``,
which wins):

| expression | Optuna distribution |
|---|---|
| ``interval(a, b)`` | ``FloatDistribution(a, b)`` |
| ``tag(log, interval(a, b))`` | ``FloatDistribution(a, b, log=True)`` |
| ``int(interval(a, b))``, ``tag(log, int(interval(a, b)))`` | ``IntDistribution(a, b[, log=True])`` |
| ``range(a, b[, step])`` | ``IntDistribution(a, b, step)`` (``FloatDistribution`` when a bound or the step is a float); ``b`` included when on the grid, as hydra-optuna-sweeper |
| ``choice(x, y, ...)``, ``x,y,...``, ``shuffle(range(...))`` | ``CategoricalDistribution([x, y, ...])`` |
| a plain value | fixed: the same override for every trial, kept as the trial's user attribute |
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, IntervalSweep, Override, RangeSweep, Transformer

ALLOWED = "interval(a,b), tag(log,interval(a,b)), int(interval(a,b)), range(a,b[,step]), choice(...) or a value"


class SearchSpaceError(ValueError):
    def __init__(self, key: str, value: str, allowed: str = ALLOWED) -> None:
        super().__init__(f"{key}={value} is not valid in an Optuna search space: expected {allowed}")


@dataclass
class SearchSpace:
    distributions: dict[str, Any] = field(default_factory=dict)  # key -> optuna distribution
    fixed: dict[str, str] = field(default_factory=dict)  # key -> the override's value, as written

    @classmethod
    def parse(cls, params: dict[str, Any] | None, arguments: list[str]) -> SearchSpace:
        """The space of ``hydra.sweeper.params`` and the command line's ``arguments``."""
        lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
        space = cls()
        for override in OverridesParser.create().parse_overrides(lines):
            key = override.get_key_element()
            space.distributions.pop(key, None)
            space.fixed.pop(key, None)
            if override.is_sweep_override():
                space.distributions[key] = distribution(override)
            else:
                space.fixed[key] = override.get_value_element_as_str()
        return space

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """A trial's overrides: its sampled ``params``, then the fixed values."""
        return [f"{key}={value}" for key, value in params.items()] + [f"{k}={v}" for k, v in self.fixed.items()]

    def grid(self) -> dict[str, list[Any]]:
        """The space as GridSampler takes it: every value of each key (discrete keys only)."""
        return {key: grid_values(key, dist) for key, dist in self.distributions.items()}

    def describe(self) -> dict[str, str]:
        return {key: repr(dist) for key, dist in self.distributions.items()}


def distribution(override: Override) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    key, value = override.get_key_element(), override.value()
    written = (override.input_line or "").partition("=")[2]
    if isinstance(value, Glob):
        raise SearchSpaceError(key, written)
    if override.is_choice_sweep() or (isinstance(value, RangeSweep) and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        if not all(isinstance(c, (str, int, float, bool, type(None))) for c in choices):
            raise SearchSpaceError(key, written, "choices of str, int, float, bool or null")
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        if any(isinstance(x, float) for x in (value.start, value.stop, value.step)):
            return FloatDistribution(value.start, value.stop, step=value.step)
        return IntDistribution(int(value.start), int(value.stop), step=int(value.step))
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise SearchSpaceError(key, written)


def grid_values(key: str, dist: Any) -> list[Any]:
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    step = getattr(dist, "step", None)
    if step is None:
        raise SearchSpaceError(key, repr(dist), "choice(...) or range(...) with the grid sampler (no intervals)")
    count = int(round((dist.high - dist.low) / step)) + 1
    return [dist.low + i * step for i in range(count)]
