"""A sweep's parent run in MLflow: one per ``-m`` sweep, its jobs' runs nested under it.

Registered in the primary config (``conf/config.yaml``)::

    hydra:
      callbacks:
        mlflow_sweep:
          _target_: hyrun.tracking.callback.MlflowSweepCallback

or on the command line: ``+hydra.callbacks.mlflow_sweep._target_=hyrun.tracking.callback.MlflowSweepCallback``.

At multirun start, when the MLflow logger is selected (``logger=[...,mlflow]``), the callback
writes ``<sweep dir>/mlflow_parent_run.json`` (``status: pending``, the swept keys) and starts a
tracking worker (``hyrun.tracking.worker``, role "sweep") that creates the parent run (named
``<job name> sweep <sweep dir>``, tagged with the sweep's overrides) and then writes its id
there (``status: ready``). Each job's worker waits for that file and starts its run with
``mlflow.parentRunId`` set to the parent's id (never through MLFLOW_RUN_ID); the hook names the
job's run after its overrides of the swept keys. Being a file in the sweep dir, this works
alike for jobs run in this process (the basic launcher), in other processes
(``hydra/launcher=joblib``, ``submitit_local``) and on other machines (``submitit_slurm``,
the sweep dir on a shared file system). At multirun end the parent run is ended (FINISHED);
if this process dies first, its worker ends it as FAILED. A sweep re-run with ``resume=auto``
and the same sweep dir continues the parent run that file names (RUNNING again, FINISHED at
the end), so the jobs it leaves alone and those it resumes (each continuing its own run,
``hyrun.hooks.logger.mlflow``) stay under one parent.

Cheap when MLflow is not selected: nothing but a look at the config (no mlflow import); the
worker makes the parent in the background, so the jobs start at once.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hyrun.tracking import DEFAULT_EXPERIMENT, WORKER_LOG, parent_file, resolve_tracking_uri
from hyrun.tracking.protocol import SWEEP, end_message, last_summary
from hyrun.tracking.state_file import read_json, worker_of, write_json_atomic

log = logging.getLogger("hyrun")


def swept_keys(overrides: list[str], sweeper_params: Any = None) -> list[str]:
    """The keys a sweep varies: its sweep overrides (``a=1,2``, ``range(...)``, ``choice(...)``)
    and the basic sweeper's ``hydra.sweeper.params``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys: list[str] = []
    parser = OverridesParser.create()
    for override in parser.parse_overrides([str(o) for o in overrides]):
        if override.is_sweep_override():
            keys.append(override.key_or_group)
    for key in (sweeper_params or {}):
        if str(key) not in keys:
            keys.append(str(key))
    return keys


class MlflowSweepCallback(Callback):
    def __init__(self, end_timeout: float = 30.0) -> None:
        self.end_timeout = end_timeout
        self._channel = None
        self._parent_file: Path | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Hydra's joblib launcher pickles the callbacks into its worker processes: the pipe stays here.
        return {"end_timeout": self.end_timeout, "_channel": None, "_parent_file": None}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            logger_node = OmegaConf.select(config, "logger")
            if not logger_node or "mlflow" not in logger_node:
                return
            self._start(config, logger_node.mlflow)
        except Exception as error:  # noqa: BLE001 - tracking never stops a sweep
            log.warning("MLflow: no sweep parent run (%s: %s); the jobs' runs are not nested",
                        type(error).__name__, error)

    def _start(self, config: DictConfig, settings: DictConfig) -> None:
        from hyrun.tracking.channel import WorkerChannel
        from hyrun.tracking.settings import WorkerSettings

        launch_dir = os.getcwd()  # Hydra has not changed it (and hyrun sets hydra.job.chdir=false)
        sweep_dir = str(config.hydra.sweep.dir)
        overrides = [str(o) for o in OmegaConf.to_container(config.hydra.overrides.task, resolve=False)]
        keys = swept_keys(overrides, OmegaConf.select(config, "hydra.sweeper.params"))
        uri = resolve_tracking_uri(settings.get("tracking_uri"), launch_dir)
        experiment = settings.get("experiment_name") or config.hydra.job.name or DEFAULT_EXPERIMENT
        path = parent_file(sweep_dir, launch_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        # a resumed sweep (resume=auto, the same sweep dir) continues the parent run it had
        earlier = (read_json(path) or {}) if OmegaConf.select(config, "resume") else {}
        same_store = earlier.get("tracking_uri") == uri and earlier.get("experiment_name") == experiment
        continued = earlier.get("run_id") if same_store else None
        # host: the jobs on other machines (submitit on SLURM) cannot check the worker's pid
        info = {"status": "pending", "pid": None, "host": socket.gethostname(), "tracking_uri": uri,
                "experiment_name": experiment, "swept_keys": keys, "sweep_dir": sweep_dir}
        write_json_atomic(path, info)
        self._parent_file = path
        user_tags = settings.get("tags") or {}
        if isinstance(user_tags, DictConfig):
            user_tags = OmegaConf.to_container(user_tags, resolve=True)
        tags = {"hydra.overrides": " ".join(overrides), "hydra.sweep_dir": sweep_dir,
                "hyrun.swept_keys": ",".join(keys), **{str(k): str(v) for k, v in user_tags.items()}}
        settings = WorkerSettings(role=SWEEP, tracking_uri=uri, experiment_name=experiment,
                                  run_name=f"{config.hydra.job.name} sweep {sweep_dir}", tags=tags, config=None,
                                  overrides=overrides, parent_file=str(path), system_metrics=False, cwd=launch_dir,
                                  continue_run=continued is not None, run_id=continued, start_time=time.time(),
                                  predecessor=worker_of(earlier) if continued else None)
        self._channel = WorkerChannel(settings.to_message(), cwd=launch_dir, log_path=path.parent / WORKER_LOG)
        if not self._channel.ok:
            info["status"] = "failed"
            write_json_atomic(path, info)
            log.warning("MLflow: no sweep parent run: %s", self._channel.dead_reason)
            return
        current = read_json(path) or {}
        if current.get("status") == "pending":  # (the worker takes seconds to write anything itself)
            write_json_atomic(path, {**current, "pid": self._channel.proc.pid})
        log.info("MLflow: %s the sweep's parent run in %s, experiment %r (worker log %s)",
                 "continuing" if continued else "making", uri, experiment, self._channel.log_path)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        channel, self._channel = self._channel, None
        if channel is None:
            return
        try:
            summary = last_summary(channel.finish(end_message("FINISHED", self.end_timeout), self.end_timeout + 5.0))
            if summary is None or summary.run_id is None or not summary.terminated:
                reason = (summary and (summary.last_error or summary.fatal)) or channel.dead_reason
                log.warning("MLflow: the sweep's parent run was not made or not ended (%s); see %s", reason,
                            channel.log_path)
            else:
                log.info("MLflow: sweep parent run %r (%s) in %s", summary.run_name, summary.run_id,
                         summary.tracking_uri)
        except Exception as error:  # noqa: BLE001
            log.warning("MLflow: ending the sweep's parent run failed (%s: %s)", type(error).__name__, error)

