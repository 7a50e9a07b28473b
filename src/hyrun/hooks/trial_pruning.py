"""Pruning a job that runs as an Optuna trial, fed by its evaluations.

Registered by the job only when it runs as a trial of hyrun's Optuna sweeper
(``hyrun.tuning.trial``): each val record that holds the study's metric is reported to the
trial as an intermediate value at its epoch (its iteration when evaluation counts iterations),
and when the study's pruner says so the run stops there, as early stopping stops it: the
checkpoint hook (after evaluation) saves, the loggers write the records, ``finished.json``
says that the run ended, pruned, and the sweeper tells the study so.

optuna is imported at ``before_run``, so only trials load it. Under DDP only rank 0 reports
(``main_process_only``); the ranks agree on its stop as on any other.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Priority
from hyrun.records import VAL

if TYPE_CHECKING:
    from hyrun.runner.base import Runner
    from hyrun.tuning.trial import TrialIdentity

STOP_REASON = "pruned"  # the start of runner.stop_reason: the run has ended, not been cut short


class TrialPruningHook(Hook):
    priority = Priority.NORMAL  # it acts on records, as they are published
    main_process_only = True  # one report an evaluation

    def __init__(self, trial: TrialIdentity, by_epoch: bool) -> None:
        self.identity = trial
        self.metric = trial.metric
        self.by_epoch = by_epoch
        self.pruned = False
        self._trial: Any = None

    def before_run(self, runner: Runner) -> None:
        self._trial = self.identity.connect()

    def after_record(self, runner: Runner, record: dict[str, Any]) -> None:
        if record["mode"] != VAL or self.metric not in record or self._trial is None:
            return
        step = int(record["epoch"] if self.by_epoch else record["iter"])
        value = float(record[self.metric])
        self._trial.report(value, step)
        if self.identity.pruner and self._trial.should_prune():
            self.pruned = True
            runner.should_stop = True
            where = "epoch" if self.by_epoch else "iter"
            runner.stop_reason = f"{STOP_REASON}: trial {self.identity.number} at {where} {step}"
            runner.logger.info("Optuna pruned trial %d at %s %d (%s %.4f); stopping after this evaluation",
                               self.identity.number, where, step, self.metric, value)


def register_pruning(runner: Runner, cfg: Any, trial: TrialIdentity) -> None:
    """Give a trial's runner the hook, when its study takes intermediate values (one objective)."""
    from hyrun.config.schema import resolve_by_epoch

    if trial.metric is None or cfg.evaluation is None:
        return
    runner.register_hook(TrialPruningHook(trial, by_epoch=bool(resolve_by_epoch(cfg.evaluation.by_epoch,
                                                                                 runner.by_epoch))))
