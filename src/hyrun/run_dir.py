"""A run dir that holds a run already (README, "What a run leaves").

Started again into the same dir (a fixed ``hydra.run.dir``, a sweep re-run into its sweep dir),
a run would mix its records with the earlier run's: ``metrics.jsonl`` and ``hyrun.log`` are
appended to, checkpoints overwritten. So without ``resume`` (which continues the earlier run)
such a dir is refused with a config error, unless ``existing_run=append`` says to start a new
run after the earlier one: the log then says so in a line, and the text logger marks the new
start in ``metrics.jsonl`` with a ``{"mode": "start", ...}`` line (``hyrun.records.START``),
before which a later resume never rewinds. The earlier run's ``finished.json`` is removed, so
that ``resume=auto`` continues the new run instead of leaving it alone as finished.

torchrun's restarted attempts and re-run sweeps mean ``resume=auto``: they are never refused.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from hyrun.config.errors import ConfigError
from hyrun.distributed import is_main
from hyrun.finished import FILENAME as FINISHED

APPEND = "append"
METRICS = "metrics.jsonl"  # the text logger's file


def earlier_run(work_dir: Path) -> list[str]:
    """What an earlier run left in ``work_dir``: records, checkpoints, its end (none: a fresh dir,
    or one where Hydra alone wrote ``.hydra/`` and the log's first lines)."""
    found = []
    metrics = work_dir / METRICS
    if metrics.is_file() and metrics.stat().st_size:
        found.append(METRICS)
    checkpoints = work_dir / "checkpoints"
    if checkpoints.is_dir() and any(checkpoints.glob("*.pth")):
        found.append("checkpoints/")
    if (work_dir / FINISHED).exists():
        found.append(FINISHED)
    return found


def check_run_dir(cfg: DictConfig, work_dir: Path, logger: logging.Logger) -> None:
    """ConfigError for a dir that holds a run, unless ``resume`` continues it or
    ``existing_run=append`` starts another after it. Every rank decides alike: they read the
    same dir before any of them writes to it."""
    if cfg.resume:
        return
    found = earlier_run(work_dir)
    if not found:
        return
    if cfg.existing_run != APPEND:
        raise ConfigError("resume", None, f"auto to continue the run in {work_dir} (it holds {', '.join(found)}), "
                                          f"existing_run=append to start another run after it there, or another "
                                          f"output dir (hydra.run.dir=...)")
    if is_main():
        logger.warning("existing_run=append: %s holds an earlier run (%s); a new run starts here, after it",
                       work_dir, ", ".join(found))
        (work_dir / FINISHED).unlink(missing_ok=True)  # the earlier run's end: not this one's
