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
from hyrun.models.summary import KEY as SUMMARY_KEY


class LoggerHook(Hook):
    priority = Order.LOG
    main_process_only = True

    def log(self, runner, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def after_record(self, runner, record: dict[str, Any]) -> None:
        self.log(runner, record)


def run_summary(meta: dict[str, Any]) -> dict[str, Any]:
    """What a tracker logs as params beside the config: ``{"model_summary": {...}}`` when the
    runner's meta has it (``hyrun.models.summary``), else nothing."""
    summary = meta.get(SUMMARY_KEY)
    return {SUMMARY_KEY: summary} if summary else {}
