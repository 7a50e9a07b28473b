"""Evaluation (EvalHook): when it evaluates (MMCV 1.x's rule, before-training check included),
by epoch and by iteration; the best checkpoint and its rule; several metrics and user metrics
given by ``_target_``; the config's checks."""
from __future__ import annotations

import json
import logging
import math

import pytest
import torch
import torch.nn.functional as F

from hyrun.build import build_runner
from hyrun.config.errors import ConfigError
from hyrun.config.validate import validate
from hyrun.direction import infer_rule
from hyrun.hooks.evaluation import EvalHook
from hyrun.metrics import metric_names
from hyrun.runner.epoch import EpochBasedRunner
from hyrun.runner.iter import IterBasedRunner
from tests import helpers
from tests.plugins.custom_parts import macro_f1


def tiny_runner(*args, **kwargs):
    """helpers.tiny_runner, its published records kept (``vals``)."""
    runner = helpers.tiny_runner(*args, **kwargs)
    helpers.published(runner)
    return runner


HERE = __name__  # "tests.test_evaluation": the user metrics below are named by _target_
FAST = ["data=synthetic", "model=mlp", "data.num_samples=40", "data.batch_size=10", "data.num_val_samples=20",
        "log_config.progress_bar=false"]


# -- user metrics, named by _target_ -------------------------------------------------------
class Scripted:
    """A metric class: instantiated once with its kwargs; each call returns the next value."""

    def __init__(self, values: list[float]) -> None:
        self.values, self.calls = list(values), 0

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        self.calls += 1
        return self.values[self.calls - 1]


def scaled_accuracy(outputs: torch.Tensor, targets: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """A metric function: called with (outputs, targets, **kwargs); a tensor value is fine."""
    return scale * (outputs.argmax(dim=1) == targets).float().mean()


def scripted(values: list[float], name: str = "acc") -> dict:
    return {"_target_": f"{HERE}.Scripted", "name": name, "values": values}


def override(entry: dict) -> str:
    """A mapping as a Hydra override value: {_target_:a.b,name:x,values:[1,2]}."""
    def value(v):
        return "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else str(v)

    return "{" + ",".join(f"{k}:{value(v)}" for k, v in entry.items()) + "}"


# -- building ------------------------------------------------------------------------------
def composed(*overrides: str, checkpoints: bool = False):
    return helpers.composed(*FAST, *([] if checkpoints else ["checkpoint_config=null"]), *overrides)


def train(work_dir, *overrides: str, checkpoints: bool = False, resume=None):
    cfg = composed(*overrides, *([f"resume={resume}"] if resume else []), checkpoints=checkpoints)
    validate(cfg)
    runner = build_runner(cfg, work_dir, logging.getLogger("hyrun.test"))
    helpers.published(runner)
    runner.run([tuple(p) for p in cfg.workflow.phases])
    return runner


def vals(runner) -> list[dict]:
    return [r for r in helpers.records_of(runner) if r["mode"] == "val"]


def evaluated(runner_cls, tmp_path, *, resumed_at: int = 0, **hook_kwargs) -> list[dict]:
    """Run a tiny runner (3 iterations an epoch; 6 epochs or 8 iterations) with an EvalHook
    and return its val records; ``resumed_at`` epochs (iterations) already done."""
    by_epoch = runner_cls is EpochBasedRunner
    length = {"max_epochs": 6} if by_epoch else {"max_iters": 8}
    runner = tiny_runner(runner_cls, tmp_path, **length)
    runner.register_hook(EvalHook(metric="loss", by_epoch=hook_kwargs.pop("by_epoch", by_epoch), **hook_kwargs))
    if by_epoch:
        runner.epoch, runner.iter = resumed_at, resumed_at * 3
    else:
        runner.epoch, runner.iter = resumed_at // 3, resumed_at
        runner.resume_inner_iter = resumed_at % 3  # the runner's mid-epoch resume, where it has one
    runner.run([("train", 1)])
    return vals(runner)


# -- when: MMCV's _should_evaluate and before-training check, by hand ----------------------
# (start, interval, resumed at epoch) -> the epochs finished at each evaluation of a 6-epoch run
EPOCH_TABLE = [
    (None, 1, 0, [1, 2, 3, 4, 5, 6]),
    (None, 2, 0, [2, 4, 6]),
    (None, 4, 0, [4]),
    (0, 1, 0, [0, 1, 2, 3, 4, 5, 6]),  # start=0: the untrained model too
    (0, 2, 0, [2, 4, 6]),  # before training: (0 + 1 - 0) % 2 != 0, so no
    (0, 3, 0, [3, 6]),
    (1, 2, 0, [1, 3, 5]),
    (3, 2, 0, [3, 5]),  # start > interval
    (5, 2, 0, [5]),
    (4, 1, 0, [4, 5, 6]),
    (7, 1, 0, []),  # starts after the run
    # resumed at epoch 3: MMCV's before-training check evaluates at once when 3 >= start and
    # (3 + 1 - start) % interval == 0
    (2, 1, 3, [3, 4, 5, 6]),
    (3, 1, 3, [3, 4, 5, 6]),
    (2, 2, 3, [3, 4, 6]),
    (1, 2, 3, [5]),  # (3 + 1 - 1) % 2 != 0: not at once
    (None, 1, 3, [4, 5, 6]),  # start None: no check before training
    (5, 1, 2, [5, 6]),  # resumed before start
]

# (start, interval, resumed at iteration) -> the iterations finished at each evaluation of 8
ITER_TABLE = [
    (None, 1, 0, [1, 2, 3, 4, 5, 6, 7, 8]),
    (None, 3, 0, [3, 6]),
    (0, 1, 0, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
    (0, 2, 0, [2, 4, 6, 8]),
    (2, 3, 0, [2, 5, 8]),
    (5, 2, 0, [5, 7]),  # start > interval
    (2, 3, 4, [4, 5, 8]),  # resumed at 4: (4 + 1 - 2) % 3 == 0, at once
    (1, 2, 4, [4, 5, 7]),
    (2, 2, 4, [6, 8]),  # (4 + 1 - 2) % 2 != 0: not at once
    (None, 2, 4, [6, 8]),
]


@pytest.mark.parametrize("start, interval, resumed_at, expected", EPOCH_TABLE)
def test_epochs_evaluated(tmp_path, start, interval, resumed_at, expected):
    records = evaluated(EpochBasedRunner, tmp_path, resumed_at=resumed_at, start=start, interval=interval)
    assert [r["epoch"] for r in records] == expected
    assert [r["iter"] for r in records] == [3 * e for e in expected]


@pytest.mark.parametrize("start, interval, resumed_at, expected", ITER_TABLE)
def test_iterations_evaluated(tmp_path, start, interval, resumed_at, expected):
    records = evaluated(IterBasedRunner, tmp_path, resumed_at=resumed_at, start=start, interval=interval)
    assert [r["iter"] for r in records] == expected


def test_by_iteration_in_the_epoch_runner(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(EvalHook(metric="accuracy", by_epoch=False, interval=2))
    runner.run([("train", 1)])
    # "epoch" is the epoch in progress (1-based, as train lines), "iter" the iterations done
    assert [(r["epoch"], r["iter"]) for r in vals(runner)] == [(1, 2), (2, 4), (2, 6)]


def test_the_before_training_check_happens_once(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(EvalHook(metric="loss", start=0))
    runner.run([("train", 1)])
    runner._max_epochs = 4
    runner.run([("train", 1)])  # a second run() of the same hook: MMCV's initial_flag is spent
    assert [r["epoch"] for r in vals(runner)] == [0, 1, 2, 3, 4]


# -- rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rule", [
    ("acc", "greater"), ("accuracy", "greater"), ("top1_acc", "greater"), ("top3_accuracy", "greater"),
    ("mAP", "greater"), ("bbox_mAP", "greater"), ("AR@100", "greater"), ("mIoU", "greater"),
    ("auc", "greater"), ("precision", "greater"),
    ("loss", "less"), ("my_loss", "less"), ("val_LOSS", "less"),
    ("acc_loss", "greater"),  # MMCV tries every greater key before any less key
])
def test_rule_inferred_from_the_name_as_mmcv(name, rule):
    assert infer_rule(name) == rule


@pytest.mark.parametrize("name", ["error", "f1", "mae", "score"])
def test_a_name_mmcv_cannot_infer_is_an_error(name):
    with pytest.raises(ValueError, match="cannot infer the rule"):
        infer_rule(name)
    with pytest.raises(ConfigError, match="evaluation.rule=None .* not in its name; declare it on the metric"):
        EvalHook(metric=[scripted([1.0], name)], save_best="auto")
    assert EvalHook(metric=[scripted([1.0], name)], save_best="auto", rule="less").rule == "less"


@pytest.mark.parametrize("rule", ["greater", "less"])
def test_a_metric_declares_its_rule_and_save_best_needs_nothing_else(rule):
    assert EvalHook(metric=[{**scripted([1.0], "f1"), "rule": rule}], save_best="f1").rule == rule
    assert EvalHook(metric=["accuracy", macro_f1], save_best="macro_f1").rule == "greater"  # the function's attribute
    # the rule given to the evaluation wins, for the metric save_best saves
    assert EvalHook(metric=[{**scripted([1.0], "f1"), "rule": rule}], save_best="f1", rule="less").rule == "less"


def test_greater_and_less_keys_replace_the_defaults():
    assert infer_rule("f1", greater_keys=["f1"]) == "greater"
    assert infer_rule("error", less_keys="error") == "less"
    with pytest.raises(ValueError):
        infer_rule("loss", less_keys=["error"])  # as in MMCV, the given list replaces ['loss']
    assert EvalHook(metric=[scripted([1.0], "error")], save_best="error", less_keys=["err"]).rule == "less"


def test_auto_is_the_first_metric():
    hook = EvalHook(metric=["loss", "accuracy"], save_best="auto")
    assert (hook.save_best, hook.rule) == ("loss", "less")


# -- best checkpoint -----------------------------------------------------------------------
def test_save_best_keeps_one_file_with_the_best_score(tmp_path, caplog):
    values = [0.2, 0.5, 0.4, 0.7, 0.7, 0.1]  # up and down; 0.7 again is not better
    entry = scripted(values, "score_acc")
    with caplog.at_level(logging.INFO, logger="hyrun.test"):
        runner = train(tmp_path, "runner.max_epochs=6", "evaluation.save_best=auto",
                       f"evaluation.metric=[{override(entry)}]")
    folder = tmp_path / "checkpoints"
    assert [p.name for p in folder.iterdir()] == ["best_score_acc_epoch_4.pth"]
    best = str(folder / "best_score_acc_epoch_4.pth")
    records = vals(runner)
    assert [r["score_acc"] for r in records] == values
    assert [(r["best_score_acc"], r["best_checkpoint"].rpartition("_")[2]) for r in records] == [
        (0.2, "1.pth"), (0.5, "2.pth"), (0.5, "2.pth"), (0.7, "4.pth"), (0.7, "4.pth"), (0.7, "4.pth")]
    assert records[-1]["best_checkpoint"] == "checkpoints/best_score_acc_epoch_4.pth"  # relative to the run dir
    assert runner.meta["hook_msgs"] == {"best_score": 0.7, "best_ckpt": best}
    assert "Best score_acc is 0.7000 at 4 epoch." in caplog.text
    assert "Now best checkpoint is saved as best_score_acc_epoch_4.pth." in caplog.text
    # in metrics.jsonl too
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line for line in lines if line["mode"] == "val"] == records
    # the file: the state after epoch 4, with the best in it; plain types (weights_only)
    checkpoint = torch.load(best, weights_only=True)
    assert (checkpoint["meta"]["epoch"], checkpoint["meta"]["iter"]) == (4, 16)
    assert checkpoint["hooks"]["EvalHook"] == {"key": "score_acc", "rule": "greater", "best_score": 0.7,
                                               "best_path": "checkpoints/best_score_acc_epoch_4.pth"}
    assert checkpoint["meta"]["hook_msgs"] == {"best_score": 0.7, "best_ckpt": best}


def test_save_best_by_iteration_names_the_iteration_and_follows_less(tmp_path):
    values = [0.9, 0.5, 0.6, 0.3, 0.4]
    runner = train(tmp_path, "runner.type=iter", "runner.max_iters=10", "evaluation.interval=2",
                   "evaluation.save_best=my_loss", f"evaluation.metric=[accuracy,{override(scripted(values, 'my_loss'))}]")
    assert [r["iter"] for r in vals(runner)] == [2, 4, 6, 8, 10]
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["best_my_loss_iter_8.pth"]
    assert vals(runner)[-1]["best_my_loss"] == 0.3


def test_a_score_that_is_not_finite_never_becomes_the_best(tmp_path, caplog):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=4)
    runner.register_hook(EvalHook(metric=[scripted([math.nan, 0.5, math.inf, 0.4])], save_best="acc"))
    with caplog.at_level(logging.WARNING, logger="hyrun.test"):
        runner.run([("train", 1)])
    records = vals(runner)
    assert "best_acc" not in records[0] and math.isnan(records[0]["acc"])
    assert [r.get("best_acc") for r in records] == [None, 0.5, 0.5, 0.5]
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["best_acc_epoch_2.pth"]
    assert "acc is nan: not finite" in caplog.text and "acc is inf: not finite" in caplog.text


def test_start_0_saves_the_untrained_model_as_epoch_0(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    runner.register_hook(EvalHook(metric=[scripted([0.9, 0.1, 0.2], "loss")], start=0, save_best="auto"))
    runner.run([("train", 1)])
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["best_loss_epoch_1.pth"]
    assert [r["best_checkpoint"].rpartition("/")[2] for r in vals(runner)] == [
        "best_loss_epoch_0.pth", "best_loss_epoch_1.pth", "best_loss_epoch_1.pth"]


def test_a_resumed_run_continues_from_the_best_so_far(tmp_path):
    first = [f"evaluation.metric=[{override(scripted([0.2, 0.5]))}]"]
    train(tmp_path, "runner.max_epochs=2", "evaluation.save_best=auto", *first, checkpoints=True)
    assert torch.load(tmp_path / "checkpoints" / "latest.pth", weights_only=True)["hooks"]["EvalHook"] == {
        "key": "acc", "rule": "greater", "best_score": 0.5, "best_path": "checkpoints/best_acc_epoch_2.pth"}
    then = [f"evaluation.metric=[{override(scripted([0.4, 0.6]))}]"]
    runner = train(tmp_path, "runner.max_epochs=4", "evaluation.save_best=auto", "resume=auto", *then,
                   checkpoints=True)
    assert [(r["epoch"], r["acc"], r["best_acc"]) for r in vals(runner)] == [(3, 0.4, 0.5), (4, 0.6, 0.6)]
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("best_*")) == ["best_acc_epoch_4.pth"]


def test_a_run_resumed_from_an_older_checkpoint_still_keeps_one_best_file(tmp_path):
    first = [f"evaluation.metric=[{override(scripted([0.2, 0.5, 0.6]))}]"]
    train(tmp_path, "runner.max_epochs=3", "evaluation.save_best=auto", *first, checkpoints=True)
    then = [f"evaluation.metric=[{override(scripted([0.1, 0.7]))}]"]
    runner = train(tmp_path, "runner.max_epochs=3", "evaluation.save_best=auto", *then, checkpoints=True,
                   resume=tmp_path / "checkpoints" / "epoch_1.pth")
    assert [(r["epoch"], r["best_acc"]) for r in vals(runner)] == [(2, 0.2), (3, 0.7)]
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("best_*")) == ["best_acc_epoch_3.pth"]


def test_best_state_round_trips_through_a_checkpoint(tmp_path):
    runner = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    hook = EvalHook(metric=[scripted([0.3, 0.6])], save_best="acc")
    runner.register_hook(hook)
    runner.run([("train", 1)])
    from hyrun.checkpoint import runner_state, save_atomic

    save_atomic(runner_state(runner, epoch=2, iter=6), tmp_path / "state.pth")
    loaded = torch.load(tmp_path / "state.pth", weights_only=True)
    other = tiny_runner(EpochBasedRunner, tmp_path, max_epochs=2)
    fresh = EvalHook(metric=[scripted([0.0])], save_best="acc")
    other.register_hook(fresh)
    other.call_hook("after_load_checkpoint", loaded)
    assert (fresh.best_score, fresh.best_path) == (0.6, tmp_path / "checkpoints" / "best_acc_epoch_2.pth")
    assert other.meta["hook_msgs"]["best_score"] == 0.6


# -- metrics ---------------------------------------------------------------------------------
def test_several_metrics_in_one_record(tmp_path):
    user = {"_target_": f"{HERE}.scaled_accuracy", "name": "acc2", "scale": 2.0}
    runner = train(tmp_path, "runner.max_epochs=2",
                   f"evaluation.metric=[accuracy,top2_accuracy,top5_accuracy,loss,{override(user)}]")
    records = vals(runner)
    assert len(records) == 2
    for r in records:
        assert list(r) == ["mode", "epoch", "iter", "accuracy", "top2_accuracy", "top5_accuracy", "loss", "acc2"]
        assert 0 <= r["accuracy"] <= r["top2_accuracy"] <= r["top5_accuracy"] <= 1
        assert r["acc2"] == pytest.approx(2 * r["accuracy"])
    # the last record against the model's own outputs
    model = runner.model.eval()
    xs, ys = zip(*runner.data_loaders["val"])
    with torch.no_grad():
        outputs = model(torch.cat(xs))
    targets = torch.cat(ys)
    assert records[-1]["loss"] == pytest.approx(F.cross_entropy(outputs, targets).item(), rel=1e-5)
    assert records[-1]["accuracy"] == pytest.approx((outputs.argmax(1) == targets).float().mean().item())


def test_a_bare_metric_name_composes(tmp_path):
    cfg = composed("evaluation.metric=loss", "evaluation.save_best=auto")
    assert cfg.evaluation.metric == "loss" and metric_names(cfg.evaluation.metric) == ["loss"]
    runner = train(tmp_path, "evaluation.metric=loss", "evaluation.save_best=auto", "runner.max_epochs=1")
    (record,) = vals(runner)
    assert set(record) == {"mode", "epoch", "iter", "loss", "best_loss", "best_checkpoint"}
    assert (tmp_path / "checkpoints" / "best_loss_epoch_1.pth").is_file()


def test_a_user_metric_class_end_to_end_by_config(tmp_path):
    entry = {"_target_": f"{HERE}.Scripted", "values": [0.25, 0.75]}  # no name: the class's
    cfg = composed(f"evaluation.metric=[{override(entry)}]", "evaluation.save_best=auto",
                   "evaluation.greater_keys=[scripted]")
    assert metric_names(cfg.evaluation.metric) == ["Scripted"]
    runner = train(tmp_path, f"evaluation.metric=[{override(entry)}]", "evaluation.save_best=auto",
                   "evaluation.greater_keys=[scripted]", "runner.max_epochs=2")
    assert [r["Scripted"] for r in vals(runner)] == [0.25, 0.75]
    (hook,) = [h for h in runner.hooks if isinstance(h, EvalHook)]
    assert hook.metrics["Scripted"].calls == 2  # one instance for the run
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["best_Scripted_epoch_2.pth"]


# -- the config's checks (README, "Choosing and overriding") ----------------------------------------------------
@pytest.mark.parametrize("overrides, key, words", [
    (["evaluation.metric=[accuracy,top0_accuracy]"], "evaluation.metric[1]",
     ["top0_accuracy", "accuracy, top3_accuracy, top5_accuracy, loss", "top{k}_accuracy"]),
    (["evaluation.metric=f1"], "evaluation.metric", ["f1", "accuracy"]),
    (["evaluation.metric=[loss,{_target_:no_such_module.f1,name:f1}]"], "evaluation.metric[1]._target_",
     ["no_such_module.f1", "importable"]),
    ([f"evaluation.metric=[{{_target_:{HERE}.no_such_metric}}]"], "evaluation.metric[0]._target_",
     ["no_such_metric"]),
    (["evaluation.metric=[{name:f1}]"], "evaluation.metric[0]", ["_target_"]),
    (["evaluation.metric=[loss,loss]"], "evaluation.metric[1]", ["loss"]),
    (["evaluation.metric=[]"], "evaluation.metric", ["a metric name"]),
    ([f"evaluation.metric=[loss,{override(scripted([1.0], 'f1'))}]", "evaluation.save_best=acc"],
     "evaluation.save_best", ["acc", "auto or one of the evaluated metrics: loss, f1"]),
    ([f"evaluation.metric=[{override(scripted([1.0], 'f1'))}]", "evaluation.save_best=auto"],
     "evaluation.rule", ["greater or less", "'f1'"]),
    (["evaluation.rule=bigger"], "evaluation.rule", ["bigger", "greater or less"]),
])
def test_bad_evaluation_settings_name_key_value_and_what_is_allowed(overrides, key, words):
    with pytest.raises(ConfigError) as error:
        validate(composed(*overrides))
    assert error.value.key == key
    for word in words:
        assert word in str(error.value)


def test_good_evaluation_settings_pass():
    for overrides in (["evaluation.metric=[top7_accuracy]", "evaluation.save_best=top7_accuracy"],
                      [f"evaluation.metric=[{override(scripted([1.0], 'f1'))}]", "evaluation.save_best=f1",
                       "evaluation.rule=greater"]):
        validate(composed(*overrides))


def test_the_cli_summary_takes_a_record_with_the_best(tmp_path):
    from hyrun.job import report

    runner = train(tmp_path, "runner.max_epochs=1", "evaluation.save_best=auto")
    assert report(runner, logging.getLogger("hyrun.test"), "accuracy", vals(runner)[-1]) == vals(runner)[-1]["accuracy"]
