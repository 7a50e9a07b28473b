"""What every logger shares: it takes each published record and writes it somewhere.

A logger implements ``log(runner, record)``; ``after_record`` hands it every record the run
publishes (``hyrun.records``): the train records ``TrainRecordHook`` makes at the log
interval, the val phase's losses, each evaluation's metrics. Loggers only write, so under
DDP only rank 0 has them (``main_process_only``), and they stand after the checkpoint of the
same stage (``Order.LOG``).
"""
from __future__ import annotations

from typing import Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order


class LoggerHook(Hook):
    priority = Order.LOG
    main_process_only = True

    def log(self, runner, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def after_record(self, runner, record: dict[str, Any]) -> None:
        self.log(runner, record)
