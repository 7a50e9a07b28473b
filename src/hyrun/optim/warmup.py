"""Warmup, shared by the lr and the momentum schedules, as MMCV 1.x's updater hooks apply it.

Warmup does not replace the schedule: it scales the *regular* value (what the policy gives for
that iteration) and counts the run's global iteration index, whatever the policy counts. For the
lr it multiplies by a factor rising to 1; for momentum MMCV's MomentumUpdaterHook *divides* by
the same factor, so warmup momentum starts above the regular one (and may exceed 1: MMCV does
not clip it).
"""
from __future__ import annotations

from dataclasses import dataclass

WARMUP_KINDS = ("constant", "linear", "exp")


@dataclass(frozen=True)
class Warmup:
    """``warmup``, ``warmup_iters``, ``warmup_ratio`` and ``warmup_by_epoch`` of an updater config.

    ``kind`` None means no warmup, and then the other fields are not checked (as in MMCV).
    ``ratio`` defaults to the lr hook's 0.1; MMCV's momentum hook defaults it to 0.9 (see
    ``build_momentum_schedule``). ``by_epoch`` makes ``iters`` a number of epochs; only the lr
    hook has it (MMCV's MomentumUpdaterHook takes no ``warmup_by_epoch``).
    """

    kind: str | None = None
    iters: int = 0
    ratio: float = 0.1
    by_epoch: bool = False

    def __post_init__(self) -> None:
        if self.kind is None:
            return
        if self.kind not in WARMUP_KINDS:
            valid = ", ".join(map(repr, WARMUP_KINDS))
            raise ValueError(f"unknown warmup {self.kind!r}; valid: None, {valid}")
        if isinstance(self.iters, bool) or not isinstance(self.iters, int) or self.iters <= 0:
            raise ValueError(f"warmup_iters must be a positive integer, got {self.iters!r}")
        if not 0 < self.ratio <= 1:
            raise ValueError(f"warmup_ratio must be in (0, 1], got {self.ratio!r}")

    def length(self, epoch_len: int | None = None) -> int:
        """Warmup iterations. By epoch, MMCV converts once, in the first ``before_train_epoch``:
        ``warmup_iters * len(train loader)``; ``epoch_len`` is that length."""
        if not self.by_epoch:
            return self.iters
        if epoch_len is None:
            raise ValueError("warmup_by_epoch needs the epoch length (training iterations per epoch)")
        return self.iters * epoch_len

    def lr(self, regular: float, cur_iter: int, epoch_len: int | None = None) -> float:
        """The lr of global iteration ``cur_iter`` given that iteration's regular lr.

        Warmup holds while ``cur_iter < length``: MMCV's by-iteration branch tests
        ``cur_iter >= warmup_iters`` and its by-epoch branch ``== warmup_iters`` (set the regular
        lr) / ``> warmup_iters`` (leave the epoch's regular lr in place); both come to this.
        """
        if self.kind is None:
            return regular
        length = self.length(epoch_len)
        return regular if cur_iter >= length else regular * self._factor(cur_iter, length)

    def momentum(self, regular: float, cur_iter: int) -> float:
        """The momentum of iteration ``cur_iter``: MMCV's momentum warmup divides by the lr factor."""
        if self.kind is None:
            return regular
        if self.by_epoch:
            raise ValueError("momentum warmup counts iterations: "
                             "MMCV's MomentumUpdaterHook has no warmup_by_epoch")
        return regular if cur_iter >= self.iters else regular / self._factor(cur_iter, self.iters)

    def _factor(self, cur_iter: int, length: int) -> float:
        """constant: ratio; linear: from ratio up towards 1; exp: ratio ** (1 - cur_iter / length)."""
        if self.kind == "constant":
            return self.ratio
        if self.kind == "linear":
            return 1 - (1 - cur_iter / length) * (1 - self.ratio)
        return self.ratio ** (1 - cur_iter / length)
