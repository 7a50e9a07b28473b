"""What every logger shares: when to log (MMCV's interval / by_epoch / ignore_last) and
the records it gets.

A logger implements ``log(runner, record)``. A record is a flat dict: ``mode``
("train" | "val"), ``epoch`` (1-based), ``iter`` (finished training iterations), then
values. Train records are made here at the interval from the runner's log buffer: means
over the last ``interval`` iterations (also at the end of an epoch with ignore_last=False,
MMCV's rule); val records are the ones hooks and the val phase ``publish`` on the runner.
"""
from __future__ import annotations

from typing import Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Priority


class LoggerHook(Hook):
    priority = Priority.VERY_LOW

    def __init__(self, interval: int = 10, by_epoch: bool = True, ignore_last: bool = True) -> None:
        self.interval = interval
        self.by_epoch = by_epoch
        self.ignore_last = ignore_last
        self._next_record = 0

    def log(self, runner, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def before_run(self, runner) -> None:
        self._next_record = len(runner.records)
        runner.log_buffer.keep_at_least(self.interval)

    def after_train_iter(self, runner) -> None:
        if self.by_epoch:
            due = self.every_n_inner_iters(runner, self.interval)
        else:
            due = self.every_n_iters(runner, self.interval)
        if due or (not self.ignore_last and self.end_of_epoch(runner)):
            self.log(runner, self.train_record(runner))
        if len(runner.records) > self._next_record:
            self._log_published(runner)

    def after_train_epoch(self, runner) -> None:
        self._log_published(runner)

    def after_val_epoch(self, runner) -> None:
        self._log_published(runner)

    def after_run(self, runner) -> None:
        self._log_published(runner)

    def train_record(self, runner) -> dict[str, Any]:
        record: dict[str, Any] = {"mode": "train", "epoch": runner.epoch + 1, "iter": runner.iter + 1}
        if runner.optimizer is not None:
            record["lr"] = runner.current_lr()[0]
            momentum = runner.current_momentum()
            if momentum is not None:
                record["momentum"] = momentum[0]
        record.update(runner.log_buffer.mean(self.interval))
        return record

    def _log_published(self, runner) -> None:
        records = runner.records
        while self._next_record < len(records):
            self.log(runner, records[self._next_record])
            self._next_record += 1
