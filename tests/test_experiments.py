"""The shipped experiments (conf/experiment): each a patch of the defaults, selected with
``experiment=NAME``; what follows it on the command line wins."""
from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from hyrun.cli import config_dir
from hyrun.config.choices import group_options
from hyrun.config.store import register_configs
from hyrun.config.validate import validate
from tests.helpers import composed

EXPERIMENTS = ("digits_cosine", "digits_cyclic", "synthetic_bench")


def choices(*overrides: str):
    """The option each group selected (Hydra's runtime.choices)."""
    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra.runtime.choices


def test_the_shipped_experiments_are_options_of_the_group():
    assert set(EXPERIMENTS) <= set(group_options("experiment", [config_dir()]))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_experiment_composes_into_a_valid_config(name):
    assert choices(f"experiment={name}").experiment == name
    validate(composed(f"experiment={name}"))


def test_digits_cosine_warms_up_then_anneals_per_iteration():
    selected = choices("experiment=digits_cosine")
    assert (selected.data, selected.model, selected.lr_config) == ("digits", "digits_cnn", "cosine_annealing")
    lr = composed("experiment=digits_cosine").lr_config
    assert (lr.warmup, lr.warmup_iters, lr.by_epoch, lr.min_lr_ratio) == ("linear", 45, False, 0.01)


def test_digits_cyclic_has_the_seed_tutorials_schedules():
    cfg = composed("experiment=digits_cyclic")
    assert (cfg.lr_config.policy, cfg.momentum_config.policy) == ("cyclic", "cyclic")
    assert OmegaConf.to_container(cfg.lr_config.target_ratio) == [10, 1e-4]
    assert cfg.momentum_config.target_ratio[0] == pytest.approx(0.85 / 0.95)
    for schedule in (cfg.lr_config, cfg.momentum_config):
        assert (schedule.cyclic_times, schedule.step_ratio_up) == (1, 0.4)
    assert cfg.optimizer.momentum == 0.95  # the base the momentum ratios scale


def test_synthetic_bench_is_the_overhead_benchmarks_job():
    selected = choices("experiment=synthetic_bench")
    assert (selected.data, selected.model, selected.optimizer) == ("synthetic", "mlp", "sgd")
    cfg = composed("experiment=synthetic_bench")
    assert (cfg.data.num_samples, cfg.data.batch_size, cfg.runner.max_epochs) == (20000, 32, 2)
    assert cfg.evaluation is None and cfg.checkpoint_config is None


def test_an_override_after_the_experiment_wins():
    cfg = composed("experiment=digits_cyclic", "lr_config.target_ratio=[5,1e-4]", "optimizer.momentum=0.9",
                   "data=synthetic", "model=mlp")
    assert OmegaConf.to_container(cfg.lr_config.target_ratio) == [5, 1e-4]
    assert cfg.optimizer.momentum == 0.9
    assert cfg.data._target_.endswith("synthetic") and cfg.model._target_.endswith("MLP")


def test_plus_experiment_as_hydras_docs_write_it_selects_the_same(run_hyrun):
    """``+experiment=NAME`` (the issue's and Hydra's docs' form) composes as ``experiment=NAME``."""
    from pathlib import Path

    root = Path(config_dir()).parent
    plus = run_hyrun("+experiment=digits_cyclic", "+debug=fast_dev_run", "--cfg", "job", cwd=root)
    plain = run_hyrun("experiment=digits_cyclic", "debug=fast_dev_run", "--cfg", "job", cwd=root)
    assert plus.returncode == 0, plus.stderr
    assert plus.stdout == plain.stdout and "cyclic" in plus.stdout


@pytest.mark.slow
def test_each_experiment_trains_and_writes_its_outputs(tmp_path, run_hyrun_many, read_metrics):
    shorter = {"digits_cosine": ["runner.max_epochs=2"], "digits_cyclic": ["runner.max_epochs=2"],
               "synthetic_bench": ["runner.max_epochs=1", "data.num_samples=2000"]}
    procs = run_hyrun_many([[f"experiment={name}", *extra, f"hydra.run.dir={tmp_path / name}"]
                            for name, extra in shorter.items()], cwd=tmp_path)
    for proc in procs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    records = {name: read_metrics(tmp_path / name) for name in shorter}

    cosine = [r["lr"] for r in records["digits_cosine"] if r["mode"] == "train"]
    assert cosine[0] < cosine[3] and cosine[3] > cosine[-1]  # warmup over epoch 1, then annealing
    cyclic = [r for r in records["digits_cyclic"] if r["mode"] == "train"]
    peak = max(range(len(cyclic)), key=lambda i: cyclic[i]["lr"])
    assert 0 < peak < len(cyclic) - 1 and cyclic[peak]["momentum"] == min(r["momentum"] for r in cyclic)
    for name in ("digits_cosine", "digits_cyclic"):
        assert [r["epoch"] for r in records[name] if r["mode"] == "val"] == [1, 2]
        assert sorted(p.name for p in (tmp_path / name / "checkpoints").iterdir()) == [
            "epoch_1.pth", "epoch_2.pth", "latest.pth"]

    bench = records["synthetic_bench"]
    assert {r["mode"] for r in bench} == {"train"} and bench[-1]["iter"] == 50  # 63 iterations, every 50th
    assert not (tmp_path / "synthetic_bench" / "checkpoints").exists()


def test_an_experiments_custom_imports_register_the_options_it_selects(tmp_path, run_hyrun):
    """An experiment that selects a registered optimizer (as hyrun-convert writes for an MMCV
    config with custom_imports and type='MyOptimizer') composes without custom_imports on the
    command line."""
    from pathlib import Path

    from tests.conftest import hyrun_env

    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /optimizer: my_optimizer\n  - _self_\n"
        "custom_imports: [tests.plugins.custom_parts]\noptimizer:\n  a: 2.5\n")
    root = Path(config_dir()).parent
    proc = run_hyrun("--config-dir", tmp_path, "+experiment=mine", "--cfg", "job", cwd=tmp_path,
                     env=hyrun_env(PYTHONPATH=str(root)))
    assert proc.returncode == 0, proc.stderr
    assert "_target_: tests.plugins.custom_parts.MyOptimizer" in proc.stdout and "a: 2.5" in proc.stdout
