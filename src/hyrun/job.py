"""One job, as ``python -m hyrun`` runs it: validate, build, run, report.

Only the standard library, OmegaConf and Hydra's ``HydraConfig`` are imported here; torch comes
in when a run is built.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from hyrun.config.errors import exit_with


def train(cfg: DictConfig) -> float | dict | None:
    """One job, as ``python -m hyrun`` runs it (README "Your own project"): the config
    validated, its tree printed, the run built and run, a stop by a signal (exit status 75)
    or the end reported, ``finished.json``; returns the last evaluated value of the first
    metric (what a sweeper gets), None without evaluation; a trial of hyrun's Optuna sweeper
    returns its outcome (``hyrun.tuning.trial``).

    In a Hydra app's job (``@hydra.main``) a bad config ends the process as on the command
    line (``Error in config: ...``, exit status 2); elsewhere (a config from ``hyrun.compose``,
    in a notebook or a script) it raises ``ConfigError``, and the job gets the output dir,
    ``.hydra/`` and log file that Hydra would have made (``hyrun.outside_hydra``).
    """
    from hyrun.outside_hydra import composition_of, outside_hydra
    from hyrun.trusted_targets import trusting

    composed = composition_of(cfg)
    with trusting(cfg.custom_imports, cfg):  # around validation too: it builds the parts
        if composed is None and HydraConfig.initialized():  # a Hydra app's job: Hydra made its dir and log
            validated(cfg)
            return _in_process_group(cfg, HydraConfig.get().runtime.output_dir, in_hydra_app=True)
        from hyrun.config.validate import validate

        with outside_hydra(cfg, composed) as output_dir:  # as Hydra, before the job: ${hydra:...} resolves
            validate(cfg)
            return _in_process_group(cfg, output_dir, in_hydra_app=False)


def _in_process_group(cfg: DictConfig, output_dir: str, in_hydra_app: bool) -> float | dict | None:
    from hyrun.checkpoint import EXIT_SAVE_FAILED, CheckpointSaveError
    from hyrun.config.errors import EXIT_CONFIG_ERROR, ConfigError
    from hyrun.distributed import process_group
    from hyrun.models.steps import StepError
    from hyrun.tuning.trial import current_trial

    try:
        with process_group():  # a no-op for one process
            return run_job(cfg, output_dir)
    except CheckpointSaveError as error:  # disk full, a file-size limit: one line, not a traceback
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        logging.getLogger("hyrun").error("checkpoint save failed: %s", error)
        sys.exit(EXIT_SAVE_FAILED)
    except (ConfigError, StepError) as error:  # a dir that holds a run; what the default step cannot take
        if not in_hydra_app or os.environ.get("HYDRA_FULL_ERROR") == "1" or current_trial() is not None:
            raise  # a trial's fails that trial, not the search
        if isinstance(error, ConfigError):
            exit_with(str(error))
        logging.getLogger("hyrun").error("%s", error)  # in the log too: it is the run's own first step
        sys.exit(EXIT_CONFIG_ERROR)


def run_job(cfg: DictConfig, output_dir: str) -> float | dict | None:
    """The run of one job (of this process's rank under DDP) in ``work_dir``, else in
    ``output_dir`` (Hydra's), unless it finished before."""
    from hyrun.build import build_runner
    from hyrun.config.tree import print_config_tree
    from hyrun.distributed import is_main, restart_count, world_size
    from hyrun.finished import finished_result, mark_finished
    from hyrun.hooks.last_evaluation import LastEvaluationHook
    from hyrun.metrics import metric_names
    from hyrun.records import record_values
    from hyrun.run_dir import check_run_dir
    from hyrun.tuning.trial import current_trial, outcome_of

    logger = logging.getLogger("hyrun")
    if restart_count() and not cfg.resume:
        cfg.resume = "auto"  # torchrun restarted the workers: this attempt continues the last
        logger.warning("torchrun restarted the workers (attempt %d): resume=auto", restart_count() + 1)
    work_dir = Path(cfg.work_dir or agreed_output_dir(output_dir))
    check_run_dir(cfg, work_dir, logger)
    if is_main():
        print_config_tree(cfg, output_dir)
    else:
        logger.setLevel(logging.WARNING)  # rank 0 tells the story; the others only what goes wrong
    metric = metric_names(cfg.evaluation.metric)[0] if cfg.evaluation is not None else None
    trial = current_trial()
    if cfg.resume == "auto" and (done := finished_result(work_dir, cfg)) is not None:
        logger.info("resume=auto: this run finished before (%s); leaving it alone", done.describe())
        return done.value if trial is None else outcome_of(done)
    if trial is not None:
        from hyrun.tuning.trial import add_mlflow_tags

        add_mlflow_tags(cfg, trial)
    runner = build_runner(cfg, work_dir, logger)
    last = LastEvaluationHook(metric) if metric is not None else None
    if last is not None:
        runner.register_hook(last)
    if trial is not None:
        from hyrun.hooks.trial_pruning import register_pruning

        register_pruning(runner, cfg, trial)
    logger.info("Hooks, in run order: %s", runner.hook_info(by_stage=False))
    logger.debug("Hooks by stage, in run order:\n%s", runner.hook_info())
    from hyrun.collector import while_training
    from hyrun.preemption import EXIT_PREEMPTED, preempted, stop_on_signals

    with while_training(), stop_on_signals(runner, agree=world_size() > 1):
        runner.run([tuple(phase) for phase in cfg.workflow.phases])
    from hyrun.checkpoint import EXIT_SAVE_FAILED, SAVE_FAILED

    if runner.stop_reason == SAVE_FAILED:  # under DDP, a rank that does not write: rank 0 says why
        logger.error("Stopped at iter %d: rank 0 could not save a checkpoint", runner.iter)
        sys.exit(EXIT_SAVE_FAILED)
    if preempted(runner):
        logger.warning("Stopped by %s at epoch %d, iter %d; resume=auto continues from %s", runner.stop_reason,
                       runner.epoch + 1, runner.iter, runner.work_dir / "checkpoints" / "latest.pth")
        sys.exit(EXIT_PREEMPTED)
    last_record = last.record if last is not None else None
    value = report(runner, logger, metric, last_record)
    done = mark_finished(runner, cfg, metric, value, record_values(last_record) if last_record else None)
    return value if trial is None else outcome_of(done)


def agreed_output_dir(own: str) -> str:
    """The job's output dir, rank 0's on every rank: ranks started a second apart would
    otherwise resolve ``${now:...}`` to different dirs. Another rank's ``own`` dir, which Hydra
    made and left empty (see ``hyrun.cli.prepare``), is removed."""
    from hyrun.distributed import broadcast_object

    agreed = broadcast_object(own)
    if agreed != own:
        try:
            os.rmdir(own)
        except OSError:
            pass
    return agreed


def report(runner, logger: logging.Logger, metric: str | None, last: dict | None) -> float | None:
    """Say where the run ended: the ``last`` evaluation's metrics; return its ``metric``."""
    if last is None or metric is None:
        logger.info("Done: %d epochs, %d iterations. Outputs in %s", runner.epoch, runner.iter, runner.work_dir)
        return None
    from hyrun.records import record_values

    values = record_values(last)
    summary = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
    logger.info("Final val %s (epoch %d, iter %d). Outputs in %s", summary, last["epoch"], last["iter"],
                runner.work_dir)
    return last[metric]


def validated(cfg: DictConfig) -> None:
    """Stop with a short message (README, "Choosing and overriding") if the composed config is not valid."""
    from hyrun.config.errors import ConfigError
    from hyrun.config.validate import validate
    from hyrun.tuning.trial import current_trial

    try:
        validate(cfg)
    except ConfigError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1" or current_trial() is not None:
            raise  # a trial's bad value fails that trial (Hydra keeps the error), not the whole search
        exit_with(str(error))
