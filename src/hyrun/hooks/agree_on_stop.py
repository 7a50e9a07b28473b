"""In a distributed run, every rank stops at the same iteration.

A stop is asked for on one rank at a time: a signal reaches each process at its own moment,
a time limit or a NaN guard decides on local numbers. A rank that leaves the loop while the
others go on would leave them waiting forever in DDP's next all-reduce. So under DDP a stop
is a request (``runner.should_stop`` or ``runner.stop_reason`` set on this rank; the signal
handler sets only the reason), and this hook, the last of each stage after which the runner
looks at ``should_stop``, turns the requests of all ranks into one decision that every rank
takes: one small CPU all-reduce per iteration.
"""
from __future__ import annotations

import torch.distributed as dist

from hyrun.distributed import any_rank
from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order


class AgreeOnStopHook(Hook):
    priority = Order.AGREE_ON_STOP

    def after_train_iter(self, runner) -> None:
        self._agree(runner)

    def after_train_epoch(self, runner) -> None:
        self._agree(runner)

    def after_val_epoch(self, runner) -> None:
        self._agree(runner)

    def _agree(self, runner) -> None:
        asked = runner.should_stop or runner.stop_reason is not None
        runner.should_stop = any_rank(asked)
        if runner.should_stop:
            reasons: list[str | None] = [None] * dist.get_world_size()
            dist.all_gather_object(reasons, runner.stop_reason)
            # the same reason on every rank, so that every rank exits with the same status
            runner.stop_reason = next((reason for reason in reasons if reason), "another rank stopped")
