"""``finished.json``: what a run that reached its end leaves, so that ``resume=auto`` can
leave it alone.

Why: re-running a sweep with ``resume=auto`` and the same sweep dir must continue the jobs
that were cut short and not touch those that ended; a checkpoint alone cannot tell "ended"
from "stopped at the last checkpoint". A run has ended when it trained as long as it was
asked to, or when early stopping ended it; one stopped by a signal or a time limit has not.
A run pruned by an Optuna study (``hyrun.hooks.trial_pruning``) has ended too, and says so
(``pruned``). A finished run whose length is raised (``runner.max_epochs=20 resume=auto``) is
not finished for the new config, and resumes from its last checkpoint. The file also keeps
what the job returned, which a sweeper (Optuna) gets again: the value of its metric and every
metric of its last evaluation.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hyrun.distributed import is_main
from hyrun.hooks.early_stopping import STOP_REASON as EARLY_STOPPING
from hyrun.hooks.trial_pruning import STOP_REASON as PRUNED

FILENAME = "finished.json"
ENDING_STOPS = (EARLY_STOPPING, PRUNED)  # a run stopped by these has ended, not been cut short


@dataclass
class Finished:
    epoch: int
    iter: int
    length: dict
    metric: str | None
    value: float | None
    metrics: dict[str, Any] | None = None  # the last evaluation's values (files of older runs: none)
    stop_reason: str | None = None  # why it ended before its length (early stopping, pruned), or None

    @property
    def pruned(self) -> bool:
        return (self.stop_reason or "").startswith(PRUNED)

    def describe(self) -> str:
        result = f", {self.metric} {self.value:.4f}" if self.metric and self.value is not None else ""
        return f"epoch {self.epoch}, iter {self.iter}{result}{', pruned' if self.pruned else ''}"


def run_length(cfg: DictConfig) -> dict:
    """What "to the end" means for ``cfg``: the runner type and its length."""
    kind = str(getattr(cfg.runner.type, "value", cfg.runner.type))  # a RunnerType, or its name
    length = "max_epochs" if kind == "epoch" else "max_iters"
    return {"type": kind, length: cfg.runner[length]}


def finished_result(work_dir: Path, cfg: DictConfig) -> Finished | None:
    """The result of a run in ``work_dir`` that finished with this config's length, if any."""
    path = Path(work_dir) / FILENAME
    if not path.is_file():
        return None
    done = Finished(**json.loads(path.read_text()))
    return done if done.length == run_length(cfg) else None


def mark_finished(runner, cfg: DictConfig, metric: str | None, value: float | None,
                  metrics: dict[str, Any] | None = None) -> Finished | None:
    """Write ``finished.json`` (rank 0) if ``runner`` reached its end; return what it says."""
    ended_by = (runner.stop_reason or "") if runner.should_stop else ""
    if not is_main() or (runner.should_stop and not ended_by.startswith(ENDING_STOPS)):
        return None
    done = Finished(epoch=runner.epoch, iter=runner.iter, length=run_length(cfg), metric=metric, value=value,
                    metrics=metrics, stop_reason=ended_by or None)
    tmp = runner.work_dir / f".{FILENAME}.tmp"
    tmp.write_text(json.dumps(done.__dict__) + "\n")
    os.replace(tmp, runner.work_dir / FILENAME)
    return done
