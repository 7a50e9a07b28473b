"""lr and momentum schedules: closed forms, MMCV 1.x's hook sequence replayed, bad parameters."""
from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest

from hyrun.optim.lr_policies import (
    LR_POLICIES, CosineAnnealingLr, CosineRestartLr, CyclicLr, ExpLr, FixedLr, FlatCosineAnnealingLr, InvLr,
    LinearAnnealingLr, OneCycleLr, PolyLr, Progress, StepLr, build_lr_schedule, lr_at,
)
from hyrun.optim.momentum_policies import (
    MOMENTUM_POLICIES, CosineAnnealingMomentum, CyclicMomentum, LinearAnnealingMomentum, OneCycleMomentum,
    StepMomentum, build_momentum_schedule, momentum_at,
)
from hyrun.optim.warmup import Warmup

NO_WARMUP = Warmup()


def epoch_runner_progress(max_epochs: int, epoch_len: int):
    """The ``Progress`` of every training iteration of an epoch-based run, in order."""
    max_iters = max_epochs * epoch_len
    for i in range(max_iters):
        yield Progress(i // epoch_len, i, max_epochs, max_iters, epoch_len)


def lr_schedule(policy, warmup: Warmup, base_lr: float, max_epochs: int, epoch_len: int) -> list[float]:
    """The lr of every training iteration of an epoch-based run, for one group's base lr."""
    return [lr_at(policy, warmup, base_lr, progress) for progress in epoch_runner_progress(max_epochs, epoch_len)]


def momentum_schedule(policy, warmup: Warmup, base: float, max_epochs: int, epoch_len: int) -> list[float]:
    """The momentum of every training iteration of an epoch-based run, for one group's base."""
    return [momentum_at(policy, warmup, base, progress) for progress in epoch_runner_progress(max_epochs, epoch_len)]


def at(i: int, epoch_len: int, max_epochs: int) -> Progress:
    return Progress(i // epoch_len, i, max_epochs, max_epochs * epoch_len, epoch_len)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


# -- MMCV's hooks, replayed -------------------------------------------------------------------
# A straightforward re-derivation of what MMCV 1.x's LrUpdaterHook / MomentumUpdaterHook write
# into the param groups of an epoch-based run: before_run, then per epoch before_train_epoch and
# per iteration before_train_iter, recording each group's value as the iteration runs. Each
# policy is a plain function of (runner, base) written here from its definition.
def replay(value_of, initial, *, by_epoch, max_epochs, epoch_len, warmup=None, warmup_iters=0,
           warmup_ratio=0.1, warmup_by_epoch=False, divide=False, bases=None):
    runner = SimpleNamespace(epoch=0, iter=0, max_epochs=max_epochs, max_iters=max_epochs * epoch_len)
    groups = [{"value": v} for v in initial]
    for group in groups:  # before_run
        group.setdefault("initial", group["value"])
    base = bases if bases is not None else [group["initial"] for group in groups]
    warm_len = None if warmup_by_epoch else warmup_iters
    regular: list[float] = []

    def put(values):
        for group, value in zip(groups, values, strict=True):
            group["value"] = value

    def warmed(values, i):
        if warmup == "constant":
            factor = warmup_ratio
        elif warmup == "linear":
            factor = warmup_ratio + (1 - warmup_ratio) * i / warm_len
        else:
            factor = warmup_ratio ** (1 - i / warm_len)
        return [v / factor if divide else v * factor for v in values]

    seen = []
    for epoch in range(max_epochs):
        runner.epoch = epoch  # before_train_epoch
        if warm_len is None:
            warm_len = warmup_iters * epoch_len
        if by_epoch:
            regular = [value_of(runner, b) for b in base]
            put(regular)
        for _ in range(epoch_len):
            i = runner.iter  # before_train_iter
            if not by_epoch:
                regular = [value_of(runner, b) for b in base]
                put(regular if warmup is None or i >= warm_len else warmed(regular, i))
            elif warmup is not None and i <= warm_len:
                put(regular if i == warm_len else warmed(regular, i))
            seen.append([group["value"] for group in groups])
            runner.iter += 1
    return seen


def counter(runner, by_epoch):
    return (runner.epoch, runner.max_epochs) if by_epoch else (runner.iter, runner.max_iters)


def half_cos(start, end, f, weight=1.0):
    return end + (start - end) * weight * (1 + math.cos(math.pi * f)) / 2


def ref_step(step, gamma, floor, by_epoch):
    def value(runner, base):
        now = counter(runner, by_epoch)[0]
        n = now // step if isinstance(step, int) else sum(now >= s for s in step)
        return base * gamma ** n if floor is None else max(base * gamma ** n, floor)
    return value


def ref_cosine(target_of, by_epoch):
    def value(runner, base):
        now, total = counter(runner, by_epoch)
        return half_cos(base, target_of(base), now / total)
    return value


def ref_linear(target_of, by_epoch):
    def value(runner, base):
        now, total = counter(runner, by_epoch)
        return base + (target_of(base) - base) * now / total
    return value


def ref_cyclic(high, low, times, up_ratio, gamma=1.0, cos=True):
    # MMCV's before_run builds [start, end, start_ratio, end_ratio] phases from max_iters
    def value(runner, base):
        cycle = runner.max_iters // times
        up = int(up_ratio * cycle)
        pos, scale = runner.iter % cycle, gamma ** (runner.iter // cycle)
        for start, end, r0, r1 in [[0, up, 1, high], [up, cycle, high, low]]:
            if start <= pos < end:
                if start == 0:
                    r1 = 1 - scale + r1 * scale
                else:
                    r0 = 1 - scale + r0 * scale
                f = (pos - start) / (end - start)
                return half_cos(base * r0, base * r1, f) if cos else base * r0 + (base * r1 - base * r0) * f
    return value


def ref_one_cycle(phases_of, cos=True):
    # phases: (end iteration, start value fn(base), end value fn(base)); MMCV keeps the last for later iters
    def value(runner, base):
        start = 0
        for k, (end, v0, v1) in enumerate(phases_of(runner)):
            if runner.iter <= end or k == len(phases_of(runner)) - 1:
                f = (runner.iter - start) / (end - start)
                a, b = v0(base), v1(base)
                return half_cos(a, b, f) if cos else a + (b - a) * f
            start = end
    return value


class Case(NamedTuple):
    """A policy and warmup, a run (groups' initial values, epochs, epoch length), and the value
    function the replayed hook uses; ``bases`` overrides the groups' initial values (one_cycle)."""

    policy: Any
    warmup: Warmup
    initial: list[float]
    max_epochs: int
    epoch_len: int
    value_of: Callable[[Any, float], float]
    bases: list[float] | None = None


def check_replayed(case: Case, momentum: bool) -> None:
    w = case.warmup  # the config keys MMCV's hook would have been given
    seen = replay(case.value_of, case.initial, by_epoch=case.policy.by_epoch, max_epochs=case.max_epochs,
                  epoch_len=case.epoch_len, warmup=w.kind, warmup_iters=w.iters, warmup_ratio=w.ratio,
                  warmup_by_epoch=w.by_epoch, divide=momentum, bases=case.bases)
    value_at = momentum_at if momentum else lr_at
    bases = case.policy.base_values(case.initial)
    ours = [[value_at(case.policy, w, b, p) for b in bases]
            for p in epoch_runner_progress(case.max_epochs, case.epoch_len)]
    assert len(ours) == len(seen) == case.max_epochs * case.epoch_len
    for i, (mine, theirs) in enumerate(zip(ours, seen, strict=True)):
        assert mine == pytest.approx(theirs, rel=1e-12, abs=0), f"iteration {i}"


def restarts(r, b):  # cosine_restart, periods [10, 20, 30], weights [1, 0.5, 0.25], min_lr_ratio 0.01
    i = r.iter
    f, weight = (i / 10, 1) if i < 10 else ((i - 10) / 20, 0.5) if i < 30 else ((i - 30) / 30, 0.25)
    return half_cos(b, b * 0.01, f, weight)


LR_CASES = {
    "fixed+linear": Case(FixedLr(), Warmup("linear", 7, 0.25), [0.1, 0.02], 3, 5, lambda r, b: b),
    "step-epochs+constant": Case(StepLr([2, 4], 0.1, 5e-4), Warmup("constant", 5, 0.5), [0.1], 6, 4,
                                 ref_step([2, 4], 0.1, 5e-4, True)),
    "step-iters": Case(StepLr(7, 0.5, by_epoch=False), NO_WARMUP, [0.1, 0.3], 3, 10,
                       ref_step(7, 0.5, None, False)),
    "step+warmup-by-epoch": Case(StepLr([1, 3]), Warmup("linear", 1, 0.1, by_epoch=True), [0.02], 4, 6,
                                 ref_step([1, 3], 0.1, None, True)),
    "exp-epochs": Case(ExpLr(0.9), NO_WARMUP, [0.1], 5, 3, lambda r, b: b * 0.9 ** r.epoch),
    "exp-iters+exp": Case(ExpLr(0.99, by_epoch=False), Warmup("exp", 12, 0.01), [0.1], 4, 6,
                          lambda r, b: b * 0.99 ** r.iter),
    # seed tutorial: poly, power 0.9, min_lr 1e-4, by iteration
    "poly-seed": Case(PolyLr(power=0.9, min_lr=1e-4, by_epoch=False), NO_WARMUP, [0.01], 4, 25,
                      lambda r, b: (b - 1e-4) * (1 - r.iter / r.max_iters) ** 0.9 + 1e-4),
    "poly-epochs": Case(PolyLr(power=2.0), Warmup("linear", 3, 0.5), [0.1], 4, 5,
                        lambda r, b: b * (1 - r.epoch / r.max_epochs) ** 2),
    "inv-iters": Case(InvLr(0.01, 0.75, by_epoch=False), NO_WARMUP, [0.1], 3, 10,
                      lambda r, b: b / (1 + 0.01 * r.iter) ** 0.75),
    # seed tutorial: CosineAnnealing by epoch, linear warmup of 1000 iterations from 0.1, min_lr_ratio 1e-5
    "cosine-seed": Case(CosineAnnealingLr(min_lr_ratio=1e-5), Warmup("linear", 1000, 0.1), [0.01, 0.001], 4, 300,
                        ref_cosine(lambda b: b * 1e-5, True)),
    "cosine-iters+exp-by-epoch": Case(CosineAnnealingLr(min_lr=1e-6, by_epoch=False), Warmup("exp", 1, 0.001, True),
                                      [0.1], 3, 8, ref_cosine(lambda b: 1e-6, False)),
    "flat-cosine-epochs": Case(FlatCosineAnnealingLr(0.5, min_lr_ratio=0.01), NO_WARMUP, [0.1], 5, 3,
                               lambda r, b: b if r.epoch < 2 else half_cos(b, b * 0.01, (r.epoch - 2) / 3)),
    "flat-cosine-iters": Case(FlatCosineAnnealingLr(min_lr=0.0, by_epoch=False), Warmup("constant", 4, 0.1),
                              [0.1], 2, 10, lambda r, b: b if r.iter < 15 else half_cos(b, 0.0, (r.iter - 15) / 5)),
    "cosine-restart-iters": Case(CosineRestartLr([10, 20, 30], [1, 0.5, 0.25], min_lr_ratio=0.01, by_epoch=False),
                                 NO_WARMUP, [0.1, 0.05], 3, 20, restarts),
    "cosine-restart-epochs": Case(CosineRestartLr([2, 3], [1, 0.7], min_lr=0.0), Warmup("linear", 3, 0.2), [0.1], 5, 4,
                                  lambda r, b: half_cos(b, 0.0, r.epoch / 2) if r.epoch < 2
                                  else half_cos(b, 0.0, (r.epoch - 2) / 3, 0.7)),
    # seed tutorial: cyclic, target_ratio (10, 1e-4), one cycle, 40% rising
    "cyclic-seed": Case(CyclicLr((10, 1e-4), 1, 0.4), NO_WARMUP, [1e-3], 4, 25, ref_cyclic(10, 1e-4, 1, 0.4)),
    "cyclic-3x-gamma-linear": Case(CyclicLr((5, 1e-2), 3, 0.3, "linear", 0.5), Warmup("linear", 10, 0.1),
                                   [1e-3], 4, 26, ref_cyclic(5, 1e-2, 3, 0.3, 0.5, cos=False)),
    "cyclic-no-rise": Case(CyclicLr(4.0, 2, 0.0, gamma=0.8), NO_WARMUP, [1e-2], 2, 20,
                           ref_cyclic(4.0, 4.0 / 1e5, 2, 0.0, 0.8)),
    "one-cycle": Case(OneCycleLr(0.01), NO_WARMUP, [0.5], 4, 25,
                      ref_one_cycle(lambda r: [(0.3 * r.max_iters - 1, lambda b: b, lambda b: b * 25),
                                               (r.max_iters - 1, lambda b: b * 25, lambda b: b / 1e4)]),
                      bases=[0.01 / 25]),
    "one-cycle-3-phase-linear": Case(OneCycleLr([0.01, 0.1], 120, 0.25, "linear", 10, 100, True),
                                     Warmup("exp", 5, 0.1), [0.5, 0.5], 4, 25,
                                     ref_one_cycle(lambda r: [(29.0, lambda b: b, lambda b: b * 10),
                                                              (58.0, lambda b: b * 10, lambda b: b),
                                                              (119, lambda b: b, lambda b: b / 100)], cos=False),
                                     bases=[0.001, 0.01]),
    "one-cycle-fractional-phase-ends": Case(OneCycleLr(0.02, pct_start=0.25, three_phase=True), NO_WARMUP,
                                            [0.1], 3, 30,
                                            ref_one_cycle(lambda r: [(21.5, lambda b: b, lambda b: b * 25),
                                                                     (43.0, lambda b: b * 25, lambda b: b),
                                                                     (89, lambda b: b, lambda b: b / 1e4)]),
                                            bases=[0.02 / 25]),
    "linear-epochs": Case(LinearAnnealingLr(min_lr_ratio=0.1), Warmup("constant", 2, 0.3), [0.1], 4, 5,
                          ref_linear(lambda b: b * 0.1, True)),
    "linear-iters": Case(LinearAnnealingLr(min_lr=0.0, by_epoch=False), NO_WARMUP, [0.1], 2, 10,
                         ref_linear(lambda b: 0.0, False)),
}


@pytest.mark.parametrize("case", LR_CASES.values(), ids=LR_CASES.keys())
def test_lr_at_matches_mmcvs_hook_at_every_iteration(case):
    check_replayed(case, momentum=False)


MOMENTUM_CASES = {
    # seed tutorial: cyclic momentum, target_ratio (0.85 / 0.95, 1), 40% of the cycle going down
    "cyclic-seed": Case(CyclicMomentum((0.85 / 0.95, 1), 1, 0.4), NO_WARMUP, [0.95, 0.9], 4, 25,
                        ref_cyclic(0.85 / 0.95, 1, 1, 0.4)),
    "step-epochs+exp": Case(StepMomentum(2, 0.5, 0.3), Warmup("exp", 6, 0.9), [0.9], 6, 4,
                            ref_step(2, 0.5, 0.3, True)),
    "cosine-iters+linear": Case(CosineAnnealingMomentum(min_momentum_ratio=0.5, by_epoch=False),
                                Warmup("linear", 10, 0.9), [0.95], 3, 10, ref_cosine(lambda b: b * 0.5, False)),
    "linear-epochs+constant": Case(LinearAnnealingMomentum(min_momentum=0.8), Warmup("constant", 4, 0.95),
                                   [0.9, 0.99], 3, 5, ref_linear(lambda b: 0.8, True)),
    "one-cycle": Case(OneCycleMomentum(), NO_WARMUP, [0.9], 4, 25,
                      ref_one_cycle(lambda r: [(0.3 * r.max_iters - 1, lambda b: 0.95, lambda b: 0.85),
                                               (r.max_iters - 1, lambda b: 0.85, lambda b: 0.95)]),
                      bases=[0.95]),
    "one-cycle-3-phase": Case(OneCycleMomentum(0.8, 0.9, 0.2, "linear", True), NO_WARMUP, [0.9], 2, 50,
                              ref_one_cycle(lambda r: [(19.0, lambda b: 0.9, lambda b: 0.8),
                                                       (38.0, lambda b: 0.8, lambda b: 0.9),
                                                       (99, lambda b: 0.9, lambda b: 0.9)], cos=False),
                              bases=[0.9]),
    "one-cycle-fractional-phase-ends": Case(OneCycleMomentum(pct_start=0.25), Warmup("linear", 8, 0.9), [0.9], 3, 30,
                                            ref_one_cycle(lambda r: [(21.5, lambda b: 0.95, lambda b: 0.85),
                                                                     (89, lambda b: 0.85, lambda b: 0.95)]),
                                            bases=[0.95]),
}


@pytest.mark.parametrize("case", MOMENTUM_CASES.values(), ids=MOMENTUM_CASES.keys())
def test_momentum_at_matches_mmcvs_hook_at_every_iteration(case):
    check_replayed(case, momentum=True)


# -- the numbers MMCV's own tests expect ---------------------------------------------------------
# From MMCV 1.x's tests/test_runner/test_hooks.py: an SGD optimizer with lr 0.02 / momentum 0.95
# (a second one: 0.01 / 0.9), one epoch of 10 iterations unless said otherwise, values logged
# after iteration k (1-based), i.e. the values set for iteration index k - 1. Compared exactly.
MMCV_EXPECTED = {
    "cyclic": (CyclicLr((10, 1), 1, 0.4), NO_WARMUP, [0.02], 1, 10,
               {0: [0.01999999999999999], 2: [0.11], 5: [0.1879422863405995], 7: [0.11000000000000001]}),
    "cyclic-two-groups": (CyclicLr((10, 1), 1, 0.4), NO_WARMUP, [0.02, 0.01], 1, 10,
                          {0: [0.01999999999999999, 0.009999999999999995], 4: [0.2, 0.1], 6: [0.155, 0.0775]}),
    "cyclic-linear-iter-runner": (CyclicLr((10.0, 1.0), 2, 0.5, "linear", 0.5), NO_WARMUP, [0.02], 1, 8,
                                  {0: [0.02], 3: [0.11], 5: [0.065], 6: [0.11]}),
    "cosine": (CosineAnnealingLr(min_lr_ratio=0, by_epoch=False), NO_WARMUP, [0.02, 0.01], 1, 10,
               {0: [0.02, 0.01], 5: [0.01, 0.005], 9: [0.0004894348370484647, 0.00024471741852423234]}),
    "linear": (LinearAnnealingLr(min_lr_ratio=0, by_epoch=False), NO_WARMUP, [0.02, 0.01], 1, 10,
               {5: [0.01, 0.005], 9: [0.0019999999999999983, 0.0009999999999999992]}),
    "flat-cosine-epochs": (FlatCosineAnnealingLr(0.5, min_lr_ratio=0), Warmup("linear", 10, 0.9), [0.02, 0.01], 10, 10,
                           {0: [0.018000000000000002, 0.009000000000000001], 10: [0.02, 0.01],
                            60: [0.018090169943749474, 0.009045084971874737],
                            99: [0.0019098300562505265, 0.0009549150281252633]}),
    "flat-cosine-iters": (FlatCosineAnnealingLr(0.5, min_lr_ratio=0, by_epoch=False), Warmup("linear", 2, 0.9),
                          [0.02], 1, 10, {0: [0.018000000000000002], 5: [0.02], 6: [0.018090169943749474],
                                          9: [0.0019098300562505265]}),
    "one-cycle": (OneCycleLr(0.01, pct_start=0.5), NO_WARMUP, [0.02, 0.01], 1, 10,
                  {0: [0.0003999999999999993] * 2, 5: [0.00904508879153485] * 2, 9: [4e-08] * 2}),
    "cosine-restart": (CosineRestartLr([5, 5], [0.5, 0.5], min_lr_ratio=0, by_epoch=False), NO_WARMUP, [0.02, 0.01],
                       1, 10, {0: [0.01, 0.005], 5: [0.01, 0.005], 9: [0.0009549150281252633, 0.00047745751406263163]}),
    "step": (StepLr(5, 0.5, 1e-3, by_epoch=False), NO_WARMUP, [0.02, 0.01], 1, 30,
             {0: [0.02, 0.01], 5: [0.01, 0.005], 15: [0.0025, 0.00125], 20: [0.00125, 0.001], 25: [0.001, 0.001],
              29: [0.001, 0.001]}),
    "step-list": (StepLr([4, 6, 8], 0.1, by_epoch=False), NO_WARMUP, [0.02, 0.01], 1, 10,
                  {4: [0.002, 0.001], 6: [2.0000000000000004e-4, 1.0000000000000002e-4],
                   8: [2.0000000000000005e-05, 1.0000000000000003e-05]}),
}
MMCV_EXPECTED_MOMENTUM = {
    "cyclic-gamma": (CyclicMomentum((0.85 / 0.95, 1), 2, 0.4, gamma=0.5), NO_WARMUP, [0.95], 1, 10,
                     {0: [0.95], 2: [0.85], 5: [0.95], 7: [0.9]}),
    "cyclic-two-groups": (CyclicMomentum((0.85 / 0.95, 1), 1, 0.4), NO_WARMUP, [0.95, 0.9], 1, 10,
                          {4: [0.85, 0.8052631578947369], 6: [0.875, 0.8289473684210527]}),
    "constant-warmup": (StepMomentum([10], by_epoch=False), Warmup("constant", 5, 0.5), [0.95, 0.9], 1, 10,
                        {0: [1.9, 1.8], 4: [1.9, 1.8], 9: [0.95, 0.9]}),
    "linear-warmup": (StepMomentum([10], by_epoch=False), Warmup("linear", 5, 0.5), [0.95, 0.9], 1, 10,
                      {0: [1.9, 1.8], 2: [1.3571428571428572, 1.2857142857142858], 9: [0.95, 0.9]}),
    "exp-warmup": (StepMomentum([10], by_epoch=False), Warmup("exp", 5, 0.5), [0.95, 0.9], 1, 10,
                   {0: [1.9, 1.8], 2: [1.4399307381848783, 1.3641449098593583], 9: [0.95, 0.9]}),
    "cosine": (CosineAnnealingMomentum(min_momentum_ratio=0.99 / 0.95, by_epoch=False), NO_WARMUP, [0.95, 0.9], 1, 10,
               {0: [0.95, 0.9], 5: [0.97, 0.9189473684210527], 9: [0.9890211303259032, 0.9369673866245399]}),
    "linear": (LinearAnnealingMomentum(min_momentum_ratio=0.99 / 0.95, by_epoch=False), NO_WARMUP, [0.95, 0.9], 1,
               10, {5: [0.97, 0.9189473684210527], 9: [0.9860000000000001, 0.9341052631578949]}),
    "one-cycle": (OneCycleMomentum(0.85, 0.95, 0.5), NO_WARMUP, [0.95, 0.9], 1, 10,
                  {0: [0.95, 0.95], 5: [0.8595491502812526] * 2, 9: [0.95, 0.95]}),
    "step": (StepMomentum(5, 0.5, 0.05, by_epoch=False), NO_WARMUP, [0.95, 0.9], 1, 30,
             {0: [0.95, 0.9], 5: [0.475, 0.45], 15: [0.11875, 0.1125], 20: [0.059375, 0.05625], 25: [0.05, 0.05]}),
    "step-list": (StepMomentum([4, 6, 8], 0.1, by_epoch=False), NO_WARMUP, [0.95, 0.9], 1, 10,
                  {4: [9.5e-2, 9.000000000000001e-2], 6: [9.500000000000001e-3, 9.000000000000003e-3],
                   8: [9.500000000000002e-4, 9.000000000000002e-4]}),
}


@pytest.mark.parametrize(("momentum", "case"), [(False, c) for c in MMCV_EXPECTED.values()]
                         + [(True, c) for c in MMCV_EXPECTED_MOMENTUM.values()],
                         ids=[f"lr-{k}" for k in MMCV_EXPECTED] + [f"momentum-{k}" for k in MMCV_EXPECTED_MOMENTUM])
def test_values_mmcvs_own_tests_expect(momentum, case):
    policy, warmup, initial, max_epochs, epoch_len, expected = case
    value_at = momentum_at if momentum else lr_at
    bases = policy.base_values(initial)
    for i, values in expected.items():
        assert [value_at(policy, warmup, b, at(i, epoch_len, max_epochs)) for b in bases] == values, f"iteration {i}"


# -- closed forms at chosen iterations -----------------------------------------------------
def test_fixed_and_schedule_lengths():
    assert lr_schedule(FixedLr(), NO_WARMUP, 0.1, 3, 4) == [0.1] * 12
    assert momentum_schedule(StepMomentum(100), NO_WARMUP, 0.9, 2, 3) == [0.9] * 6


def test_step_milestones_by_epoch_and_min_lr():
    policy = StepLr([2, 4], gamma=0.1, min_lr=2e-3)
    values = {e: lr_at(policy, NO_WARMUP, 0.1, at(e * 10, 10, 6)) for e in range(6)}
    assert [values[e] for e in range(6)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 2e-3, 2e-3], rel=1e-12)
    assert lr_at(policy, NO_WARMUP, 0.1, at(19, 10, 6)) == 0.1  # last iteration before the step


def test_step_interval_by_iteration():
    policy = StepLr(3, gamma=0.5, by_epoch=False)
    assert [lr_at(policy, NO_WARMUP, 0.8, at(i, 100, 1)) for i in (0, 2, 3, 5, 6)] == [0.8, 0.8, 0.4, 0.4, 0.2]


def test_step_milestones_are_scanned_in_the_given_order():
    # MMCV takes the index of the first milestone still ahead, without sorting the list
    assert StepLr([5, 2], by_epoch=False).regular(1.0, at(3, 10, 1)) == 1.0
    assert StepLr([5, 2], by_epoch=False).regular(1.0, at(6, 10, 1)) == pytest.approx(0.01)


def test_exp_poly_inv_closed_forms():
    p = at(7, 4, 5)  # epoch 1, iteration 7 of 20
    assert close(ExpLr(0.5).regular(0.1, p), 0.05)
    assert close(ExpLr(0.5, by_epoch=False).regular(0.1, p), 0.1 * 0.5 ** 7)
    assert close(PolyLr(2.0, 0.01).regular(0.11, p), 0.1 * (4 / 5) ** 2 + 0.01)
    assert close(PolyLr(0.9, 1e-4, by_epoch=False).regular(0.01, p), (0.01 - 1e-4) * (13 / 20) ** 0.9 + 1e-4)
    assert close(InvLr(0.1, 2.0, by_epoch=False).regular(0.1, p), 0.1 / 1.7 ** 2)


def test_by_epoch_policies_stop_short_of_the_minimum():
    last = at(99, 10, 10)  # last iteration of the last epoch
    assert close(PolyLr(1.0, 0.0).regular(0.1, last), 0.01)  # (1 - 9/10) * 0.1
    assert close(LinearAnnealingLr(min_lr=0.0).regular(0.1, last), 0.01)
    assert CosineAnnealingLr(min_lr=0.0).regular(0.1, last) > 0
    assert close(LinearAnnealingLr(min_lr=0.0, by_epoch=False).regular(0.1, last), 0.001)


def test_cosine_annealing_midpoint_and_ratio_per_group():
    mid = at(50, 10, 10)
    assert close(CosineAnnealingLr(min_lr=0.02, by_epoch=False).regular(0.1, mid), 0.06)
    assert close(CosineAnnealingLr(min_lr=0.02).regular(0.1, mid), 0.06)  # epoch 5 of 10
    policy = CosineAnnealingLr(min_lr_ratio=0.1, by_epoch=False)  # each group's own target
    assert close(policy.regular(0.1, mid), 0.055) and close(policy.regular(1.0, mid), 0.55)


def test_flat_cosine_uses_pythons_rounding():
    policy = FlatCosineAnnealingLr(0.5, min_lr=0.0)  # 5 epochs: round(2.5) == 2
    assert [policy.regular(1.0, at(e, 1, 5)) for e in range(3)] == [1.0, 1.0, 1.0]
    assert close(policy.regular(1.0, at(3, 1, 5)), 0.5 * (1 + math.cos(math.pi / 3)))
    assert FlatCosineAnnealingLr(0.7, min_lr=0.0).regular(1.0, at(3, 1, 5)) == 1.0  # round(3.5) == 4


def test_cosine_restart_restarts_at_weighted_values_and_ends():
    policy = CosineRestartLr([10, 20], [1.0, 0.5], min_lr=0.0, by_epoch=False)
    assert policy.regular(0.1, at(0, 30, 1)) == 0.1
    assert close(policy.regular(0.1, at(10, 30, 1)), 0.05)  # 0.5 * base + 0.5 * min_lr
    assert close(policy.regular(0.1, at(5, 30, 1)), 0.05)
    with pytest.raises(ValueError, match="past the cosine_restart periods"):
        policy.regular(0.1, at(30, 31, 1))


def test_cyclic_shape_first_peak_last():
    policy, base = CyclicLr((10, 1e-4), 1, 0.4), 1e-3
    values = lr_schedule(policy, NO_WARMUP, base, 4, 25)
    assert close(values[0], base) and close(values[40], 10 * base) and max(values) == values[40]
    assert close(values[20], 5.5 * base)
    assert close(values[-1], 1e-7 + 0.5 * (1e-2 - 1e-7) * (1 + math.cos(math.pi * 59 / 60)))
    momenta = momentum_schedule(CyclicMomentum(), NO_WARMUP, 0.95, 4, 25)
    assert close(momenta[0], 0.95) and close(momenta[40], 0.85) and min(momenta) == momenta[40]


def test_cyclic_gamma_shrinks_later_cycles_and_no_rise_quirk():
    policy = CyclicLr((10, 1e-4), 2, 0.5, gamma=0.5)  # cycles of 50, rise 25
    assert close(policy.regular(1.0, at(25, 100, 1)), 10.0) and close(policy.regular(1.0, at(75, 100, 1)), 5.5)
    assert close(policy.regular(1.0, at(50, 100, 1)), 1.0)
    # step_ratio_up=0: the fall starts at 0, so MMCV scales its *end* ratio and starts at the full peak
    no_rise = CyclicLr((10, 0.1), 2, 0.0, gamma=0.5)
    assert close(no_rise.regular(1.0, at(50, 100, 1)), 10.0)
    assert close(no_rise.regular(1.0, at(99, 100, 1)), half_cos(10.0, 0.55, 49 / 50))


def test_cyclic_target_ratio_forms_and_partial_last_cycle():
    assert CyclicLr(10.0).target_ratio == (10.0, 10.0 / 1e5)
    assert CyclicLr([8]).target_ratio == (8, 8 / 1e5) and CyclicLr([8, 0.1]).target_ratio == (8, 0.1)
    policy = CyclicLr((10, 1e-4), 3, 0.4)  # 104 // 3 = 34: iterations 102, 103 start a 4th cycle
    assert close(policy.regular(1.0, at(102, 104, 1)), 1.0)


def test_one_cycle_shape_and_base():
    policy = OneCycleLr(0.01)
    (base,) = policy.base_values([0.5])  # the optimizer's lr does not matter
    assert base == 0.01 / 25
    values = lr_schedule(policy, NO_WARMUP, base, 4, 25)
    assert close(values[0], 0.0004) and close(values[29], 0.01) and max(values) == values[29]
    assert close(values[-1], 0.0004 / 1e4)
    three = OneCycleLr(0.01, pct_start=0.25, three_phase=True, anneal_strategy="linear")
    assert close(three.regular(base, at(24, 100, 1)), 0.01) and close(three.regular(base, at(48, 100, 1)), base)
    assert close(three.regular(base, at(99, 100, 1)), base / 1e4)
    assert OneCycleLr([0.01, 0.1], div_factor=10).base_values([1, 1]) == [0.001, 0.01]
    # phase ends are not rounded: 0.25 * 90 - 1 == 21.5, so iteration 22 is already falling
    fractional = OneCycleLr(0.01, pct_start=0.25, anneal_strategy="linear")
    assert close(fractional.regular(base, at(22, 90, 1)), 0.01 + (base / 1e4 - 0.01) * 0.5 / 67.5)


def test_one_cycle_total_steps_stretches_the_cycle():
    policy = OneCycleLr(0.01, total_steps=200, pct_start=0.5, anneal_strategy="linear")
    assert close(policy.regular(0.0004, at(99, 100, 1)), 0.01)  # peak at 0.5 * 200 - 1
    with pytest.raises(ValueError, match="at least the run's max_iters"):
        OneCycleLr(0.01, total_steps=50).regular(0.0004, at(0, 100, 1))
    with pytest.raises(ValueError, match="phase is empty"):
        OneCycleLr(0.01, pct_start=0.01).regular(0.0004, at(0, 100, 1))  # 0.01 * 100 - 1 == 0


def test_one_cycle_momentum_shape():
    policy = OneCycleMomentum()
    assert policy.base_values([0.9, 0.5]) == [0.95, 0.95]
    values = momentum_schedule(policy, NO_WARMUP, 0.9, 4, 25)
    assert close(values[0], 0.95) and close(values[29], 0.85) and close(values[-1], 0.95)
    three = OneCycleMomentum(pct_start=0.25, three_phase=True)
    assert close(three.regular(0.0, at(48, 100, 1)), 0.95) and close(three.regular(0.0, at(70, 100, 1)), 0.95)


# -- warmup ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "first", "last"), [
    ("constant", 0.25, 0.25), ("linear", 0.25, 1 - 0.75 / 8), ("exp", 0.25, 0.25 ** (1 / 8))])
def test_warmup_kinds_scale_the_regular_lr(kind, first, last):
    warmup, policy = Warmup(kind, 8, 0.25), CosineAnnealingLr(min_lr=0.0, by_epoch=False)
    for i, factor in ((0, first), (7, last), (8, 1.0), (9, 1.0)):
        regular = policy.regular(0.1, at(i, 10, 4))
        assert close(lr_at(policy, warmup, 0.1, at(i, 10, 4)), regular * factor)


def test_warmup_across_an_epoch_boundary_uses_each_epochs_regular_lr():
    policy, warmup = StepLr(1, gamma=0.5), Warmup("constant", 15, 0.1)
    assert close(lr_at(policy, warmup, 1.0, at(9, 10, 3)), 0.1)
    assert close(lr_at(policy, warmup, 1.0, at(14, 10, 3)), 0.05)
    assert lr_at(policy, warmup, 1.0, at(15, 10, 3)) == 0.5


def test_warmup_by_epoch_counts_epochs_of_the_train_loader():
    warmup = Warmup("linear", 2, 0.1, by_epoch=True)
    assert warmup.length(7) == 14
    assert close(lr_at(FixedLr(), warmup, 1.0, at(13, 7, 4)), 1 - (1 / 14) * 0.9)
    assert lr_at(FixedLr(), warmup, 1.0, at(14, 7, 4)) == 1.0
    with pytest.raises(ValueError, match="epoch length"):
        warmup.length()


def test_momentum_warmup_divides():
    policy = CosineAnnealingMomentum(min_momentum_ratio=0.5, by_epoch=False)
    for kind, factor in (("constant", 0.9), ("linear", 0.9 + 0.1 * 3 / 10), ("exp", 0.9 ** 0.7)):
        got = momentum_at(policy, Warmup(kind, 10, 0.9), 0.95, at(3, 10, 2))
        assert close(got, policy.regular(0.95, at(3, 10, 2)) / factor)
    assert momentum_at(policy, Warmup("constant", 10, 0.9), 0.95, at(0, 10, 2)) > 1  # not clipped
    with pytest.raises(ValueError, match="no warmup_by_epoch"):
        momentum_at(policy, Warmup("linear", 1, 0.9, by_epoch=True), 0.95, at(0, 10, 2))


# -- names, configs and bad parameters -------------------------------------------------------
def test_policy_names():
    assert set(LR_POLICIES) == {"fixed", "step", "exp", "poly", "inv", "cosine_annealing", "flat_cosine_annealing",
                                "cosine_restart", "cyclic", "one_cycle", "linear_annealing"}
    assert set(MOMENTUM_POLICIES) == {"step", "cosine_annealing", "cyclic", "one_cycle", "linear_annealing"}


def test_build_from_config():
    policy, warmup = build_lr_schedule(dict(policy="cosine_annealing", warmup="linear", warmup_iters=1000,
                                            warmup_ratio=0.1, min_lr_ratio=1e-5))
    assert policy == CosineAnnealingLr(min_lr_ratio=1e-5) and warmup == Warmup("linear", 1000, 0.1)
    policy, warmup = build_momentum_schedule(dict(policy="cyclic", target_ratio=[0.85 / 0.95, 1], cyclic_times=1,
                                                  step_ratio_up=0.4, warmup="linear", warmup_iters=5))
    assert policy == CyclicMomentum((0.85 / 0.95, 1)) and warmup.ratio == 0.9
    assert build_lr_schedule(dict(policy="cyclic"))[0].by_epoch is False
    with pytest.raises(ValueError, match="unknown lr policy 'cosine'"):
        build_lr_schedule(dict(policy="cosine"))
    with pytest.raises(ValueError, match=r"takes no \['gamma'\]"):
        build_lr_schedule(dict(policy="poly", gamma=0.1))
    with pytest.raises(ValueError, match=r"lr policy 'one_cycle' needs \['max_lr'\]"):
        build_lr_schedule(dict(policy="one_cycle"))
    with pytest.raises(ValueError, match=r"takes no \['warmup_by_epoch'\]"):
        build_momentum_schedule(dict(policy="step", step=2, warmup="linear", warmup_iters=1, warmup_by_epoch=True))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: StepLr(-1), "step must be a positive integer"),
    (lambda: StepLr([3, 0]), "step must be a positive integer"),
    (lambda: StepMomentum([]), "step must be a positive integer"),
    (lambda: Warmup("linear", 10, 0.0), r"warmup_ratio must be in \(0, 1\]"),
    (lambda: Warmup("linear", 10, 1.5), r"warmup_ratio must be in \(0, 1\]"),
    (lambda: Warmup("cosine", 10, 0.1), "unknown warmup 'cosine'"),
    (lambda: Warmup("exp", 0, 0.1), "warmup_iters must be a positive integer"),
    (lambda: CosineAnnealingLr(min_lr=0.0, min_lr_ratio=0.1), "one of min_lr and min_lr_ratio, not both"),
    (lambda: CosineAnnealingMomentum(min_momentum=0.8, min_momentum_ratio=0.5),
     "one of min_momentum and min_momentum_ratio, not both"),
    (lambda: FlatCosineAnnealingLr(1.5, min_lr=0.0), r"start_percent must be a number in \[0, 1\]"),
    (lambda: CosineRestartLr([10, 20], min_lr=0.0), "same length"),
    (lambda: CosineRestartLr([10, -5], [1, 1], min_lr=0.0), "periods must be"),
    (lambda: CyclicLr(by_epoch=True), "by_epoch must be False"),
    (lambda: CyclicLr(step_ratio_up=1.0), r"step_ratio_up must be in \[0, 1\)"),
    (lambda: CyclicLr(gamma=0.0), r"gamma must be in \(0, 1\]"),
    (lambda: CyclicLr((10, 1, 0.1)), "target_ratio must be"),
    (lambda: CyclicMomentum(anneal_strategy="exp"), "anneal_strategy must be 'cos' or 'linear'"),
    (lambda: CyclicMomentum(cyclic_times=0), "cyclic_times must be a positive integer"),
    (lambda: OneCycleLr(0.01, by_epoch=True), "by_epoch must be False"),
    (lambda: OneCycleLr(0.01, pct_start=1.2), r"pct_start must be a number in \[0, 1\]"),
    (lambda: OneCycleLr(-0.01), "max_lr must be a positive number"),
    (lambda: OneCycleLr(0.01, total_steps=0), "total_steps must be a positive integer"),
    (lambda: OneCycleMomentum(base_momentum=[0.85, 0.8]), "one policy per group"),
])
def test_invalid_parameters_raise_value_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_runtime_errors_are_value_errors_with_reasons():
    with pytest.raises(ValueError, match="at least cyclic_times=5 iterations"):
        CyclicLr(cyclic_times=5).regular(1.0, at(0, 4, 1))
    with pytest.raises(ValueError, match="max_lr has 1 values for 2 param groups"):
        OneCycleLr([0.1]).base_values([0.1, 0.2])


def test_annealing_without_a_target_anneals_to_zero():
    progress = Progress(epoch=3, iter=30, max_epochs=4, max_iters=40, epoch_len=10)
    assert CosineAnnealingLr().regular(0.1, progress) == CosineAnnealingLr(min_lr=0.0).regular(0.1, progress)
    assert LinearAnnealingLr().regular(0.1, progress) == pytest.approx(0.1 * (1 - 3 / 4), rel=1e-12)


def test_a_policy_with_a_required_field_is_an_error_only_when_selected(monkeypatch):
    """A policy added without a preset for its required field: its option says ???, and only
    a config that selects it fails, naming the field."""
    import dataclasses

    from omegaconf import OmegaConf

    from hyrun.config import schedules
    from hyrun.optim import lr_policies

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class HalvingLr(lr_policies.FixedLr):
        every: int

    from hyrun.config import generate

    monkeypatch.setitem(lr_policies.LR_POLICIES, "halving", HalvingLr)
    # the options made here replace no class the ConfigStore's configs hold (they must pickle)
    monkeypatch.setattr(generate, "_GENERATED", dict(generate._GENERATED))
    options = schedules.lr_schemas()
    node = OmegaConf.structured(options["halving"])
    assert OmegaConf.is_missing(node, "every") and sorted(OmegaConf.missing_keys(node)) == ["every"]
    assert not OmegaConf.missing_keys(OmegaConf.structured(options["step"]))  # the preset's [7, 9]
