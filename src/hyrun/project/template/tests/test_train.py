"""This project's tests: one fast job through train.py, as `python train.py` runs it, and the
data set's promises."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_one_fast_job_learns_and_leaves_its_outputs(tmp_path):
    # 3 epochs of 1024 images: 48 iterations, ~5 s
    job = subprocess.run([sys.executable, "train.py", "runner.max_epochs=3", "data.num_train=1024",
                          "data.num_val=256", f"hydra.run.dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    evaluations = [r for r in records if r["mode"] == "val"]
    assert [r["epoch"] for r in evaluations] == [1, 2, 3]
    assert evaluations[-1]["accuracy"] > 0.5  # four classes: chance is 0.25
    assert (tmp_path / "checkpoints" / "latest.pth").is_file()
    assert json.loads((tmp_path / "finished.json").read_text())["value"] == evaluations[-1]["accuracy"]


def test_the_data_is_the_same_for_a_seed_and_balanced():
    from project_package.data import CLASSES, shapes

    first, again, other = shapes(num_train=64, seed=0), shapes(num_train=64, seed=0), shapes(num_train=64, seed=1)
    images, labels = first["train"].tensors
    assert images.shape == (64, 1, 16, 16) and images.dtype == torch.float32
    assert torch.equal(images, again["train"].tensors[0]) and not torch.equal(images, other["train"].tensors[0])
    assert labels.bincount(minlength=len(CLASSES)).tolist() == [16] * len(CLASSES)
