"""End to end through the command line (README, "A tour" and "What a run leaves"): ``python -m hyrun`` and ``hyrun``
as a user runs them, and what a run leaves in its output directory.

Training runs are tiny (synthetic data, an MLP, a few hundred samples); independent runs are
started together, as they mostly wait on imports.
"""
from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import hyrun_env

# 200 samples in batches of 32: ceil(200 / 32) = 7 iterations per epoch, 14 in two epochs
TRAIN = ("data=synthetic", "model=mlp", "runner.max_epochs=2", "data.num_samples=200", "data.batch_size=32",
         "log_config.interval=3")
TRAIN_KEYS = {"mode", "epoch", "iter", "lr", "momentum", "loss", "time", "data_time"}
SIGNIFICANT = re.compile(r"[1-9][0-9]*")


def ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def train_lines(records):
    return [r for r in records if r["mode"] == "train"]


def val_lines(records, metric):
    return [r for r in records if r["mode"] == "val" and metric in r]


def raw_values(run_dir: Path, key: str) -> list[str]:
    """The numbers written for ``key`` in metrics.jsonl, as text."""
    text = (run_dir / "metrics.jsonl").read_text()
    return re.findall(rf'"{key}": (-?[0-9][0-9.eE+-]*)', text)


def significant_digits(number: str) -> int:
    mantissa = number.lower().split("e")[0].replace("-", "").replace(".", "")
    return len(mantissa.strip("0"))


# -- one epoch-runner run with its variants, started together ----------------------------------
@pytest.fixture(scope="module")
def epoch_runs(tmp_path_factory, run_hyrun_many):
    root = tmp_path_factory.mktemp("epoch_runs")
    variants = {
        "base": [],  # seed 0, the default
        "ignore_last_false": ["log_config.ignore_last=false"],
        "train_val": ["workflow=train_val"],
        "seed_3": ["seed=3"],
        "seed_3_again": ["seed=3"],
    }
    procs = run_hyrun_many([[*TRAIN, *extra, f"hydra.run.dir={root / name}"] for name, extra in variants.items()],
                           cwd=root)
    return {name: (ok(proc), root / name) for name, proc in zip(variants, procs)}


@pytest.fixture(scope="module")
def base(epoch_runs):
    return epoch_runs["base"]


@pytest.mark.slow
def test_hydra_files(base):
    _, run_dir = base
    config = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())
    assert config["optimizer"]["_target_"] == "torch.optim.SGD"
    assert config["runner"]["max_epochs"] == 2 and config["data"]["num_samples"] == 200
    assert config["log_config"]["interval"] == 3
    overrides = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    assert overrides == list(TRAIN)
    hydra = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text())
    assert hydra["hydra"]["run"]["dir"] == str(run_dir)
    assert hydra["hydra"]["runtime"]["output_dir"] == str(run_dir)


@pytest.mark.slow
def test_train_lines(base, read_metrics):
    _, run_dir = base
    lines = train_lines(read_metrics(run_dir))
    for line in lines:
        assert set(line) == TRAIN_KEYS, line
        assert line["lr"] == 0.02 and line["momentum"] == 0.9  # the sgd preset
        assert math.isfinite(line["loss"]) and line["loss"] > 0
        assert line["time"] >= line["data_time"] >= 0
    # every 3rd iteration within an epoch of 7; the epoch's last partial window is not logged
    assert [(r["epoch"], r["iter"]) for r in lines] == [(1, 3), (1, 6), (2, 10), (2, 13)]


@pytest.mark.slow
def test_floats_are_written_at_full_precision(base):
    _, run_dir = base
    losses = raw_values(run_dir, "loss")
    assert len(losses) == 4
    for text in losses:
        assert repr(float(text)) == text  # Python's shortest round-trip form, nothing cut off
        assert significant_digits(text) > 6, text
    assert all(significant_digits(t) > 6 for t in raw_values(run_dir, "time"))


@pytest.mark.slow
def test_ignore_last_false_logs_the_last_iteration_of_each_epoch(epoch_runs, read_metrics):
    _, run_dir = epoch_runs["ignore_last_false"]
    lines = train_lines(read_metrics(run_dir))
    assert [(r["epoch"], r["iter"]) for r in lines] == [(1, 3), (1, 6), (1, 7), (2, 10), (2, 13), (2, 14)]
    assert all(set(r) == TRAIN_KEYS for r in lines)


@pytest.mark.slow
def test_val_lines_from_the_evaluation_hook(base, read_metrics):
    _, run_dir = base
    records = read_metrics(run_dir)
    vals = [r for r in records if r["mode"] == "val"]
    assert [(r["epoch"], r["iter"]) for r in vals] == [(1, 7), (2, 14)]
    for r in vals:
        assert set(r) == {"mode", "epoch", "iter", "accuracy"}
        assert 0.0 <= r["accuracy"] <= 1.0
    # in order: an epoch's train lines, then its evaluation
    assert [(r["mode"], r["iter"]) for r in records] == [
        ("train", 3), ("train", 6), ("val", 7), ("train", 10), ("train", 13), ("val", 14)]


@pytest.mark.slow
def test_checkpoints(base):
    import torch

    _, run_dir = base
    folder = run_dir / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_1.pth", "epoch_2.pth", "latest.pth"]
    metas = {}
    for name in ("epoch_1.pth", "epoch_2.pth", "latest.pth"):
        checkpoint = torch.load(folder / name, weights_only=True)
        assert checkpoint["state_dict"] and "optimizer" in checkpoint
        metas[name] = checkpoint["meta"]
    assert (metas["epoch_1.pth"]["epoch"], metas["epoch_1.pth"]["iter"]) == (1, 7)
    assert (metas["epoch_2.pth"]["epoch"], metas["epoch_2.pth"]["iter"]) == (2, 14)
    assert metas["latest.pth"] == metas["epoch_2.pth"]


@pytest.mark.slow
def test_console_shows_the_log_and_ends_with_the_final_accuracy(base, read_metrics):
    proc, run_dir = base
    log = (run_dir / "hyrun.log").read_text().strip()
    assert "Epoch [1][3/7]" in log and "Epoch [2][6/7]" in log
    console = proc.stdout + proc.stderr
    assert log in console  # the same human lines, in the same order
    accuracy = val_lines(read_metrics(run_dir), "accuracy")[-1]["accuracy"]
    last = proc.stdout.strip().splitlines()[-1]
    assert f"Final val accuracy {accuracy:.4f} (epoch 2, iter 14)" in last, last


# -- workflow=train_val ------------------------------------------------------------------------
@pytest.mark.slow
def test_train_val_workflow(epoch_runs, read_metrics):
    _, run_dir = epoch_runs["train_val"]
    records = read_metrics(run_dir)
    losses = [r for r in records if r["mode"] == "val" and "loss" in r]
    assert [(r["epoch"], r["iter"]) for r in losses] == [(1, 7), (2, 14)]
    assert all(isinstance(r["loss"], float) and math.isfinite(r["loss"]) for r in losses)
    # the val phase runs after each training epoch; only training epochs count toward max_epochs
    assert [(r["mode"], r["iter"]) for r in records if r["mode"] == "train" or "loss" in r] == [
        ("train", 3), ("train", 6), ("val", 7), ("train", 10), ("train", 13), ("val", 14)]
    assert max(r["iter"] for r in records) == 14 and max(r["epoch"] for r in records) == 2
    assert [(r["epoch"], r["iter"]) for r in val_lines(records, "accuracy")] == [(1, 7), (2, 14)]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch_1.pth", "epoch_2.pth", "latest.pth"]


@pytest.mark.slow
def test_train_val_console_ends_with_the_final_accuracy(epoch_runs, read_metrics):
    proc, run_dir = epoch_runs["train_val"]
    accuracy = val_lines(read_metrics(run_dir), "accuracy")[-1]["accuracy"]
    last = proc.stdout.strip().splitlines()[-1]
    assert f"Final val accuracy {accuracy:.4f} (epoch 2, iter 14)" in last, last
    assert "time" not in last.split("Outputs in")[0]


# -- the iter runner ---------------------------------------------------------------------------
ITER = ("data=synthetic", "model=mlp", "data.num_samples=200", "data.batch_size=32", "runner.type=iter",
        "runner.max_iters=10")


@pytest.fixture(scope="module")
def iter_runs(tmp_path_factory, run_hyrun_many):
    root = tmp_path_factory.mktemp("iter_runs")
    variants = {
        "by_iter": ["checkpoint_config.by_epoch=false", "checkpoint_config.interval=5",
                    "log_config.by_epoch=false", "log_config.interval=5"],
        # checkpoint_config as it comes: what runner.type=iter alone writes
        "every_iter": ["log_config.by_epoch=false", "log_config.interval=1"],
    }
    procs = run_hyrun_many([[*ITER, *extra, f"hydra.run.dir={root / name}"] for name, extra in variants.items()],
                           cwd=root)
    return {name: (ok(proc), root / name) for name, proc in zip(variants, procs)}


@pytest.mark.slow
def test_iter_runner_checkpoints_and_logs_by_iteration(iter_runs, read_metrics):
    import torch

    _, run_dir = iter_runs["by_iter"]
    folder = run_dir / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["iter_10.pth", "iter_5.pth", "latest.pth"]
    assert torch.load(folder / "iter_5.pth", weights_only=True)["meta"]["iter"] == 5
    assert torch.load(folder / "latest.pth", weights_only=True)["meta"]["iter"] == 10
    lines = train_lines(read_metrics(run_dir))
    assert [r["iter"] for r in lines] == [5, 10]
    assert [r["epoch"] for r in lines] == [1, 2]  # iteration 10 is in the loader's second epoch
    assert all(set(r) == TRAIN_KEYS and r["lr"] == 0.02 for r in lines)


@pytest.mark.slow
@pytest.mark.parametrize("logged_iter", [
    5,
    10,
])
def test_iter_runner_logged_loss_is_the_mean_over_the_interval(iter_runs, read_metrics, logged_iter):
    every = {r["iter"]: r["loss"] for r in train_lines(read_metrics(iter_runs["every_iter"][1]))}
    assert sorted(every) == list(range(1, 11))
    logged = {r["iter"]: r["loss"] for r in train_lines(read_metrics(iter_runs["by_iter"][1]))}
    window = [every[i] for i in range(logged_iter - 4, logged_iter + 1)]
    assert logged[logged_iter] == pytest.approx(sum(window) / len(window), rel=1e-9)


@pytest.mark.slow
def test_iter_runner_defaults_write_iter_checkpoints(iter_runs):
    _, run_dir = iter_runs["every_iter"]
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert "iter_10.pth" in names and not [n for n in names if n.startswith("epoch_")], names


# -- seeds ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_losses_other_seed_other_losses(epoch_runs, read_metrics):
    losses = {name: [r["loss"] for r in train_lines(read_metrics(epoch_runs[name][1]))]
              for name in ("seed_3", "seed_3_again", "base")}
    assert len(losses["seed_3"]) == 4
    assert losses["seed_3"] == losses["seed_3_again"]
    assert losses["seed_3"] != losses["base"]  # seed 0


# -- help and --cfg ------------------------------------------------------------------------------
DOCUMENTED_OPTIONS = {
    "model": {"digits_cnn", "mlp"},
    "data": {"digits", "synthetic"},
    "optimizer": {"sgd", "adam", "adamw", "rmsprop"},
    "optimizer_config": {"default"},
    "workflow": {"train", "train_val"},
    "lr_config": {"fixed", "step", "exp", "poly", "inv", "cosine_annealing", "flat_cosine_annealing",
                  "cosine_restart", "cyclic", "one_cycle", "linear_annealing"},
    "momentum_config": {"none", "step", "cosine_annealing", "cyclic", "one_cycle", "linear_annealing"},
    "hooks": {"ema", "empty_cache"},
    "logger": {"text", "tensorboard", "mlflow"},
}
NOT_YET: set[str] = set()


@pytest.fixture(scope="module")
def help_groups(tmp_path_factory, run_hyrun):
    proc = ok(run_hyrun("--help", cwd=tmp_path_factory.mktemp("help")))
    section = proc.stdout.split("== Configuration groups ==")[1].split("== Config ==")[0]
    groups = {}
    for line in section.splitlines():
        match = re.fullmatch(r"(\w+): (.*)", line.strip())
        if match:
            groups[match[1]] = {option.strip() for option in match[2].split(",")}
    return groups


def test_help_lists_the_groups(help_groups):
    assert set(DOCUMENTED_OPTIONS) <= set(help_groups)


@pytest.mark.parametrize("group", [
    pytest.param(group, marks=pytest.mark.xfail(strict=True, reason=f"README names {group} options not registered yet"))
    if group in NOT_YET else group for group in DOCUMENTED_OPTIONS])
def test_help_lists_the_options(help_groups, group):
    assert DOCUMENTED_OPTIONS[group] <= help_groups[group], DOCUMENTED_OPTIONS[group] - help_groups[group]


def test_help_lists_every_torch_optimizer(help_groups):
    import torch.optim

    names = {name.lower() for name, cls in vars(torch.optim).items()
             if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer}
    assert names and names <= help_groups["optimizer"], names - help_groups["optimizer"]


def test_cfg_job_prints_the_composed_config(tmp_path, run_hyrun):
    config = yaml.safe_load(ok(run_hyrun("--cfg", "job", cwd=tmp_path)).stdout)
    assert "hydra" not in config
    assert config["optimizer"]["_target_"] == "torch.optim.SGD"
    assert (config["optimizer"]["lr"], config["optimizer"]["momentum"]) == (0.02, 0.9)
    assert config["model"]["_target_"] == "hyrun.models.digits_cnn.DigitsCNN"
    assert config["data"]["_target_"] == "hyrun.data.digits.digits"
    assert config["workflow"]["phases"] == [["train", 1]]
    assert not list(tmp_path.iterdir())  # --cfg runs nothing


def test_cfg_job_with_adam(tmp_path, run_hyrun):
    optimizer = yaml.safe_load(ok(run_hyrun("optimizer=adam", "--cfg", "job", cwd=tmp_path)).stdout)["optimizer"]
    assert optimizer["_target_"] == "torch.optim.Adam"
    assert optimizer["lr"] == 0.0003 and optimizer["betas"] == [0.9, 0.999]


def test_console_script_is_the_same_program(tmp_path, run_hyrun):
    script = Path(sys.executable).parent / "hyrun"
    assert script.is_file(), f"no console script next to {sys.executable}"
    for args in (["--cfg", "job"], ["optimizer=adam", "data=synthetic", "--cfg", "job"]):
        by_module = ok(run_hyrun(*args, cwd=tmp_path))
        by_script = ok(run_hyrun(*args, cwd=tmp_path, program=[str(script)]))
        assert by_script.stdout == by_module.stdout
    bad = run_hyrun("optimizer.lr=-1", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path, program=[str(script)])
    assert bad.returncode != 0 and "optimizer.lr" in bad.stderr and "Traceback" not in bad.stderr


# -- multirun ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_multirun(tmp_path, run_hyrun, read_metrics):
    sweep = tmp_path / "sweep"
    ok(run_hyrun("-m", "data=synthetic", "model=mlp", "runner.max_epochs=1", "data.num_samples=64",
                 "log_config.interval=1", "optimizer=sgd,adam,adagrad", f"hydra.sweep.dir={sweep}", cwd=tmp_path))
    assert (sweep / "multirun.yaml").is_file()
    expected = {"0": ("sgd", 0.02, 0.9), "1": ("adam", 0.0003, 0.9), "2": ("adagrad", 0.01, None)}
    for job, (name, lr, momentum) in expected.items():
        job_dir = sweep / job
        assert f"optimizer={name}" in yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())
        lines = train_lines(read_metrics(job_dir))
        assert [r["iter"] for r in lines] == [1, 2]
        for line in lines:
            assert line["lr"] == lr
            if momentum is None:  # Adagrad has neither momentum nor betas: the key is absent
                assert "momentum" not in line
            else:
                assert line["momentum"] == momentum
        assert (job_dir / "checkpoints" / "epoch_1.pth").is_file()
        assert "Final val accuracy" in (job_dir / "hyrun.log").read_text()


@pytest.mark.slow
def test_the_quick_exit_lets_atexit_handlers_and_working_threads_finish(tmp_path, run_hyrun):
    """hyrun ends without the interpreter's teardown (hyrun.fast_exit), but only after what a
    user's code still has to do."""
    run_dir = tmp_path / "run"
    proc = ok(run_hyrun("data=synthetic", "model=mlp", "data.num_samples=32", "runner.max_epochs=1",
                        "evaluation=null", "checkpoint_config=null", "custom_imports=[tests.plugins.exit_parts]",
                        "+custom_hooks.late._target_=tests.plugins.exit_parts.LateWriter", f"hydra.run.dir={run_dir}",
                        cwd=tmp_path, env=hyrun_env(PYTHONPATH=str(Path(__file__).resolve().parents[1]))))
    assert proc.returncode == 0
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (run_dir / "late.txt").read_text() == "written"
    assert "Done: 1 epochs" in (run_dir / "hyrun.log").read_text()  # the log flushed before leaving


def test_a_run_prints_no_warning_of_hydras(tmp_path, run_hyrun):
    """On Hydra 1.4 (tools/test_newest.sh) hyrun passes its execution whitelist and no
    deprecated version_base; on 1.3 it passes version_base: either way a user sees no warning."""
    run_dir = tmp_path / "run"
    proc = ok(run_hyrun("data=synthetic", "model=mlp", "data.num_samples=32", "runner.max_epochs=1",
                        "logger=[text]", f"hydra.run.dir={run_dir}", cwd=tmp_path))
    for warning in ("Warning:", "execution whitelist", "version_base"):
        assert warning not in proc.stderr, proc.stderr


def test_a_plain_run_composes_its_config_once(tmp_path, monkeypatch):
    """Hydra composes once to read hydra.mode and again to run; hyrun skips the first when no
    config can set the mode (hyrun.run_mode)."""
    from hydra._internal.hydra import Hydra

    from hyrun import cli
    from hyrun.run_mode import skip_mode_composition

    modes = []
    compose = Hydra.compose_config
    monkeypatch.setattr(Hydra, "compose_config", lambda self, *a, **k: modes.append(k["run_mode"]) or compose(self, *a, **k))
    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)  # undone after the test
    monkeypatch.setattr(sys, "argv", ["hyrun", "data=synthetic", "model=mlp", "data.num_samples=32", "runner.max_epochs=1",
                                      "evaluation=null", "checkpoint_config=null", f"hydra.run.dir={tmp_path}/run"])
    cli.prepare()
    skip_mode_composition()
    cli.run()
    assert [mode.name for mode in modes] == ["RUN"]


@pytest.mark.slow
def test_an_experiment_that_sets_multirun_still_sweeps_without_dash_m(tmp_path, run_hyrun):
    experiment = tmp_path / "my_conf" / "experiment"
    experiment.mkdir(parents=True)
    (experiment / "lr_sweep.yaml").write_text(
        "# @package _global_\nhydra:\n  mode: MULTIRUN\n  sweeper:\n    params:\n      optimizer.lr: 0.1,0.01\n")
    ok(run_hyrun("-cd", "my_conf", "experiment=lr_sweep", "data=synthetic", "model=mlp", "data.num_samples=32",
                 "runner.max_epochs=1", "evaluation=null", "checkpoint_config=null", "hydra.sweep.dir=sweep",
                 cwd=tmp_path))
    assert sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir()) == ["0", "1"]
