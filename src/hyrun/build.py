"""From a validated config to a runner with its hooks, in MMCV's registration order."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from hyrun.checkpoint import latest_checkpoint, load_weights, resume
from hyrun.config.schema import RunnerType, loader_defaults, resolve_by_epoch
from hyrun.data.loaders import build_loaders
from hyrun.distributed import local_device, rank, restart_count, world_size
from hyrun.hooks.base import Hook
from hyrun.hooks.logger.train_record import TrainRecordHook
from hyrun.hooks.progress import ProgressBarHook
from hyrun.hooks.timer import IterTimerHook
from hyrun.models.compile import CompileWarmupHook, compile_model, compile_settings
from hyrun.models.summary import KEY as SUMMARY_KEY
from hyrun.models.summary import describe as describe_model
from hyrun.models.summary import model_summary
from hyrun.optim.auto_scale_lr import scale_lr
from hyrun.optim.builder import build_optimizer
from hyrun.runner.base import Runner
from hyrun.runner.batch_limits import limit_batches
from hyrun.runner.epoch import EpochBasedRunner
from hyrun.runner.iter import IterBasedRunner
from hyrun.seeding import seed_everything

def build_runner(cfg: DictConfig, work_dir: str | Path, logger: logging.Logger | None = None) -> Runner:
    seed = cfg.seed if cfg.seed is not None else 0
    seed_everything(seed, cfg.deterministic)  # the same on every rank: equal initial weights
    device = local_device(cfg.device)

    loaders = limit_batches(build_data(cfg.data, seed), train=cfg.runner.limit_train_batches,
                            val=cfg.runner.limit_val_batches, overfit=cfg.runner.overfit_batches)
    model = instantiate(cfg.model).to(device)
    summary = model_summary(model)
    if world_size() > 1 and cfg.ddp.sync_batchnorm:
        from hyrun.models.ddp import sync_batchnorm

        model = sync_batchnorm(model, device)
    compiled = compile_settings(OmegaConf.to_container(cfg.compile) if OmegaConf.is_config(cfg.compile) else cfg.compile)
    if compiled is not None:
        compile_model(model, compiled)
    optimizer = build_optimizer(model, cfg.optimizer)
    scale_lr(optimizer, cfg.auto_scale_lr.enable, cfg.auto_scale_lr.base_batch_size, cfg.data.batch_size,
             world_size())
    runner_cls = EpochBasedRunner if cfg.runner.type == RunnerType.epoch else IterBasedRunner
    runner = runner_cls(
        model, optimizer, loaders, work_dir,
        max_epochs=cfg.runner.max_epochs if runner_cls is EpochBasedRunner else None,
        max_iters=cfg.runner.max_iters if runner_cls is IterBasedRunner else None,
        logger=logger, device=device, meta={"seed": seed, "config": OmegaConf.to_container(
            cfg, resolve=True, enum_to_str=True), "hydra": hydra_info(), SUMMARY_KEY: summary},
    )
    runner.logger.info("Model %s", describe_model(model, summary))
    for hook, priority in default_hooks(cfg, runner_cls.by_epoch):
        runner.register_hook(hook, priority)
    if compiled is not None:
        runner.register_hook(CompileWarmupHook())
        runner.logger.info("torch.compile: %s", compiled)
    if cfg.load_from:
        load_weights(runner, cfg.load_from)
    if cfg.resume:
        runner.resumed = True
        resume_from = latest_checkpoint(runner.work_dir / "checkpoints") if cfg.resume == "auto" else cfg.resume
        if resume_from is not None:
            resume(runner, resume_from)
        else:
            runner.logger.info("resume=auto: no checkpoint in %s, starting afresh", runner.work_dir / "checkpoints")
            if restart_count():
                runner.logger.warning("torchrun restarted the workers and %s holds no checkpoint: starting afresh "
                                      "(to continue where it stopped, a job needs a fixed hydra.run.dir and "
                                      "checkpoints)", runner.work_dir)
    if world_size() > 1:
        from hyrun.hooks.agree_on_stop import AgreeOnStopHook
        from hyrun.models.ddp import distributed_train_step

        runner.train_step = distributed_train_step(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=cfg.ddp.find_unused_parameters, broadcast_buffers=cfg.ddp.broadcast_buffers)
        runner.register_hook(AgreeOnStopHook())
        synced = sum(isinstance(module, torch.nn.SyncBatchNorm) for module in model.modules())
        runner.logger.info("DistributedDataParallel: %d processes, %s backend, %d samples a step%s",
                           world_size(), torch.distributed.get_backend(), world_size() * cfg.data.batch_size,
                           f", {synced} BatchNorm layers as SyncBatchNorm" if cfg.ddp.sync_batchnorm else "")
    return runner


def hydra_info() -> dict[str, Any]:
    """What the loggers tell about the job: name, overrides, output and sweep dirs, choices."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return {}
    hydra = HydraConfig.get()
    return {
        "job_name": hydra.job.name,
        "overrides": list(hydra.overrides.task),
        "output_dir": hydra.runtime.output_dir,
        "cwd": hydra.runtime.cwd,  # the folder hyrun was started from
        "mode": str(hydra.mode.name if hydra.mode is not None else "RUN"),
        "sweep_dir": hydra.sweep.dir if hydra.mode is not None and hydra.mode.name == "MULTIRUN" else None,
        "job_num": hydra.job.get("num"),
        "choices": {k: v for k, v in hydra.runtime.choices.items() if not k.startswith("hydra/")},
    }


def build_data(data_cfg: DictConfig, seed: int) -> dict[str, Any]:
    """Datasets from the data node's own fields, batched as its loader fields say (per
    process: under DDP a step sees ``batch_size`` times the number of processes); a loader
    field the node lacks has its default."""
    data = OmegaConf.to_container(data_cfg, resolve=True)
    loader_kwargs = {key: data.pop(key, default) for key, default in loader_defaults().items()}
    datasets = instantiate(data)
    return build_loaders(datasets, seed=seed, num_replicas=world_size(), rank=rank(), **loader_kwargs)


def topk_rule(cfg: DictConfig) -> str | None:
    """``checkpoint_config.rule``, else the one the top-k metric declares or its name says."""
    checkpoint = cfg.checkpoint_config
    if checkpoint.rule is not None or not checkpoint.topk or cfg.evaluation is None:
        return checkpoint.rule
    from hyrun.metrics import metric_rule

    return metric_rule(checkpoint.topk_metric, cfg.evaluation.metric)


def default_hooks(cfg: DictConfig, runner_by_epoch: bool) -> list[tuple[Hook, Any]]:
    """The hooks a config asks for, in MMCV's registration order: lr, momentum, optimizer,
    checkpoint, timer, train records and loggers, evaluation, then the ``hooks`` group and
    ``custom_hooks``; each stands where its priority says (``hyrun.hooks.priority.Order``).
    ``by_epoch`` as ``resolve_by_epoch`` says."""

    def counts_epochs(node: DictConfig) -> bool:
        return resolve_by_epoch(node.by_epoch, runner_by_epoch)

    hooks: list[tuple[Hook, Any]] = []
    for schedule in (cfg.lr_config, cfg.momentum_config):
        if schedule is not None:
            by_epoch = resolve_by_epoch(schedule.by_epoch, runner_by_epoch, own_default=None)
            hooks.append((instantiate(schedule, by_epoch=by_epoch, _convert_="all"), None))
    if cfg.param_scheduler:
        from hyrun.hooks.param_scheduler import ParamSchedulerHook

        hooks.append((ParamSchedulerHook(OmegaConf.to_container(cfg.param_scheduler, resolve=True)), None))
    hooks.append((instantiate(cfg.optimizer_config, _convert_="all"), None))
    if cfg.checkpoint_config is not None:
        hooks.append((instantiate(cfg.checkpoint_config, by_epoch=counts_epochs(cfg.checkpoint_config),
                                  rule=topk_rule(cfg)), None))
    hooks.append((IterTimerHook(), None))
    log = cfg.log_config
    hooks.append((TrainRecordHook(log.interval, by_epoch=counts_epochs(log), ignore_last=log.ignore_last), None))
    for logger_cfg in cfg.logger.values():
        hooks.append((instantiate(logger_cfg), None))
    show_bar = log.progress_bar if log.progress_bar is not None else sys.stderr.isatty()
    if show_bar:
        hooks.append((ProgressBarHook(), None))
    if cfg.evaluation is not None:
        hooks.append((instantiate(cfg.evaluation, by_epoch=counts_epochs(cfg.evaluation), _convert_="all"), None))
    for section in (cfg.hooks, cfg.custom_hooks):
        for hook_cfg in section.values():
            hook_cfg = OmegaConf.to_container(hook_cfg, resolve=True)
            priority = hook_cfg.pop("priority", None)
            hooks.append((instantiate(hook_cfg), priority))
    return hooks
