"""The run's last evaluation: what a job reports at its end and returns to a sweeper."""
from __future__ import annotations

from typing import Any

from hyrun.hooks.base import Hook
from hyrun.records import VAL


class LastEvaluationHook(Hook):
    """Keeps the last val record that holds ``metric`` (``record``; None until one comes)."""

    def __init__(self, metric: str) -> None:
        self.metric = metric
        self.record: dict[str, Any] | None = None

    def after_record(self, runner, record: dict[str, Any]) -> None:
        if record["mode"] == VAL and self.metric in record:
            self.record = record
