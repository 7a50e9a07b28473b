"""Records: what a run publishes for the loggers and the hooks that act on results.

A record is a flat dict: a header (``mode``: "train" | "val", ``epoch``: 1-based, ``iter``:
finished training iterations), then values (numbers; a few are strings, such as
``best_checkpoint``). It is published with ``runner.publish(record)`` and reaches every
hook's ``after_record(runner, record)`` at once, in priority order (README, "Writing a hook").
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Record = dict[str, Any]

RECORD_HEADER = ("mode", "epoch", "iter")
TRAIN, VAL = "train", "val"
# not a record: the line of ``metrics.jsonl`` where a run appended to an earlier run's file
# starts (``existing_run=append``, ``hyrun.run_dir``); loggers never get it
START = "start"


def replayed(record: Mapping[str, Any], start_iter: int) -> bool:
    """Whether a record an earlier attempt wrote is repeated by a run resumed at ``start_iter``
    finished iterations: every record of an iteration is published before that iteration's
    checkpoint is saved (``Order.CHECKPOINT`` stands after them), so those past it are."""
    return record["iter"] > start_iter


def record_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record without its header."""
    return {key: value for key, value in record.items() if key not in RECORD_HEADER}


def value_keys(record: Mapping[str, Any]) -> Iterator[str]:
    """The keys of the record's values, in order."""
    return (key for key in record if key not in RECORD_HEADER)
