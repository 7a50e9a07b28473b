"""The Hook base class: what a hook may react to, and helpers to decide when.

A hook overrides any of the stage methods below; each receives the runner. The
phase-specific stages (``before_train_epoch``, ``after_val_iter``, ...) default to
the generic ``before_epoch`` / ``after_epoch`` / ``before_iter`` / ``after_iter``,
as in MMCV 1.x, so a hook that does not care about the phase overrides the generic
one. The runner dispatches a stage only to hooks that override it, so an unused
stage costs nothing per iteration.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyrun.runner.base import Runner

STAGES = (
    "before_run",
    "before_train_epoch",
    "before_train_iter",
    "after_train_iter",
    "after_train_epoch",
    "before_val_epoch",
    "before_val_iter",
    "after_val_iter",
    "after_val_epoch",
    "after_run",
    "after_record",
    "before_save_checkpoint",
    "after_load_checkpoint",
)

# Stage -> the generic method it falls back to, for the check in `stages`.
_GENERIC = {
    "before_train_epoch": "before_epoch",
    "before_val_epoch": "before_epoch",
    "after_train_epoch": "after_epoch",
    "after_val_epoch": "after_epoch",
    "before_train_iter": "before_iter",
    "before_val_iter": "before_iter",
    "after_train_iter": "after_iter",
    "after_val_iter": "after_iter",
}


class Hook:
    """Base class of every hook. ``priority`` (a ``Priority``, an ``Order`` place, an int or a
    name) is where it stands in each stage; the runner sets it to the int on registration.
    ``main_process_only``: the hook only writes (files, loggers, a progress bar), so under
    DDP only rank 0 registers it; a hook that computes (evaluation, schedules) runs on all."""

    priority: int = 50
    main_process_only: bool = False

    def before_run(self, runner: Runner) -> None: ...
    def after_run(self, runner: Runner) -> None: ...
    def before_epoch(self, runner: Runner) -> None: ...
    def after_epoch(self, runner: Runner) -> None: ...
    def before_iter(self, runner: Runner) -> None: ...
    def after_iter(self, runner: Runner) -> None: ...

    def before_train_epoch(self, runner: Runner) -> None:
        self.before_epoch(runner)

    def before_val_epoch(self, runner: Runner) -> None:
        self.before_epoch(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        self.after_epoch(runner)

    def after_val_epoch(self, runner: Runner) -> None:
        self.after_epoch(runner)

    def before_train_iter(self, runner: Runner) -> None:
        self.before_iter(runner)

    def before_val_iter(self, runner: Runner) -> None:
        self.before_iter(runner)

    def after_train_iter(self, runner: Runner) -> None:
        self.after_iter(runner)

    def after_val_iter(self, runner: Runner) -> None:
        self.after_iter(runner)

    def after_record(self, runner: Runner, record: dict[str, Any]) -> None:
        """A record was published (``runner.publish``): a train line at the log interval, a
        val phase's losses, an evaluation's metrics (``hyrun.records``). Called at once, in
        priority order, while the publisher's stage is still running; the record is shared:
        read it, do not change it."""

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        """Add this hook's state to ``checkpoint`` (a dict about to be saved)."""

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        """Restore this hook's state from a loaded ``checkpoint``."""

    # -- when to act -------------------------------------------------------------------
    @staticmethod
    def every_n_epochs(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.epoch + 1) % n == 0

    @staticmethod
    def every_n_iters(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.iter + 1) % n == 0

    @staticmethod
    def every_n_inner_iters(runner: Runner, n: int) -> bool:
        return n > 0 and (runner.inner_iter + 1) % n == 0

    @staticmethod
    def end_of_epoch(runner: Runner) -> bool:
        return runner.inner_iter + 1 == runner.iters_per_epoch

    @staticmethod
    def is_last_epoch(runner: Runner) -> bool:
        return runner.epoch + 1 == runner.max_epochs

    @staticmethod
    def is_last_iter(runner: Runner) -> bool:
        return runner.iter + 1 == runner.max_iters

    # -- introspection -----------------------------------------------------------------
    def stages(self) -> list[str]:
        """The stages the runner calls this hook at: those it overrides (MMCV's
        ``get_triggered_stages``). A hook may narrow it to what its settings use."""
        cls = type(self)
        stages = []
        for stage in STAGES:
            if _is_overridden(cls, stage) or (
                stage in _GENERIC and _is_overridden(cls, _GENERIC[stage])
            ):
                stages.append(stage)
        return stages


def _is_overridden(cls: type, method: str) -> bool:
    return getattr(cls, method) is not getattr(Hook, method)
