"""Checkpoints: what is saved, and runs continued from them (resume, load_from)."""
from __future__ import annotations

import pytest
import torch

from hyrun.checkpoint import load_checkpoint
from tests import helpers

FAST = ["data=synthetic", "model=mlp", "data.num_samples=96", "data.num_val_samples=32",
        "log_config.progress_bar=false"]


def train(work_dir, *overrides):
    return helpers.train(work_dir, *FAST, *overrides)


def test_checkpoint_files_and_contents(tmp_path):
    train(tmp_path, "runner.max_epochs=3", "checkpoint_config.max_keep_ckpts=2")
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch_2.pth", "epoch_3.pth", "latest.pth"]
    latest = torch.load(folder / "latest.pth", weights_only=True)
    assert latest["meta"]["epoch"] == 3 and latest["meta"]["iter"] == 9
    assert set(latest) >= {"meta", "state_dict", "optimizer"}
    assert torch.equal(latest["state_dict"]["1.weight"],
                       torch.load(folder / "epoch_3.pth", weights_only=True)["state_dict"]["1.weight"])


def test_iter_runner_checkpoints_by_iteration(tmp_path):
    train(tmp_path, "runner.type=iter", "runner.max_iters=7", "checkpoint_config.by_epoch=false",
          "checkpoint_config.interval=3", "evaluation=null")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter_3.pth", "iter_6.pth", "iter_7.pth", "latest.pth"]


def test_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = train(tmp_path / "straight", "runner.max_epochs=4")
    train(tmp_path / "resumed", "runner.max_epochs=2")
    resumed = train(tmp_path / "resumed", "runner.max_epochs=4", "resume=auto")
    assert (resumed.epoch, resumed.iter) == (4, 12)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)


def test_save_best_keeps_only_the_best_file(tmp_path):
    runner = train(tmp_path, "runner.max_epochs=4", "evaluation.save_best=auto", "optimizer.lr=0.1")
    best = sorted((tmp_path / "checkpoints").glob("best_accuracy_epoch_*.pth"))
    assert len(best) == 1
    scores = [r["accuracy"] for r in helpers.records_of(runner) if "accuracy" in r]
    best_epoch = max(range(len(scores)), key=lambda i: (scores[i], -i)) + 1
    assert best[0].name == f"best_accuracy_epoch_{best_epoch}.pth"


def test_load_from_starts_from_the_weights_only(tmp_path):
    first = train(tmp_path / "a", "runner.max_epochs=1")
    second = train(tmp_path / "b", "runner.max_epochs=1", f"load_from={tmp_path}/a/checkpoints/latest.pth",
                   "optimizer.lr=0")
    assert second.epoch == 1  # counted from zero
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)  # lr 0: the loaded weights are the final ones


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    train(tmp_path, "runner.max_epochs=1")
    path = tmp_path / "checkpoints" / "epoch_1.pth"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="cannot load checkpoint .*epoch_1.pth"):
        load_checkpoint(path)


def test_top_k_checkpoints_by_a_val_metric(tmp_path):
    runner = train(tmp_path, "runner.max_epochs=5", "checkpoint_config.topk=2", "checkpoint_config.topk_metric=loss",
                   "evaluation.metric=[accuracy,loss]", "optimizer.lr=0.1")
    losses = {r["epoch"]: r["loss"] for r in helpers.records_of(runner) if "loss" in r and "accuracy" in r}
    best_two = sorted(losses, key=losses.get)[:2]
    kept = sorted(p.name for p in (tmp_path / "checkpoints").glob("top_*"))
    assert kept == sorted(f"top_loss_epoch_{e}.pth" for e in best_two)
    state = torch.load(tmp_path / "checkpoints" / f"top_loss_epoch_{best_two[0]}.pth", weights_only=True)
    assert "optimizer" not in state
    # checkpoints are written after the evaluation of their epoch: the last one holds the final top
    latest = torch.load(tmp_path / "checkpoints" / "latest.pth", weights_only=True)
    assert [s for s, _ in latest["hooks"]["CheckpointHook"]["top"]] == sorted(losses.values())[:2]


SAVER = """
import sys, torch
from hyrun.checkpoint import link_atomic, save_atomic
from tests import helpers
folder = sys.argv[1]
state = {"weights": torch.randn(4_000_000)}  # 16 MB: the process spends its time writing
for i in range(10_000):
    state["step"] = torch.tensor(i)
    save_atomic(state, f"{folder}/iter_{i % 2}.pth")
    link_atomic(f"{folder}/iter_{i % 2}.pth", f"{folder}/latest.pth")
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.17, 0.31])
def test_sigkill_while_saving_leaves_latest_loadable(tmp_path, delay):
    import subprocess
    import sys
    import time

    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path)])
    deadline = time.monotonic() + 60
    while not (tmp_path / "latest.pth").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    saver.kill()
    saver.wait()
    state = load_checkpoint(tmp_path / "latest.pth")
    assert state["weights"].shape == (4_000_000,) and int(state["step"]) >= 0
    from hyrun.checkpoint import remove_stale_temp_files

    remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
