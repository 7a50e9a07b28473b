"""A project of one's own, as README's "Bringing your own model and data" shows it: a data option
in a config folder of the user's (a ``_target_`` and its own fields), a model of the user's, a
metric of the user's, data loaded by worker processes, and what is said when a part does not fit.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hyrun.config.errors import EXIT_CONFIG_ERROR, ConfigError
from hyrun.config.schema import loader_defaults
from hyrun.config.validate import validate
from hyrun.data.loaders import build_loaders, worker_context
from hyrun.models.steps import StepError
from tests import helpers
from tests.conftest import hyrun_env, read_metrics, run_hyrun

PARTS = '''
import torch
from torch import nn
from torch.utils.data import Dataset


class Images(Dataset):
    """Synthetic 1x8x8 images of 4 classes: a pair (image, label) each."""

    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x, self.y = torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 4, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class DictImages(Images):
    def __getitem__(self, i):
        return {"image": self.x[i], "label": self.y[i]}


def images(num_samples=64, seed=0):
    return {"train": Images(num_samples, seed), "val": Images(32, seed + 1)}


def dict_images(num_samples=64, seed=0):
    return {"train": DictImages(num_samples, seed), "val": DictImages(32, seed + 1)}


class CNN(nn.Module):
    def __init__(self, channels=4, num_classes=4):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(channels * 64, num_classes))

    def forward(self, x):
        return self.net(x)


class DictCNN(CNN):
    def forward(self, x):
        return {"logits": self.net(x)}
'''
CONFIGS = {
    "data/mine.yaml": "_target_: my_pkg.parts.images\nnum_samples: 64\n",  # as README shows: no loader fields
    "data/dicts.yaml": "_target_: my_pkg.parts.dict_images\n",
    "model/cnn.yaml": "_target_: my_pkg.parts.CNN\nchannels: 4\n",
    "model/dict_cnn.yaml": "_target_: my_pkg.parts.DictCNN\n",
    "model/no_target.yaml": "channels: 4\n",
}
QUICK = ("runner.max_epochs=1", "checkpoint_config=null")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "my_pkg").mkdir()
    (root / "my_pkg" / "__init__.py").write_text("")
    (root / "my_pkg" / "parts.py").write_text(textwrap.dedent(PARTS))
    for name, text in CONFIGS.items():
        path = root / "my_conf" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def hyrun_in(project: Path, *args: str, **extra_env: str):
    return run_hyrun("-cd", "my_conf", *args, cwd=project, env=hyrun_env(PYTHONPATH=str(project), **extra_env))


def user_data(**fields) -> OmegaConf:
    """The data node of a data option of the user's, as composed: the loader defaults, then its fields."""
    return OmegaConf.create({**loader_defaults(), "_target_": "tests.plugins.custom_parts.seen_samples", **fields})


# -- a data option of one's own has the loader fields -----------------------------------------------
def test_a_data_option_of_ones_own_has_the_loader_defaults(project):
    proc = hyrun_in(project, "data=mine", "model=cnn", "--cfg", "job")
    assert proc.returncode == 0, proc.stderr
    data = OmegaConf.create(proc.stdout).data
    assert OmegaConf.to_container(data) == {**loader_defaults(), "_target_": "my_pkg.parts.images", "num_samples": 64}


@pytest.mark.slow
def test_it_trains_with_its_loader_fields_set_on_the_command_line(project):
    run_dir = project / "runs" / "workers"
    proc = hyrun_in(project, "data=mine", "model=cnn", *QUICK, "data.batch_size=8", "data.num_workers=2",
                    "data.prefetch_factor=4", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert max(r["iter"] for r in read_metrics(run_dir)) == 8  # 64 samples in batches of 8


@pytest.mark.parametrize("field, value, allowed", [
    ("batch_size", 3.5, "expected an int"),
    ("batch_size", 0, "expected a number >= 1"),
    ("num_workers", "two", "expected an int"),
    ("num_workers", -1, "expected a number >= 0"),
    ("prefetch_factor", 0, "expected a number >= 1"),
    ("persistent_workers", "maybe", "expected true or false or null"),
    ("multiprocessing_context", "loky", "expected fork or spawn or forkserver"),
])
def test_loader_fields_of_any_data_option_are_checked_up_front(field, value, allowed):
    cfg = helpers.composed("data=synthetic", "model=mlp")
    cfg.data = user_data(**{field: value})
    with pytest.raises(ConfigError, match=allowed) as raised:
        validate(cfg)
    assert (raised.value.key, raised.value.value) == (f"data.{field}", value)


@pytest.mark.parametrize("node", ["model", "data"])
def test_a_model_or_data_node_without_target_is_a_config_error(node):
    cfg = helpers.composed("data=synthetic", "model=mlp")
    setattr(cfg, node, {"channels": 4})
    with pytest.raises(ConfigError, match=rf"^{node}\._target_=None is not valid: expected the dotted path .*"
                                          rf"\({node} has channels\)"):
        validate(cfg)


def test_the_command_line_says_so_in_a_line_with_the_config_errors_status(project):
    proc = hyrun_in(project, "data=mine", "model=no_target")
    assert proc.returncode == EXIT_CONFIG_ERROR and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "Error in config: model._target_=None is not valid: expected the dotted path of the model's class "
        "(an nn.Module), e.g. my_pkg.models.ResNet (model has channels)"]


# -- data workers under any launcher ------------------------------------------------------------------
def in_a_joblib_worker() -> tuple[str | None, str | None]:
    import multiprocessing

    return multiprocessing.get_start_method(allow_none=True), worker_context()


def test_loader_workers_start_as_this_process_can_start_them():
    from joblib import Parallel, delayed

    assert worker_context() is None  # a plain process: torch's default
    assert worker_context("spawn") == "spawn"  # the user's choice
    # joblib's loky workers default to "loky", which a DataLoader cannot start its workers with
    assert Parallel(n_jobs=2)(delayed(in_a_joblib_worker)() for _ in range(2)) == [("loky", "fork")] * 2


def test_worker_settings_reach_the_loaders_and_are_left_out_without_workers():
    datasets = {"train": list(range(8))}
    (with_workers,) = build_loaders(datasets, batch_size=2, num_workers=2, multiprocessing_context="spawn",
                                    prefetch_factor=3).values()
    assert with_workers.multiprocessing_context.get_start_method() == "spawn"
    assert (with_workers.prefetch_factor, with_workers.persistent_workers) == (3, True)
    (without,) = build_loaders(datasets, batch_size=2, num_workers=0, multiprocessing_context="spawn",
                               prefetch_factor=3, persistent_workers=True).values()
    assert (without.multiprocessing_context, without.persistent_workers) == (None, False)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_a_sweep_whose_data_uses_workers_runs_under_the_launcher(project, launcher):
    sweep_dir = project / "sweeps" / launcher
    proc = hyrun_in(project, "-m", f"hydra/launcher={launcher}", "data=mine", "model=cnn", *QUICK,
                    "data.batch_size=16", "data.num_workers=2", "optimizer.lr=0.1,0.01", f"hydra.sweep.dir={sweep_dir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert [(r["mode"], r["iter"]) for r in read_metrics(sweep_dir / job) if r["mode"] == "val"] == [("val", 4)]
    log = (sweep_dir / "0" / "hyrun.log").read_text()
    if launcher == "joblib":  # its workers' default start method cannot start the loader's
        assert "data.multiprocessing_context: fork (this process's default start method, 'loky'" in log


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_a_job_that_fails_in_a_launchers_worker_shows_its_own_error(tmp_path, launcher):
    sweep_dir = tmp_path / "sweep"
    proc = run_hyrun("-m", f"hydra/launcher={launcher}", "data=synthetic", "model=mlp", "model.in_features=5",
                     *QUICK, "optimizer.lr=0.1", f"hydra.sweep.dir={sweep_dir}", cwd=tmp_path)
    assert proc.returncode == 1
    job_log = sweep_dir / "0" / "hyrun.log"
    assert ("job 0 (data=synthetic model=mlp model.in_features=5 runner.max_epochs=1 checkpoint_config=null "
            "optimizer.lr=0.1) failed: RuntimeError: mat1 and mat2 shapes cannot be multiplied (32x32 and 5x64)\n"
            f"its full traceback: {job_log}\n") in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "Traceback (most recent call last)" in job_log.read_text()


# -- what the default step takes, said at the first iteration -------------------------------------
@pytest.mark.parametrize("data, model, message", [
    ("dicts", "cnn", "the batch is a dict with keys [image, label]: the default step takes (inputs, targets); "
                     "return (inputs, targets) from the dataset, or define train_step(batch) and val_step(batch) "
                     "on the model"),
    ("mine", "dict_cnn", "the model's forward returned a dict with keys [logits]: the default step takes a tensor "
                         "of logits [batch, classes]; return it from forward, or define train_step(batch)"),
])
def test_a_batch_or_output_the_default_step_cannot_take_is_said_in_a_line(project, data, model, message):
    run_dir = project / "runs" / f"{data}-{model}"
    proc = hyrun_in(project, f"data={data}", f"model={model}", *QUICK, f"hydra.run.dir={run_dir}")
    assert proc.returncode == EXIT_CONFIG_ERROR and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    (line,) = [line for line in proc.stdout.splitlines() if " ERROR " in line]
    assert message in line
    assert not (run_dir / "metrics.jsonl").read_text()  # stopped at the first iteration


@pytest.mark.parametrize("batch, output, message", [
    ((1, 2, 3), None, "the batch is a tuple of 3 items: the default step takes (inputs, targets)"),
    (("x", ["a", "b"]), None, "the batch's targets (its second item) are a list of 2 items"),
    ((0, "int32"), "logits", "the targets are a tensor [4] of int32: class indices are int64"),
    ((0, "long"), "flat", "the model's output is a tensor [4] of float32 for targets a tensor [4] of int64"),
    ((0, "long"), "tuple", "the model's forward returned a tuple of 2 items"),
    ((0, "float"), "logits", "the targets are a tensor [4] of float32 for a model output a tensor [4, 3]"),
])
def test_the_first_step_checks_the_batch_and_the_output(batch, output, message):
    import torch

    from hyrun.models.steps import DefaultStep, default_train_step

    targets = {"int32": torch.zeros(4, dtype=torch.int32), "long": torch.zeros(4, dtype=torch.long),
               "float": torch.zeros(4)}
    if isinstance(batch[1], str) and batch[1] in targets:
        batch = (torch.randn(4, 2), targets[batch[1]])
    outputs = {"logits": lambda x: torch.randn(4, 3), "flat": lambda x: torch.randn(4),
               "tuple": lambda x: (torch.randn(4, 3), None), None: lambda x: x}[output]
    model = torch.nn.Module()
    model.forward = outputs
    step = DefaultStep(model, default_train_step)
    with pytest.raises(StepError) as raised:
        step(batch)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert not step.checked


def test_only_the_first_step_is_checked():
    import torch

    from hyrun.models.steps import DefaultStep, default_train_step

    step = DefaultStep(torch.nn.Linear(2, 3), default_train_step)
    batch = (torch.randn(4, 2), torch.zeros(4, dtype=torch.long))
    assert step(batch)["loss"].ndim == 0 and step.checked
    with pytest.raises(TypeError) as raised:  # unchecked: torch's own error, no cost after the first step
        step({"x": 1, "y": 2})
    assert not isinstance(raised.value, StepError)


# -- a metric of one's own declares which way it improves -------------------------------------------
def metric_config(entry: str, *overrides: str):
    return helpers.composed("data=synthetic", "model=mlp", f"evaluation.metric=[accuracy,{entry}]", *overrides)


def test_a_metric_that_declares_its_rule_needs_nothing_else_for_save_best_and_topk(tmp_path):
    from hyrun.build import build_runner
    from hyrun.hooks.checkpoint import CheckpointHook
    from hyrun.hooks.evaluation import EvalHook

    cfg = metric_config("{_target_:tests.plugins.custom_parts.seen_samples,name:count,rule:less}",
                        "evaluation.save_best=count", "checkpoint_config.topk=2", "checkpoint_config.topk_metric=count")
    validate(cfg)
    hooks = {type(hook): hook for hook in build_runner(cfg, tmp_path).hooks}
    assert hooks[EvalHook].rule == "less" and hooks[CheckpointHook].rule == "less"


@pytest.mark.parametrize("entry, overrides, key, allowed", [
    ("{_target_:tests.plugins.custom_parts.seen_samples,name:count,rule:up}", [], "evaluation.metric[1].rule",
     "greater or less"),
    ("{_target_:tests.plugins.custom_parts.seen_samples,name:count}", ["evaluation.save_best=count"],
     "evaluation.rule", "which way 'count' improves is not in its name; declare it on the metric"),
    ("{_target_:tests.plugins.custom_parts.seen_samples,name:count}",
     ["checkpoint_config.topk=2", "checkpoint_config.topk_metric=count"], "checkpoint_config.rule",
     "declare it on the metric ({_target_: ..., name: count, rule: greater}) or set checkpoint_config.rule"),
])
def test_a_rule_neither_declared_nor_in_the_name_is_a_config_error(entry, overrides, key, allowed):
    with pytest.raises(ConfigError) as raised:
        validate(metric_config(entry, *overrides))
    assert raised.value.key == key and allowed in raised.value.allowed
