"""Exponential moving average of the model's parameters (MMCV 1.x's EMAHook).

Why buffers on the model. As in MMCV, each parameter ``a.b`` gets a buffer ``ema_a_b`` on
the (unwrapped) model, so the averages travel in ``state_dict`` with the weights: every
checkpoint carries them and a resume restores them with no extra file.

The update, MMCV's exactly. In ``after_train_iter`` (after the optimizer step: the hook
stands at ``Order.AVERAGE_WEIGHTS``), with ``t = runner.iter`` (finished iterations, so 0 in the first one)::

    m = min(momentum ** interval, (1 + t) / (warm_up + t))
    if t % interval == 0:  ema = (1 - m) * ema + m * param

Reproduced quirks: the momentum is raised to the power ``interval`` (MMCV's
``self.momentum = momentum ** interval``, not ``1 - (1 - momentum) ** interval``), and an
update happens in iterations 1, 1 + interval, ... (``t % interval == 0``). The warm-up only
ever lowers the momentum: ``(1 + t) / (warm_up + t)`` grows from ``1 / warm_up`` to 1.

The swap. ``after_train_epoch`` copies the averages into the parameters (and the live
weights into the buffers); ``before_train_epoch`` swaps back, so training always continues
from the live weights while what runs after this hook at the end of an epoch sees the EMA
weights: evaluation and the workflow's val phase evaluate them, and CheckpointHook saves
them as the checkpoint's weights (with the live weights in the ``ema_*`` buffers). Hence its
place before both (MMDetection's configs use 49 for the same reason). Unlike MMCV, which toggles
blindly, the hook remembers whether the parameters hold the averages (``swapped``, also in
the checkpoint), so a resume from a mid-epoch checkpoint (live weights in the parameters)
does not swap the wrong way. For a fresh run the two are the same (the first swap exchanges
equal values).

The end of the run. A run that ends after a training epoch already holds the EMA weights.
One stopped mid-epoch (a signal, a time limit, by-iteration early stopping) leaves its epoch
open and gets no ``after_train_epoch``, so ``after_run`` swaps them in there too: the model
a run ends with is always the EMA one (the live weights are in the ``ema_*`` buffers), and
the checkpoint CheckpointHook saves for a stopped run (its ``after_run``, after this one) is
the same shape as an end-of-epoch one.

Not swapped (as in MMCV): by-iteration evaluation and iteration checkpoints in
``after_train_iter``, and an IterBasedRunner's val phase in the middle of an epoch, see the
live weights.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order

if TYPE_CHECKING:
    import torch

    from hyrun.runner.base import Runner

STATE_KEY = "EMAHook"
PREFIX = "ema_"


def ema_buffer_name(param_name: str) -> str:
    """MMCV's name of a parameter's EMA buffer ('.' is not allowed in a buffer name)."""
    return PREFIX + param_name.replace(".", "_")


class EMAHook(Hook):
    """``momentum``: weight of the current parameters in an update, in (0, 1).
    ``interval``: update every that many iterations. ``warm_up``: the first iterations use
    the smaller momentum ``(1 + t) / (warm_up + t)``."""

    priority = Order.AVERAGE_WEIGHTS

    def __init__(self, momentum: float = 0.0002, interval: int = 1, warm_up: int = 100) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f"EMAHook interval must be an int >= 1, got {interval!r}")
        if not 0 < momentum < 1:
            raise ValueError(f"EMAHook momentum must be in (0, 1), got {momentum!r}")
        if warm_up < 0:
            raise ValueError(f"EMAHook warm_up must be >= 0, got {warm_up!r}")
        self.interval = interval
        self.warm_up = warm_up
        self.momentum = momentum**interval  # MMCV's, kept as is
        self.swapped = False  # whether the parameters hold the EMA weights (the buffers the live ones)
        self._params: list[torch.Tensor] = []
        self._buffers: list[torch.Tensor] = []

    # -- set-up ------------------------------------------------------------------------
    def before_run(self, runner: Runner) -> None:
        """Register the buffers (clones of the parameters) unless a resume already did."""
        import torch

        from hyrun.models.wrappers import unwrap_model

        # torch's functions held here: the per-iteration update imports nothing
        self._no_grad, self._foreach_mul, self._foreach_add = torch.no_grad, torch._foreach_mul_, torch._foreach_add_
        model = unwrap_model(runner.model)
        params, buffers = [], []
        for name, param in model.named_parameters():
            buffer_name = ema_buffer_name(name)
            if model._buffers.get(buffer_name) is None:
                model.register_buffer(buffer_name, param.detach().clone())
            params.append(param)
            buffers.append(model._buffers[buffer_name])
        self._params, self._buffers = params, buffers

    # -- each iteration ----------------------------------------------------------------
    def after_train_iter(self, runner: Runner) -> None:
        step = runner.iter
        if step % self.interval or not self._buffers:
            return
        denominator = self.warm_up + step
        momentum = min(self.momentum, (1 + step) / denominator) if denominator else self.momentum
        with self._no_grad():  # two fused multi-tensor kernels instead of two per parameter
            self._foreach_mul(self._buffers, 1 - momentum)
            self._foreach_add(self._buffers, self._params, alpha=momentum)

    # -- the swap ----------------------------------------------------------------------
    def before_train_epoch(self, runner: Runner) -> None:
        if self.swapped:
            self._swap()

    def after_train_epoch(self, runner: Runner) -> None:
        if not self.swapped:
            self._swap()

    def after_run(self, runner: Runner) -> None:
        if not self.swapped and self._params:
            self._swap()
            runner.logger.info("EMAHook: the run ends with the EMA weights (the live ones are in the ema_* buffers)")

    def _swap(self) -> None:
        import torch

        with torch.no_grad():
            for param, buffer in zip(self._params, self._buffers):
                live = param.detach().clone()
                param.copy_(buffer)
                buffer.copy_(live)
        self.swapped = not self.swapped

    # -- checkpoints -------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        checkpoint.setdefault("hooks", {})[STATE_KEY] = {"swapped": self.swapped}

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict[str, Any]) -> None:
        """Take the ``ema_*`` entries of the checkpoint's ``state_dict`` into the buffers,
        registering them first when the model does not have them yet (a resume before the
        run: a fresh model has no EMA buffers until ``before_run``)."""
        from hyrun.models.wrappers import unwrap_model

        state_dict = checkpoint.get("state_dict", {})
        model = unwrap_model(runner.model)
        found = False
        for name, param in model.named_parameters():
            value = state_dict.get(ema_buffer_name(name))
            if value is None:
                continue
            found = True
            buffer = model._buffers.get(ema_buffer_name(name))
            if buffer is None:
                model.register_buffer(ema_buffer_name(name), value.detach().to(param.device, param.dtype).clone())
            else:
                buffer.copy_(value)
        if not found:
            runner.logger.warning("EMAHook: the checkpoint has no ema_* buffers; the averages start from its weights")
            self.swapped = False
            return
        state = checkpoint.get("hooks", {}).get(STATE_KEY)
        # MMCV's checkpoints carry no flag; they were saved at an epoch's end, after the swap
        self.swapped = bool(state["swapped"]) if state else True
