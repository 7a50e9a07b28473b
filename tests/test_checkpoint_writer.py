"""Checkpoints written in the background (``checkpoint_config.async_save``) and saves that
fail (a full disk, a file-size limit): the writer, the host copy, and whole runs killed or
refused mid-save (README, "Stopping and resuming")."""
from __future__ import annotations

import errno
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from hyrun.checkpoint import EXIT_SAVE_FAILED, CheckpointSaveError, load_checkpoint
from hyrun.checkpoint_staging import HostStaging
from hyrun.checkpoint_writer import AsyncWriter

from .conftest import hyrun_env, read_metrics, run_hyrun
from .test_crash_records import RUN, killer, scalars

ROOT = Path(__file__).resolve().parents[1]
BIG = 16 * 2**20  # float32 elements: 64 MB, a write that takes a while


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hyrun-checkpoint")]


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- the host copy ------------------------------------------------------------------------------
def test_the_copy_is_the_state_of_its_moment_in_buffers_kept_for_the_next():
    weight = torch.arange(6.0).reshape(2, 3)
    state = {"model": OrderedDict(w=weight, tied=weight.view(3, 2)), "meta": {"iters": [1, 2]}, "step": 3}
    staging = HostStaging()
    first = staging.copy(state).ready()
    weight.add_(100)  # training goes on
    state["meta"]["iters"].append(3)
    assert torch.equal(first["model"]["w"], torch.arange(6.0).reshape(2, 3))
    assert first["meta"] == {"iters": [1, 2]} and first["step"] == 3
    assert type(first["model"]) is OrderedDict
    assert first["model"]["w"].data_ptr() != weight.data_ptr()
    assert first["model"]["tied"].data_ptr() != first["model"]["w"].data_ptr()  # a view of another shape

    second = staging.copy(state).ready()
    assert second["model"]["w"].data_ptr() == first["model"]["w"].data_ptr()  # the same buffer, refilled
    assert torch.equal(second["model"]["w"], weight) and second["meta"] == {"iters": [1, 2, 3]}
    assert staging.nbytes == 2 * weight.nbytes

    state["model"]["w"] = torch.zeros(4)  # a tensor whose shape changed gets a buffer of its own
    third = staging.copy(state).ready()
    assert third["model"]["w"].shape == (4,) and third["model"]["w"].data_ptr() != first["model"]["w"].data_ptr()


def test_views_of_one_tensor_are_copied_once():
    weight = torch.randn(3, 3)
    staged = HostStaging().copy({"encoder.w": weight, "decoder.w": weight.detach()}).ready()
    assert staged["encoder.w"] is staged["decoder.w"]  # tied weights stay tied in the file


# -- the writer -------------------------------------------------------------------------------
def test_one_save_in_flight_a_second_waits_for_the_first(tmp_path):
    writer = AsyncWriter()
    release, done = threading.Event(), []

    def first_done() -> None:
        release.wait(timeout=30)  # the first save is held in flight until the test says
        done.append("first")

    writer.save({"w": torch.ones(4)}, tmp_path / "first.pth", then=first_done)
    assert done == []  # save returned while the first write is in flight
    second = threading.Thread(target=writer.save, args=({"w": torch.full((4,), 2.0)}, tmp_path / "second.pth"),
                              kwargs={"then": lambda: done.append("second")})
    second.start()
    time.sleep(0.3)
    assert second.is_alive() and done == [] and not (tmp_path / "second.pth").exists()
    assert len(writer_threads()) == 1
    release.set()
    second.join(timeout=30)
    writer.close()
    assert done == ["first", "second"]
    assert torch.equal(load_checkpoint(tmp_path / "second.pth")["w"], torch.full((4,), 2.0))
    assert writer_threads() == []


def test_close_awaits_the_last_save_whose_state_is_that_of_the_call(tmp_path):
    writer = AsyncWriter()
    weights = torch.ones(BIG)
    writer.save({"w": weights, "step": torch.tensor(1)}, tmp_path / "iter_1.pth")
    weights.zero_()  # the next optimizer step, while the file is written
    writer.close()
    saved = load_checkpoint(tmp_path / "iter_1.pth")
    assert bool((saved["w"] == 1).all()) and int(saved["step"]) == 1
    assert temp_files(tmp_path) == [] and writer_threads() == []


def refused(tmp_path: Path, name: str) -> Path:
    """A path the OS refuses to write: its folder would be under a file (ENOTDIR)."""
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "checkpoints" / name


def test_a_failed_background_save_is_raised_at_the_next_save(tmp_path):
    refused_path = refused(tmp_path, "iter_1.pth")
    writer = AsyncWriter()
    writer.save({"w": torch.ones(4)}, refused_path)  # returns: the failure is in the background
    with pytest.raises(CheckpointSaveError) as raised:
        writer.save({"w": torch.ones(4)}, tmp_path / "iter_2.pth")
    assert raised.value.path == refused_path and raised.value.os_error.errno == errno.ENOTDIR
    assert str(raised.value) == f"{refused_path}: [Errno {errno.ENOTDIR}] Not a directory"
    assert not (tmp_path / "iter_2.pth").exists()  # nothing more is written after a failure
    writer.close()  # raised once, on the training thread


def test_a_failed_last_save_is_raised_at_close(tmp_path):
    writer = AsyncWriter()
    writer.save({"w": torch.ones(4)}, refused(tmp_path, "latest.pth"))
    with pytest.raises(CheckpointSaveError, match="Not a directory"):
        writer.close()
    assert writer_threads() == []


SAVE_OVER_THE_LIMIT = """
import resource, sys, torch
from hyrun.checkpoint import CheckpointSaveError, save_atomic
path = sys.argv[1]
save_atomic({"w": torch.ones(10)}, path)
resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))
try:
    save_atomic({"w": torch.zeros(2**20)}, path)  # 4 MB, over the 1 MB limit
except CheckpointSaveError as error:
    print(error.os_error.errno, error)
"""


def test_save_atomic_over_a_file_size_limit_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "latest.pth"
    done = subprocess.run([sys.executable, "-c", SAVE_OVER_THE_LIMIT, str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{errno.EFBIG} {path}: [Errno {errno.EFBIG}] File too large"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pth"]
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(10))


# -- whole runs -------------------------------------------------------------------------------
ASYNC = "checkpoint_config.async_save=true"


def ballast(megabytes: float, from_iter: int = 0) -> list[str]:
    return ["+custom_hooks.ballast._target_=tests.plugins.checkpoint_parts.Ballast",
            f"+custom_hooks.ballast.megabytes={megabytes}", f"+custom_hooks.ballast.from_iter={from_iter}"]


def hyrun(run_dir: Path, *args: str, file_size_limit: int | None = None, full_error: bool = False):
    """``RUN`` of test_crash_records (3 epochs of 8 iterations, a checkpoint every 5)."""
    env = hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **({"HYDRA_FULL_ERROR": "1"} if full_error else {}))
    return run_hyrun(*RUN, f"hydra.run.dir={run_dir}", "print_config=false", *args, cwd=run_dir.parent, env=env,
                     file_size_limit=file_size_limit)


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir / "checkpoints" / "latest.pth")["state_dict"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """An uninterrupted run, saving synchronously."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    done = hyrun(run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    return run_dir


@pytest.mark.slow
def test_async_saves_write_what_sync_saves_write(tmp_path, straight):
    run_dir = tmp_path / "run"
    done = hyrun(run_dir, ASYNC)
    assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert names == ["iter_10.pth", "iter_15.pth", "iter_20.pth", "iter_24.pth", "iter_5.pth", "latest.pth"]
    for name in names:
        a, b = load_checkpoint(run_dir / "checkpoints" / name), load_checkpoint(straight / "checkpoints" / name)
        assert a["meta"]["iter"] == b["meta"]["iter"]
        assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
        assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])


@pytest.mark.slow
def test_sigkill_during_an_async_save_then_resume_auto_ends_bit_identical(tmp_path, straight):
    run_dir = tmp_path / "run"
    # 64 MB more in the checkpoints from iteration 15 on: killed while iter_15.pth is written
    args = [ASYNC, *ballast(64, from_iter=15), *killer(tmp_path, 15, stage="writing")]
    killed = hyrun(run_dir, *args)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (tmp_path / "killed").read_text().startswith("killed while writing .iter_15.pth.tmp")
    folder = run_dir / "checkpoints"
    assert [name for name in temp_files(folder) if name.startswith(".iter_15.pth.tmp")]  # the torn write
    assert load_checkpoint(folder / "latest.pth")["meta"]["iter"] == 10  # the one before: whole

    resumed = hyrun(run_dir, "resume=auto", *args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resumed from {folder / 'latest.pth'} at epoch 2, 2 iterations into it (iter 10)" in resumed.stdout
    assert temp_files(folder) == []
    weights, reference = final_weights(run_dir), final_weights(straight)
    assert all(torch.equal(weights[k], reference[k]) for k in reference)
    assert [r["iter"] for r in read_metrics(run_dir) if r["mode"] == "train"] == list(range(1, 25))


def failure_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "checkpoint save failed" in line]


LIMIT = 8 * 2**20  # bytes a file may have: the logs and the first checkpoints are far below


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")  # mlflow's own
@pytest.mark.parametrize("args, big_from, refused, stops_at, last_saved, loggers", [
    # the save of iteration 10 is refused: the run stops after that iteration
    ([], 10, "iter_10.pth", 10, 5, "text,tensorboard"),
    # in the background: found at the next save, that of iteration 15
    ([ASYNC], 10, "iter_10.pth", 15, 5, "text,tensorboard"),
    # the last save, in the background: found when the run ends and awaits it
    ([ASYNC], 24, "iter_24.pth", 24, 20, "text,tensorboard,mlflow"),
    # a new best after epoch 2 (iteration 16), written by the evaluation hook
    (["evaluation.save_best=auto"], 16, "best_accuracy_epoch_2.pth", 16, 15, "text,tensorboard"),
], ids=["sync", "async", "async-last", "best"])
def test_a_save_over_the_file_size_limit_stops_the_run_with_one_line(tmp_path, args, big_from, refused, stops_at,
                                                                     last_saved, loggers):
    """Checkpoints of iteration ``big_from`` on are over the limit: ``refused`` is the first."""
    run_dir = tmp_path / "run"
    done = hyrun(run_dir, *args, f"logger=[{loggers}]", *ballast(16, from_iter=big_from), file_size_limit=LIMIT)
    assert done.returncode == EXIT_SAVE_FAILED, done.stderr[-2000:]
    folder = run_dir / "checkpoints"
    lines = failure_lines(done)
    assert len(lines) == 1 and "Traceback" not in done.stdout + done.stderr, done.stdout[-3000:]
    assert lines[0].endswith(f"ERROR checkpoint save failed: {folder / refused}: [Errno {errno.EFBIG}] File too large")
    assert temp_files(folder) == [] and not (folder / refused).exists()
    assert load_checkpoint(folder / "latest.pth")["meta"]["iter"] == last_saved
    assert not (run_dir / "finished.json").exists()
    # the loggers were closed after the failure: every step up to the stop is in TensorBoard
    assert [r["iter"] for r in read_metrics(run_dir) if r["mode"] == "train"] == list(range(1, stops_at + 1))
    assert [step for step, _ in scalars(run_dir, "train/loss")] == list(range(1, stops_at + 1))
    if "mlflow" in loggers:  # the store (in the launch folder) has the run, ended as failed
        from mlflow.tracking import MlflowClient

        store = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
        runs = store.search_runs([store.get_experiment_by_name("hyrun").experiment_id])
        assert [run.info.status for run in runs] == ["FAILED"]


@pytest.mark.slow
def test_hydra_full_error_shows_the_traceback_of_a_failed_save(tmp_path):
    done = hyrun(tmp_path / "run", *ballast(16, from_iter=10), file_size_limit=LIMIT, full_error=True)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and "CheckpointSaveError" in done.stderr and "File too large" in done.stderr
