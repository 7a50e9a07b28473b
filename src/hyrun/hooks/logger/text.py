"""The text logger: ``metrics.jsonl`` (full-precision JSON lines) and human lines in the log."""
from __future__ import annotations

import datetime
import json
from typing import Any

from hyrun.hooks.logger.base import LoggerHook
from hyrun.records import TRAIN, value_keys


class TextLoggerHook(LoggerHook):
    def __init__(self, filename: str = "metrics.jsonl") -> None:
        self.filename = filename
        self._file = None

    def before_run(self, runner) -> None:
        runner.work_dir.mkdir(parents=True, exist_ok=True)
        self._file = open(runner.work_dir / self.filename, "a", encoding="utf-8")

    def after_run(self, runner) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def log(self, runner, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        runner.logger.info(self.format(runner, record))

    def format(self, runner, record: dict[str, Any]) -> str:
        if record["mode"] == TRAIN:
            if runner.by_epoch:
                head = f"Epoch [{record['epoch']}][{runner.inner_iter + 1}/{runner.iters_per_epoch}]"
            else:
                head = f"Iter [{record['iter']}/{runner.max_iters}]"
            parts = []
            if "lr" in record:
                parts.append(f"lr: {record['lr']:.3e}")
            if "time" in record:
                eta = record["time"] * (runner.max_iters - record["iter"])
                parts.append(f"eta: {datetime.timedelta(seconds=int(eta))}")
        else:
            head = f"Epoch({record['mode']}) [{record['epoch']}][iter {record['iter']}]"
            parts = []
        for key in value_keys(record):
            if key == "lr":
                continue
            value = record[key]
            parts.append(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
        return f"{head}\t" + ", ".join(parts)
