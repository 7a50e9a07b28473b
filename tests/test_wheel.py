"""README "Your own project" from an installed wheel of hyrun, in a virtual environment of its
own (``wheel_python`` in conftest.py): hyrun's conf/ and search-path plugin come from the
wheel, not from this checkout; ``hyrun-init`` writes a project that passes its own test; a
project's own ``@hydra.main`` and ``hyrun.compose`` get hyrun's groups."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, TIMEOUT_S, wheel_env
from tests.test_project import TINY, ok, val_accuracies, write_hand_project

pytestmark = pytest.mark.slow


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, args)), cwd=cwd, env=wheel_env(OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=TIMEOUT_S)


def test_hyrun_and_its_configs_come_from_the_wheel(wheel_python, tmp_path):
    code = ("import hyrun, hydra_plugins.hyrun_searchpath.hyrun_searchpath as plugin; "
            "from hyrun.config.location import config_dir; print(hyrun.__file__); print(plugin.__file__); "
            "print(config_dir())")
    paths = ok(run(wheel_python, "-c", code, cwd=tmp_path)).stdout.split()
    venv = wheel_python.parents[1]
    assert all(Path(p).is_relative_to(venv) for p in paths), paths
    assert not any(Path(p).is_relative_to(ROOT) for p in paths), paths
    job = ok(run(wheel_python, "-m", "hyrun", "--cfg", "job", "experiment=digits_cosine", cwd=tmp_path)).stdout
    assert "policy: cosine_annealing" in job


def test_the_written_project_passes_its_own_test(wheel_python, tmp_path):
    ok(run(wheel_python.parent / "hyrun-init", "shapes", cwd=tmp_path))
    tests = ok(run(wheel_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path / "shapes"))
    assert re.search(r"\b2 passed\b", tests.stdout), tests.stdout


def test_a_projects_main_and_the_api_train_with_hyrun_from_the_wheel(wheel_python, tmp_path):
    project = write_hand_project(tmp_path / "project")
    (project / "api_run.py").write_text(
        "import json, hyrun\n"
        f"cfg = hyrun.compose({list(TINY)!r} + ['+experiment=three_epochs'], config_dir='configs', "
        "config_name='train')\n"
        "print('RETURNED', json.dumps(hyrun.train(cfg)))\n")
    main = ok(run(wheel_python, "train.py", *TINY, "hydra.run.dir=runs/main", cwd=project))
    assert "Final val accuracy" in main.stdout + main.stderr
    assert json.loads((project / "runs" / "main" / "finished.json").read_text())["epoch"] == 2
    api = ok(run(wheel_python, "api_run.py", cwd=project))
    (api_dir,) = (project / "outputs").glob("*/*")
    assert len(val_accuracies(api_dir)) == 3  # the project's experiment, appended after its values
    assert json.loads(api.stdout.split("RETURNED ", 1)[1]) == val_accuracies(api_dir)[-1]
