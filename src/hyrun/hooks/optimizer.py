"""The optimizer step as a hook (MMCV's OptimizerHook family in one): backward, gradient
clipping, gradient accumulation, mixed precision, and a check for parameters that get no
gradient."""
from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order



class OptimizerHook(Hook):
    """``grad_clip``: ``{type: norm, max_norm, norm_type}`` (``grad_norm`` is logged) or
    ``{type: value, clip_value}``. ``cumulative_iters``: sum the gradients of that many
    iterations before a step, each loss divided by it; the last ``max_iters %
    cumulative_iters`` iterations divide by that remainder (MMCV's
    GradientCumulativeOptimizerHook). ``amp``: ``{dtype, loss_scale}`` autocasts the step's
    forward; float16 scales the loss (``dynamic``, a number for a static scale, or GradScaler's
    arguments as a mapping, as MMCV's Fp16OptimizerHook), bfloat16 needs no scaling.
    ``detect_anomalous_params``: log the parameters the loss does not depend on. A step a hook
    dropped with ``runner.skip_step()`` (the NaN guard) is skipped, its gradients zeroed."""

    priority = Order.OPTIMIZER_STEP

    def __init__(self, grad_clip: dict[str, Any] | None = None, cumulative_iters: int = 1,
                 amp: dict[str, Any] | None = None, detect_anomalous_params: bool = False) -> None:
        self.grad_clip = dict(grad_clip) if grad_clip else None
        if cumulative_iters < 1:
            raise ValueError(f"cumulative_iters must be >= 1, got {cumulative_iters}")
        self.cumulative_iters = cumulative_iters
        self.amp = dict(amp) if amp else None
        self.detect_anomalous_params = detect_anomalous_params
        self.scaler: torch.amp.GradScaler | None = None
        self._scaler_state: dict | None = None  # from a checkpoint loaded before the run
        self._static_scale: float | None = None
        self._autocast = None

    # -- set-up ------------------------------------------------------------------------
    def before_run(self, runner) -> None:
        self._params = [p for p in runner.model.parameters() if p.requires_grad]
        self._clip = _clipper(self.grad_clip)
        divisible = runner.max_iters // self.cumulative_iters * self.cumulative_iters
        self._remainder_from, self._remainder = divisible, runner.max_iters - divisible
        if self.cumulative_iters > 1:
            if runner.iter % self.cumulative_iters:
                runner.logger.warning("Resumed at iter %d, not a multiple of cumulative_iters=%d: the first "
                                      "steps accumulate fewer iterations", runner.iter, self.cumulative_iters)
            if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in runner.model.modules()):
                runner.logger.warning("cumulative_iters=%d with BatchNorm: its statistics see single batches",
                                      self.cumulative_iters)
        if self.amp is not None:
            self._set_up_amp(runner)
        runner.optimizer.zero_grad(set_to_none=True)

    def _set_up_amp(self, runner) -> None:
        device = runner.device.type
        dtype = self.amp.get("dtype", "auto")
        if dtype == "auto":
            dtype = "float16" if device == "cuda" else "bfloat16"
        if dtype not in ("float16", "bfloat16"):
            raise ValueError(f"amp.dtype must be auto, float16 or bfloat16, got {dtype!r}")
        self._autocast_args = {"device_type": device, "dtype": getattr(torch, dtype)}
        if dtype == "float16":
            scale = self.amp.get("loss_scale", "dynamic")
            if scale == "dynamic":
                kwargs: dict[str, Any] = {}
            elif isinstance(scale, (int, float)):  # static: reset to it after every step (as MMCV)
                self._static_scale = float(scale)
                kwargs = {"init_scale": float(scale)}
            else:
                kwargs = dict(scale)
            self.scaler = torch.amp.GradScaler(device, **kwargs)
            if self._scaler_state:
                self.scaler.load_state_dict(self._scaler_state)

    def stages(self) -> list[str]:
        stages = super().stages()
        return stages if self.amp is not None else [s for s in stages if s != "before_train_iter"]

    # -- each iteration ----------------------------------------------------------------
    def before_train_iter(self, runner) -> None:
        if self.amp is not None:
            self._autocast = torch.autocast(**self._autocast_args)
            self._autocast.__enter__()

    def after_train_iter(self, runner) -> None:
        if self._autocast is not None:  # the forward is done: backward runs outside autocast
            self._autocast.__exit__(None, None, None)
            self._autocast = None
        if runner.step_skipped:  # a hook (the NaN guard) judged this step unsafe
            runner.optimizer.zero_grad(set_to_none=True)
            return
        loss = runner.outputs["loss"]
        if self.detect_anomalous_params:
            self._log_params_outside_graph(loss, runner)
        if self.cumulative_iters > 1:
            loss = loss / (self.cumulative_iters if runner.iter < self._remainder_from else self._remainder)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()
        if self.cumulative_iters > 1 and not (self.every_n_iters(runner, self.cumulative_iters)
                                              or self.is_last_iter(runner)):
            return
        optimizer = runner.optimizer
        if self._clip is not None:
            if self.scaler is not None:
                self.scaler.unscale_(optimizer)
            grad_norm = self._clip(self._params)
            if grad_norm is not None:
                runner.log_buffer.update({"grad_norm": grad_norm})
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update(self._static_scale)
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # -- state ---------------------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.scaler is not None:
            checkpoint.setdefault("hooks", {})["OptimizerHook"] = {"scaler": self.scaler.state_dict()}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("hooks", {}).get("OptimizerHook")
        if state:
            self._scaler_state = state["scaler"]
            if self.scaler is not None:
                self.scaler.load_state_dict(self._scaler_state)

    @staticmethod
    def _log_params_outside_graph(loss: torch.Tensor, runner) -> None:
        """MMCV's detect_anomalous_params: walk the graph from the loss, name what it misses."""
        in_graph, seen, stack = set(), set(), [loss.grad_fn]
        while stack:
            fn = stack.pop()
            if fn is None or fn in seen:
                continue
            seen.add(fn)
            if hasattr(fn, "variable"):
                in_graph.add(fn.variable)
            stack.extend(parent for parent, _ in fn.next_functions)
        for name, param in runner.model.named_parameters():
            if param.requires_grad and param not in in_graph:
                runner.logger.log(logging.ERROR, f"{name} with shape {tuple(param.shape)} is not in the "
                                                 "computational graph")


def _clipper(grad_clip: dict[str, Any] | None):
    """A function clipping the given parameters' gradients; returns the total norm for norm clipping."""
    if grad_clip is None:
        return None
    kind = getattr(grad_clip.get("type", "norm"), "value", grad_clip.get("type", "norm"))  # an Enum or its name
    if kind == "norm":
        max_norm, norm_type = grad_clip["max_norm"], grad_clip.get("norm_type", 2.0)

        def clip(params):
            params = [p for p in params if p.grad is not None]
            return clip_grad_norm_(params, max_norm, norm_type) if params else None
        return clip
    if kind == "value":
        clip_value = grad_clip["clip_value"]

        def clip_values(params):
            clip_grad_value_([p for p in params if p.grad is not None], clip_value)
        return clip_values
    raise ValueError(f"grad_clip.type must be norm or value, got {kind!r}")
