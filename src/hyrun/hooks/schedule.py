"""lr and momentum schedules as hooks (MMCV's LrUpdaterHook and MomentumUpdaterHook).

The numbers come from the pure policies in ``hyrun.optim``; a hook only keeps each param
group's base value and writes the scheduled value into the groups before an iteration:
by-epoch policies once per epoch (and during warmup each iteration), by-iteration
policies each iteration.
"""
from __future__ import annotations

from typing import Any

from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order
from hyrun.optim.lr_policies import Progress, build_lr_schedule
from hyrun.optim.momentum_policies import build_momentum_schedule
from hyrun.optim.param_groups import get_momentum, momentum_field, set_momentum


class _ScheduleHook(Hook):
    """What the lr and the momentum hook share: when values are computed and written."""

    def __init__(self, policy: Any, warmup: Any) -> None:
        self.policy, self.warmup = policy, warmup
        self.bases: list[float] = []
        self._regular: list[float] = []

    # -- what a subclass says ----------------------------------------------------------
    def initial_values(self, groups: list[dict]) -> list[float]:
        raise NotImplementedError

    def warmed(self, regular: float, cur_iter: int) -> float:
        raise NotImplementedError

    def write(self, groups: list[dict], values: list[float]) -> None:
        raise NotImplementedError

    # -- when ----------------------------------------------------------------------------
    def before_run(self, runner) -> None:
        self.bases = self.policy.base_values(self.initial_values(runner.optimizer.param_groups))
        self._max_epochs, self._max_iters = runner.max_epochs, runner.max_iters
        self._epoch_len = len(runner.data_loaders["train"])
        self._warmup_end = self.warmup.length(self._epoch_len) if self.warmup.kind else 0

    def before_train_epoch(self, runner) -> None:
        if self.policy.by_epoch:
            progress = self._progress(runner)
            self._regular = [self.policy.regular(base, progress) for base in self.bases]
            self.write(runner.optimizer.param_groups, self._regular)

    def before_train_iter(self, runner) -> None:
        cur_iter = runner.iter
        if not self.policy.by_epoch:
            progress = self._progress(runner)
            regular = [self.policy.regular(base, progress) for base in self.bases]
        elif cur_iter > self._warmup_end:
            return  # the epoch's value is in place
        else:
            regular = self._regular
        if cur_iter < self._warmup_end:
            self.write(runner.optimizer.param_groups, [self.warmed(r, cur_iter) for r in regular])
        else:
            self.write(runner.optimizer.param_groups, regular)

    def _progress(self, runner) -> Progress:
        return Progress(runner.epoch, runner.iter, self._max_epochs, self._max_iters, self._epoch_len)


class LrUpdaterHook(_ScheduleHook):
    """``lr_config``: ``policy`` (fixed, step, exp, poly, inv, cosine_annealing, ...), its
    parameters, ``by_epoch`` and warmup (``warmup``, ``warmup_iters``, ``warmup_ratio``,
    ``warmup_by_epoch``), exactly as MMCV 1.x computes them."""

    priority = Order.SCHEDULE

    def __init__(self, **cfg: Any) -> None:
        super().__init__(*build_lr_schedule(_drop_unset(cfg)))

    def initial_values(self, groups: list[dict]) -> list[float]:
        # MMCV keeps the first lr it sees as each group's base, also across a resume
        return [group.setdefault("initial_lr", group["lr"]) for group in groups]

    def warmed(self, regular: float, cur_iter: int) -> float:
        return self.warmup.lr(regular, cur_iter, self._epoch_len)

    def write(self, groups: list[dict], values: list[float]) -> None:
        for group, value in zip(groups, values):
            group["lr"] = value


class MomentumUpdaterHook(_ScheduleHook):
    """``momentum_config``: SGD's ``momentum`` or the first of Adam-style ``betas``, scheduled
    as MMCV 1.x's MomentumUpdaterHook does (its warmup divides)."""

    priority = Order.MOMENTUM_SCHEDULE

    def __init__(self, **cfg: Any) -> None:
        super().__init__(*build_momentum_schedule(_drop_unset(cfg)))

    def initial_values(self, groups: list[dict]) -> list[float]:
        for group in groups:
            if momentum_field(group) is None:
                raise ValueError("momentum_config needs an optimizer with momentum or betas "
                                 f"(its param groups have {sorted(k for k in group if k != 'params')})")
        return [group.setdefault("initial_momentum", get_momentum(group)) for group in groups]

    def warmed(self, regular: float, cur_iter: int) -> float:
        return self.warmup.momentum(regular, cur_iter)

    def write(self, groups: list[dict], values: list[float]) -> None:
        for group, value in zip(groups, values):
            set_momentum(group, value)


def _drop_unset(cfg: dict[str, Any]) -> dict[str, Any]:
    """``by_epoch: null`` means the policy's own default."""
    return {key: value for key, value in cfg.items() if not (key == "by_epoch" and value is None)}
