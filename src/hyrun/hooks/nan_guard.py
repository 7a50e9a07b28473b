"""Catch a NaN or infinite training loss before the optimizer step uses it.

Why here: a non-finite loss makes non-finite gradients, and one step with them ruins the
weights (and the optimizer's moments) for good. The hook runs in ``after_train_iter`` at
``Order.GUARD_STEP``: after the forward, before the optimizer hook's backward and step.

``action="stop"`` raises ``FloatingPointError`` naming the epoch and iteration (both
1-based) and the loss, so the run fails at the first bad step rather than training on.
``action="skip"`` calls ``runner.skip_step()``, so that the optimizer hook drops the
step (no backward, gradients zeroed, no step), warns with the epoch and iteration, counts
the skipped steps, and reports the count at the end of the run.

The cost: deciding needs the loss's value on the host, so on an accelerator the check waits
for the forward to finish every iteration (a device sync; the backward is queued only
afterwards, so little overlap is lost, but the host cannot run ahead). It is one call,
``loss.item()``: a 4-byte copy, no extra kernel (``torch.isfinite(loss)`` would launch one
and still need ``.item()``); the finiteness test is then done on the Python float.
"""
from __future__ import annotations

import logging
from math import isfinite
from typing import TYPE_CHECKING

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order

if TYPE_CHECKING:
    from hyrun.runner.base import Runner

ACTIONS = ("stop", "skip")


class NanGuardHook(Hook):
    """``action``: ``stop`` (raise FloatingPointError) or ``skip`` (drop that step)."""

    priority = Order.GUARD_STEP

    def __init__(self, action: str = "stop") -> None:
        if action not in ACTIONS:
            raise ValueError(f"NanGuardHook action must be stop or skip, got {action!r}")
        self.action = action
        self.skipped = 0

    def stages(self) -> list[str]:
        used = {"after_train_iter"} | ({"before_run", "after_run"} if self.action == "skip" else set())
        return [s for s in super().stages() if s in used]

    def before_run(self, runner: Runner) -> None:
        self.skipped = 0

    def after_train_iter(self, runner: Runner) -> None:
        loss = runner.outputs["loss"]
        value = loss.item() if hasattr(loss, "item") else float(loss)  # the one device sync
        if isfinite(value):
            return
        where = (f"epoch {runner.epoch + 1}, iter {runner.iter + 1} "
                 f"(iteration {runner.inner_iter + 1} of the epoch)")
        if self.action == "stop":
            raise FloatingPointError(f"The loss is {value} at {where}")
        runner.skip_step()
        self.skipped += 1
        runner.logger.warning(f"The loss is {value} at {where}: skipping this step "
                              f"({self.skipped} skipped so far)")

    def after_run(self, runner: Runner) -> None:
        level = logging.WARNING if self.skipped else logging.INFO
        runner.logger.log(level, f"NanGuardHook skipped {self.skipped} steps with a non-finite loss")
