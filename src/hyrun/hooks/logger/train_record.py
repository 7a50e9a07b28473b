"""The train record of each log interval (MMCV's logger interval / by_epoch / ignore_last).

Every ``interval`` iterations (counted within the epoch with ``by_epoch``, else globally),
and at the end of an epoch with ``ignore_last=False``, this hook publishes
``{"mode": "train", "epoch", "iter", "lr", "momentum", <values>}``: ``lr`` and ``momentum``
of ``param_groups[0]`` as this iteration's step used them (momentum absent when the
optimizer has none), then the means over the last ``interval`` iterations of what the step
and the hooks put in the runner's log buffer (``loss``, ``time``, ``data_time``,
``grad_norm``, ...). Values are reduced only here, at the interval: the training path never
reads a tensor back.

It stands at ``Order.PUBLISH_TRAIN_RECORD``: after the timer has measured the iteration,
before evaluation publishes its record for the same iteration.
"""
from __future__ import annotations

from typing import Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order
from hyrun.records import TRAIN


class TrainRecordHook(Hook):
    priority = Order.PUBLISH_TRAIN_RECORD

    def __init__(self, interval: int = 10, by_epoch: bool = True, ignore_last: bool = True) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"log_config.interval must be an int >= 1, got {interval!r}")
        self.interval = interval
        self.by_epoch = by_epoch
        self.ignore_last = ignore_last

    def before_run(self, runner) -> None:
        runner.log_buffers[TRAIN].keep_at_least(self.interval)

    def after_train_iter(self, runner) -> None:
        if self.by_epoch:
            due = self.every_n_inner_iters(runner, self.interval)
        else:
            due = self.every_n_iters(runner, self.interval)
        if due or (not self.ignore_last and self.end_of_epoch(runner)):
            runner.publish(self.record(runner))

    def record(self, runner) -> dict[str, Any]:
        record: dict[str, Any] = {"mode": TRAIN, "epoch": runner.epoch + 1, "iter": runner.iter + 1}
        if runner.optimizer is not None:
            record["lr"] = runner.current_lr()[0]
            momentum = runner.current_momentum()
            if momentum is not None:
                record["momentum"] = momentum[0]
        record.update(runner.log_buffer.mean(self.interval))
        return record
