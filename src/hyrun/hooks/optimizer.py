"""The optimizer step as a hook (MMCV's OptimizerHook): zero_grad, backward, clip, step."""
from __future__ import annotations

from typing import Any

from torch.nn.utils import clip_grad_norm_

from hyrun.hooks.base import Hook
from hyrun.runner.priority import Priority


class OptimizerHook(Hook):
    priority = Priority.ABOVE_NORMAL

    def __init__(self, grad_clip: dict[str, Any] | None = None) -> None:
        self.grad_clip = dict(grad_clip) if grad_clip else None

    def before_run(self, runner) -> None:
        self._params = [p for p in runner.model.parameters() if p.requires_grad]

    def after_train_iter(self, runner) -> None:
        optimizer = runner.optimizer
        optimizer.zero_grad(set_to_none=True)
        runner.outputs["loss"].backward()
        if self.grad_clip is not None:
            grad_norm = clip_grad_norm_(self._params, **self.grad_clip)
            runner.log_buffer.update({"grad_norm": grad_norm})
        optimizer.step()
