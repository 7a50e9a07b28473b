"""Small building blocks for tests: hyrun's config composed in-process and trained, a tiny
model and data, and a hook that records calls."""
from __future__ import annotations

import logging

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hyrun.hooks.base import STAGES, Hook
from hyrun.hooks.optimizer import OptimizerHook


def composed(*overrides: str):
    """hyrun's config with ``overrides``, composed in this process as the command line would."""
    from hydra import compose, initialize_config_dir

    from hyrun.cli import config_dir
    from hyrun.config.store import register_configs

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("config", overrides=list(overrides))


class Published(Hook):
    """Every record a run publishes, in order: what the loggers get."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self.records: list[dict] = []

    def after_record(self, runner, record: dict) -> None:
        self.records.append(record)


def published(runner) -> list[dict]:
    """The list that fills with the records ``runner`` publishes from now on."""
    hook = Published()
    runner.register_hook(hook)
    return hook.records


def records_of(runner) -> list[dict]:
    """The records published by a runner that ``train`` ran."""
    return next(hook for hook in runner.hooks if isinstance(hook, Published)).records


def train(work_dir, *overrides: str):
    """A runner built from ``composed(*overrides)`` in ``work_dir``, run through its workflow
    (its records: ``records_of(runner)``)."""
    from hyrun.build import build_runner

    cfg = composed(*overrides)
    runner = build_runner(cfg, work_dir, logging.getLogger("hyrun.test"))
    published(runner)
    runner.run([tuple(p) for p in cfg.workflow.phases])
    return runner


def tiny_loaders(num_train: int = 10, num_val: int = 6, batch_size: int = 4) -> dict[str, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(num_train, 4, generator=generator), torch.randint(0, 3, (num_train,), generator=generator)
    xv, yv = torch.randn(num_val, 4, generator=generator), torch.randint(0, 3, (num_val,), generator=generator)
    return {"train": DataLoader(TensorDataset(x, y), batch_size=batch_size),
            "val": DataLoader(TensorDataset(xv, yv), batch_size=batch_size)}


def tiny_runner(runner_cls, work_dir, optimizer_hook: bool = True, **kwargs):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    runner = runner_cls(model, optimizer, tiny_loaders(), work_dir,
                        logger=logging.getLogger("hyrun.test"), **kwargs)
    if optimizer_hook:
        runner.register_hook(OptimizerHook())
    return runner


class Recorder(Hook):
    """Records (name, stage, epoch, iter, inner_iter) at every stage of the loop into a shared
    list (records and checkpoints are events of their own, not stages of the loop)."""

    def __init__(self, log: list, name: str = "rec", priority: int | str = "NORMAL") -> None:
        self.log, self.name, self.priority = log, name, priority


def _recording(stage: str):
    def method(self, runner, *args):
        self.log.append((self.name, stage, runner.epoch, runner.iter, runner.inner_iter))

    return method


for _stage in STAGES:
    if _stage in ("after_record", "before_save_checkpoint", "after_load_checkpoint"):
        continue
    setattr(Recorder, _stage, _recording(_stage))
