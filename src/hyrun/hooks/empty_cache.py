"""Release cached accelerator memory (MMCV's EmptyCacheHook)."""
from __future__ import annotations

from hyrun.hooks.base import Hook


class EmptyCacheHook(Hook):
    def __init__(self, before_epoch: bool = False, after_epoch: bool = True, after_iter: bool = False) -> None:
        self._before_epoch, self._after_epoch, self._after_iter = before_epoch, after_epoch, after_iter

    def before_epoch(self, runner) -> None:
        if self._before_epoch:
            _empty_cache()

    def after_epoch(self, runner) -> None:
        if self._after_epoch:
            _empty_cache()

    def after_iter(self, runner) -> None:
        if self._after_iter:
            _empty_cache()


def _empty_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
