"""Each job: its config composed here, then ``nproc_per_node`` processes started by torch's
elastic agent, each running the job through Hydra's ``run_job`` in the same output dir."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    setup_globals()
    assert launcher.config is not None and launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    options = launcher.options
    log.info("Torchrun launcher: %d processes a job, sweep output dir: %s", options["nproc_per_node"], sweep_dir)

    returns = []
    for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, list(overrides))
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
            sweep_config.hydra.job.num = idx
        launch_config = LaunchConfig(
            min_nodes=1, max_nodes=1, nproc_per_node=options["nproc_per_node"],
            run_id=f"hydra-job-{idx}-{uuid.uuid4().hex[:8]}",
            rdzv_backend="c10d", rdzv_endpoint="localhost:0",  # as torchrun --standalone: a free port
            max_restarts=options["max_restarts"], monitor_interval=options["monitor_interval"],
            start_method=options["start_method"], logs_specs=_logs_specs(options["log_dir"], idx),
        )
        try:
            results = elastic_launch(launch_config, _run_rank)(
                launcher.hydra_context, sweep_config, TaskReference(launcher.task_function), _singletons())
        except ChildFailedError as failure:
            raise SystemExit(exit_status(failure, idx)) from failure
        returns.append(_job_return(results[0], sweep_config))
    return returns


def exit_status(failure: Any, idx: int) -> int:
    """The status a job's processes exited with, for the sweep to exit with, as a job run in
    the launching process would (hyrun's 75 for a preempted job, which ``resume=auto``
    continues); 1 when a process died of a signal."""
    rank, first = failure.get_first_failure()
    log.error("Job #%d: process %d exited with status %d; the sweep stops", idx, rank, first.exitcode)
    return first.exitcode if first.exitcode > 0 else 1


class TaskReference:
    """The task function, to be pickled for the processes by its module and name.

    ``@hydra.main`` replaces the function by its wrapper under the same name, so the
    function itself does not pickle; the wrapper does, and called with a config it runs the
    function on it (Hydra's config passthrough)."""

    def __init__(self, task_function: TaskFunction) -> None:
        self.module, self.name = task_function.__module__, task_function.__qualname__

    def __call__(self, cfg: DictConfig) -> Any:
        import importlib

        target: Any = importlib.import_module(self.module)
        for part in self.name.split("."):
            target = getattr(target, part)
        return target(cfg)


def _singletons() -> dict[Any, Any]:
    """Hydra's singletons for the processes, but its OmegaConf resolvers: they are local
    functions, which only cloudpickle could send; each process registers its own."""
    state = Singleton.get_state()
    del state["omegaconf_resolvers"]
    return state


def _run_rank(hydra_context: HydraContext, sweep_config: DictConfig, task_function: TaskFunction,
              singleton_state: dict[Any, Any]) -> dict[str, Any]:
    """One process of a job (the agent set RANK and the rest): rank 0 writes what Hydra
    writes (``.hydra/``, the job log); the other ranks run the same job silently."""
    import os

    from omegaconf.basecontainer import BaseContainer

    setup_globals()
    Singleton.set_state({**singleton_state, "omegaconf_resolvers": BaseContainer._resolvers})
    main = int(os.environ["RANK"]) == 0
    if not main:
        with open_dict(sweep_config):
            sweep_config.hydra.output_subdir = None
    HydraConfig.instance().set_config(sweep_config)
    ret = run_job(hydra_context=hydra_context, config=sweep_config, task_function=task_function,
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir",
                  configure_logging=main)
    # what the sweeper needs; the configs stay behind (their structured classes, imported
    # by Hydra's plugin scan, do not pickle back)
    return {"overrides": ret.overrides, "working_dir": ret.working_dir, "task_name": ret.task_name,
            "status": ret.status, "_return_value": ret._return_value}


def _job_return(result: dict[str, Any], sweep_config: DictConfig) -> JobReturn:
    task_cfg = sweep_config.copy()
    with open_dict(task_cfg):
        del task_cfg["hydra"]
    return JobReturn(cfg=task_cfg, hydra_cfg=sweep_config, **result)


def _logs_specs(log_dir: str | None, idx: int) -> Any:
    """Where the processes' output goes: the console, or files under ``log_dir/<job>``."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std

    if log_dir is None:
        return DefaultLogsSpecs(redirects=Std.NONE, tee=Std.NONE)
    return DefaultLogsSpecs(log_dir=str(Path(log_dir) / str(idx)), redirects=Std.ALL)
