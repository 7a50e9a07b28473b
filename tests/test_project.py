"""README "Your own project": a project outside the repository with its own primary config
and groups on top of hyrun's (``defaults: [hyrun, _self_]``), trained through its own
``@hydra.main``, swept with ``-m``, run through the Python API (``hyrun.compose``,
``hyrun.train``); the project ``hyrun-init`` writes, its test and its stated accuracy; a
runner built by hand without Hydra; and all of it from a wheel of hyrun (``tests/test_wheel.py``)
as from this checkout (editable).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

import hyrun
from tests import helpers
from tests.conftest import TIMEOUT_S, hyrun_env, read_metrics

ROOT = Path(__file__).resolve().parents[1]
# 200 samples at batch 32: 7 iterations an epoch
TINY = ("data=synthetic", "model=tiny_mlp", "data.num_samples=200", "data.in_features=16")
TRAIN_PY = '''\
import hydra
from omegaconf import DictConfig

import hyrun


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return hyrun.train(cfg)


if __name__ == "__main__":
    main()
'''


def write_hand_project(root: Path) -> Path:
    """A project as one writes it by hand: the smallest primary config, an option of its own
    in hyrun's ``model`` group, an experiment of its own, ``train.py``."""
    files = {
        "configs/train.yaml": """\
            defaults:
              - hyrun          # hyrun's primary config, with all its groups
              - _self_
            runner:
              max_epochs: 2
            log_config:
              interval: 3
            """,
        "configs/model/tiny_mlp.yaml": """\
            _target_: hyrun.models.mlp.MLP
            in_features: ${data.in_features}
            hidden: [8]
            num_classes: ${data.num_classes}
            """,
        "configs/experiment/three_epochs.yaml": """\
            # @package _global_
            defaults:
              - override /optimizer: adam
              - _self_
            runner:
              max_epochs: 3
            """,
        "train.py": TRAIN_PY,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def python(*args: object, cwd: Path, executable: str = sys.executable, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([executable, *map(str, args)], cwd=cwd, env=env or hyrun_env(OMP_NUM_THREADS="1"),
                          capture_output=True, text=True, timeout=TIMEOUT_S)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return proc


def val_accuracies(run_dir: Path) -> list[float]:
    return [r["accuracy"] for r in read_metrics(run_dir) if r["mode"] == "val"]


def without_times(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("time", "data_time")} for r in read_metrics(run_dir)]


# -- composing, in this process ---------------------------------------------------------------
@pytest.fixture(scope="module")
def hand_project(tmp_path_factory) -> Path:
    return write_hand_project(tmp_path_factory.mktemp("hand_project"))


def test_compose_gives_the_command_lines_config():
    overrides = ["optimizer=adam", "lr_config=step", "lr_config.step=[2]", "hooks=[ema]", "runner.max_epochs=3"]
    assert OmegaConf.to_container(hyrun.compose(overrides)) == OmegaConf.to_container(helpers.composed(*overrides))
    # +experiment=NAME means experiment=NAME for hyrun's own config, as on the command line
    assert hyrun.compose(["+experiment=digits_cosine"]) == hyrun.compose(["experiment=digits_cosine"])


@pytest.mark.parametrize("overrides, key, named", [
    (["optimizer.lr=-1"], "optimizer.lr", ">= 0"),
    (["hooks=[ema,nope]"], "hooks", "empty_cache"),  # the valid options, which Hydra's message leaves out
    (["custom_imports=[no_such_module]"], "custom_imports[0]", "importable"),
])
def test_compose_raises_the_command_lines_errors(overrides, key, named):
    with pytest.raises(hyrun.ConfigError) as error:
        hyrun.compose(overrides)
    assert error.value.key == key and named in str(error.value)


def test_compose_raises_hydras_errors_with_hydras_messages():
    from hydra.errors import HydraException

    with pytest.raises(HydraException, match="adamw"):  # Hydra lists the options of the group
        hyrun.compose(["optimizer=nope"])


def test_a_projects_primary_config_has_hyrun_groups_and_its_own(hand_project):
    cfg = hyrun.compose([*TINY, "optimizer=adamw", "lr_config=cosine_annealing", "hooks=[ema]"],
                        config_dir=hand_project / "configs", config_name="train")
    assert cfg.model._target_ == "hyrun.models.mlp.MLP" and list(cfg.model.hidden) == [8]  # its own option
    assert cfg.model.in_features == 16  # interpolated from hyrun's data option
    assert cfg.optimizer._target_ == "torch.optim.AdamW" and list(cfg.hooks) == ["ema"]
    assert cfg.runner.max_epochs == 2 and cfg.log_config.interval == 3  # its values over hyrun's
    assert cfg.logger.text._target_ == "hyrun.hooks.logger.text.TextLoggerHook"  # hyrun's defaults kept


def test_an_appended_experiment_patches_the_projects_values(hand_project):
    # +experiment comes after the primary config's _self_: its max_epochs wins over the project's 2
    cfg = hyrun.compose([*TINY, "+experiment=three_epochs"], config_dir=hand_project / "configs",
                        config_name="train")
    assert cfg.runner.max_epochs == 3 and cfg.optimizer._target_ == "torch.optim.Adam"
    hyrun_experiment = hyrun.compose(["+experiment=digits_cosine"], config_dir=hand_project / "configs",
                                     config_name="train")  # hyrun's own experiments are there too
    assert hyrun_experiment.lr_config.policy == "cosine_annealing"


def test_an_override_in_the_primary_config_beats_an_experiments(tmp_path):
    """Why a project's choices of hyrun's options go in a config of their own (README "Your own
    project"): Hydra keeps the primary config's override over the experiment's, silently."""
    configs = tmp_path / "configs"
    (configs / "experiment").mkdir(parents=True)
    (configs / "experiment" / "mlp.yaml").write_text("# @package _global_\ndefaults:\n  - override /model: mlp\n")
    (configs / "choices.yaml").write_text("defaults:\n  - override /model: digits_cnn\n")
    (configs / "inline.yaml").write_text("defaults:\n  - hyrun\n  - _self_\n  - experiment: null\n"
                                         "  - override /model: digits_cnn\n")
    (configs / "sibling.yaml").write_text("defaults:\n  - hyrun\n  - choices\n  - _self_\n  - experiment: null\n")
    inline = hyrun.compose(["experiment=mlp"], config_dir=configs, config_name="inline")
    sibling = hyrun.compose(["experiment=mlp"], config_dir=configs, config_name="sibling")
    assert inline.model._target_ == "hyrun.models.digits_cnn.DigitsCNN"  # the experiment's override lost
    assert sibling.model._target_ == "hyrun.models.mlp.MLP"


def test_the_written_projects_experiment_switches_its_options(tmp_path, monkeypatch):
    project = tmp_path / "shapes_project"
    from hyrun.project import write_project

    write_project(project)
    monkeypatch.syspath_prepend(str(project))  # as in a notebook started in the project's folder
    (project / "configs" / "experiment" / "mlp.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: mlp\n  - override /optimizer: sgd\n")
    default = hyrun.compose([], config_dir=project / "configs", config_name="train")
    switched = hyrun.compose(["experiment=mlp"], config_dir=project / "configs", config_name="train")
    assert default.model._target_ == "shapes_project.model.SmallCNN" and default.data.batch_size == 64
    assert switched.model._target_ == "hyrun.models.mlp.MLP" and switched.optimizer._target_ == "torch.optim.SGD"
    assert switched.data._target_ == "shapes_project.data.shapes"


def test_write_project_names_the_package_after_the_folder_and_refuses_what_would_clash(tmp_path):
    from hyrun.project import write_project

    written = write_project(tmp_path / "My-Project 2")
    names = {p.relative_to(tmp_path / "My-Project 2").as_posix() for p in written}
    assert {"train.py", "configs/train.yaml", "my_project_2/model.py", "tests/test_train.py", ".gitignore"} <= names
    text = "".join(p.read_text() for p in written)
    assert "project_package" not in text and "my_project_2.model.SmallCNN" in text
    assert (tmp_path / "My-Project 2" / "README.md").read_text().startswith("# My-Project 2\n")
    with pytest.raises(FileExistsError):
        write_project(tmp_path / "My-Project 2")
    with pytest.raises(ValueError, match="json"):
        write_project(tmp_path / "json")  # would hide the standard library's json


# -- the plugin and the import -------------------------------------------------------------------
@pytest.mark.slow
def test_hyrun_joins_the_search_path_only_of_an_app_that_imports_it(hand_project):
    app = ("import sys\n{import_line}\nimport hydra\n"
           "@hydra.main(version_base='1.3', config_path='configs', config_name='train')\n"
           "def main(cfg): pass\nmain()\n")
    for name, import_line in (("with_hyrun.py", "import hyrun"), ("without_hyrun.py", "")):
        (hand_project / name).write_text(app.format(import_line=import_line))
    info = ok(python("with_hyrun.py", "--info", "searchpath", cwd=hand_project)).stdout
    assert re.search(r"\| hyrun +\| file://\S+/conf ", info), info
    # an app that does not import hyrun: no hyrun provider, so its primary config's `- hyrun` is not found
    without = python("without_hyrun.py", cwd=hand_project)
    assert without.returncode != 0 and "Could not load 'hyrun'" in without.stderr, without.stderr
    assert "provider=main" in without.stderr and "provider=hyrun" not in without.stderr


@pytest.mark.slow
def test_import_hyrun_imports_neither_torch_nor_hydra(tmp_path):
    code = "import sys, hyrun; hyrun.__all__; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'hydra'}))"
    assert ok(python("-c", code, cwd=tmp_path)).stdout.strip() == "[]"


# -- the hand-written project, through its @hydra.main and the Python API --------------------------
@pytest.fixture(scope="module")
def hand_runs(hand_project):
    """The project's train.py (a run, a sweep, a bad value) and the same run from a script
    through hyrun.compose and hyrun.train, started together."""
    api = ("import json, hyrun\n"
           f"cfg = hyrun.compose({list(TINY)!r}, config_dir='configs', config_name='train')\n"
           "print('RETURNED', json.dumps(hyrun.train(cfg)))\n")
    (hand_project / "api_run.py").write_text(api)
    commands = {
        "main": ["train.py", *TINY, "hydra.run.dir=runs/main"],
        "sweep": ["train.py", "-m", *TINY, "optimizer.lr=0.01,0.1", "hydra.sweep.dir=runs/sweep"],
        "bad": ["train.py", *TINY, "optimizer.lr=-1", "hydra.run.dir=runs/bad"],
        "api": ["api_run.py"],
    }
    started = {name: subprocess.Popen([sys.executable, *args], cwd=hand_project, env=hyrun_env(OMP_NUM_THREADS="1"),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, args in commands.items()}
    done = {}
    for name, proc in started.items():
        out, err = proc.communicate(timeout=TIMEOUT_S)
        done[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return hand_project, done


@pytest.mark.slow
def test_the_projects_own_main_trains_and_leaves_what_the_command_line_leaves(hand_runs):
    project, runs = hand_runs
    ok(runs["main"])
    run_dir = project / "runs" / "main"
    for name in (".hydra/config.yaml", "hyrun.log", "metrics.jsonl", "config_tree.txt", "finished.json",
                 "checkpoints/latest.pth", "checkpoints/epoch_2.pth"):
        assert (run_dir / name).is_file(), name
    accuracies = val_accuracies(run_dir)
    assert len(accuracies) == 2
    assert json.loads((run_dir / "finished.json").read_text())["value"] == accuracies[-1]
    assert "Final val accuracy" in (run_dir / "hyrun.log").read_text()
    assert (run_dir / "config_tree.txt").read_text().splitlines()[0].startswith("config (experiment: null")
    assert "model (tiny_mlp)" in (run_dir / "config_tree.txt").read_text()


@pytest.mark.slow
def test_the_projects_sweep_runs_each_job_in_its_dir(hand_runs):
    project, runs = hand_runs
    ok(runs["sweep"])
    lrs = [{r["lr"] for r in read_metrics(project / "runs" / "sweep" / str(job)) if r["mode"] == "train"}
           for job in (0, 1)]
    assert lrs == [{0.01}, {0.1}]


@pytest.mark.slow
def test_a_bad_value_stops_the_projects_main_as_the_command_line(hand_runs):
    project, runs = hand_runs
    bad = runs["bad"]
    assert bad.returncode == 2, bad.stderr
    assert "Error in config: optimizer.lr=-1.0 is not valid: expected a number >= 0" in bad.stderr
    assert "Traceback" not in bad.stdout + bad.stderr
    assert not (project / "runs" / "bad" / "metrics.jsonl").exists()


@pytest.mark.slow
def test_the_python_api_run_is_the_main_run(hand_runs):
    """hyrun.compose + hyrun.train from a script leave the files of the same run through the
    project's @hydra.main: the same config, overrides, tree, records (timings aside), result."""
    project, runs = hand_runs
    api = ok(runs["api"])
    main_dir = project / "runs" / "main"
    (api_dir,) = (project / "outputs").glob("*/*")  # Hydra's default run dir, from hydra.run.dir
    for name in (".hydra/config.yaml", ".hydra/overrides.yaml", "config_tree.txt", "finished.json"):
        assert (api_dir / name).read_text() == (main_dir / name).read_text(), name
    assert without_times(api_dir) == without_times(main_dir)
    returned = json.loads(api.stdout.split("RETURNED ", 1)[1])
    assert returned == val_accuracies(main_dir)[-1]
    assert "Final val accuracy" in (api_dir / "hyrun.log").read_text()
    assert "Final val accuracy" in api.stdout  # the log on stdout: the script set up no logging


# -- the project hyrun-init writes --------------------------------------------------------------
def stated_accuracy(readme: str) -> float:
    """The val accuracy the generated README states for `python train.py`."""
    return float(re.search(r"ends with val accuracy (0\.\d+)", readme)[1])


@pytest.mark.slow
def test_the_written_project_passes_its_own_test_and_trains_to_its_stated_accuracy(tmp_path):
    ok(python("-m", "hyrun.project.cli", "shapes", cwd=tmp_path))
    project = tmp_path / "shapes"
    tests = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                             env=hyrun_env(OMP_NUM_THREADS="1"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    default = ok(python("train.py", "hydra.run.dir=runs/default", cwd=project))
    out, _ = tests.communicate(timeout=TIMEOUT_S)
    assert tests.returncode == 0 and re.search(r"\b2 passed\b", out), out
    final = val_accuracies(project / "runs" / "default")[-1]
    assert final == pytest.approx(stated_accuracy((project / "README.md").read_text()), abs=0.01), default.stdout[-500:]


# -- a runner built by hand (the README's example) ---------------------------------------------------
def readme_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    (block,) = [b for b in blocks if containing in b]
    return block


@pytest.mark.slow
def test_the_readmes_runner_built_by_hand_trains_without_hydra(tmp_path):
    code = readme_block("hyrun.EpochBasedRunner(") + textwrap.dedent("""
        import sys
        print("IMPORTED", sorted({m.split(".")[0] for m in sys.modules} & {"hydra"}))
        print("COUNTS", runner.epoch, runner.iter)
        """)
    (tmp_path / "by_hand.py").write_text(code)
    proc = ok(python("by_hand.py", cwd=tmp_path))
    assert "IMPORTED []" in proc.stdout
    assert "COUNTS 5 60" in proc.stdout  # 384 samples at batch 32: 12 iterations an epoch
    run_dir = tmp_path / "runs" / "by_hand"
    records = read_metrics(run_dir)
    assert [r["iter"] for r in records if r["mode"] == "train"] == list(range(4, 61, 4))
    assert val_accuracies(run_dir)[-1] > 0.9  # the rule is learnable: chance is 0.5
    assert {p.name for p in (run_dir / "checkpoints").iterdir()} >= {"epoch_5.pth", "latest.pth"}
    assert "Epoch(val) [5]" in proc.stderr  # the log, through logging.basicConfig


def test_the_readmes_smallest_project_is_the_one_tested():
    # the README's primary config and train.py are those of write_hand_project
    readme = (ROOT / "README.md").read_text()
    primary = yaml.safe_load(re.search(r"```yaml\n# configs/train.yaml\n(.*?)```", readme, re.S)[1])
    assert primary["defaults"] == ["hyrun", "_self_"]
    train_py = readme_block("# train.py")
    for line in ("import hyrun", "return hyrun.train(cfg)", 'config_path="configs", config_name="train"'):
        assert line in train_py and line in TRAIN_PY
