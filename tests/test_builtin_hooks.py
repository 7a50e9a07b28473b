"""The built-in optional hooks: EMA, early stopping, NaN guard, time limit, profiler, buffer sync."""
from __future__ import annotations

import inspect
import json
import logging
import math
import os
import time
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from hyrun.checkpoint import load_checkpoint, resume, runner_state
from hyrun.hooks.base import Hook
from hyrun.hooks.checkpoint import CheckpointHook
from hyrun.hooks.early_stopping import EarlyStoppingHook
from hyrun.hooks.ema import EMAHook
from hyrun.hooks.evaluation import EvalHook
from hyrun.hooks.nan_guard import NanGuardHook
from hyrun.hooks.optimizer import OptimizerHook
from hyrun.hooks.profiler import ProfilerHook
from hyrun.hooks.sync_buffers import SyncBuffersHook
from hyrun.hooks.time_limit import TimeLimitHook
from hyrun.runner.epoch import EpochBasedRunner
from hyrun.runner.iter import IterBasedRunner

from .helpers import published, tiny_loaders, tiny_runner

LOGGER = "hyrun.test"
ITERS_PER_EPOCH = 3  # tiny_loaders: 10 samples in batches of 4


class Probe(Hook):
    """Calls ``fn(runner)`` at one stage and keeps what it returns."""

    def __init__(self, stage: str, fn, priority: int) -> None:
        self.priority, self.seen = priority, []
        setattr(self, stage, lambda runner: self.seen.append(fn(runner)))

    def stages(self) -> list[str]:
        return [s for s in vars(self) if s.startswith(("before_", "after_"))]


def params_of(runner) -> list[torch.Tensor]:
    return [p.detach().clone() for p in runner.model.parameters()]


def buffers_of(runner, hook: EMAHook) -> list[torch.Tensor]:
    return [b.detach().clone() for b in hook._buffers]


def hand_ema(initial: list[torch.Tensor], live: list[list[torch.Tensor]], momentum: float, interval: int,
             warm_up: int) -> list[list[torch.Tensor]]:
    """MMCV's EMA by hand: the averages after each iteration, given the weights after each step."""
    ema, history = [p.clone() for p in initial], []
    m0 = momentum**interval
    for t, weights in enumerate(live):
        m = min(m0, (1 + t) / (warm_up + t))
        if t % interval == 0:
            ema = [(1 - m) * e + m * w for e, w in zip(ema, weights)]
        history.append([e.clone() for e in ema])
    return history


# -- EMA -------------------------------------------------------------------------------------
@pytest.mark.parametrize("interval", [1, 2])
def test_ema_follows_mmcv_formula_with_warm_up_and_interval(tmp_path, interval):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    initial = params_of(runner)
    hook = EMAHook(momentum=0.5, interval=interval, warm_up=4)
    runner.register_hook(hook)
    live = Probe("after_train_iter", params_of, priority=45)  # after the step (40), before the EMA (49)
    at_epoch_end = Probe("after_train_epoch", params_of, priority=60)  # after the swap
    runner.register_hook(live)
    runner.register_hook(at_epoch_end)
    runner.run([("train", 1)])

    expected = hand_ema(initial, live.seen, momentum=0.5, interval=interval, warm_up=4)
    assert len(expected) == 2 * ITERS_PER_EPOCH
    # warm-up: m = min(0.5 ** interval, (1 + t) / (4 + t)) -> 0.25, 0.4, 0.5 ... for interval 1
    for got, want in zip(at_epoch_end.seen, [expected[2], expected[5]]):
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-7)
    # the run ends with the EMA weights in the parameters, the live ones in the buffers
    assert hook.swapped
    for p, w in zip(runner.model.parameters(), expected[-1]):
        torch.testing.assert_close(p.detach(), w, rtol=1e-6, atol=1e-7)
    for b, w in zip(buffers_of(runner, hook), live.seen[-1]):
        torch.testing.assert_close(b, w)
    if interval == 2:  # iterations 2, 4, 6 do not update
        for t in (1, 3, 5):
            assert all(torch.equal(a, b) for a, b in zip(expected[t], expected[t - 1]))


def test_ema_momentum_is_raised_to_the_interval_as_mmcv_does():
    assert EMAHook(momentum=0.1, interval=3).momentum == pytest.approx(0.001)
    with pytest.raises(ValueError):
        EMAHook(interval=0)
    with pytest.raises(ValueError):
        EMAHook(momentum=1.0)


def test_ema_is_what_evaluation_sees_and_training_continues_from_live_weights(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    hook = EMAHook(momentum=0.5, warm_up=1)
    runner.register_hook(hook)
    live = Probe("after_train_iter", params_of, priority=45)
    ema_at_eval = Probe("after_train_epoch", params_of, priority=70)  # where EvalHook runs
    start = Probe("before_train_epoch", params_of, priority=60)  # after the swap back
    records = published(runner)
    val_losses = Probe("after_val_epoch", lambda r: records[-1]["loss"], priority=50)
    val_model = Probe("after_val_epoch", params_of, priority=51)
    for probe in (live, ema_at_eval, start, val_losses, val_model):
        runner.register_hook(probe)
    runner.run([("train", 1), ("val", 1)])

    initial = start.seen[0]
    expected = hand_ema(initial, live.seen, momentum=0.5, interval=1, warm_up=1)
    # evaluation at the end of each epoch, and the workflow's val phase, see the EMA weights
    for epoch in range(2):
        ema = expected[(epoch + 1) * ITERS_PER_EPOCH - 1]
        for got in (ema_at_eval.seen[epoch], val_model.seen[epoch]):
            for g, w in zip(got, ema):
                torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-7)
        assert not torch.equal(ema[0], live.seen[(epoch + 1) * ITERS_PER_EPOCH - 1][0])
    # ... and the val loss is the EMA model's
    model = nn.Linear(4, 3)
    with torch.no_grad():
        for p, w in zip(model.parameters(), expected[ITERS_PER_EPOCH - 1]):
            p.copy_(w)
        losses = [nn.functional.cross_entropy(model(x), y).item() for x, y in tiny_loaders()["val"]]
    assert val_losses.seen[0] == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    # the second epoch starts from the live weights the first one ended with
    for g, w in zip(start.seen[1], live.seen[ITERS_PER_EPOCH - 1]):
        assert torch.equal(g, w)


def test_a_run_stopped_mid_epoch_ends_with_the_ema_weights(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=3)
    hook = EMAHook(momentum=0.5, warm_up=1)
    runner.register_hook(hook)
    live = Probe("after_train_iter", params_of, priority=45)
    runner.register_hook(live)
    runner.register_hook(Probe("after_train_iter", lambda r: setattr(r, "should_stop", r.iter == 3), priority=60))
    initial = params_of(runner)
    runner.run([("train", 1)])
    assert runner.iter == 4 and hook.swapped
    expected = hand_ema(initial, live.seen, momentum=0.5, interval=1, warm_up=1)[-1]
    for p, w in zip(runner.model.parameters(), expected):
        torch.testing.assert_close(p.detach(), w, rtol=1e-6, atol=1e-7)


def test_ema_buffers_are_in_checkpoints_and_a_restored_run_continues_exactly(tmp_path):
    whole = tiny_runner(EpochBasedRunner, tmp_path / "whole", max_epochs=2)
    whole_hook = EMAHook(momentum=0.5, warm_up=1)
    whole.register_hook(whole_hook)
    whole.register_hook(CheckpointHook())
    ema_after_1 = Probe("after_train_epoch", params_of, priority=60)
    whole.register_hook(ema_after_1)
    whole.run([("train", 1)])

    checkpoint = load_checkpoint(tmp_path / "whole" / "checkpoints" / "epoch_1.pth")  # weights_only
    state = checkpoint["state_dict"]
    assert {"ema_weight", "ema_bias"} <= set(state)
    assert checkpoint["hooks"]["EMAHook"] == {"swapped": True}
    assert torch.equal(state["weight"], ema_after_1.seen[0][0])  # saved after the swap: EMA weights

    # a fresh model has no ema_* buffers until before_run: load non-strictly, the hook takes them
    restored = tiny_runner(EpochBasedRunner, tmp_path / "restored", max_epochs=2)
    hook = EMAHook(momentum=0.5, warm_up=1)
    restored.register_hook(hook)
    missing, unexpected = restored.model.load_state_dict(state, strict=False)
    assert not missing and set(unexpected) == {"ema_weight", "ema_bias"}
    restored.optimizer.load_state_dict(checkpoint["optimizer"])
    restored.epoch, restored.iter = checkpoint["meta"]["epoch"], checkpoint["meta"]["iter"]
    restored.call_hook("after_load_checkpoint", checkpoint)
    assert torch.equal(restored.model.ema_weight, state["ema_weight"]) and hook.swapped
    restored.run([("train", 1)])

    whole_state, restored_state = whole.model.state_dict(), restored.model.state_dict()
    assert list(whole_state) == list(restored_state)
    for key, value in whole_state.items():
        torch.testing.assert_close(restored_state[key], value)


def test_a_mid_epoch_checkpoint_holds_live_weights_and_is_not_swapped_back(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    runner.register_hook(EMAHook(momentum=0.5, warm_up=1))
    saved = Probe("after_train_iter", lambda r: runner_state(r, epoch=r.epoch, iter=r.iter + 1), priority=60)
    runner.register_hook(saved)
    runner.run([("train", 1)])
    mid = saved.seen[0]
    assert mid["hooks"]["EMAHook"] == {"swapped": False}
    assert not torch.equal(mid["state_dict"]["weight"], mid["state_dict"]["ema_weight"])

    again = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    hook = EMAHook(momentum=0.5, warm_up=1)
    again.register_hook(hook)
    again.model.load_state_dict(mid["state_dict"], strict=False)
    hook.after_load_checkpoint(again, mid)
    start = Probe("before_train_epoch", params_of, priority=60)
    again.register_hook(start)
    again.run([("train", 1)])
    assert torch.equal(start.seen[0][0], mid["state_dict"]["weight"])  # MMCV's blind swap would load the EMA


def test_resume_restores_the_ema_buffers(tmp_path):
    first = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    first.register_hook(EMAHook(momentum=0.5, warm_up=1))
    first.register_hook(CheckpointHook())
    first.run([("train", 1)])
    again = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    again.register_hook(EMAHook(momentum=0.5, warm_up=1))
    resume(again, tmp_path / "checkpoints" / "epoch_1.pth")
    assert torch.equal(again.model.ema_weight, first.model.ema_weight)


def test_ema_unwraps_a_data_parallel_model(tmp_path):
    torch.manual_seed(0)
    inner = nn.Linear(4, 3)
    model = nn.DataParallel(inner)  # no GPU: calls the module directly
    runner = EpochBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), tiny_loaders(), tmp_path,
                              max_epochs=1, logger=logging.getLogger(LOGGER))
    runner.register_hook(OptimizerHook())
    hook = EMAHook(momentum=0.5, warm_up=1)
    runner.register_hook(hook)
    runner.run([("train", 1)])
    assert {"ema_weight", "ema_bias"} <= set(inner.state_dict()) and hook.swapped
    assert not torch.equal(inner.weight, inner.ema_weight)


# -- early stopping --------------------------------------------------------------------------
def scores(hook: EarlyStoppingHook, values) -> list[bool]:
    return [hook.check(v)[0] for v in values]


def test_early_stopping_greater_with_min_delta_and_patience():
    hook = EarlyStoppingHook("accuracy", min_delta=0.25, patience=2)
    assert hook.rule == "greater"
    # 0.5 best; 0.625 < 0.75 waits; 0.75 == best + delta improves; 0.875, 0.9375 wait: stop
    assert scores(hook, [0.5, 0.625, 0.75, 0.875, 0.9375]) == [False, False, False, False, True]
    assert (hook.best_score, hook.wait_count) == (0.75, 2)


def test_early_stopping_less_rule_is_inferred_for_losses():
    hook = EarlyStoppingHook("val_loss", min_delta=0.25, patience=1)
    assert hook.rule == "less"
    assert scores(hook, [2.0, 1.75, 1.625]) == [False, False, True]  # 1.75 == 2 - 0.25 improves
    assert hook.best_score == 1.75


def test_early_stopping_threshold_and_non_finite_scores():
    hook = EarlyStoppingHook("accuracy", stopping_threshold=0.9)
    assert scores(hook, [0.5, 0.9]) == [False, False]  # strictly better than the threshold
    stop, reason = hook.check(0.95)
    assert stop and hook.best_score == 0.95 and "threshold" in reason
    assert EarlyStoppingHook("loss").check(math.nan)[0]
    assert not EarlyStoppingHook("loss", check_finite=False).check(math.inf)[0]
    with pytest.raises(ValueError):
        EarlyStoppingHook("quality")  # no rule to infer
    assert EarlyStoppingHook("quality", rule="greater").rule == "greater"


def test_early_stopping_defaults_are_mmengines():
    defaults = {k: p.default for k, p in inspect.signature(EarlyStoppingHook).parameters.items()}
    assert defaults == {"monitor": "accuracy", "rule": None, "min_delta": 0.1, "strict": False,
                        "check_finite": True, "patience": 5, "stopping_threshold": None}


def frozen(runner):
    for group in runner.optimizer.param_groups:
        group["lr"] = 0.0  # the metric never changes
    return runner


def test_early_stopping_stops_an_epoch_run_after_patience_evaluations(tmp_path, caplog):
    runner = frozen(tiny_runner(EpochBasedRunner, tmp_path, max_epochs=20))
    runner.register_hook(EarlyStoppingHook("accuracy", patience=2))
    runner.register_hook(EvalHook(metric="accuracy"))  # registered after it, runs before it (70 < 80)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        runner.run([("train", 1)])
    assert runner.epoch == 3 and runner.should_stop  # best at 1, no improvement at 2 and 3
    assert "early stopping" in runner.stop_reason
    assert any("did not improve" in r.getMessage() for r in caplog.records)


def test_early_stopping_by_iteration_evaluation(tmp_path):
    runner = frozen(tiny_runner(IterBasedRunner, tmp_path, max_iters=40))
    runner.register_hook(EvalHook(by_epoch=False, interval=2, metric="accuracy"))
    runner.register_hook(EarlyStoppingHook("accuracy", patience=2))
    runner.run([("train", 1)])
    assert runner.iter == 6  # evaluations after iterations 2, 4, 6


def test_early_stopping_on_the_workflow_val_phase_loss(tmp_path):
    runner = frozen(tiny_runner(EpochBasedRunner, tmp_path, max_epochs=20))
    hook = EarlyStoppingHook("loss", patience=1)
    runner.register_hook(hook)
    runner.run([("train", 1), ("val", 1)])
    assert runner.epoch == 2 and hook.wait_count == 1


def test_early_stopping_missing_monitor_warns_once_or_raises(tmp_path, caplog):
    runner = frozen(tiny_runner(EpochBasedRunner, tmp_path, max_epochs=3))
    runner.register_hook(EarlyStoppingHook("acuracy", rule="greater"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        runner.run([("train", 1), ("val", 1)])
    assert runner.epoch == 3
    assert sum("not 'acuracy'" in r.getMessage() for r in caplog.records) == 1
    strict = frozen(tiny_runner(EpochBasedRunner, tmp_path, max_epochs=3))
    strict.register_hook(EarlyStoppingHook("acuracy", rule="greater", strict=True))
    with pytest.raises(RuntimeError, match="acuracy"):
        strict.run([("train", 1), ("val", 1)])


def test_early_stopping_state_round_trips_through_a_checkpoint(tmp_path):
    hook = EarlyStoppingHook("loss", min_delta=0.0, patience=3)
    scores(hook, [1.0, 0.5, 0.75])
    checkpoint: dict = {}
    hook.before_save_checkpoint(None, checkpoint)
    torch.save(checkpoint, tmp_path / "c.pth")
    loaded = torch.load(tmp_path / "c.pth", weights_only=True)
    assert loaded["hooks"]["EarlyStoppingHook"] == {"best_score": 0.5, "wait_count": 1}
    restored = EarlyStoppingHook("loss", min_delta=0.0, patience=3)
    restored.after_load_checkpoint(None, loaded)
    assert scores(restored, [0.6, 0.7]) == scores(hook, [0.6, 0.7]) == [False, True]
    fresh: dict = {}
    EarlyStoppingHook("accuracy").before_save_checkpoint(None, fresh)  # -inf survives weights_only
    torch.save(fresh, tmp_path / "f.pth")
    assert torch.load(tmp_path / "f.pth", weights_only=True)["hooks"]["EarlyStoppingHook"]["best_score"] == -math.inf


# -- NaN guard -------------------------------------------------------------------------------
class NanAt(nn.Linear):
    """A classifier whose training forward number ``at`` (1-based) gives ``value``s."""

    def __init__(self, at: int, value: float = math.nan):
        super().__init__(4, 3)
        self.at, self.value, self.calls = at, value, 0

    def forward(self, x):
        out = super().forward(x)
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                return out * self.value
        return out


def nan_runner(tmp_path, model, max_epochs=2, optimizer_hook=False):
    runner = EpochBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), tiny_loaders(), tmp_path,
                              max_epochs=max_epochs, logger=logging.getLogger(LOGGER))
    if optimizer_hook:
        runner.register_hook(OptimizerHook())
    return runner


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_nan_guard_stop_names_epoch_and_iteration(tmp_path, value):
    torch.manual_seed(0)
    runner = nan_runner(tmp_path, NanAt(at=5, value=value), optimizer_hook=True)
    runner.register_hook(NanGuardHook())
    with pytest.raises(FloatingPointError, match=r"The loss is (nan|inf) at epoch 2, iter 5 \(iteration 2 of"):
        runner.run([("train", 1)])
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())  # raised before the step


@pytest.mark.parametrize("at, found", [(5, 6), (4, 4), (6, 6)])
def test_nan_guard_every_n_steps_names_the_first_bad_step_where_it_checks(tmp_path, at, found):
    """interval=2 over 3-iteration epochs: checks after iterations 2, 4, 6 and each epoch's end
    (3, 6); the first non-finite loss is named, and where it was found."""
    torch.manual_seed(0)
    runner = nan_runner(tmp_path, NanAt(at=at), optimizer_hook=True)
    runner.register_hook(NanGuardHook(interval=2))
    epoch, inner = (at - 1) // 3 + 1, (at - 1) % 3 + 1
    with pytest.raises(FloatingPointError, match=rf"The loss is nan at epoch {epoch}, iter {at} \(iteration {inner} "
                                                 rf"of the epoch\), found at iter {found}: the guard checks every 2"):
        runner.run([("train", 1)])
    assert runner.iter == found - 1  # stopped in the step it checked


@pytest.mark.parametrize("action, interval", [("skip", 2), ("stop", 0)])
def test_nan_guard_refuses_an_interval_it_cannot_keep(action, interval):
    with pytest.raises(ValueError, match="interval"):
        NanGuardHook(action, interval=interval)


def test_nan_guard_skip_marks_the_step_warns_and_counts(tmp_path, caplog):
    torch.manual_seed(0)
    runner = nan_runner(tmp_path, NanAt(at=2))
    hook = NanGuardHook("skip")
    runner.register_hook(hook)
    marks = Probe("after_train_iter", lambda r: r.step_skipped, priority=35)
    runner.register_hook(marks)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        runner.run([("train", 1)])
    assert marks.seen == [False, True, False, False, False, False] and hook.skipped == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("The loss is nan at epoch 1, iter 2" in m and "skipping" in m for m in messages)
    assert "NanGuardHook skipped 1 steps with a non-finite loss" in messages


def test_nan_guard_skip_leaves_the_weights_finite_with_the_real_optimizer_hook(tmp_path):
    torch.manual_seed(0)
    runner = nan_runner(tmp_path, NanAt(at=2), optimizer_hook=True)
    runner.register_hook(NanGuardHook("skip"))
    runner.run([("train", 1)])
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())


# -- time limit ------------------------------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("max_seconds", "stopped_at"), [(4.5, 4), (5.5, 5), (6.5, None), (100.0, None)])
def test_time_limit_stops_when_the_next_iteration_would_end_past_it(tmp_path, monkeypatch, max_seconds, stopped_at):
    clock = FakeClock()
    monkeypatch.setattr("hyrun.hooks.time_limit.perf_counter", clock)
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)  # 6 iterations of 1 s each
    runner.register_hook(TimeLimitHook(max_seconds))
    runner.register_hook(Probe("before_train_iter", lambda r: setattr(clock, "now", clock.now + 1.0), priority=0))
    runner.run([("train", 1)])
    if stopped_at is None:  # 6.5: the 6th would pass it, but it is the last anyway
        assert runner.iter == 6 and not runner.should_stop
    else:
        assert runner.iter == stopped_at and runner.should_stop and runner.stop_reason == "time limit"


def test_time_limit_ends_a_slow_run_early(tmp_path, caplog):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=100)
    runner.register_hook(TimeLimitHook(max_seconds=0.3))
    runner.register_hook(Probe("after_train_iter", lambda r: time.sleep(0.03), priority=60))
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        runner.run([("train", 1)])
    assert runner.should_stop and 1 <= runner.iter < 12
    assert time.perf_counter() - started < 2.0
    assert any(r.getMessage().startswith("Time limit: stopping after iter") for r in caplog.records)


# -- profiler --------------------------------------------------------------------------------
def test_profiler_writes_a_chrome_trace_and_logs_a_table(tmp_path, caplog):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    hook = ProfilerHook(wait=1, warmup=1, active=2, repeat=1)
    runner.register_hook(hook)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        runner.run([("train", 1)])
    assert hook.traces == [tmp_path / "profiler" / "trace_4.json"]
    trace = json.loads(hook.traces[0].read_text())
    assert trace["traceEvents"]
    assert hook._profiler is None  # stopped once the schedule was done
    assert any("Self CPU" in r.getMessage() for r in caplog.records)


def test_profiler_stops_cleanly_when_the_run_is_shorter_than_the_schedule(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    hook = ProfilerHook(wait=0, warmup=1, active=10)
    runner.register_hook(hook)
    runner.run([("train", 1)])
    assert hook._profiler is None and [p.name for p in hook.traces] == ["trace_3.json"]
    assert json.loads(hook.traces[0].read_text())["traceEvents"]


# -- sync buffers ----------------------------------------------------------------------------
def test_sync_buffers_does_nothing_without_a_process_group(tmp_path):
    model = nn.BatchNorm1d(3)
    model.running_mean.fill_(2.0)
    SyncBuffersHook().after_train_epoch(SimpleNamespace(model=model))
    assert torch.equal(model.running_mean, torch.full((3,), 2.0))


def _sync_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                                         world_size=world_size)
    try:
        model = nn.Sequential(nn.BatchNorm1d(3))
        bn = model[0]
        bn.running_mean.fill_(float(rank + 1))  # 1 and 2: mean 1.5
        bn.running_var.fill_(float(4 * rank))  # 0 and 4: mean 2
        bn.num_batches_tracked.fill_(1 + 3 * rank)  # 1 and 4: 5 // 2 = 2
        model.register_buffer("flag", torch.tensor([rank == 0]))  # left alone
        SyncBuffersHook().after_train_epoch(SimpleNamespace(model=model))
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, os.path.join(out_dir, f"{rank}.pth"))
    finally:
        torch.distributed.destroy_process_group()


def test_sync_buffers_averages_across_two_gloo_processes(tmp_path):
    torch.multiprocessing.spawn(_sync_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    states = [torch.load(tmp_path / f"{rank}.pth", weights_only=True) for rank in range(2)]
    for rank, state in enumerate(states):
        assert torch.equal(state["0.running_mean"], torch.full((3,), 1.5))
        assert torch.equal(state["0.running_var"], torch.full((3,), 2.0))
        assert state["0.num_batches_tracked"].item() == 2
        assert state["flag"].item() == (rank == 0)


# -- config options --------------------------------------------------------------------------
def test_hook_options_compose_and_build_with_the_hooks_defaults():
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from hyrun.cli import config_dir
    from hyrun.config.hook_options import BUILTIN_HOOKS, builtin_hook_schemas
    from hyrun.config.store import register_configs
    from hyrun.config.validate import validate
    from hyrun.hooks.priority import get_priority

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=[f"hooks=[{','.join(BUILTIN_HOOKS)}]", "hooks.time_limit.max_seconds=60",
                                           "hooks.ema.momentum=0.001"])
    validate(cfg)
    assert list(cfg.hooks) == list(BUILTIN_HOOKS)
    for name, node in cfg.hooks.items():
        node = OmegaConf.to_container(node)
        priority = node.pop("priority")
        hook = instantiate(node)
        assert get_priority(priority) == type(hook).priority
        schema = builtin_hook_schemas()[name]
        defaults = {k: p.default for k, p in inspect.signature(type(hook)).parameters.items()}
        fields = {k: v for k, v in OmegaConf.to_container(OmegaConf.structured(schema)).items()
                  if k not in ("_target_", "priority")}
        assert set(fields) == set(defaults), name
        for key, value in fields.items():
            if value != "???":
                assert value == defaults[key], (name, key)
    assert cfg.hooks.ema.momentum == 0.001
