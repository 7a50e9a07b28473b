"""The lr and momentum a run logs are MMCV's, iteration by iteration: a real run built from
the config, its metrics.jsonl read back, against the step-by-step MMCV replay of
test_schedules (written from MMCV's hook, independently of hyrun's policies)."""
from __future__ import annotations

import json
import logging

import pytest
from hydra import compose, initialize_config_dir

from hyrun.build import build_runner
from hyrun.cli import config_dir
from hyrun.config.store import register_configs
from tests.test_schedules import half_cos, ref_cosine, ref_cyclic, ref_one_cycle, ref_step, replay

EPOCHS, EPOCH_LEN = 3, 7  # synthetic data: 200 samples, batch 32
RUN = ["data=synthetic", "model=mlp", "data.num_samples=200", "data.num_val_samples=32", f"runner.max_epochs={EPOCHS}",
       "log_config.interval=1", "log_config.progress_bar=false", "evaluation=null", "checkpoint_config=null"]


def logged(tmp_path, *overrides):
    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=[*RUN, *overrides])
    runner = build_runner(cfg, tmp_path, logging.getLogger("hyrun.test"))
    runner.run([("train", 1)])
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if line["mode"] == "train"]


def mmcv(value_of, base, by_epoch, divide=False, **warmup):
    return [values[0] for values in replay(value_of, [base], by_epoch=by_epoch, max_epochs=EPOCHS,
                                            epoch_len=EPOCH_LEN, divide=divide, **warmup)]


def poly(power, min_lr):
    def value(runner, base):
        return (base - min_lr) * (1 - runner.iter / runner.max_iters) ** power + min_lr
    return value


CASES = {
    # the seed tutorial's examples
    "poly": (["lr_config=poly", "lr_config.power=0.9", "lr_config.min_lr=1e-4", "lr_config.by_epoch=false"],
             mmcv(poly(0.9, 1e-4), 0.02, by_epoch=False)),
    "cosine_annealing+linear-warmup": (
        ["lr_config=cosine_annealing", "lr_config.warmup=linear", "lr_config.warmup_iters=10",
         "lr_config.warmup_ratio=0.1", "lr_config.min_lr_ratio=1e-5"],
        mmcv(ref_cosine(lambda b: b * 1e-5, True), 0.02, by_epoch=True, warmup="linear", warmup_iters=10,
             warmup_ratio=0.1)),
    "cyclic": (["lr_config=cyclic", "lr_config.target_ratio=[10,1e-4]", "lr_config.cyclic_times=1",
                "lr_config.step_ratio_up=0.4"], mmcv(ref_cyclic(10, 1e-4, 1, 0.4), 0.02, by_epoch=False)),
    "step+exp-warmup-by-epoch": (
        ["lr_config=step", "lr_config.step=[1,2]", "lr_config.gamma=0.5", "lr_config.warmup=exp",
         "lr_config.warmup_iters=1", "lr_config.warmup_by_epoch=true"],
        mmcv(ref_step([1, 2], 0.5, None, True), 0.02, by_epoch=True, warmup="exp", warmup_iters=1,
             warmup_by_epoch=True)),
    "one_cycle": (["lr_config=one_cycle", "lr_config.max_lr=0.1"],
                  [values[0] for values in replay(
                      ref_one_cycle(lambda r: [(0.3 * r.max_iters - 1, lambda b: b, lambda b: b * 25),
                                               (r.max_iters - 1, lambda b: b * 25, lambda b: b / 1e4)]),
                      [0.02], by_epoch=False, max_epochs=EPOCHS, epoch_len=EPOCH_LEN, bases=[0.1 / 25])]),
}


@pytest.mark.parametrize("case", CASES, ids=CASES)
def test_logged_lr_is_mmcvs_at_every_iteration(tmp_path, case):
    overrides, expected = CASES[case]
    lines = logged(tmp_path, *overrides)
    assert [line["iter"] for line in lines] == list(range(1, EPOCHS * EPOCH_LEN + 1))
    for line, value in zip(lines, expected, strict=True):
        assert line["lr"] == pytest.approx(value, rel=1e-9, abs=0), f"iter {line['iter']}"


def test_seed_cyclic_lr_with_cyclic_momentum(tmp_path):
    lines = logged(tmp_path, "lr_config=cyclic", "momentum_config=cyclic",
                   "momentum_config.target_ratio=[0.8947368421052632,1]")
    lr = mmcv(ref_cyclic(10, 1e-4, 1, 0.4), 0.02, by_epoch=False)
    momentum = mmcv(ref_cyclic(0.85 / 0.95, 1, 1, 0.4), 0.9, by_epoch=False)
    for line, want_lr, want_momentum in zip(lines, lr, momentum, strict=True):
        assert line["lr"] == pytest.approx(want_lr, rel=1e-9, abs=0)
        assert line["momentum"] == pytest.approx(want_momentum, rel=1e-9, abs=0)
    assert min(line["momentum"] for line in lines) < 0.81  # 0.9 * 0.85 / 0.95 at the lr's peak


def test_adam_momentum_is_its_first_beta(tmp_path):
    lines = logged(tmp_path, "optimizer=adam", "momentum_config=cosine_annealing",
                   "momentum_config.min_momentum=0.5", "momentum_config.warmup=constant",
                   "momentum_config.warmup_iters=3", "momentum_config.warmup_ratio=0.95")
    expected = mmcv(ref_cosine(lambda b: 0.5, True), 0.9, by_epoch=True, divide=True, warmup="constant",
                    warmup_iters=3, warmup_ratio=0.95)
    assert [line["momentum"] for line in lines] == pytest.approx(expected, rel=1e-9, abs=0)
    assert lines[0]["momentum"] == pytest.approx(0.9 / 0.95)  # warmup divides


def test_iter_runner_schedules_by_iteration(tmp_path):
    lines = logged(tmp_path, "runner.type=iter", "runner.max_iters=20", "lr_config=cosine_annealing",
                   "log_config.by_epoch=false")
    assert [line["lr"] for line in lines] == pytest.approx(
        [half_cos(0.02, 0.0, i / 20) for i in range(20)], rel=1e-9, abs=1e-15)


def test_param_scheduler_chain_from_the_config(tmp_path):
    """MMEngine style: linear warmup over 5 iterations, then cosine over the epochs (per iteration)."""
    lines = logged(tmp_path, "param_scheduler=[{type:linear,param_name:lr,start_factor:0.1,end:5,by_epoch:false},"
                             "{type:cosine_annealing,param_name:lr,begin:5,end:21,by_epoch:false}]")
    lrs = [line["lr"] for line in lines]
    # MMEngine's linear: factor from 0.1 to 1 over end - begin - 1 = 4 steps
    assert lrs[:5] == pytest.approx([0.02 * (0.1 + 0.9 * t / 4) for t in range(5)], rel=1e-9)
    assert lrs[5:] == pytest.approx([half_cos(0.02, 0.0, t / 16) for t in range(16)], rel=1e-9, abs=1e-15)


def test_param_scheduler_and_lr_config_may_not_both_schedule_lr():
    from hyrun.config.errors import ConfigError
    from hyrun.config.validate import validate

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=["lr_config=step", "param_scheduler=[{type:linear,param_name:lr}]"])
    with pytest.raises(ConfigError, match="lr_config=fixed"):
        validate(cfg)
