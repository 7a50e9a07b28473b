"""MMEngine-style parameter schedulers: closed forms, MMEngine's chained updates replayed step by
step, optimizer fields (lr, momentum, betas[0], weight_decay), the plateau rule, bad configs, and
a resumed run that continues with exactly the values of an uninterrupted one."""
from __future__ import annotations

import logging
import math
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from hyrun import EpochBasedRunner
from hyrun.checkpoint import load_checkpoint, resume, runner_state, save_atomic
from hyrun.hooks.base import Hook
from hyrun.hooks.evaluation import EvalHook
from hyrun.hooks.optimizer import OptimizerHook
from hyrun.hooks.param_scheduler import ParamSchedulerHook
from hyrun.optim.param_schedulers import PARAM_SCHEDULERS, build_param_scheduler

from .helpers import tiny_loaders


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-18)


def resolved(cfg: dict[str, Any]):
    return build_param_scheduler(cfg).resolve(max_epochs=100, max_iters=1000, epoch_len=10)


# -- closed forms ------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg, t, start, base, expected", [
    ({"type": "constant", "factor": 0.5, "end": 4}, 0, 2.0, 2.0, 1.0),
    ({"type": "constant", "factor": 0.5, "end": 4}, 2, 2.0, 2.0, 1.0),
    ({"type": "constant", "factor": 0.5, "end": 4}, 3, 2.0, 2.0, 2.0),  # last step of the range: undone
    ({"type": "constant", "factor": 0.5, "begin": 3, "end": 4}, 0, 2.0, 2.0, 1.0),  # one step: kept
    ({"type": "linear", "start_factor": 0.25, "end": 5}, 0, 1.0, 1.0, 0.25),
    ({"type": "linear", "start_factor": 0.25, "end": 5}, 2, 1.0, 1.0, 0.625),
    ({"type": "linear", "start_factor": 0.25, "end_factor": 0.5, "begin": 2, "end": 7}, 4, 1.0, 1.0, 0.5),
    ({"type": "exponential", "gamma": 0.5}, 3, 1.0, 1.0, 0.125),
    ({"type": "step", "step_size": 2}, 1, 1.0, 1.0, 1.0),
    ({"type": "step", "step_size": 2}, 5, 1.0, 1.0, 0.01),
    ({"type": "multi_step", "milestones": [5, 2, 5]}, 1, 1.0, 1.0, 1.0),
    ({"type": "multi_step", "milestones": [5, 2, 5]}, 2, 1.0, 1.0, 0.1),
    ({"type": "multi_step", "milestones": [5, 2, 5]}, 5, 1.0, 1.0, 0.001),
    ({"type": "cosine_annealing", "end": 10}, 0, 1.0, 3.0, 1.0),
    ({"type": "cosine_annealing", "end": 10}, 5, 1.0, 3.0, 0.5),
    ({"type": "cosine_annealing", "end": 10, "eta_min_ratio": 0.1}, 5, 1.0, 2.0, 0.6),  # floor from base
    ({"type": "cosine_annealing", "end": 20, "T_max": 4}, 4, 1.0, 2.0, 0.0),
    ({"type": "cosine_annealing", "end": 20, "T_max": 4}, 6, 1.0, 2.0, 1.0),  # past T_max: up from base
    ({"type": "cosine_annealing", "end": 20, "T_max": 4}, 8, 1.0, 2.0, 2.0),
    ({"type": "poly", "eta_min": 0.1, "power": 2, "end": 5}, 2, 1.0, 1.0, 0.325),
    ({"type": "poly", "eta_min": 0.1, "power": 2, "end": 5}, 4, 1.0, 1.0, 0.1),
    ({"type": "one_cycle", "eta_max": 1.0, "end": 10}, 0, 9.0, 9.0, 0.04),
    ({"type": "one_cycle", "eta_max": 1.0, "end": 10}, 2, 9.0, 9.0, 1.0),
    ({"type": "one_cycle", "eta_max": 1.0, "end": 10}, 9, 9.0, 9.0, 4e-6),
    ({"type": "one_cycle", "eta_max": 1.0, "end": 10, "three_phase": True, "anneal_strategy": "linear"},
     3, 9.0, 9.0, 0.52),
    ({"type": "one_cycle", "eta_max": 1.0, "end": 10, "three_phase": True}, 4, 9.0, 9.0, 0.04),
])
def test_closed_forms(cfg, t, start, base, expected):
    schedule = resolved({"param_name": "lr", "by_epoch": False, **cfg})
    assert close(schedule.value(t, start, base), expected)


def test_resolve_defaults_end_and_converts_epochs():
    cosine = build_param_scheduler({"type": "cosine_annealing", "param_name": "lr", "begin": 0.5,
                                    "T_max": 3, "convert_to_iter_based": True})
    iters = cosine.resolve(max_epochs=4, max_iters=40, epoch_len=10)
    assert (iters.begin, iters.end, iters.T_max, iters.by_epoch, iters.iter_based) == (5, 40, 30, False, True)
    steps = build_param_scheduler({"type": "multi_step", "param_name": "lr", "milestones": [1, 3],
                                   "convert_to_iter_based": True})
    steps = steps.resolve(max_epochs=4, max_iters=40, epoch_len=10)
    assert steps.milestones == (10, 30)
    by_iter = build_param_scheduler({"type": "linear", "param_name": "lr", "by_epoch": False})
    assert by_iter.resolve(max_epochs=4, max_iters=40, epoch_len=10).end == 40
    with pytest.raises(ValueError, match="end should be larger than begin"):
        build_param_scheduler({"type": "linear", "param_name": "lr", "begin": 5}).resolve(
            max_epochs=4, max_iters=40, epoch_len=10)
    with pytest.raises(ValueError, match="past total_steps"):
        resolved({"type": "one_cycle", "param_name": "lr", "eta_max": 1.0, "end": 10}).value(11, 1.0, 1.0)


# -- MMEngine's chained updates, replayed ------------------------------------------------------
# A direct re-derivation of mmengine.optim.scheduler.param_scheduler: each scheduler records
# ``initial_<param>`` with setdefault, takes one step when constructed, and each later step
# (after every iteration for iteration-based ones, after every epoch for the others) updates the
# groups' current values recursively when ``begin <= global step < end``.
class MMEngineScheduler:
    def __init__(self, groups: list[dict], cfg: dict[str, Any], epoch_len: int, max_epochs: int) -> None:
        cfg = dict(cfg)
        self.kind, self.param = cfg.pop("type"), cfg.pop("param_name")
        self.by_epoch = cfg.pop("by_epoch", True)
        self.begin = cfg.pop("begin", 0)
        self.end = cfg.pop("end", max_epochs if self.by_epoch else max_epochs * epoch_len)
        if cfg.pop("convert_to_iter_based", False):  # build_iter_from_epoch
            self.by_epoch = False
            self.begin, self.end = int(self.begin * epoch_len), int(self.end * epoch_len)
            for key in ("T_max", "step_size", "total_steps"):
                if cfg.get(key) is not None:
                    cfg[key] *= epoch_len
            if "milestones" in cfg:
                cfg["milestones"] = [m * epoch_len for m in cfg["milestones"]]
        self.cfg, self.groups = cfg, groups
        self.total_iters = self.end - self.begin - 1
        for group in groups:
            group.setdefault(f"initial_{self.param}", group[self.param])
        self.base_values = [group[f"initial_{self.param}"] for group in groups]
        if self.kind == "cosine_annealing":
            self.T_max = cfg.get("T_max") or (self.end - self.begin)
        if self.kind == "one_cycle":
            self.total_steps = cfg.get("total_steps") or (self.end - self.begin)
        self.last_step, self.global_step = -1, -1
        self.step()

    def step(self) -> None:
        self.global_step += 1
        if self.begin <= self.global_step < self.end:
            self.last_step += 1
            for group, base in zip(self.groups, self.base_values):
                group[self.param] = self.next_value(group[self.param], base)

    def next_value(self, v: float, base: float) -> float:
        c, n = self.cfg, self.last_step
        if self.kind == "constant":
            factor = c.get("factor", 1 / 3)
            return v * factor if n == 0 else (v * (1.0 / factor) if n == self.total_iters else v)
        if self.kind == "linear":
            sf, ef = c.get("start_factor", 1 / 3), c.get("end_factor", 1.0)
            return v * sf if n == 0 else v * (1.0 + (ef - sf) / (self.total_iters * sf + (n - 1) * (ef - sf)))
        if self.kind == "exponential":
            return v if n == 0 else v * c["gamma"]
        if self.kind == "step":
            return v if n == 0 or n % c["step_size"] else v * c.get("gamma", 0.1)
        if self.kind == "multi_step":
            counts = Counter(c["milestones"])
            return v * c.get("gamma", 0.1) ** counts[n] if n in counts else v
        if self.kind == "cosine_annealing":
            eta = base * c["eta_min_ratio"] if c.get("eta_min_ratio") is not None else c.get("eta_min") or 0.0
            T = self.T_max
            if n == 0:
                return v
            if (n - 1 - T) % (2 * T) == 0:
                return v + (base - eta) * (1 - math.cos(math.pi / T)) / 2
            return (1 + math.cos(math.pi * n / T)) / (1 + math.cos(math.pi * (n - 1) / T)) * (v - eta) + eta
        if self.kind == "poly":
            eta, power = c.get("eta_min", 0.0), c.get("power", 1.0)
            return v if n == 0 else (v - eta) * (1 - 1 / (self.total_iters - n + 1)) ** power + eta
        if self.kind == "one_cycle":
            total, pct = self.total_steps, c.get("pct_start", 0.3)
            initial = c["eta_max"] / c.get("div_factor", 25.0)
            peak, low = c["eta_max"], initial / c.get("final_div_factor", 1e4)
            if c.get("three_phase"):
                phases = [(float(pct * total) - 1, initial, peak), (float(2 * pct * total) - 2, peak, initial),
                          (total - 1, initial, low)]
            else:
                phases = [(float(pct * total) - 1, initial, peak), (total - 1, peak, low)]
            start_step = 0
            for i, (end_step, a, b) in enumerate(phases):
                if n <= end_step or i == len(phases) - 1:
                    pct_done = (n - start_step) / (end_step - start_step)
                    if c.get("anneal_strategy", "cos") == "cos":
                        return b + (a - b) / 2.0 * (math.cos(math.pi * pct_done) + 1)
                    return (b - a) * pct_done + a
                start_step = end_step
        raise AssertionError(self.kind)


def mmengine_values(cfgs, initial: list[dict], param: str, max_epochs: int, epoch_len: int) -> list[list[float]]:
    """Each group's ``param`` as each iteration of an MMEngine run uses it."""
    groups = [dict(g) for g in initial]
    schedulers = [MMEngineScheduler(groups, cfg, epoch_len, max_epochs) for cfg in cfgs]
    seen = []
    for _ in range(max_epochs):
        for _ in range(epoch_len):
            seen.append([g[param] for g in groups])
            for s in schedulers:  # ParamSchedulerHook.after_train_iter
                if not s.by_epoch:
                    s.step()
        for s in schedulers:  # after_train_epoch
            if s.by_epoch:
                s.step()
    return seen


def fake_runner(groups: list[dict], max_epochs: int, epoch_len: int) -> SimpleNamespace:
    return SimpleNamespace(
        optimizer=SimpleNamespace(param_groups=groups), data_loaders={"train": range(epoch_len)},
        max_epochs=max_epochs, max_iters=max_epochs * epoch_len, epoch=0, iter=0,
        logger=logging.getLogger("hyrun.test"))


def hook_values(hook: ParamSchedulerHook, runner, read, publish=None) -> list:
    """Drive ``hook`` through a run on a fake runner, reading the groups at each iteration."""
    stages, seen = hook.stages(), []
    hook.before_run(runner)
    epoch_len = len(runner.data_loaders["train"])
    for epoch in range(runner.epoch, runner.max_epochs):
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        for i in range(epoch_len):
            runner.iter = epoch * epoch_len + i
            if "before_train_iter" in stages:
                hook.before_train_iter(runner)
            seen.append(read(runner.optimizer.param_groups))
        if publish:
            publish(runner, epoch)
    return seen


def lr_of(groups):
    return [g["lr"] for g in groups]


CHAINS = {
    "warmup by iter, then cosine by epoch converted": [
        {"type": "linear", "start_factor": 0.1, "begin": 0, "end": 5, "by_epoch": False},
        {"type": "cosine_annealing", "begin": 1, "eta_min_ratio": 0.05, "convert_to_iter_based": True}],
    "overlapping warmup by iter and multi_step by epoch": [
        {"type": "linear", "start_factor": 0.001, "end": 8, "by_epoch": False},
        {"type": "multi_step", "milestones": [3, 5], "gamma": 0.1}],
    "constant, a gap, exponential": [
        {"type": "constant", "factor": 0.5, "begin": 2, "end": 9, "by_epoch": False},
        {"type": "exponential", "gamma": 0.9, "begin": 12, "by_epoch": False}],
    "one-step constant, then step by epoch": [
        {"type": "constant", "factor": 0.5, "begin": 3, "end": 4, "by_epoch": False},
        {"type": "step", "step_size": 2, "gamma": 0.5, "begin": 1}],
    "multi_step counting from begin, repeated milestone": [
        {"type": "multi_step", "milestones": [1, 3, 3], "begin": 2, "end": 7}],
    "cosine past T_max, starting below its base": [
        {"type": "linear", "start_factor": 0.25, "end_factor": 0.5, "end": 2},
        {"type": "cosine_annealing", "T_max": 4, "eta_min": 0.001, "begin": 10, "end": 35, "by_epoch": False}],
    "poly with a floor, converted; then exponential": [
        {"type": "poly", "eta_min": 1e-3, "power": 2, "end": 5, "convert_to_iter_based": True},
        {"type": "exponential", "gamma": 0.95, "begin": 5}],
    "one_cycle over the run": [{"type": "one_cycle", "eta_max": 0.5, "by_epoch": False}],
    "one_cycle three-phase linear, longer total_steps": [
        {"type": "one_cycle", "eta_max": 0.5, "total_steps": 50, "pct_start": 0.25, "three_phase": True,
         "anneal_strategy": "linear", "begin": 3, "by_epoch": False}],
    "overlapping cosine (eta_min 0) and step": [
        {"type": "cosine_annealing", "by_epoch": False},
        {"type": "step", "step_size": 3, "gamma": 0.5}],
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_schedule_equals_mmengine_chained_updates_at_every_iteration(name):
    cfgs = [{"param_name": "lr", **c} for c in CHAINS[name]]
    max_epochs, epoch_len, initial = 8, 5, [{"lr": 0.1}, {"lr": 0.02}]
    expected = mmengine_values(cfgs, initial, "lr", max_epochs, epoch_len)
    groups = [dict(g) for g in initial]
    got = hook_values(ParamSchedulerHook(cfgs), fake_runner(groups, max_epochs, epoch_len), lr_of)
    assert len(got) == len(expected) == max_epochs * epoch_len
    for i, (a, b) in enumerate(zip(got, expected)):
        assert all(close(x, y) for x, y in zip(a, b)), (i, a, b)
    assert groups[0]["initial_lr"] == 0.1  # MMEngine's base, recorded in the group


def test_long_warmup_then_cosine_stays_within_1e12():
    cfgs = [{"type": "linear", "param_name": "lr", "start_factor": 1e-3, "end": 500, "by_epoch": False},
            {"type": "cosine_annealing", "param_name": "lr", "begin": 500, "by_epoch": False, "eta_min": 1e-5}]
    expected = mmengine_values(cfgs, [{"lr": 0.4}], "lr", 10, 300)
    got = hook_values(ParamSchedulerHook(cfgs), fake_runner([{"lr": 0.4}], 10, 300), lr_of)
    assert all(close(a[0], b[0]) for a, b in zip(got, expected))


def test_epoch_only_schedulers_are_not_called_per_iteration():
    hook = ParamSchedulerHook([{"type": "step", "param_name": "lr", "step_size": 1}])
    assert "before_train_iter" not in hook.stages()
    assert "before_train_iter" in ParamSchedulerHook([{"type": "step", "param_name": "lr", "step_size": 1,
                                                       "convert_to_iter_based": True}]).stages()


# -- optimizer fields: momentum (SGD, Adam betas[0]), weight_decay ---------------------------------
class Seen(Hook):
    """What the optimizer holds when it steps, per iteration."""

    def __init__(self, read) -> None:
        self.read, self.values = read, []

    def after_train_iter(self, runner) -> None:
        self.values.append(self.read(runner.optimizer.param_groups[0]))


MOMENTUM_AND_DECAY = [{"type": "step", "param_name": "momentum", "step_size": 1, "gamma": 0.5},
                      {"type": "exponential", "param_name": "weight_decay", "gamma": 0.9, "by_epoch": False}]


@pytest.mark.parametrize("make, momentum_of", [
    (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01), lambda g: g["momentum"]),
    (lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), weight_decay=0.01), lambda g: g["betas"][0]),
])
def test_momentum_and_weight_decay(tmp_path, make, momentum_of):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    runner = EpochBasedRunner(model, make(model.parameters()), tiny_loaders(), tmp_path, max_epochs=3,
                              logger=logging.getLogger("hyrun.test"))
    seen = Seen(lambda g: (momentum_of(g), g["weight_decay"], g.get("betas", (0, 0.999))[1]))
    runner.register_hook(OptimizerHook())
    runner.register_hook(ParamSchedulerHook(MOMENTUM_AND_DECAY))
    runner.register_hook(seen)
    runner.run([("train", 1)])
    expected = [(0.9 * 0.5 ** (i // 3), 0.01 * 0.9 ** i, 0.999) for i in range(9)]
    assert all(all(close(a, b) for a, b in zip(got, want)) for got, want in zip(seen.values, expected))
    group = runner.optimizer.param_groups[0]
    assert group["initial_momentum"] == 0.9 and group["initial_weight_decay"] == 0.01
    assert ("momentum" in group) == isinstance(runner.optimizer, torch.optim.SGD)  # Adam gets no key


# -- plateau ----------------------------------------------------------------------------------------
def test_plateau_reduces_after_patience_with_cooldown_and_min_value():
    metrics = [1.0, 0.95, 0.96, 0.97, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4]
    hook = ParamSchedulerHook([{"type": "reduce_on_plateau", "param_name": "lr", "monitor": "loss",
                                "factor": 0.5, "patience": 1, "cooldown": 1, "threshold": 0.1,
                                "threshold_mode": "rel", "min_value": 0.02}])

    def publish(runner, epoch):  # the val phase, plus a record without the metric
        hook.after_record(runner, {"mode": "val", "epoch": epoch + 1, "iter": runner.iter, "accuracy": 0.3})
        hook.after_record(runner, {"mode": "val", "epoch": epoch + 1, "iter": runner.iter, "loss": metrics[epoch]})

    got = hook_values(hook, fake_runner([{"lr": 0.1}], 14, 2), lr_of, publish)
    per_epoch = [got[2 * e][0] for e in range(14)]
    # worse twice (patience 1) -> halve; cooldown 1 eats the next bad one; floor 0.02, then no change
    expected = [0.1] * 3 + [0.05] * 4 + [0.025] * 3 + [0.02] * 4
    assert all(close(a, b) for a, b in zip(per_epoch, expected)), per_epoch
    assert hook._trackers[0].best == 0.5


def test_plateau_greater_abs_and_begin():
    accuracy = [0.9, 0.5, 0.52, 0.525, 0.54, 0.6, 0.6]
    hook = ParamSchedulerHook([{"type": "reduce_on_plateau", "param_name": "lr", "monitor": "accuracy",
                                "rule": "greater", "threshold": 0.01, "threshold_rule": "abs",
                                "patience": 0, "factor": 0.1, "begin": 2}])

    def publish(runner, epoch):
        hook.after_record(runner, {"mode": "val", "epoch": epoch + 1, "accuracy": accuracy[epoch]})

    got = hook_values(hook, fake_runner([{"lr": 1.0}], 7, 1), lr_of, publish)
    # the record after epoch 1 is before begin=2 (had it counted, 0.5 would be worse than 0.9);
    # 0.5 then 0.52 are best, 0.525 is not 0.01 better -> x0.1 from epoch 4 on, then better again
    assert [round(v[0], 12) for v in got] == [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1]


# -- bad configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg, message", [
    ({"type": "cosine", "param_name": "lr"}, "valid: constant, linear, exponential, step, multi_step"),
    ({"type": "linear", "param_name": "lr", "gamma": 0.1}, r"takes no \['gamma'\]; it takes type, param_name"),
    ({"type": "exponential", "param_name": "lr"}, r"needs \['gamma'\]"),
    ({"type": "linear", "begin": 0}, r"needs \['param_name'\]"),
    ({"type": "linear", "param_name": "lr", "begin": 5, "end": 5}, "end should be larger than begin"),
    ({"type": "linear", "param_name": "lr", "start_factor": 2}, r"start_factor must be a number in \[0, 1\]"),
    ({"type": "step", "param_name": "lr", "step_size": 1, "by_epoch": False, "convert_to_iter_based": True},
     "needs by_epoch=True"),
    ({"type": "linear", "param_name": "lr", "begin": 0.5}, "begin must be a non-negative integer"),
    ({"type": "cosine_annealing", "param_name": "lr", "eta_min": 0, "eta_min_ratio": 0.1}, "not both"),
    ({"type": "reduce_on_plateau", "param_name": "lr", "by_epoch": False}, "only by_epoch=True"),
    ({"type": "reduce_on_plateau", "param_name": "lr", "factor": 1.0}, r"factor must be in \[0, 1\)"),
    ({"type": "reduce_on_plateau", "param_name": "lr", "threshold_rule": "x"}, "threshold_rule must be"),
])
def test_bad_entries(cfg, message):
    with pytest.raises(ValueError, match=message):
        ParamSchedulerHook([cfg])


@pytest.mark.parametrize("cfgs, message", [
    ([{"type": "linear", "param_name": "foo"}], r"param group 0 has no 'foo' \(it has \['lr'"),
    ([{"type": "linear", "param_name": "lr", "end": 8, "by_epoch": False},
      {"type": "cosine_annealing", "param_name": "lr", "eta_min": 1e-4}],
     r"entries 0 \(linear\) and 1 \(cosine_annealing\) both drive 'lr' over iterations \[0, 8\)"),
    ([{"type": "one_cycle", "param_name": "lr", "eta_max": [1.0, 2.0]}], "2 values for 1 param groups"),
])
def test_bad_schedules_for_the_run(cfgs, message):
    with pytest.raises(ValueError, match=message):
        ParamSchedulerHook(cfgs).before_run(fake_runner([{"lr": 0.1}], 4, 5))


def test_registry_names_are_snake_case():
    assert list(PARAM_SCHEDULERS) == ["constant", "linear", "exponential", "step", "multi_step",
                                      "cosine_annealing", "poly", "one_cycle", "reduce_on_plateau"]


# -- a resumed run continues with the same values ---------------------------------------------------
SCHEDULE = [
    {"type": "linear", "param_name": "lr", "start_factor": 0.25, "end": 3, "by_epoch": False},
    {"type": "cosine_annealing", "param_name": "lr", "begin": 1, "eta_min_ratio": 0.1,
     "convert_to_iter_based": True},
    {"type": "multi_step", "param_name": "momentum", "milestones": [2], "gamma": 0.5},
    {"type": "reduce_on_plateau", "param_name": "weight_decay", "monitor": "loss", "patience": 0,
     "cooldown": 1},
]


class StopAfter(Hook):
    priority = 100

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def after_train_epoch(self, runner) -> None:
        runner.should_stop = runner.epoch + 1 >= self.epochs


def real_runner(work_dir, seed: int, *extra: Hook):
    torch.manual_seed(seed)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    runner = EpochBasedRunner(model, optimizer, tiny_loaders(), work_dir, max_epochs=4,
                              logger=logging.getLogger("hyrun.test"))
    seen = Seen(lambda g: (g["lr"], g["momentum"], g["weight_decay"]))
    for hook in (OptimizerHook(), EvalHook(metric="loss"), ParamSchedulerHook(SCHEDULE), seen, *extra):
        runner.register_hook(hook)
    return runner, seen


def test_resumed_run_continues_with_the_values_of_an_uninterrupted_one(tmp_path):
    straight, straight_seen = real_runner(tmp_path / "a", seed=0)
    straight.run([("train", 1)])

    first, first_seen = real_runner(tmp_path / "b", 0, StopAfter(2))
    first.run([("train", 1)])
    path = tmp_path / "b" / "epoch_2.pth"
    save_atomic(runner_state(first, epoch=first.epoch, iter=first.iter), path)
    assert set(load_checkpoint(path)["hooks"]["ParamSchedulerHook"]) >= {"bases", "plateaus"}

    second, second_seen = real_runner(tmp_path / "b", seed=1)  # other weights until resumed
    resume(second, path)
    second.run([("train", 1)])

    assert (second.epoch, second.iter) == (4, 12)
    assert first_seen.values + second_seen.values == straight_seen.values
    for a, b in zip(straight.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)
    decay = [v[2] for v in straight_seen.values]
    # val loss (random labels) rises after epoch 2: that record, read only at the start of epoch 3,
    # crossed the checkpoint unread; the one after epoch 3 falls in the cooldown
    assert decay[:6] == [0.01] * 6 and all(close(d, 0.001) for d in decay[6:])


def test_iter_runner_and_values(tmp_path):
    from hyrun.runner.iter import IterBasedRunner

    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    runner = IterBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), tiny_loaders(), tmp_path,
                             max_iters=7, logger=logging.getLogger("hyrun.test"))
    hook = ParamSchedulerHook([{"type": "linear", "param_name": "lr", "start_factor": 0.25, "end": 4,
                                "by_epoch": False},
                               {"type": "exponential", "param_name": "lr", "gamma": 0.5}])
    seen = Seen(lambda g: g["lr"])
    for h in (OptimizerHook(), hook, seen):
        runner.register_hook(h)
    runner.run([("train", 7)])
    # 3 iterations per epoch: warmup over iterations 0-3, halved at each epoch boundary
    expected = [0.025, 0.05, 0.075, 0.05, 0.05, 0.05, 0.025]
    assert all(close(a, b) for a, b in zip(seen.values, expected)) and len(seen.values) == 7
    assert [hook.values(i, i // 3)["lr"][0] for i in range(7)] == seen.values


def test_plateau_that_never_sees_its_metric_warns(caplog):
    hook = ParamSchedulerHook([{"type": "reduce_on_plateau", "param_name": "lr", "monitor": "accuracy"}])

    def publish(runner, epoch):
        hook.after_record(runner, {"mode": "val", "epoch": epoch + 1, "loss": 1.0})

    runner = fake_runner([{"lr": 0.1}], 2, 1)
    hook_values(hook, runner, lr_of, publish)
    with caplog.at_level(logging.WARNING, logger="hyrun.test"):
        hook.after_run(runner)
    assert "monitors 'accuracy', but the val records have only ['loss']" in caplog.text


def test_plateau_reduces_the_value_epoch_schedulers_already_moved():
    # MMEngine steps epoch schedulers in after_train_epoch, before validation: the plateau then
    # sees next epoch's value. After epoch 2 that is 0.0625, whose reduction floors at 0.1 and is
    # dropped; had it read epoch 2's own 0.125, it would have cut it to 0.1.
    hook = ParamSchedulerHook([{"type": "exponential", "param_name": "lr", "gamma": 0.5},
                               {"type": "reduce_on_plateau", "param_name": "lr", "factor": 0.5, "patience": 0,
                                "min_value": 0.1}])

    def publish(runner, epoch):  # a loss that only gets worse
        hook.after_record(runner, {"mode": "val", "epoch": epoch + 1, "loss": float(epoch)})

    got = hook_values(hook, fake_runner([{"lr": 1.0}], 5, 1), lr_of, publish)
    assert [v[0] for v in got] == [1.0, 0.5, 0.125, 0.0625, 0.03125]
