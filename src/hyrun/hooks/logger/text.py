"""The text logger: ``metrics.jsonl`` (full-precision JSON lines) and human lines in the log.

Each record is one line, written and flushed as it comes, so a process killed at any point
leaves every record before the kill in the file, and at most a torn last line. A resumed run
(``runner.resumed``) first rewinds the file to the iteration it starts at: the lines an
earlier attempt wrote past it (the stretch between its last checkpoint and the kill, which
this run repeats) and a torn last line are dropped, so each record is in the file once.
"""
from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from hyrun.hooks.logger.base import LoggerHook
from hyrun.records import TRAIN, replayed, value_keys


class TextLoggerHook(LoggerHook):
    def __init__(self, filename: str = "metrics.jsonl") -> None:
        self.filename = filename
        self._file = None

    def before_run(self, runner) -> None:
        runner.work_dir.mkdir(parents=True, exist_ok=True)
        path = runner.work_dir / self.filename
        if runner.resumed and path.exists():
            dropped, torn = rewind_jsonl(path, runner.iter)
            if dropped or torn:
                runner.logger.info(f"Rewound {self.filename} to iter {runner.iter}: {dropped} lines of the earlier "
                                   f"attempt past it dropped" + (", and a torn last line" if torn else ""))
        self._file = open(path, "a", encoding="utf-8")

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


def rewind_jsonl(path: Path, start_iter: int) -> tuple[int, bool]:
    """Keep the records of ``path`` that a run resumed at ``start_iter`` does not repeat, and
    drop a torn last line (one a kill cut short: no newline, or not JSON); the file is
    replaced atomically. Returns (records dropped, whether a torn line was)."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    torn = lines.pop() != b""  # text after the last newline: a write cut short
    kept, dropped = [], 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            torn = True  # a cut line that a later write followed: never joined to it
            continue
        if replayed(record, start_iter):
            dropped += 1
        else:
            kept.append(line)
    if not dropped and not torn:
        return 0, False
    tmp = path.with_name(f".{path.name}.rewind{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(b"".join(line + b"\n" for line in kept))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return dropped, torn
