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
from hyrun.records import START, TRAIN, replayed, value_keys


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
        appended = not runner.resumed and path.exists() and path.stat().st_size > 0
        self._file = open(path, "a", encoding="utf-8")
        if appended:  # after an earlier run's records (existing_run=append): where this run's start
            self._file.write(json.dumps({"mode": START, "epoch": runner.epoch, "iter": runner.iter,
                                         "time": datetime.datetime.now().isoformat(timespec="seconds")}) + "\n")
            self._file.flush()

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
    replaced atomically. Lines up to the last start line (an earlier run's, appended to) are
    kept whole. Returns (records dropped, whether a torn line was)."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    torn = lines.pop() != b""  # text after the last newline: a write cut short
    kept, dropped = [], 0
    records = [_parsed(line) for line in lines]
    starts = [i for i, record in enumerate(records) if record is not None and record.get("mode") == START]
    earlier_runs = starts[-1] + 1 if starts else 0
    for i, (line, record) in enumerate(zip(lines, records)):
        if record is None:
            torn = True  # a cut line that a later write followed: never joined to it
            continue
        if i >= earlier_runs and replayed(record, start_iter):
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


def _parsed(line: bytes) -> dict[str, Any] | None:
    try:
        return json.loads(line)
    except ValueError:
        return None
