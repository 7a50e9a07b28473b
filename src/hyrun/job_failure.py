"""A sweep job that fails says so itself: its error in a line, and where its full traceback is.

A job run by a launcher in another process (joblib's workers, submitit's jobs) hands its
exception back to the sweep pickled, so the sweep prints it without the job's traceback (and
with Hydra's frames instead). The Hydra callback ``failed_job`` (``conf/config.yaml``) runs
at the end of every job, in the job's process: a job that raised writes its traceback to its
own log (``hyrun.log`` in its output dir), and in another process than the sweep's its
exception is replaced by ``JobFailed``, whose message names the job, the error's type and
first line, and that log; Hydra prints such an error as its message alone. The basic
launcher runs jobs in the sweep's process, where the traceback is whole: its error is kept.
"""
from __future__ import annotations

import logging
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from hyrun.messages import first_line

IN_PROCESS_LAUNCHERS = ("hydra._internal.core_plugins.basic_launcher.BasicLauncher",)


class JobFailed(CompactHydraException):
    """A job's error, told in a line by the job's process (picklable: the message is all it holds)."""


class ReportFailedJob(Callback):
    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if job_return.status != JobStatus.FAILED:
            return
        error = job_return._return_value
        if not isinstance(error, Exception) or isinstance(error, JobFailed):
            return  # Hydra 1.4 hands on a SystemExit too: the job said why as it exited
        logging.getLogger("hyrun").error("the job failed:", exc_info=(type(error), error, error.__traceback__))
        launcher = str(config.hydra.launcher.get("_target_", ""))
        if launcher in IN_PROCESS_LAUNCHERS:
            return
        overrides = " ".join(job_return.overrides or [])
        job_return.return_value = JobFailed(
            f"job {config.hydra.job.get('num')} ({overrides}) failed: {type(error).__name__}: {first_line(error)}\n"
            f"its full traceback: {log_files() or config.hydra.runtime.output_dir}")


def log_files() -> str:
    """The files the job's log goes to (Hydra's job logging: ``<output dir>/hyrun.log``)."""
    return ", ".join(handler.baseFilename for handler in logging.getLogger().handlers
                     if isinstance(handler, logging.FileHandler))
