"""Checkpoints written in the background and saves that fail (a full disk, a file-size
limit): the writer and the host copy."""
from __future__ import annotations

import errno
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from hyrun.checkpoint import CheckpointSaveError, load_checkpoint
from hyrun.checkpoint_staging import HostStaging
from hyrun.checkpoint_writer import AsyncWriter

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
