"""Running the trials' jobs through the launcher: at once, or in batches.

A Hydra launcher takes a list of jobs and returns when all of them have ended. Launchers whose
jobs run in processes of their own and that may be called from several threads at once
(``CONCURRENT_LAUNCHERS``: joblib, submitit's local and SLURM executors, hyrun's torchrun
launcher) get one job a call, from ``n_jobs`` threads: ``n_jobs`` trials run at a time and the
next is asked for as soon as one ends. Any other launcher (the basic one, which runs jobs in
this process, and plugins not known here) gets ``n_jobs`` trials a call, and the next batch
is asked for when the whole batch has ended.

``driver`` is the study's side (``_study.StudyDriver``): ``next_job()`` asks for a trial
(None: no more), ``ended(job, job_return, error)`` tells the study how it went; ``stopping``
says that no new trial is to start.
"""
from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

log = logging.getLogger(__name__)

CONCURRENT_LAUNCHERS = frozenset({
    "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher",
    "hydra_plugins.hydra_submitit_launcher.submitit_launcher.BaseSubmititLauncher",
    "hydra_plugins.hyrun_torchrun_launcher.torchrun_launcher.TorchrunLauncher",
})


def launches_concurrently(launcher: Any) -> bool:
    """Whether ``launcher`` may be given one job a call from several threads at once."""
    return any(f"{c.__module__}.{c.__qualname__}" in CONCURRENT_LAUNCHERS for c in type(launcher).__mro__)


def run_jobs(driver: Any, launcher: Any, n_jobs: int) -> None:
    if n_jobs > 1 and launches_concurrently(launcher):
        log.info("%s runs %d trials at a time; a new one starts as soon as one ends", type(launcher).__name__, n_jobs)
        _run_concurrently(driver, launcher, n_jobs)
    else:
        if n_jobs > 1:
            log.info("%s takes jobs in batches: %d trials a batch", type(launcher).__name__, n_jobs)
        _run_batches(driver, launcher, n_jobs)


def _launch_one(launcher: Any, job: Any) -> Any:
    return launcher.launch([job.overrides], initial_job_idx=job.number)[0]


def _run_concurrently(driver: Any, launcher: Any, n_jobs: int) -> None:
    running: dict[Future, Any] = {}
    with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="hyrun-trial") as pool:
        while True:
            while len(running) < n_jobs and not driver.stopping and (job := driver.next_job()) is not None:
                running[pool.submit(_launch_one, launcher, job)] = job
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                error = future.exception()
                driver.ended(job, None if error is not None else future.result(), error)


def _run_batches(driver: Any, launcher: Any, n_jobs: int) -> None:
    while not driver.stopping:
        batch = []
        while len(batch) < n_jobs and (job := driver.next_job()) is not None:
            batch.append(job)
        if not batch:
            return
        for part in _consecutive(batch):  # a launcher numbers a call's jobs from its first
            try:
                returns = launcher.launch([job.overrides for job in part], initial_job_idx=part[0].number)
            except (KeyboardInterrupt, SystemExit) as error:
                for job in part:
                    driver.ended(job, None, error)
                if isinstance(error, KeyboardInterrupt):
                    raise
                continue
            except Exception as error:  # noqa: BLE001 - the launcher failed these jobs, not the study
                for job in part:
                    driver.ended(job, None, error)
                continue
            for job, job_return in zip(part, returns):
                driver.ended(job, job_return, None)


def _consecutive(jobs: list[Any]) -> list[list[Any]]:
    parts: list[list[Any]] = []
    for job in jobs:
        if parts and job.number == parts[-1][-1].number + 1:
            parts[-1].append(job)
        else:
            parts.append([job])
    return parts
