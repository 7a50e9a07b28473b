"""hyrun-convert: MMCV 1.x configs (read as data, never run) as hyrun experiments that
compose, validate and schedule like the hand-written overrides."""
from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import DictConfig, OmegaConf

from hyrun.config.validate import validate
from hyrun.convert.cli import main as convert_main
from hyrun.convert.experiment import Experiment
from hyrun.convert.mapping import convert
from hyrun.convert.parse import ConfigParseError, MMCVConfig, load_config
from hyrun.convert.write import render
from tests.helpers import composed

DATA = Path(__file__).parent / "data" / "mmcv_configs"
SEED = DATA / "seed"
MOT = DATA / "mot" / "faster_rcnn_r50_fpn_adamw_mot17.py"
FAST = ["data=synthetic", "model=mlp"]


def converted(path: Path) -> Experiment:
    return convert(load_config(path))


def compose_converted(path: Path, conf: Path, *overrides: str) -> DictConfig:
    """Convert ``path`` into ``conf/experiment/``, compose ``experiment=NAME`` with ``conf`` on
    the search path (as --config-dir adds it), and validate the result."""
    (conf / "experiment").mkdir(parents=True, exist_ok=True)
    (conf / "experiment" / f"{path.stem}.yaml").write_text(render(converted(path), str(path), path.stem))
    cfg = composed(f"experiment={path.stem}", f"hydra.searchpath=[file://{conf}]", *overrides)
    validate(cfg)
    return cfg


def value_at(cfg: DictConfig, dotted_key: str):
    node = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    for part in dotted_key.split("."):
        node = node[part]
    return node


@pytest.fixture
def mmtrack_modules(tmp_path, monkeypatch):
    """The modules the seed's custom_imports name, as files on the path (empty: imports only)."""
    root = tmp_path / "site"
    for module in ("mmtrack/core/optimizer/my_optimizer.py", "mmtrack/core/utils/my_hook.py"):
        (root / module).parent.mkdir(parents=True, exist_ok=True)
        (root / module).write_text("")
    monkeypatch.syspath_prepend(str(root))
    yield
    for name in [n for n in sys.modules if n == "mmtrack" or n.startswith("mmtrack.")]:
        del sys.modules[name]


# -- every config snippet of the seed tutorial ----------------------------------------------
SEED_CASES = {
    "adam_optimizer": ({"optimizer": "adam"}, {"optimizer._target_": "torch.optim.Adam", "optimizer.lr": 0.0003,
                                               "optimizer.weight_decay": 0.0001}, set()),
    "sgd_optimizer": ({"optimizer": "sgd"}, {"optimizer._target_": "torch.optim.SGD", "optimizer.lr": 0.02,
                                             "optimizer.momentum": 0.9, "optimizer.weight_decay": 0.0001}, set()),
    "custom_imports_optimizer": ({}, {"custom_imports": ["mmtrack.core.optimizer.my_optimizer"]}, set()),
    "custom_imports_hook": ({}, {"custom_imports": ["mmtrack.core.utils.my_hook"]}, set()),
    "grad_clip": ({"optimizer_config": "grad_clip"}, {"optimizer_config.grad_clip": {
        "type": "norm", "max_norm": 35.0, "norm_type": 2.0, "clip_value": 1.0}}, set()),
    "cyclic_lr_momentum": ({"lr_config": "cyclic", "momentum_config": "cyclic"}, {
        "lr_config.policy": "cyclic", "lr_config.target_ratio": [10, 1e-4], "lr_config.cyclic_times": 1,
        "lr_config.step_ratio_up": 0.4, "momentum_config.policy": "cyclic",
        "momentum_config.target_ratio": [0.85 / 0.95, 1], "momentum_config.cyclic_times": 1,
        "momentum_config.step_ratio_up": 0.4}, set()),
    "poly_lr": ({"lr_config": "poly"}, {"lr_config.power": 0.9, "lr_config.min_lr": 1e-4,
                                        "lr_config.by_epoch": False}, set()),
    "cosine_annealing_lr": ({"lr_config": "cosine_annealing"}, {
        "lr_config.warmup": "linear", "lr_config.warmup_iters": 1000, "lr_config.warmup_ratio": 0.1,
        "lr_config.min_lr_ratio": 1e-5}, set()),
    "workflow_train": ({"workflow": "train"}, {"workflow.phases": [["train", 1]]}, set()),
    "workflow_train_val": ({"workflow": "train_val"}, {"workflow.phases": [["train", 1], ["val", 1]]}, set()),
    "custom_hook": ({}, {"hooks": {}, "custom_hooks": {}}, {"custom_hooks[0]"}),
    "custom_hook_priority": ({}, {"hooks": {}, "custom_hooks": {}}, {"custom_hooks[0]"}),
    "checkpoint": ({}, {"checkpoint_config.interval": 1}, set()),
    "log_config": ({"logger": ["text", "tensorboard"]}, {
        "log_config.interval": 50,
        "logger.tensorboard._target_": "hyrun.hooks.logger.tensorboard.TensorboardLoggerHook"}, set()),
    "evaluation": ({}, {"evaluation.interval": 1, "evaluation.metric": ["accuracy"]}, {"evaluation.metric"}),
}


def test_every_seed_snippet_has_a_case():
    assert {p.stem for p in SEED.glob("*.py")} == {*SEED_CASES, "my_optimizer"}


@pytest.mark.parametrize("name", SEED_CASES)
def test_seed_snippet_converts_and_composes(name, tmp_path, mmtrack_modules):
    choices, expected, skipped = SEED_CASES[name]
    experiment = converted(SEED / f"{name}.py")
    assert experiment.choices == choices
    assert {item.key for item in experiment.skipped} == skipped
    cfg = compose_converted(SEED / f"{name}.py", tmp_path / "conf", *FAST)
    for key, value in expected.items():
        assert value_at(cfg, key) == value, key


def test_seed_custom_hook_is_reported_with_its_priority():
    [item] = converted(SEED / "custom_hook_priority.py").skipped
    assert item.value == {"type": "MyHook", "a": 1, "b": 2, "priority": "NORMAL"}
    assert "hooks=[my_hook]" in item.reason  # what to do once ported


def test_seed_own_optimizer_selects_its_registered_option():
    experiment = converted(SEED / "my_optimizer.py")
    assert experiment.choices == {"optimizer": "my_optimizer"}
    assert experiment.values == {"optimizer": {"a": 2.0, "b": 1, "c": 0.5}}
    assert any(n.key == "optimizer.type" and "@register('optimizer')" in n.reason for n in experiment.notes)


def test_registered_optimizer_composes_with_its_import(tmp_path):
    importlib.import_module("tests.plugins.custom_parts")  # registers my_optimizer, as custom_imports=[...] would

    cfg = compose_converted(DATA / "custom_optimizer.py", tmp_path, *FAST)
    assert cfg.optimizer._target_ == "tests.plugins.custom_parts.MyOptimizer"
    assert (cfg.optimizer.lr, cfg.optimizer.a, cfg.optimizer.b) == (0.05, 2.0, 1)
    assert list(cfg.custom_imports) == ["tests.plugins.custom_parts"]


def test_torch_defaults_and_literal_strings(tmp_path):
    (tmp_path / "plain.py").write_text("optimizer = dict(type='SGD', lr=0.1, foo=1)\nwork_dir = 'work_dirs/${name}'\n")
    experiment = converted(tmp_path / "plain.py")
    assert [item.key for item in experiment.skipped] == ["optimizer.foo"]
    cfg = compose_converted(tmp_path / "plain.py", tmp_path / "conf", *FAST)
    # MMCV leaves momentum and weight decay to torch (0), where hyrun's sgd preset has the seed's
    assert (cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == (0.1, 0.0, 0.0)
    assert cfg.work_dir == "work_dirs/${name}"  # MMCV's text, not an interpolation


# -- _base_ and _delete_ as MMTracking's configs use them -------------------------------------
def test_bases_merge_and_delete_replaces():
    settings = load_config(MOT).settings
    # _delete_: the base's SGD momentum is gone; without it AdamW would get momentum=0.9
    assert settings["optimizer"] == {"type": "AdamW", "lr": 2e-4, "betas": (0.9, 0.999), "weight_decay": 0.05,
                                     "paramwise_cfg": {"norm_decay_mult": 0.0,
                                                       "custom_keys": {"backbone": {"lr_mult": 0.1}}}}
    assert settings["optimizer_config"] == {"grad_clip": {"max_norm": 35, "norm_type": 2}}
    # merged: the base schedule's warmup stays, the steps are the file's
    assert settings["lr_config"] == {"policy": "step", "warmup": "linear", "warmup_iters": 500,
                                     "warmup_ratio": 0.001, "step": [3]}
    assert settings["runner"] == {"type": "EpochBasedRunner", "max_epochs": 4}
    assert settings["checkpoint_config"] == {"interval": 1} and settings["log_level"] == "INFO"  # the runtime base


def test_base_chain_is_followed():
    settings = load_config(DATA / "mot" / "faster_rcnn_r50_fpn_adamw_mot17_half.py").settings
    assert settings["optimizer"]["type"] == "AdamW" and settings["optimizer"]["lr"] == 1e-4
    assert settings["lr_config"] == {"policy": "CosineAnnealing", "min_lr": 0, "warmup": "linear", "warmup_iters": 10}
    assert settings["fp16"] == {"loss_scale": {"init_scale": 512.0}}  # from two levels up
    assert settings["data"]["train"]["ann_file"].endswith("half-val_cocoformat.json")
    assert settings["data"]["samples_per_gpu"] == 2  # merged, not replaced


def test_later_base_overrides_earlier_and_lists_replace(tmp_path):
    (tmp_path / "a.py").write_text("x = dict(a=1, b=dict(c=1))\nsteps = [1, 2, 3]\n")
    (tmp_path / "b.py").write_text("x = dict(b=dict(d=2))\nsteps = [4]\n")
    (tmp_path / "child.py").write_text("_base_ = ['a.py', 'b.py']\nx = dict(a=3)\n")
    settings = load_config(tmp_path / "child.py").settings
    assert settings == {"x": {"a": 3, "b": {"c": 1, "d": 2}}, "steps": [4]}


def test_mmtracking_style_config_composes_with_its_fields(tmp_path):
    cfg = compose_converted(MOT, tmp_path, *FAST)
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and cfg.optimizer.lr == pytest.approx(2e-4)
    assert value_at(cfg, "optimizer.paramwise_cfg.custom_keys") == {"backbone": {"lr_mult": 0.1}}
    assert cfg.optimizer.paramwise_cfg.norm_decay_mult == 0.0
    assert cfg.optimizer_config.grad_clip.max_norm == 35
    assert value_at(cfg, "optimizer_config.amp") == {"dtype": "auto", "loss_scale": {"init_scale": 512.0}}
    assert value_at(cfg, "lr_config.step") == [3] and cfg.lr_config.warmup_iters == 500
    assert (cfg.runner.max_epochs, cfg.seed) == (4, 42)
    assert value_at(cfg, "hooks.ema.priority") == 49 and list(cfg.logger) == ["text", "tensorboard"]
    assert value_at(cfg, "workflow.phases") == [["train", 1], ["val", 1]] and cfg.evaluation.save_best == "auto"


def test_iter_based_config_composes(tmp_path):
    cfg = compose_converted(DATA / "iter_based.py", tmp_path, *FAST)
    assert value_at(cfg, "runner.type") == "iter" and cfg.runner.max_iters == 200
    assert cfg.checkpoint_config.interval == 200  # MMCV's interval=-1: only the last one
    assert value_at(cfg, "workflow.phases") == [["train", 50], ["val", 1]]
    assert cfg.optimizer_config.cumulative_iters == 2 and cfg.log_config.by_epoch is False


def test_builtin_hooks_loggers_and_run_settings_carry_over(tmp_path):
    experiment = converted(DATA / "runtime_hooks.py")
    assert {item.key for item in experiment.skipped} == {
        "custom_hooks[0].resume_from", "custom_hooks[2].distributed",
        "log_config.hooks[1].params", "checkpoint_config.sync_buffer", "evaluation.classwise"}
    cfg = compose_converted(DATA / "runtime_hooks.py", tmp_path, *FAST)
    hooks = value_at(cfg, "hooks")
    assert list(hooks) == ["ema", "empty_cache", "sync_buffers", "profiler", "early_stopping", "nan_guard"]
    assert (hooks["ema"]["momentum"], hooks["ema"]["interval"], hooks["ema"]["warm_up"]) == (0.001, 2, 10)
    assert hooks["empty_cache"]["after_iter"] and hooks["empty_cache"]["priority"] == "LOW"
    assert [hooks["profiler"][k] for k in ("wait", "warmup", "active", "record_shapes")] == [2, 1, 2, True]
    assert (hooks["early_stopping"]["monitor"], hooks["early_stopping"]["patience"]) == ("loss", 2)
    assert (hooks["nan_guard"]["action"], hooks["nan_guard"]["priority"], hooks["nan_guard"]["interval"]) == (
        "stop", "VERY_LOW", 50)  # MMDetection checks every 50 iterations: so does the guard
    mlflow = value_at(cfg, "logger.mlflow")
    assert (mlflow["experiment_name"], mlflow["tags"], mlflow["log_model"]) == (
        "mot", {"team": "tracking", "stage": "2"}, True)  # MMCV's MlflowLoggerHook uploads the model by default
    assert (cfg.log_config.interval, cfg.log_config.by_epoch, cfg.log_config.ignore_last) == (5, False, False)
    checkpoint = cfg.checkpoint_config
    assert (checkpoint.interval, checkpoint.max_keep_ckpts, checkpoint.save_optimizer) == (2, 3, False)
    assert value_at(cfg, "evaluation.metric") == ["accuracy", "top5_accuracy"]
    assert (cfg.evaluation.save_best, cfg.evaluation.rule, cfg.evaluation.start) == ("top5_accuracy", "greater", 1)
    assert cfg.lr_config.policy == "fixed" and cfg.lr_config.warmup is None  # lr_config=None: no lr hook
    assert cfg.momentum_config.policy == "one_cycle" and cfg.momentum_config.base_momentum == 0.8
    assert (cfg.resume, cfg.ddp.find_unused_parameters, cfg.runner.max_epochs) == ("auto", True, 6)


@pytest.mark.parametrize("key, policy, option", [
    ("lr_config", "fixed", "fixed"), ("lr_config", "step", "step"), ("lr_config", "Exp", "exp"),
    ("lr_config", "poly", "poly"), ("lr_config", "Inv", "inv"), ("lr_config", "CosineAnnealing", "cosine_annealing"),
    ("lr_config", "FlatCosineAnnealing", "flat_cosine_annealing"), ("lr_config", "CosineRestart", "cosine_restart"),
    ("lr_config", "cyclic", "cyclic"), ("lr_config", "OneCycle", "one_cycle"),
    ("lr_config", "LinearAnnealing", "linear_annealing"), ("momentum_config", "step", "step"),
    ("momentum_config", "CosineAnnealing", "cosine_annealing"), ("momentum_config", "cyclic", "cyclic"),
    ("momentum_config", "OneCycle", "one_cycle"), ("momentum_config", "LinearAnnealing", "linear_annealing"),
])
def test_mmcv_policy_names_select_hyrun_options(key, policy, option):
    experiment = convert(MMCVConfig({key: {"policy": policy}}, frozenset()))
    assert experiment.choices == {key: option} and not experiment.skipped


def test_unknown_policy_is_reported_and_the_default_stays():
    experiment = convert(MMCVConfig({"lr_config": {"policy": "YOLOX", "num_last_epochs": 15}}, frozenset()))
    assert experiment.choices == {} and [item.key for item in experiment.skipped] == ["lr_config"]
    assert "'YOLOX' is not one hyrun has" in experiment.skipped[0].reason


# -- code is refused, never run --------------------------------------------------------------
@pytest.mark.parametrize("line", [
    "x = __import__('os').system('touch {sentinel}')",
    "x = open('{sentinel}', 'w')",
    "import os; os.system('touch {sentinel}')",
    "x = (lambda: open('{sentinel}', 'w'))()",
    "x = exec(\"open('{sentinel}', 'w')\")",
    "x = dict(a=1).__class__",
    "x = [open('{sentinel}', 'w') for _ in range(1)]",
])
def test_code_is_refused_and_not_run(line, tmp_path):
    sentinel = tmp_path / "ran"
    config = tmp_path / "evil.py"
    config.write_text("lr = 0.1\n" + line.format(sentinel=sentinel) + "\n")
    with pytest.raises(ConfigParseError, match=r"evil\.py:2: .*not allowed in a config"):
        load_config(config)
    assert not sentinel.exists()


def test_arithmetic_names_and_constructors(tmp_path):
    (tmp_path / "c.py").write_text(
        "lr = 0.01\nratio = 0.85 / 0.95\noptimizer = dict(lr=lr * 2, betas=(0.9, 1 - 1e-3))\n"
        "x = -2 ** 2 + 7 // 2 + 7 % 4\nnorm = dict(mean=[1])\npipe = [dict(type='N', **norm), *[1]]\n"
        "t = tuple([1]) + (2,)\n")
    assert load_config(tmp_path / "c.py").settings == {
        "lr": 0.01, "ratio": 0.85 / 0.95, "optimizer": {"lr": 0.02, "betas": (0.9, 0.999)}, "x": -4 + 3 + 3,
        "norm": {"mean": [1]}, "pipe": [{"type": "N", "mean": [1]}, 1], "t": (1, 2)}


def test_undefined_name_is_an_error_naming_line(tmp_path):
    (tmp_path / "seed.py").write_text("optimizer = dict(type='MyOptimizer', a=a_value)\n")  # the seed, verbatim
    with pytest.raises(ConfigParseError, match=r"seed\.py:1: name 'a_value' is not defined"):
        load_config(tmp_path / "seed.py")


def test_base_cycle_is_an_error(tmp_path):
    (tmp_path / "a.py").write_text("_base_ = 'b.py'\n")
    (tmp_path / "b.py").write_text("_base_ = './a.py'\n")
    with pytest.raises(ConfigParseError, match="include each other"):
        load_config(tmp_path / "a.py")


# -- the report ------------------------------------------------------------------------------
def test_report_on_stderr_and_at_the_end_of_the_file(tmp_path, capsys):
    out = tmp_path / "experiment" / "mot.yaml"
    convert_main([str(MOT), "-o", str(out)])
    stderr = capsys.readouterr().err
    text = out.read_text()
    assert text.startswith("# @package _global_\n")
    tail = text[text.index("\n# hyrun-convert:") + 1:]
    for expected in ("model = dict(detector=dict(type='FasterRCNN'", "custom_hooks[1] = dict(type='YOLOXModeSwitchHook'",
                     "log_config.hooks[2] = dict(type='WandbLoggerHook'", "evaluation.metric = ['bbox', 'track']",
                     "dist_params = dict(backend='nccl')", "search_metrics = ['MOTA', 'IDF1']"):
        assert expected in stderr and expected in tail, expected
    assert all(line.startswith("#") for line in tail.splitlines())
    assert "model" not in OmegaConf.load(out) and "variables: base_lr" in stderr


def test_stdout_without_output_file(capsys):
    convert_main([str(SEED / "poly_lr.py")])
    captured = capsys.readouterr()
    assert "override /lr_config: poly" in captured.out and "everything was carried over" in captured.err


def test_bad_file_exits_with_a_short_message(tmp_path, capsys):
    (tmp_path / "bad.py").write_text("optimizer = dict(type='SGD', lr=open('lr.txt'))\n")
    with pytest.raises(SystemExit) as stopped:
        convert_main([str(tmp_path / "bad.py")])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and "bad.py:1: calling open()" in err


def test_metric_names_agree_with_hyrun_metrics():
    from hyrun.convert.hooks import _BUILTIN_METRIC
    from hyrun.metrics import is_builtin

    for name in ("accuracy", "top5_accuracy", "loss", "bbox", "top0_accuracy", "accuracy_top-1", "mAP"):
        assert bool(_BUILTIN_METRIC.fullmatch(name)) == is_builtin(name), name


# -- schedules: the same lr and momentum at every iteration as the hand-written overrides ------
SCHEDULE_CASES = {
    "cosine_warmup": (SEED / "cosine_annealing_lr.py", ["data.num_samples=3200", "runner.max_epochs=12"],
                      ["lr_config=cosine_annealing", "lr_config.warmup=linear", "lr_config.warmup_iters=1000",
                       "lr_config.warmup_ratio=0.1", "lr_config.min_lr_ratio=1e-5"]),
    "cyclic_pair": (SEED / "cyclic_lr_momentum.py", ["data.num_samples=320", "runner.max_epochs=5"],
                    ["lr_config=cyclic", "lr_config.target_ratio=[10,1e-4]", "lr_config.cyclic_times=1",
                     "lr_config.step_ratio_up=0.4", "momentum_config=cyclic",
                     f"momentum_config.target_ratio=[{0.85 / 0.95!r},1]", "momentum_config.cyclic_times=1",
                     "momentum_config.step_ratio_up=0.4"]),
    "step_warmup": (DATA / "_base_" / "schedules" / "schedule_1x.py", ["data.num_samples=3200"],
                    ["optimizer=sgd", "optimizer.lr=0.02", "optimizer.momentum=0.9", "optimizer.weight_decay=0.0001",
                     "lr_config=step", "lr_config.warmup=linear", "lr_config.warmup_iters=500",
                     "lr_config.warmup_ratio=0.001", "lr_config.step=[8,11]", "runner.max_epochs=12"]),
}


def schedule(cfg: DictConfig, work_dir: Path) -> list[dict]:
    from hyrun.build import build_runner
    from hyrun.preview import schedule_rows

    return schedule_rows(build_runner(cfg, work_dir))


@pytest.mark.parametrize("case", SCHEDULE_CASES)
def test_converted_schedule_equals_hand_written_overrides(case, tmp_path):
    path, common, by_hand = SCHEDULE_CASES[case]
    rows = schedule(compose_converted(path, tmp_path / "conf", *FAST, *common), tmp_path / "converted")
    expected = composed(*FAST, *common, *by_hand)
    validate(expected)
    assert rows == schedule(expected, tmp_path / "by_hand")
    lrs = [row["lr"] for row in rows]
    if case == "step_warmup":  # MMCV's numbers: warmup from 0.02 * 0.001, decays at epochs 8 and 11
        assert lrs[0] == pytest.approx(2e-5) and lrs[799] == pytest.approx(0.02)
        assert lrs[800] == pytest.approx(0.002) and lrs[-1] == pytest.approx(0.0002)
    if case == "cyclic_pair":  # up to 10x in the first 40% while the momentum goes down by 0.85 / 0.95
        peak = lrs.index(max(lrs))
        assert max(lrs) == pytest.approx(0.2, rel=1e-2) and 0.35 < peak / len(rows) < 0.45
        assert min(row["momentum"] for row in rows) == pytest.approx(0.9 * 0.85 / 0.95)  # of sgd's 0.9


# -- end to end ------------------------------------------------------------------------------
@pytest.mark.slow
def test_converted_experiment_trains_like_hand_written_overrides(tmp_path, run_hyrun_many, read_metrics):
    convert_script = Path(sys.executable).with_name("hyrun-convert")
    conf = tmp_path / "conf"
    for path in (SEED / "cyclic_lr_momentum.py", MOT):
        done = subprocess.run([str(convert_script), str(path), "-o", str(conf / "experiment" / f"{path.stem}.yaml")],
                              check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    common = [*FAST, "data.num_samples=320", "runner.max_epochs=3", "log_config.interval=1"]
    cyclic, by_hand, mot = run_hyrun_many([
        ["--config-dir", conf, "experiment=cyclic_lr_momentum", *common, f"hydra.run.dir={tmp_path}/converted"],
        [*common, *SCHEDULE_CASES["cyclic_pair"][2], f"hydra.run.dir={tmp_path}/by_hand"],
        ["--config-dir", conf, f"experiment={MOT.stem}", *common, f"hydra.run.dir={tmp_path}/mot"],
    ], cwd=tmp_path)
    for result in (cyclic, by_hand, mot):
        assert result.returncode == 0, result.stderr
    train = [[r for r in read_metrics(tmp_path / run) if r["mode"] == "train"] for run in ("converted", "by_hand")]
    assert len(train[0]) == 30
    for key in ("iter", "lr", "momentum", "loss"):
        assert [r[key] for r in train[0]] == [r[key] for r in train[1]], key
    assert list((tmp_path / "mot" / "checkpoints").glob("best_accuracy_epoch_*.pth"))  # save_best carried


@pytest.mark.slow
def test_console_script_refuses_code_without_traceback(tmp_path):
    sentinel = tmp_path / "ran"
    (tmp_path / "evil.py").write_text(f"optimizer = dict(type='SGD')\nx = __import__('os').system('touch {sentinel}')\n")
    done = subprocess.run([str(Path(sys.executable).with_name("hyrun-convert")), str(tmp_path / "evil.py")],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "evil.py:2:" in done.stderr
    assert not sentinel.exists() and done.stdout == ""
