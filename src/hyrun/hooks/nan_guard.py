"""Catch a NaN or infinite training loss before the optimizer step uses it.

Why here: a non-finite loss makes non-finite gradients, and one step with them ruins the
weights (and the optimizer's moments) for good. The hook runs in ``after_train_iter`` at
``Order.GUARD_STEP``: after the forward, before the optimizer hook's backward and step.

``action="stop"`` raises ``FloatingPointError`` naming the epoch and iteration (both
1-based) and the loss, so the run fails at the first bad step rather than training on.
``action="skip"`` calls ``runner.skip_step()``, so that the optimizer hook drops the
step (no backward, gradients zeroed, no step), warns with the epoch and iteration, counts
the skipped steps, and reports the count at the end of the run.

``interval``: how often the losses are looked at. The default, 1, decides at every step: one
``loss.item()`` an iteration (a 4-byte copy; on CPU about a microsecond, on an accelerator a
device sync: the host waits for the forward before it queues the backward and cannot run
ahead). ``skip`` needs it. With ``interval=N`` (``stop`` only) the iterations read nothing
back: the hook keeps references to the N losses and checks them together every N steps and
at each epoch's end (one read); the error names the first non-finite loss, though up to N-1
steps trained on after it.
"""
from __future__ import annotations

import logging
from math import isfinite
from typing import TYPE_CHECKING, Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order

if TYPE_CHECKING:
    from hyrun.runner.base import Runner

ACTIONS = ("stop", "skip")


class NanGuardHook(Hook):
    """``action``: ``stop`` (raise FloatingPointError) or ``skip`` (drop that step);
    ``interval``: check every step (1) or every N steps (``stop`` only)."""

    priority = Order.GUARD_STEP

    def __init__(self, action: str = "stop", interval: int = 1) -> None:
        if action not in ACTIONS:
            raise ValueError(f"NanGuardHook action must be stop or skip, got {action!r}")
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"NanGuardHook interval must be an int >= 1, got {interval!r}")
        if action == "skip" and interval != 1:
            raise ValueError(f"NanGuardHook action=skip decides at every step: interval must be 1, got {interval}")
        self.action, self.interval = action, interval
        self.skipped = 0
        self._unchecked: list[tuple[Any, tuple[int, int, int]]] = []  # (loss, counts) since the last check

    def stages(self) -> list[str]:
        used = {"after_train_iter"}
        if self.action == "skip":
            used |= {"before_run", "after_run"}
        if self.interval > 1:
            used |= {"before_run", "after_train_epoch"}
        return [s for s in super().stages() if s in used]

    def before_run(self, runner: Runner) -> None:
        self.skipped = 0
        self._unchecked = []

    def after_train_iter(self, runner: Runner) -> None:
        loss = runner.outputs["loss"]
        if self.interval == 1:
            value = loss.item() if hasattr(loss, "item") else float(loss)  # the one device sync
            if not isfinite(value):
                self._non_finite(runner, value, _where(runner.epoch, runner.iter, runner.inner_iter))
            return
        # a reference and the counts: nothing formatted or read back until the check
        self._unchecked.append((loss.detach() if hasattr(loss, "detach") else loss,
                                (runner.epoch, runner.iter, runner.inner_iter)))
        if self.every_n_iters(runner, self.interval):
            self._check_unchecked(runner)

    def after_train_epoch(self, runner: Runner) -> None:
        self._check_unchecked(runner)

    def _check_unchecked(self, runner: Runner) -> None:
        if not self._unchecked:
            return
        import torch

        losses = torch.stack([torch.as_tensor(loss) for loss, _ in self._unchecked])
        unchecked, self._unchecked = self._unchecked, []
        if bool(torch.isfinite(losses).all()):  # the one read of the interval
            return
        value, counts = next((v, c) for v, (_, c) in zip(losses.tolist(), unchecked) if not isfinite(v))
        self._non_finite(runner, value, f"{_where(*counts)}, found at iter {runner.iter + 1}: the guard "
                                        f"checks every {self.interval} steps")

    def _non_finite(self, runner: Runner, value: float, where: str) -> None:
        if self.action == "stop":
            raise FloatingPointError(f"The loss is {value} at {where}")
        runner.skip_step()
        self.skipped += 1
        runner.logger.warning(f"The loss is {value} at {where}: skipping this step "
                              f"({self.skipped} skipped so far)")

    def after_run(self, runner: Runner) -> None:
        level = logging.WARNING if self.skipped else logging.INFO
        runner.logger.log(level, f"NanGuardHook skipped {self.skipped} steps with a non-finite loss")


def _where(epoch: int, iter: int, inner_iter: int) -> str:
    """The step's place, 1-based, from the runner's counts before the step finished."""
    return f"epoch {epoch + 1}, iter {iter + 1} (iteration {inner_iter + 1} of the epoch)"
