"""The event loop: hook order, workflow semantics, counters."""
from __future__ import annotations

import pytest
import torch

from hyrun import EpochBasedRunner, Hook, IterBasedRunner, Priority
from hyrun.hooks.priority import get_priority
from tests.helpers import Recorder, published, tiny_runner


def stages(log, name=None):
    return [entry[1] for entry in log if name is None or entry[0] == name]


def test_priority_names_and_ints():
    assert [get_priority(p) for p in ("HIGHEST", "very_high", "High", "ABOVE_NORMAL", "NORMAL",
                                      "BELOW_NORMAL", "LOW", "VERY_LOW", "LOWEST")] == [0, 10, 30, 40, 50, 60, 70, 90, 100]
    assert get_priority(42) == 42
    with pytest.raises(ValueError, match="SOMETIMES"):
        get_priority("SOMETIMES")


def test_lower_priority_runs_first_and_ties_keep_registration_order(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, optimizer_hook=False, max_epochs=1)
    log = []
    for name, priority in [("low", "LOW"), ("normal_a", None), ("highest", "HIGHEST"),
                           ("normal_b", Priority.NORMAL), ("int_45", 45), ("normal_c", 50)]:
        runner.register_hook(Recorder(log, name), priority)
    runner.run([("train", 1)])
    before_run = [name for name, stage, *_ in log if stage == "before_run"]
    assert before_run == ["highest", "int_45", "normal_a", "normal_b", "normal_c", "low"]


def test_hook_priority_attribute_is_used_when_not_given(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, optimizer_hook=False, max_epochs=1)
    log = []
    runner.register_hook(Recorder(log, "very_low", priority="VERY_LOW"))
    runner.register_hook(Recorder(log, "high", priority="HIGH"))
    assert [h.priority for h in runner.hooks] == [30, 90]


def test_generic_methods_serve_both_phases(tmp_path):
    calls = []

    class EveryEpoch(Hook):
        def before_epoch(self, runner):
            calls.append(("before", runner.mode))

        def after_iter(self, runner):
            calls.append(("iter", runner.mode))

    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    hook = EveryEpoch()
    runner.register_hook(hook)
    assert set(hook.stages()) == {"before_train_epoch", "before_val_epoch",
                                             "after_train_iter", "after_val_iter"}
    runner.run([("train", 1), ("val", 1)])
    assert calls == [("before", "train")] + [("iter", "train")] * 3 + [("before", "val")] + [("iter", "val")] * 2


def test_a_stage_is_dispatched_only_to_hooks_that_define_it(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)

    class OnlyAfterRun(Hook):
        def after_run(self, runner):
            pass

    runner.register_hook(OnlyAfterRun())
    assert all(type(m.__self__).__name__ != "OnlyAfterRun"
               for stage in ("before_train_iter", "after_train_iter") for m in runner._dispatch[stage])
    info = runner.hook_info()
    assert "after_run:\n  (50  NORMAL      ) OnlyAfterRun" in info
    assert "after_train_iter:\n  (40  ABOVE_NORMAL) OptimizerHook" in info


def test_epoch_runner_train_val_workflow_order_and_counters(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    log = []
    runner.register_hook(Recorder(log))
    runner.run([("train", 1), ("val", 1)])
    epoch_stages = [s for s in stages(log) if "iter" not in s]
    assert epoch_stages == ["before_run",
                            "before_train_epoch", "after_train_epoch", "before_val_epoch", "after_val_epoch",
                            "before_train_epoch", "after_train_epoch", "before_val_epoch", "after_val_epoch",
                            "after_run"]
    train_iters = [(e, i, inner) for _, s, e, i, inner in log if s == "before_train_iter"]
    assert train_iters == [(0, 0, 0), (0, 1, 1), (0, 2, 2), (1, 3, 0), (1, 4, 1), (1, 5, 2)]
    # after_train_epoch sees the epoch not yet counted, val sees it counted (as MMCV)
    assert [(e, i) for _, s, e, i, _ in log if s == "after_train_epoch"] == [(0, 3), (1, 6)]
    assert [(e, i) for _, s, e, i, _ in log if s == "after_val_epoch"] == [(1, 3), (2, 6)]
    assert (runner.epoch, runner.iter, runner.max_iters) == (2, 6, 6)


def test_max_epochs_counts_train_epochs_only(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=3)
    log = []
    runner.register_hook(Recorder(log))
    runner.run([("train", 2), ("val", 1)])
    phases = [s.split("_")[1] for s in stages(log) if s.startswith("before_") and s.endswith("_epoch")]
    # MMCV: T T V T, then the val phase of the same round still runs
    assert phases == ["train", "train", "val", "train", "val"]
    assert runner.epoch == 3


def test_val_phase_does_not_update_the_model_and_logs_its_loss(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    records = published(runner)
    runner.run([("train", 1)])
    weights = [p.detach().clone() for p in runner.model.parameters()]
    runner.val()
    assert all(torch.equal(a, b) for a, b in zip(weights, runner.model.parameters()))
    record = records[-1]
    assert record["mode"] == "val" and record["epoch"] == 1 and record["iter"] == 3
    batches = [torch.nn.functional.cross_entropy(runner.model(x), y).item() for x, y in runner.data_loaders["val"]]
    assert record["loss"] == pytest.approx(sum(batches) / len(batches), rel=1e-6)


def test_iter_runner_counts_iterations_across_epochs_and_val_phases(tmp_path):
    runner = tiny_runner(IterBasedRunner, tmp_path, max_iters=8)
    log = []
    runner.register_hook(Recorder(log))
    runner.run([("train", 4), ("val", 2)])
    sequence = [s for s in stages(log) if s not in ("before_train_iter", "before_val_iter", "after_val_iter")]
    it = "after_train_iter"
    assert sequence == ["before_run",
                        "before_train_epoch", it, it, it, "after_train_epoch",
                        "before_train_epoch", it,
                        "before_val_epoch", "after_val_epoch",
                        it, it, "after_train_epoch",
                        "before_train_epoch", it, it,
                        "before_val_epoch", "after_val_epoch",
                        "after_train_epoch",  # the run ends mid-epoch: the epoch is closed
                        "after_run"]
    assert [inner for _, s, _, _, inner in log if s == "after_train_iter"] == [0, 1, 2, 0, 1, 2, 0, 1]
    assert [e for _, s, e, _, _ in log if s == "after_train_epoch"] == [0, 1, 2]
    assert (runner.iter, runner.epoch, runner.max_iters, runner.max_epochs) == (8, 3, 8, 3)
    assert sum(1 for _, s, *_ in log if s == "after_val_iter") == 4


def test_hook_helpers_follow_counters(tmp_path):
    seen = []

    class Helpers(Hook):
        def after_train_iter(self, runner):
            seen.append((self.every_n_iters(runner, 2), self.every_n_inner_iters(runner, 2),
                         self.end_of_epoch(runner), self.is_last_iter(runner)))

        def after_train_epoch(self, runner):
            seen.append((self.every_n_epochs(runner, 2), self.is_last_epoch(runner)))

    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(Helpers())
    runner.run([("train", 1)])
    assert seen == [(False, False, False, False), (True, True, False, False), (False, False, True, False),
                    (False, False),
                    (True, False, False, False), (False, True, False, False), (True, False, True, True),
                    (True, True)]


def test_should_stop_ends_the_run_after_the_current_iteration(tmp_path):
    class StopAt(Hook):
        def after_train_iter(self, runner):
            runner.should_stop = runner.iter + 1 == 4

    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=5)
    log = []
    runner.register_hook(StopAt())
    runner.register_hook(Recorder(log))
    runner.run([("train", 1)])
    assert (runner.iter, runner.epoch) == (4, 1)  # mid-epoch: the epoch stays open for a resume
    assert stages(log).count("after_train_epoch") == 1 and stages(log)[-1] == "after_run"


def test_current_lr_and_momentum(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=1)
    assert runner.current_lr() == [0.1] and runner.current_momentum() == [0.9]
    runner.optimizer = torch.optim.Adam(runner.model.parameters(), lr=0.01, betas=(0.8, 0.99))
    assert runner.current_momentum() == [0.8]
    runner.optimizer = torch.optim.Adagrad(runner.model.parameters())
    assert runner.current_momentum() is None


def test_a_model_step_methods_replace_the_default(tmp_path):
    class Regressor(torch.nn.Linear):
        def train_step(self, batch):
            x, _ = batch
            loss = self(x).pow(2).mean()
            return {"loss": loss, "log_vars": {"loss": loss.detach(), "l2": loss.detach() * 2}}

        def val_step(self, batch):
            x, _ = batch
            return {"loss": self(x).abs().mean()}

    from hyrun.hooks.optimizer import OptimizerHook
    from tests.helpers import tiny_loaders

    model = Regressor(4, 3)
    runner = EpochBasedRunner(model, torch.optim.SGD(model.parameters(), lr=0.1), tiny_loaders(), tmp_path,
                              max_epochs=1)
    runner.register_hook(OptimizerHook())
    records = published(runner)
    runner.run([("train", 1), ("val", 1)])
    assert set(runner.log_buffers["train"].history) == {"loss", "l2"}
    assert records[-1]["mode"] == "val" and set(records[-1]) == {"mode", "epoch", "iter", "loss"}
