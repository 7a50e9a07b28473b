"""A job outside a Hydra app (a notebook, a script calling ``hyrun.train``): what Hydra does
for the job of an app, done here, so that the run leaves what ``python -m hyrun`` leaves.

A config that ``hyrun.compose`` returned carries the Hydra config of its composition (kept
here, by the config object's identity, for as long as the object lives): the job then has
Hydra's output dir (``hydra.run.dir``, resolved when the job starts), ``.hydra/``, the log
file ``<hydra.job.name>.log`` in Hydra's format, and ``HydraConfig`` set for the job's length,
so the config tree names the options chosen and the loggers the overrides. A config without
one (built by hand, or a copy: ``OmegaConf.merge`` makes a new object) writes to
``work_dir``, else to ``outputs/<date>/<time>`` (Hydra's default), with the log file and
without ``.hydra/``.

Hydra's own job setup (``hydra.core.utils.run_job``) configures the root logger for good;
here the log handlers are added for the job and removed after it, so a notebook's logging is
left as it was.
"""
from __future__ import annotations

import logging
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

DEFAULT_RUN_DIR = "outputs/%Y-%m-%d/%H-%M-%S"  # Hydra's default hydra.run.dir
# conf/hyrun.yaml's hydra.job_logging, for a config without its composition
LOG_FORMAT, LOG_DATE_FORMAT, LOG_NAME = "%(asctime)s %(levelname)s %(message)s", "%H:%M:%S", "hyrun"

_COMPOSITIONS: dict[int, DictConfig] = {}


def remember_composition(cfg: DictConfig, composed: DictConfig) -> None:
    """Keep ``composed`` (the whole composed config, ``hydra`` node included) for ``cfg``."""
    key = id(cfg)
    _COMPOSITIONS[key] = composed
    weakref.finalize(cfg, _COMPOSITIONS.pop, key, None)


def composition_of(cfg: DictConfig) -> DictConfig | None:
    """The whole composed config that ``hyrun.compose`` returned ``cfg`` from, if it did."""
    return _COMPOSITIONS.get(id(cfg))


@contextmanager
def outside_hydra(cfg: DictConfig, composed: DictConfig | None) -> Iterator[str]:
    """For the job's length: its output dir made (yielded), HydraConfig set and ``.hydra/``
    written when ``composed`` is given, the log going to ``<output dir>/<job name>.log`` (and
    to stdout, unless the root logger already has handlers)."""
    from hydra.core.hydra_config import HydraConfig

    hydra_config = HydraConfig.instance()
    saved = hydra_config.cfg
    try:
        if composed is not None:
            output_dir = _start_hydra_job(cfg, composed)
            job_logging = composed.hydra.job_logging
            simple = OmegaConf.select(job_logging, "formatters.simple") or {}
            log_format = simple.get("format", LOG_FORMAT)
            date_format = simple.get("datefmt", LOG_DATE_FORMAT)
            log_name = str(composed.hydra.job.name)
        else:
            output_dir = str(Path(cfg.work_dir or time.strftime(DEFAULT_RUN_DIR)).absolute())
            Path(output_dir).mkdir(parents=True, exist_ok=True)
            log_format, date_format, log_name = LOG_FORMAT, LOG_DATE_FORMAT, LOG_NAME
        with _logging_to(Path(output_dir) / f"{log_name}.log", logging.Formatter(log_format, date_format)):
            yield output_dir
    finally:
        hydra_config.cfg = saved


def _start_hydra_job(cfg: DictConfig, composed: DictConfig) -> str:
    """As Hydra starts a job: the run dir resolved and made, ``HydraConfig`` set, ``.hydra/``."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    HydraConfig.instance().set_config(composed)  # resolves hydra.run.dir's ${now:...}, ${hydra:...}
    output_dir = str(Path(str(OmegaConf.select(composed, "hydra.run.dir"))).absolute())
    with read_write(composed.hydra), open_dict(composed.hydra):
        composed.hydra.mode = RunMode.RUN
        composed.hydra.runtime.output_dir = output_dir
    HydraConfig.instance().set_config(composed)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    if composed.hydra.output_subdir is not None:
        hydra_dir = Path(output_dir) / str(composed.hydra.output_subdir)
        hydra_dir.mkdir(parents=True, exist_ok=True)
        for name, node in (("config.yaml", cfg), ("hydra.yaml", HydraConfig.instance().cfg),
                           ("overrides.yaml", composed.hydra.overrides.task)):
            (hydra_dir / name).write_text(OmegaConf.to_yaml(node), encoding="utf-8")
    return output_dir


@contextmanager
def _logging_to(path: Path, formatter: logging.Formatter) -> Iterator[None]:
    root = logging.getLogger()
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if not root.handlers:  # else the app's own handlers show the log
        handlers.append(logging.StreamHandler(sys.stdout))
    saved_level = root.level
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # as Hydra's job_logging: the run's INFO lines are the log
    try:
        yield
    finally:
        root.setLevel(saved_level)
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
