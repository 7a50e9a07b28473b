"""The order of the built-in hooks, stated once: each place in ``Order`` is a reason
(README, "Writing a hook"), and this is the order those reasons make."""
from __future__ import annotations

import logging

from hyrun.build import build_runner
from hyrun.hooks.priority import Order, Priority
from tests.helpers import composed

EVERY_BUILT_IN = ("model=mlp", "data=synthetic", "lr_config=step", "momentum_config=cosine_annealing",
                  "hooks=[ema,early_stopping,nan_guard,sync_buffers,time_limit]", "hooks.time_limit.max_seconds=60",
                  "log_config.progress_bar=true")


def built_in_runner(*overrides: str):
    return build_runner(composed(*EVERY_BUILT_IN, *overrides), "/tmp/unused", logging.getLogger("hyrun.test"))


def names(methods) -> list[str]:
    return [type(m.__self__).__name__ for m in methods]


def test_the_built_in_hooks_stand_in_the_order_their_reasons_make():
    runner = built_in_runner()
    # Every stage keeps this order; equal places (the momentum schedule and the NaN guard, the
    # loggers and the progress bar) keep registration order.
    assert [type(h).__name__ for h in runner.hooks] == [
        "LrUpdaterHook",        # the values this iteration's step uses, written first
        "MomentumUpdaterHook",
        "NanGuardHook",         # the loss looked at before backward
        "OptimizerHook",        # backward, clip, step
        "SyncBuffersHook",      # after the step, buffers agreed before anything copies them
        "EMAHook",              # averages follow the new weights; swapped in before evaluation
        "EarlyStoppingHook",    # acts on records, at no place in a stage
        "IterTimerHook",        # the iteration measured, before its train record
        "TrainRecordHook",      # the train record, before evaluation's for the same iteration
        "EvalHook",
        "CheckpointHook",       # after evaluation and what acts on it: a resume repeats nothing
        "TextLoggerHook",       # loggers after the checkpoint of the same stage
        "ProgressBarHook",
        "TimeLimitHook",        # late: the iteration's own hooks inside the measured time
    ]
    places = {type(h).__name__: h.priority for h in runner.hooks}
    assert places["OptimizerHook"] == Order.OPTIMIZER_STEP == Priority.ABOVE_NORMAL  # MMCV's numbers where it has one
    assert places["LrUpdaterHook"] == Order.SCHEDULE == Priority.VERY_HIGH
    assert places["EvalHook"] == Order.EVALUATE == Priority.LOW


def test_at_the_end_of_an_epoch_evaluation_sees_the_averages_and_the_checkpoint_follows_it():
    runner = built_in_runner()
    assert names(runner._dispatch["after_train_epoch"]) == [
        "SyncBuffersHook", "EMAHook", "EvalHook", "CheckpointHook"]


def test_after_an_iteration_the_record_file_reads_train_then_val():
    runner = built_in_runner("evaluation.by_epoch=false", "checkpoint_config.by_epoch=false")
    assert names(runner._dispatch["after_train_iter"]) == [
        "NanGuardHook", "OptimizerHook", "EMAHook", "IterTimerHook", "TrainRecordHook", "EvalHook",
        "CheckpointHook", "ProgressBarHook", "TimeLimitHook"]


def test_custom_hooks_take_a_priority_or_a_named_place():
    runner = built_in_runner("+custom_hooks.first._target_=hyrun.hooks.empty_cache.EmptyCacheHook",
                             "+custom_hooks.first.priority=HIGHEST",
                             "+custom_hooks.after_step._target_=hyrun.hooks.empty_cache.EmptyCacheHook",
                             "+custom_hooks.after_step.priority=sync_buffers")
    order = [type(h).__name__ for h in runner.hooks]
    assert order[0] == "EmptyCacheHook"
    assert order[order.index("SyncBuffersHook") + 1] == "EmptyCacheHook"  # same place: registered later
    info = runner.hook_info()
    assert "(0   HIGHEST     ) EmptyCacheHook" in info and "(48  SYNC_BUFFERS) SyncBuffersHook" in info
