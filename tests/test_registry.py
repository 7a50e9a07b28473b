"""A user's own parts: by `_target_`, by registration with custom_imports, by entry point."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hyrun.optim.builder import build_optimizer
from hyrun.registry import REGISTRY, snake_case

ROOT = Path(__file__).resolve().parents[1]
FAST = ["data=synthetic", "model=mlp", "data.num_samples=64", "runner.max_epochs=1", "log_config.interval=1",
        "evaluation=null", "checkpoint_config=null"]


def hyrun(tmp_path, *args, extra_path=()):
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, extra_path)])
    result = subprocess.run([sys.executable, "-m", "hyrun", *args, f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    return result


def lines(tmp_path):
    return [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]


def test_snake_case_names():
    assert [snake_case(n) for n in ("MyOptimizer", "SGDWithWarmup", "EMAHook", "Adam")] == [
        "my_optimizer", "sgd_with_warmup", "ema_hook", "adam"]


def test_registered_classes_are_options_with_their_signature():
    import tests.plugins.custom_parts as parts
    from hydra.core.config_store import ConfigStore

    assert REGISTRY["optimizer"]["my_optimizer"] is parts.MyOptimizer
    assert "my_optimizer.yaml" in ConfigStore.instance().list("optimizer")
    assert "counting_hook.yaml" in ConfigStore.instance().list("hooks")
    optimizer = build_optimizer(torch.nn.Linear(2, 2), {"_target_": "tests.plugins.custom_parts.MyOptimizer",
                                                        "lr": 0.5, "a": 2.0})
    assert optimizer.param_groups[0]["a"] == 2.0


@pytest.mark.slow
def test_registered_optimizer_and_hook_by_custom_imports(tmp_path):
    result = hyrun(tmp_path, "custom_imports=[tests.plugins.custom_parts]", "optimizer=my_optimizer",
                   "optimizer.a=0.5", "optimizer.lr=0.2", "hooks=[counting_hook]", "hooks.counting_hook.every=2", *FAST, "data.num_samples=128")
    assert result.returncode == 0, result.stderr
    train = [r for r in lines(tmp_path) if r["mode"] == "train"]
    assert train[0]["lr"] == 0.2 and "momentum" not in train[0]
    assert [r.get("counted") for r in train[:4]] == [None, 1.0, 1.0, 2.0]  # mean over the interval of 1
    assert "CountingHook (30)" in result.stdout + result.stderr  # its class priority, HIGH


@pytest.mark.slow
def test_optimizer_by_target_drops_the_presets_fields(tmp_path):
    result = hyrun(tmp_path, "optimizer._target_=tests.plugins.custom_parts.MyOptimizer", "+optimizer.a=0.5", *FAST)
    assert result.returncode == 0, result.stderr
    assert lines(tmp_path)[0]["lr"] == 0.02  # the sgd preset's lr, which MyOptimizer takes


@pytest.mark.slow
def test_custom_constructor_by_registered_name(tmp_path):
    result = hyrun(tmp_path, "custom_imports=[tests.plugins.custom_parts]", "optimizer.constructor=frozen_bias_constructor",
                   *FAST, "checkpoint_config=null")
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_entry_point_plugins_register_without_custom_imports(tmp_path):
    site = tmp_path / "site"
    dist = site / "my_hyrun_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-hyrun-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hyrun.plugins]\nparts = tests.plugins.custom_parts\n")
    result = hyrun(tmp_path, "optimizer=my_optimizer", "optimizer.a=0.5", *FAST, extra_path=[site])
    assert result.returncode == 0, result.stderr
    assert "my_optimizer" in hyrun(tmp_path, "--help", extra_path=[site]).stdout


@pytest.mark.slow
def test_unregistered_option_without_the_import_lists_the_valid_ones(tmp_path):
    result = hyrun(tmp_path, "optimizer=my_optimizer", *FAST)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "Could not find 'optimizer/my_optimizer'" in result.stderr and "sgd" in result.stderr


def test_a_config_with_a_registered_optimizer_unpickles_in_a_fresh_process():
    """Launchers that run jobs in other processes (joblib, submitit, torchrun) pickle the
    config; its generated class must come back where only hyrun is imported."""
    import pickle

    from hydra import compose, initialize_config_dir

    import tests.plugins.custom_parts  # noqa: F401  (registers my_optimizer)
    from hyrun.cli import config_dir
    from hyrun.config.store import register_configs

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=["optimizer=my_optimizer", "optimizer.a=2.5"])
    reader = "import pickle, sys; cfg = pickle.load(sys.stdin.buffer); print(type(cfg.optimizer).__name__, cfg.optimizer.a)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", reader], input=pickle.dumps(cfg), capture_output=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["DictConfig", "2.5"]


def compose_with(*overrides):
    from hydra import compose, initialize_config_dir

    import tests.plugins.custom_parts  # noqa: F401  (registers the parts)
    from hyrun.cli import config_dir
    from hyrun.config.store import register_configs

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_a_required_argument_is_an_error_only_when_its_hook_is_selected():
    from hyrun.config.errors import ConfigError
    from hyrun.config.validate import validate

    validate(compose_with())  # registered, not selected: every other command works
    with pytest.raises(ConfigError) as error:
        validate(compose_with("hooks=[weight_norm_limit]"))
    assert error.value.key == "hooks.weight_norm_limit.max_norm" and "required" in str(error.value)
    cfg = compose_with("hooks=[weight_norm_limit]", "hooks.weight_norm_limit.max_norm=50")
    validate(cfg)
    assert cfg.hooks.weight_norm_limit.max_norm == 50.0 and cfg.hooks.weight_norm_limit.norm_type == 2.0


def test_a_registered_optimizer_takes_the_optimizers_checks():
    from hyrun.config.errors import ConfigError
    from hyrun.config.validate import validate

    with pytest.raises(ConfigError) as error:
        validate(compose_with("optimizer=my_optimizer", "optimizer.lr=-0.5"))
    assert (error.value.key, error.value.value) == ("optimizer.lr", -0.5)


def test_a_registered_logger_is_an_option_of_the_logger_group():
    cfg = compose_with("logger=[text,csv_logger]", "logger.csv_logger.filename=losses.csv")
    assert list(cfg.logger) == ["text", "csv_logger"]
    assert cfg.logger.csv_logger._target_ == "tests.plugins.custom_parts.CsvLogger"
    assert cfg.logger.csv_logger.filename == "losses.csv" and list(cfg.logger.csv_logger.columns) == [
        "mode", "epoch", "iter", "loss"]


@pytest.mark.slow
def test_a_registered_logger_gets_every_record(tmp_path):
    import csv

    evaluated = [arg for arg in FAST if arg != "evaluation=null"]
    result = hyrun(tmp_path, "custom_imports=[tests.plugins.custom_parts]", "logger=[text,csv_logger]", *evaluated,
                   "evaluation.metric=[loss]")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "run" / "records.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    expected = [{k: str(r.get(k, "")) for k in ("mode", "epoch", "iter", "loss")} for r in lines(tmp_path)]
    assert rows == expected and {row["mode"] for row in rows} == {"train", "val"}
