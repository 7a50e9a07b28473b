"""State and hook dispatch shared by the epoch-based and the iteration-based runner.

The surface hooks use (documented in README, "Writing a hook"):
  model, optimizer, data_loaders, data_loader (the current phase's), work_dir, logger,
  mode ("train" | "val"), epoch, iter, inner_iter, max_epochs, max_iters, iters_per_epoch,
  data_batch, outputs (what the step returned), log_buffer (per-iteration values of the
  current phase; log_buffers: by phase),
  publish(record) (to every hook's after_record), resumed (this run continues an earlier
  attempt: records past the starting ``iter`` are that attempt's), should_stop and stop_reason,
  skip_step() / step_skipped (this iteration's optimizer step is to be dropped),
  current_lr(), current_momentum(), register_hook(), hook_info().
The runner knows no particular hook: optimization, timing, logging, evaluation and
checkpoints are all hooks.
"""
from __future__ import annotations

import bisect
import inspect
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hyrun.distributed import is_main, mean_over_ranks
from hyrun.hooks.base import STAGES, Hook
from hyrun.hooks.priority import Priority, get_priority, priority_name
from hyrun.models.steps import DefaultStep, default_train_step, default_val_step
from hyrun.optim.param_groups import get_momentum
from hyrun.records import TRAIN, VAL
from hyrun.runner.log_buffer import LogBuffer

Workflow = Iterable[tuple[str, int]]


class Runner:
    by_epoch: bool = True  # whether max_epochs (epoch runner) or max_iters (iter runner) rules

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer | None,
        data_loaders: Mapping[str, Any],
        work_dir: str | Path,
        *,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        logger: logging.Logger | None = None,
        device: torch.device | str = "cpu",
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.data_loaders = dict(data_loaders)
        self.work_dir = Path(work_dir)
        self.logger = logger or logging.getLogger("hyrun")
        self.device = torch.device(device)
        self.meta = dict(meta or {})
        self.train_step: Callable[[Any], dict] = getattr(model, "train_step", None) or DefaultStep(
            model, default_train_step)
        self.val_step: Callable[[Any], dict] = getattr(model, "val_step", None) or DefaultStep(
            model, default_val_step)
        self._max_epochs = max_epochs
        self._max_iters = max_iters

        self.mode: str | None = None
        self.epoch = 0  # finished training epochs
        self.iter = 0  # finished training iterations
        self.inner_iter = 0  # index of the current iteration in its epoch
        self.iters_per_epoch = 0  # length of the current phase's loader
        self.data_loader: Any = None
        self.data_batch: Any = None
        self.outputs: dict[str, Any] = {}
        self.should_stop = False  # set by a hook (early stopping, time limit, signal) to end the run
        self.stop_reason: str | None = None  # why, when a hook or a signal says
        self.step_skipped = False  # this iteration's optimizer step is dropped (skip_step)
        self.resume_inner_iter = 0  # finished iterations of the current epoch, for a resumed run
        # this run continues an earlier attempt in its work dir (``resume``): what that attempt
        # recorded past the ``iter`` this run starts at is repeated now, and loggers rewind it
        self.resumed = False
        # train values run on across epochs (a logger's window may span two); a val phase's
        # values are its own
        self.log_buffers = {TRAIN: LogBuffer(keep=1), VAL: LogBuffer()}
        self.log_buffer = self.log_buffers[TRAIN]

        self._hooks: list[Hook] = []
        self._dispatch: dict[str, list[Callable]] = {stage: [] for stage in STAGES}

    # -- counters ------------------------------------------------------------------------
    @property
    def max_epochs(self) -> int:
        if self._max_epochs is not None:
            return self._max_epochs
        per_epoch = len(self.data_loaders["train"])
        return -(-self.max_iters // per_epoch)

    @property
    def max_iters(self) -> int:
        if self._max_iters is not None:
            return self._max_iters
        return self.max_epochs * len(self.data_loaders["train"])

    # -- hooks -------------------------------------------------------------------------
    @property
    def hooks(self) -> list[Hook]:
        return list(self._hooks)

    def register_hook(self, hook: Hook, priority: int | str | Priority | None = None) -> None:
        """Add ``hook``; lower priority runs first, equal priorities in registration order.
        A ``main_process_only`` hook is left out on the ranks other than 0."""
        if hook.main_process_only and not is_main():
            return
        if priority is not None:
            hook.priority = get_priority(priority)
        else:
            hook.priority = get_priority(getattr(hook, "priority", Priority.NORMAL))
        keys = [h.priority for h in self._hooks]
        self._hooks.insert(bisect.bisect_right(keys, hook.priority), hook)
        self._dispatch = {
            stage: [getattr(h, stage) for h in self._hooks if stage in h.stages()]
            for stage in STAGES
        }

    def call_hook(self, stage: str, *args: Any) -> None:
        for method in self._dispatch[stage]:
            method(self, *args)

    def hook_info(self, by_stage: bool = True) -> str:
        """Each stage's hooks in run order with their priorities (MMCV's get_hook_info); with
        ``by_stage=False`` one line: the hooks in priority order (the order of every stage)."""
        if not by_stage:
            return ", ".join(f"{type(hook).__name__} ({hook.priority})" for hook in self._hooks)
        lines = []
        for stage in STAGES:
            hooks = [h for h in self._hooks if stage in h.stages()]
            if not hooks:
                continue
            lines.append(f"{stage}:")
            for hook in hooks:
                name = priority_name(hook.priority)
                lines.append(f"  ({hook.priority:<3d} {name:<12s}) {type(hook).__name__}")
        return "\n".join(lines)

    def _end_run(self) -> None:
        """``after_run``, the hooks' clean-up: each hook's runs even when an earlier one raised
        (a checkpoint that could not be written), so loggers still close their files and runs;
        the first error is raised after them."""
        first: Exception | None = None
        for method in self._dispatch["after_run"]:
            try:
                method(self)
            except Exception as error:
                if first is not None:
                    self.logger.error("%s.after_run failed too: %s: %s", type(method.__self__).__name__,
                                      type(error).__name__, error)
                first = first or error
        if first is not None:
            raise first

    # -- what hooks read and write -----------------------------------------------------
    def current_lr(self) -> list[float]:
        if self.optimizer is None:
            raise RuntimeError("lr is not applicable: the runner has no optimizer")
        return [group["lr"] for group in self.optimizer.param_groups]

    def current_momentum(self) -> list[float] | None:
        """SGD's momentum or the first of Adam-style betas per group; None when neither exists."""
        if self.optimizer is None:
            return None
        momenta = [get_momentum(group) for group in self.optimizer.param_groups]
        return None if None in momenta else momenta

    def publish(self, record: dict[str, Any]) -> None:
        """Hand a whole record (``mode``, ``epoch``, ``iter`` and values) to every hook's
        ``after_record``, at once and in priority order."""
        for method in self._dispatch["after_record"]:
            method(self, record)

    def skip_step(self) -> None:
        """Drop this training iteration's optimizer step (a hook judged it unsafe, as the NaN
        guard does): the optimizer hook then zeroes the gradients instead of stepping."""
        self.step_skipped = True

    # -- phases --------------------------------------------------------------------------
    def run(self, workflow: Workflow) -> None:
        raise NotImplementedError

    def _start_epoch(self, phase: str) -> None:
        self.mode = phase
        self.data_loader = self.data_loaders[phase]
        self.iters_per_epoch = len(self.data_loader)
        self.log_buffer = self.log_buffers[phase]
        if phase == "val":
            self.log_buffer.clear()

    def _train_batches_of_epoch(self) -> Iterator[Any]:
        """This training epoch's batches; for a resumed run, those it has not seen yet
        (``inner_iter`` is set to the first one's index)."""
        skip, self.resume_inner_iter = self.resume_inner_iter, 0
        self.inner_iter = skip
        return epoch_batches(self.data_loader, self.epoch, skip)

    def _train_iter(self, batch: Any) -> None:
        self.data_batch = batch = self.to_device(batch)
        self.step_skipped = False
        for method in self._dispatch["before_train_iter"]:
            method(self)
        self.outputs = outputs = self.train_step(batch)
        self.log_buffer.update(outputs.get("log_vars") or {"loss": outputs["loss"].detach()})
        for method in self._dispatch["after_train_iter"]:
            method(self)
        self.iter += 1

    @torch.no_grad()
    def _val_iter(self, batch: Any) -> None:
        self.data_batch = batch = self.to_device(batch)
        for method in self._dispatch["before_val_iter"]:
            method(self)
        self.outputs = outputs = self.val_step(batch)
        self.log_buffer.update(outputs.get("log_vars") or {"loss": outputs["loss"].detach()})
        for method in self._dispatch["after_val_iter"]:
            method(self)

    def _finish_val(self) -> None:
        """Publish the val phase's mean values (its loss; under DDP over every rank's
        batches) and fire after_val_epoch."""
        batches = max((len(values) for values in self.log_buffer.history.values()), default=0)
        values = mean_over_ranks(self.log_buffer.mean(), weight=batches)
        self.publish({"mode": VAL, "epoch": self.epoch, "iter": self.iter, **values})
        self.call_hook("after_val_epoch")

    def to_device(self, batch: Any) -> Any:
        """The batch on the runner's device (a no-op on CPU)."""
        if self.device.type == "cpu":
            return batch
        return _move(batch, self.device)


def epoch_batches(loader: Any, epoch: int, skip: int = 0) -> Iterator[Any]:
    """The batches of training epoch ``epoch`` after the first ``skip``. A sampler with
    ``set_epoch`` gets the epoch (its order may depend on it); one whose ``set_epoch`` takes
    ``start`` begins there, any other loader is read past the skipped batches."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        batch_size = getattr(loader, "batch_size", None)
        if skip and batch_size and "start" in inspect.signature(sampler.set_epoch).parameters:
            sampler.set_epoch(epoch, start=skip * batch_size)
            # the epoch still ends at len(loader): a limited loader (runner.limit_train_batches)
            # would otherwise count its limit from the resume point
            return itertools.islice(iter(loader), len(loader) - skip)
        sampler.set_epoch(epoch)
    batches = iter(loader)
    return itertools.islice(batches, skip, None) if skip else batches


def _move(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _move(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(v, device) for v in batch)
    return batch
