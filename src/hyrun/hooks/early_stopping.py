"""Stop training when a monitored val metric stops improving (MMEngine's EarlyStoppingHook).

Where the metric comes from. MMEngine's hook gets the metrics in ``after_val_epoch``; in
hyrun an evaluation is a val record (``{"mode": "val", "epoch", "iter", <metric>: value}``)
published by EvalHook or by the workflow's val phase, and this hook takes each as it is
published (``after_record``): one val record with ``monitor`` is one MMEngine
``after_val_epoch``. It costs nothing per iteration.

The decision, MMEngine's exactly (defaults too: ``min_delta=0.1``, ``patience=5``,
``strict=False``, ``check_finite=True``), in this order:
  * ``check_finite`` and the score is NaN or infinite: stop;
  * ``stopping_threshold`` is set and the score is better than it (strictly): stop;
  * the score is not better than ``best + min_delta`` (``best - min_delta`` for ``less``),
    compared strictly, so reaching exactly ``best + min_delta`` counts as improving: the
    wait count grows, and the run stops when it reaches ``patience``;
  * otherwise it is the new best and the wait count is reset.
Kept quirks: the threshold's stop also makes the score the best; ``patience=0`` stops at
the first evaluation that does not improve (as 1 does); with ``check_finite=False`` a NaN
score becomes the best (every comparison with NaN is false).

``strict``: MMEngine raises when the metrics lack ``monitor``. Here several sources publish
val records (EvalHook's metrics, the val phase's loss), so one without ``monitor`` is
normal once the metric has been seen; the hook raises (``strict``) or warns once only while
no val record so far had it (a misspelt name, a metric nobody computes).

The rule, when not given, is inferred from the name as EvalHook's ``save_best`` does
(``infer_rule``: loss-like names are ``less``, accuracy-like ones ``greater``).

State: the best score and the wait count go into checkpoints. CheckpointHook stands after
evaluation (``Order.CHECKPOINT``), so an epoch's checkpoint holds the state after that
epoch's evaluation, as EvalHook's own best score does; a run resumed from it does not repeat
that evaluation.
"""
from __future__ import annotations

from math import isfinite
from typing import TYPE_CHECKING, Any

from hyrun.direction import GREATER, check_rule, infer_rule, is_better, worst
from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Priority
from hyrun.records import VAL, value_keys

if TYPE_CHECKING:
    from hyrun.runner.base import Runner

STATE_KEY = "EarlyStoppingHook"
STOP_REASON = "early stopping"  # the start of runner.stop_reason: the run has ended, not been cut short


class EarlyStoppingHook(Hook):
    """Set ``runner.should_stop`` once ``monitor`` has not improved by ``min_delta`` in
    ``patience`` evaluations, is not finite (``check_finite``), or has passed
    ``stopping_threshold``."""

    priority = Priority.NORMAL  # it acts on records, as they are published: no place in a stage matters

    def __init__(self, monitor: str = "accuracy", rule: str | None = None, min_delta: float = 0.1,
                 strict: bool = False, check_finite: bool = True, patience: int = 5,
                 stopping_threshold: float | None = None) -> None:
        rule = infer_rule(monitor) if rule is None else check_rule(rule, "EarlyStoppingHook rule")
        self.monitor = monitor
        self.rule = rule
        self.min_delta = min_delta if rule == GREATER else -min_delta  # MMEngine's sign
        self.strict = strict
        self.check_finite = check_finite
        self.patience = patience
        self.stopping_threshold = stopping_threshold
        self.wait_count = 0
        self.best_score = worst(rule)
        self._seen_monitor = False
        self._warned = False

    def _better(self, a: float, b: float) -> bool:
        return is_better(self.rule, a, b)

    # -- when --------------------------------------------------------------------------
    def after_record(self, runner: Runner, record: dict[str, Any]) -> None:
        if record["mode"] != VAL:
            return
        if self.monitor not in record:
            self._missing(runner, record)
            return
        self._seen_monitor = True
        latest = record
        stop, reason = self.check(float(latest[self.monitor]))
        if stop:
            runner.should_stop = True
            runner.stop_reason = f"{STOP_REASON}: {reason}"
            runner.logger.info(f"Early stopping after epoch {latest.get('epoch')}, iter {latest.get('iter')}: "
                               f"{reason}")

    def _missing(self, runner: Runner, record: dict[str, Any]) -> None:
        if self._seen_monitor:
            return  # another source's record (e.g. the val phase's loss): normal
        keys = sorted(value_keys(record))
        if self.strict:
            raise RuntimeError(f"Early stopping monitors {self.monitor!r}, but the val record has only {keys}: "
                               "check the metric's name or set strict=False")
        if not self._warned:
            self._warned = True
            runner.logger.warning(f"Early stopping skipped: the val record has only {keys}, not "
                                  f"{self.monitor!r}")

    # -- the decision (MMEngine's _check_stop_condition) ---------------------------------
    def check(self, score: float) -> tuple[bool, str]:
        """Take one evaluation's ``score``; return whether to stop and why."""
        if self.check_finite and not isfinite(score):
            return True, (f"the monitored metric {self.monitor} = {score} is not finite; "
                          f"the best was {self.best_score:.4f}")
        if self.stopping_threshold is not None and self._better(score, self.stopping_threshold):
            self.best_score = score
            return True, (f"the stopping threshold is reached: {self.monitor} = {score} is {self.rule} than "
                          f"{self.stopping_threshold}")
        if self._better(self.best_score + self.min_delta, score):
            self.wait_count += 1
            if self.wait_count >= self.patience:
                return True, (f"{self.monitor} did not improve by {abs(self.min_delta)} in the last "
                              f"{self.wait_count} evaluations; the best was {self.best_score:.4f}")
            return False, ""
        self.best_score = score
        self.wait_count = 0
        return False, ""

    # -- checkpoints -------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("hooks", {})[STATE_KEY] = {
            "best_score": float(self.best_score), "wait_count": int(self.wait_count)}

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("hooks", {}).get(STATE_KEY)
        if state:
            self.best_score = float(state["best_score"])
            self.wait_count = int(state["wait_count"])
