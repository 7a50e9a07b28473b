"""What a study of hyrun's jobs optimizes: metrics of the last evaluation, each with a direction.

``hydra.sweeper.direction`` names one direction (``maximize`` | ``minimize``) or a list, one per
objective; the objectives are that many first metrics of ``evaluation.metric``, in order
(``evaluation.metric=[accuracy,loss] hydra.sweeper.direction=[maximize,minimize]``). Unset, the
study has one objective, the first metric, and its direction follows the metric's rule as
``save_best`` reads it (``evaluation.rule``, else the one the metric declares, else inferred from
the name, ``hyrun.metrics.metric_rule``):
``greater`` maximizes, ``less`` minimizes.
"""
from __future__ import annotations

from typing import Any

from hyrun.config.errors import ConfigError
from hyrun.direction import GREATER

MAXIMIZE, MINIMIZE = "maximize", "minimize"
DIRECTIONS = (MAXIMIZE, MINIMIZE)
KEY = "hydra.sweeper.direction"


def objectives(config: Any, direction: Any) -> tuple[list[str], list[str]]:
    """(metric names, directions) of the study for the composed job ``config``."""
    from hyrun.metrics import metric_names

    evaluation = config.get("evaluation")
    metrics = metric_names(evaluation.metric) if evaluation is not None else []
    if not metrics:
        raise ConfigError("evaluation", None, "an evaluation whose metrics the study optimizes")
    if direction is None:
        return metrics[:1], [direction_of(metrics[0], evaluation)]
    given = [direction] if isinstance(direction, str) else [str(d) for d in direction]
    for value in given:
        if value not in DIRECTIONS:
            raise ConfigError(KEY, direction, "maximize, minimize, or a list of them (one per objective)")
    if not given or len(given) > len(metrics):
        raise ConfigError(KEY, direction, f"one to {len(metrics)} directions, one per metric of evaluation.metric "
                                          f"({', '.join(metrics)})")
    return metrics[:len(given)], given


def direction_of(metric: str, evaluation: Any) -> str:
    """``maximize`` or ``minimize``, as the metric's rule says."""
    from hyrun.metrics import metric_rule

    rule = evaluation.get("rule")
    if rule is None:
        try:
            rule = metric_rule(metric, evaluation.metric, evaluation.get("greater_keys"), evaluation.get("less_keys"))
        except ValueError:
            raise ConfigError(KEY, None, f"maximize or minimize: which way {metric!r} improves is not in its name "
                                         "(declare it on the metric, rule: greater, or set evaluation.rule)") from None
    return MAXIMIZE if rule == GREATER else MINIMIZE
