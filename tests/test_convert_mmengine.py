"""hyrun-convert on MMEngine-format configs (mmpretrain's layout under tests/data): every
converted setting, and schedules equal to MMEngine's at every iteration, checked against an
independent replay of MMEngine's scheduler rules (tests.test_param_schedulers)."""
from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from hyrun.config.validate import validate
from hyrun.convert.mapping import convert
from hyrun.convert.parse import ConfigParseError, load_config
from hyrun.convert.write import render
from tests.helpers import composed
from tests.test_param_schedulers import mmengine_values

CONFIGS = Path(__file__).parent / "data" / "mmengine_configs" / "configs"
RESNET = CONFIGS / "resnet" / "resnet50_8xb32_in1k.py"
COSLR = CONFIGS / "resnet" / "resnet50_8xb32-coslr_in1k.py"
AMP_EMA = CONFIGS / "resnet" / "resnet50_8xb32-amp-ema_in1k.py"
ITER = CONFIGS / "vit" / "vit-base-p16_iter_onecycle.py"
NEW_STYLE = CONFIGS / "convnext" / "convnext-tiny_8xb128_in1k.py"
FAST = ["data=synthetic", "model=mlp"]


def compose_converted(path: Path, conf: Path, *overrides: str) -> DictConfig:
    name = path.stem.replace("-", "_")
    (conf / "experiment").mkdir(parents=True, exist_ok=True)
    (conf / "experiment" / f"{name}.yaml").write_text(render(convert(load_config(path)), str(path), name))
    cfg = composed(f"experiment={name}", f"hydra.searchpath=[file://{conf}]", *FAST, *overrides)
    validate(cfg)
    return cfg


def plain(cfg: DictConfig, key: str):
    return OmegaConf.to_container(OmegaConf.select(cfg, key), resolve=True, enum_to_str=True) \
        if isinstance(OmegaConf.select(cfg, key), DictConfig) or OmegaConf.is_list(OmegaConf.select(cfg, key)) \
        else OmegaConf.select(cfg, key)


def skipped_keys(path: Path) -> set[str]:
    return {item.key for item in convert(load_config(path)).skipped}


# -- the example: mmpretrain's resnet50_8xb32_in1k -------------------------------------
def test_resnet50_runs_mmengine_schedule_not_the_defaults(tmp_path):
    experiment = convert(load_config(RESNET))
    assert experiment.format == "MMEngine"
    cfg = compose_converted(RESNET, tmp_path)
    assert cfg.optimizer._target_ == "torch.optim.SGD"
    assert (cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == (0.1, 0.9, 0.0001)
    assert plain(cfg, "param_scheduler") == [
        {"type": "multi_step", "by_epoch": True, "milestones": [30, 60, 90], "gamma": 0.1, "param_name": "lr"}]
    assert (cfg.runner.type.value, cfg.runner.max_epochs, cfg.lr_config.policy) == ("epoch", 100, "fixed")
    assert (cfg.log_config.interval, cfg.checkpoint_config.interval, cfg.evaluation.interval) == (100, 1, 1)
    assert plain(cfg, "evaluation.metric") == ["accuracy", "top5_accuracy"]
    assert (cfg.auto_scale_lr.enable, cfg.auto_scale_lr.base_batch_size) == (False, 256)
    assert list(cfg.logger) == ["text"]  # LocalVisBackend: hyrun's metrics.jsonl
    # none of the runtime is "not a setting hyrun has" any more
    assert not {"optim_wrapper", "param_scheduler", "train_cfg", "default_hooks", "randomness",
                "visualizer"} & skipped_keys(RESNET)
    assert {"randomness.seed", "default_scope", "env_cfg.mp_cfg", "model", "train_dataloader"} <= skipped_keys(RESNET)


def test_bases_chain_delete_and_every_setting_of_amp_ema(tmp_path):
    settings = load_config(AMP_EMA).settings
    # _delete_: the base's SGD momentum does not reach AdamW
    assert settings["optim_wrapper"]["optimizer"] == {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.05}
    cfg = compose_converted(AMP_EMA, tmp_path)
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.optimizer.lr == 1e-3
    assert plain(cfg, "optimizer_config.amp") == {"dtype": "auto", "loss_scale": "dynamic"}
    assert plain(cfg, "optimizer_config.grad_clip")["max_norm"] == 5.0
    assert cfg.optimizer_config.cumulative_iters == 2
    assert [e["type"] for e in plain(cfg, "param_scheduler")] == ["linear", "cosine_annealing", "cosine_annealing"]
    assert plain(cfg, "param_scheduler")[2]["param_name"] == "weight_decay"
    assert (cfg.evaluation.interval, cfg.evaluation.start, cfg.evaluation.save_best, cfg.evaluation.rule) == (
        5, 10, "accuracy", "greater")
    checkpoint = cfg.checkpoint_config
    assert (checkpoint.interval, checkpoint.max_keep_ckpts, checkpoint.save_optimizer, checkpoint.out_dir) == (
        5, 3, False, "s3://bucket/ckpts")
    assert (cfg.log_config.interval, cfg.log_config.by_epoch) == (50, True)  # window_size == interval
    hooks = plain(cfg, "hooks")
    assert list(hooks) == ["ema", "early_stopping", "empty_cache", "sync_buffers"]
    assert (hooks["ema"]["momentum"], hooks["ema"]["warm_up"], hooks["ema"]["priority"]) == (4e-5, 1, "ABOVE_NORMAL")
    assert (hooks["early_stopping"]["monitor"], hooks["early_stopping"]["patience"]) == ("accuracy", 10)
    assert list(cfg.logger) == ["text", "tensorboard", "mlflow"]
    mlflow = plain(cfg, "logger.mlflow")
    assert (mlflow["experiment_name"], mlflow["run_name"], mlflow["tracking_uri"], mlflow["tags"]) == (
        "resnet50", "amp-ema", "file:///tmp/mlruns", {"team": "cls", "epochs": "100"})
    assert (cfg.seed, cfg.deterministic, cfg.ddp.find_unused_parameters) == (0, True, True)
    assert (cfg.auto_scale_lr.enable, cfg.auto_scale_lr.base_batch_size) == (True, 256)
    assert (cfg.load_from, cfg.resume, cfg.work_dir) == ("checkpoints/resnet50_pretrained.pth", None,
                                                         "./work_dirs/resnet50_amp_ema")
    assert {"val_evaluator[1]", "custom_hooks[4]", "visualizer.vis_backends[3]",
            "env_cfg.cudnn_benchmark"} <= skipped_keys(AMP_EMA)


def test_iter_loop_one_cycle_value_clipping_and_resume(tmp_path):
    cfg = compose_converted(ITER, tmp_path)
    assert (cfg.runner.type.value, cfg.runner.max_iters, cfg.evaluation) == ("iter", 1000, None)  # val_cfg=None
    assert plain(cfg, "optimizer_config.grad_clip")["type"] == "value"
    assert cfg.optimizer_config.grad_clip.clip_value == 1.0 and cfg.optimizer.nesterov is True
    assert [(e["type"], e["param_name"]) for e in plain(cfg, "param_scheduler")] == [
        ("one_cycle", "lr"), ("step", "momentum")]
    assert cfg.momentum_config is None
    assert (cfg.checkpoint_config.interval, cfg.checkpoint_config.by_epoch) == (1000, False)  # interval=-1
    assert (cfg.log_config.interval, cfg.log_config.by_epoch, cfg.resume, cfg.seed) == (20, False, "auto", 3407)
    assert {"param_scheduler[1]", "default_hooks.param_scheduler", "randomness.diff_rank_seed",
            "default_hooks.logger.log_metric_by_epoch"} <= skipped_keys(ITER)


def test_new_style_config_reads_bases_and_imported_classes(tmp_path):
    config = load_config(NEW_STYLE)
    assert config.new_style
    settings = config.settings
    assert settings["model"]["backbone"]["depth"] == 101 and settings["model"]["backbone"]["num_stages"] == 4
    assert settings["train_dataloader"]["batch_size"] == 128
    assert settings["default_hooks"]["checkpoint"] == {"type": "CheckpointHook", "interval": 1, "max_keep_ckpts": 2}
    cfg = compose_converted(NEW_STYLE, tmp_path)
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.optimizer.lr == 4e-3
    assert [e["type"] for e in plain(cfg, "param_scheduler")] == ["linear", "cosine_annealing"]
    assert (cfg.runner.max_epochs, cfg.checkpoint_config.max_keep_ckpts, cfg.hooks.ema.momentum) == (300, 2, 1e-4)


def test_new_style_never_imports(tmp_path):
    (tmp_path / "base.py").write_text("lr = 0.1\n")
    (tmp_path / "c.py").write_text("from mmengine.config import read_base\nwith read_base():\n"
                                   "    from .base import *\nimport os\nos.system('touch x')\n")
    with pytest.raises(ConfigParseError, match=r"c\.py:5: .*not allowed"):
        load_config(tmp_path / "c.py")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("spec, why", [
    ("train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=3)", "after the last step"),
    ("train_cfg = dict(by_epoch=True, max_epochs=12, val_interval=3, val_begin=4)", "multiples of 3 from 4"),
    ("param_scheduler = [dict(type='OneCycleLR', eta_max=1.0), dict(type='CosineAnnealingLR', eta_min_ratio=0.1)]",
     "eta_max / div_factor"),
    ("optim_wrapper = dict(type='ApexOptimWrapper', optimizer=dict(type='SGD', lr=0.1))", "not a wrapper"),
    ("default_hooks = dict()\ncustom_hooks = [dict(type='EMAHook', ema_type='StochasticWeightAverage')]",
     "StochasticWeightAverage"),
])
def test_what_mmengine_does_differently_is_reported(spec, why, tmp_path):
    (tmp_path / "c.py").write_text(spec + "\n")
    experiment = convert(load_config(tmp_path / "c.py"))
    assert experiment.format == "MMEngine"
    assert any(why in item.reason for item in experiment.skipped), experiment.skipped


# -- schedules: hyrun's values at every iteration are MMEngine's --------------------------------
# MMEngine's class names as the replay names them, written out here (not the converter's rule)
MMENGINE_CLASSES = {"LinearLR": ("linear", "lr"), "CosineAnnealingLR": ("cosine_annealing", "lr"),
                    "MultiStepLR": ("multi_step", "lr"), "OneCycleLR": ("one_cycle", "lr"),
                    "StepMomentum": ("step", "momentum"), "CosineAnnealingParamScheduler": ("cosine_annealing", None)}


def replay_entries(path: Path) -> list[dict]:
    """The source config's param_scheduler as the replay takes it (those hyrun carries)."""
    spec = load_config(path).settings["param_scheduler"]
    entries = []
    for entry in [spec] if isinstance(spec, dict) else spec:
        entry = dict(entry)
        class_name = str(entry.pop("type")).rsplit(".", 1)[-1]  # type=LinearLR of a new-style config
        if class_name not in MMENGINE_CLASSES:
            continue  # reported as not carried (CosineRestartLR)
        kind, param = MMENGINE_CLASSES[class_name]
        entries.append({"type": kind, "param_name": param or entry.pop("param_name"), **entry})
    return entries


def converted_rows(path: Path, tmp_path: Path, *overrides: str) -> list[dict]:
    from hyrun.build import build_runner
    from hyrun.preview import schedule_rows

    cfg = compose_converted(path, tmp_path / "conf", *overrides)
    return schedule_rows(build_runner(cfg, tmp_path / "run"))


@pytest.mark.parametrize("path, epochs, batch, lr", [
    (RESNET, 100, 32, 0.1),
    (COSLR, 100, 32, 0.1),
    (AMP_EMA, 100, 64, 1e-3 * 64 / 256),  # auto_scale_lr: 64 samples a step over base_batch_size 256
    (NEW_STYLE, 300, 32, 4e-3),
])
def test_converted_schedule_equals_mmengine_at_every_iteration(path, epochs, batch, lr, tmp_path):
    epoch_len = 4
    rows = converted_rows(path, tmp_path, f"data.num_samples={epoch_len * batch}", f"data.batch_size={batch}",
                          "load_from=null")
    entries = [e for e in replay_entries(path) if e["param_name"] == "lr"]
    expected = mmengine_values(entries, [{"lr": lr}], "lr", epochs, epoch_len)
    assert len(rows) == epochs * epoch_len
    assert [row["lr"] for row in rows] == pytest.approx([values[0] for values in expected], rel=1e-9, abs=1e-15)


def test_converted_iteration_schedules_equal_mmengine(tmp_path):
    entries = replay_entries(ITER)
    # the iter loop: 1000 iterations; the replay counts them as one "epoch" of 1000
    rows = converted_rows(ITER, tmp_path, "data.num_samples=3200")
    lr_expected = mmengine_values([e for e in entries if e["param_name"] == "lr"], [{"lr": 0.05}], "lr", 1, 1000)
    momentum_expected = mmengine_values([e for e in entries if e["param_name"] == "momentum"],
                                        [{"momentum": 0.9}], "momentum", 1, 1000)
    assert [r["lr"] for r in rows] == pytest.approx([v[0] for v in lr_expected], rel=1e-9)
    assert [r["momentum"] for r in rows] == pytest.approx([v[0] for v in momentum_expected], rel=1e-9)
