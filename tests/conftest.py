"""Fixtures for tests that drive hyrun through its command line (``python -m hyrun``), and a
virtual environment with hyrun installed from a wheel of this checkout."""
from __future__ import annotations

import functools
import json
import os
import resource
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

TIMEOUT_S = 180
ROOT = Path(__file__).resolve().parents[1]


def hyrun_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no HYDRA_FULL_ERROR unless asked for. A PYTHONPATH
    given comes first, then the one the tests run with (which may name the checkout under
    test ahead of an installed hyrun), so the subprocess imports the same hyrun as the tests."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    if "PYTHONPATH" in extra:
        given = extra["PYTHONPATH"].split(os.pathsep)
        inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in given]
        extra = {**extra, "PYTHONPATH": os.pathsep.join(given + inherited)}
    env.update(extra)
    return env


def _command(args: Sequence[str], program: Sequence[str] | None) -> list[str]:
    return [*(program or (sys.executable, "-m", "hyrun")), *map(str, args)]


def run_hyrun(*args: object, cwd: str | Path, env: dict[str, str] | None = None,
              program: Sequence[str] | None = None, file_size_limit: int | None = None) -> subprocess.CompletedProcess:
    """``python -m hyrun ARGS`` (or ``program ARGS``) in ``cwd``; output captured as text.
    ``file_size_limit``: the bytes a file written by it (and its children) may have
    (RLIMIT_FSIZE: a write past it fails with EFBIG, as on a full disk)."""
    limit = None if file_size_limit is None else functools.partial(
        resource.setrlimit, resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
    return subprocess.run(_command(args, program), cwd=cwd, env=env or hyrun_env(), capture_output=True,
                          text=True, timeout=TIMEOUT_S, preexec_fn=limit)


def run_hyrun_many(arg_lists: Sequence[Sequence[object]], cwd: str | Path) -> list[subprocess.CompletedProcess]:
    """Several ``python -m hyrun`` at once (a training run mostly waits on imports)."""
    env = hyrun_env(OMP_NUM_THREADS="1")  # several processes share the cores: one thread each
    started = []
    for args in arg_lists:
        out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        proc = subprocess.Popen(_command(args, None), cwd=cwd, env=env, stdout=out, stderr=err, text=True)
        started.append((args, proc, out, err))
    done = []
    for args, proc, out, err in started:
        proc.wait(timeout=TIMEOUT_S)
        out.seek(0), err.seek(0)
        done.append(subprocess.CompletedProcess(_command(args, None), proc.returncode, out.read(), err.read()))
        out.close(), err.close()
    return done


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every line of ``metrics.jsonl`` in ``run_dir``, parsed."""
    lines = (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store made once (MLflow takes seconds to create one), copied where
    a test's runs do not need to exercise the creation."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("store")
    MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


@pytest.fixture(name="run_hyrun", scope="session")
def _run_hyrun_fixture():
    return run_hyrun


@pytest.fixture(name="run_hyrun_many", scope="session")
def _run_hyrun_many_fixture():
    return run_hyrun_many


@pytest.fixture(name="read_metrics", scope="session")
def _read_metrics_fixture():
    return read_metrics


@pytest.fixture(scope="session")
def wheel_python(tmp_path_factory, worker_id) -> Path:
    """The python of a virtual environment where hyrun is installed from a wheel built of this
    checkout, once a session (the pytest-xdist workers share it). Its other packages are this
    environment's, reached through a ``.pth`` file: pip installs the wheel alone (``--no-deps``),
    in seconds, and the site-packages's own ``.pth`` files (this checkout's editable install
    among them) are not read there. Run it with ``wheel_env()``: no PYTHONPATH."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    venv = root / "hyrun_wheel_venv"
    with FileLock(str(root / "hyrun_wheel_venv.lock")):
        if not (venv / "ready").is_file():
            pip = [sys.executable, "-m", "pip"]
            wheels = root / "hyrun_wheel"
            subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)], check=True,
                           timeout=TIMEOUT_S, env=wheel_env())
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=TIMEOUT_S)
            python = venv / "bin" / "python"
            purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                     check=True, capture_output=True, text=True).stdout.strip()
            ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
            Path(purelib, "test_environment.pth").write_text("\n".join(sorted(ours)) + "\n")
            (wheel,) = wheels.glob("hyrun-*.whl")
            subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                           check=True, timeout=TIMEOUT_S, env=wheel_env())
            (venv / "ready").write_text(str(wheel.name))
    return venv / "bin" / "python"


def wheel_env(**extra: str) -> dict[str, str]:
    """A user's shell without this checkout on PYTHONPATH."""
    return {k: v for k, v in hyrun_env(**extra).items() if k != "PYTHONPATH"}
