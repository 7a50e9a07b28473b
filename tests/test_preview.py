"""hyrun-schedule: the schedule of a config without training, equal to what training logs."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ARGS = ["data=synthetic", "model=mlp", "data.num_samples=96", "runner.max_epochs=4", "lr_config=cosine_annealing",
        "lr_config.warmup=linear", "lr_config.warmup_iters=5", "momentum_config=cyclic"]


@pytest.mark.slow
def test_preview_equals_the_logged_schedule(tmp_path):
    schedule = Path(sys.executable).with_name("hyrun-schedule")
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    preview = subprocess.run([str(schedule), *ARGS, f"hydra.run.dir={tmp_path}/preview"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert preview.returncode == 0, preview.stderr
    assert not (tmp_path / "preview" / "metrics.jsonl").exists()  # nothing trained
    with open(tmp_path / "preview" / "schedule.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and list(rows[0]) == ["iter", "epoch", "lr", "momentum"]
    png = (tmp_path / "preview" / "schedule.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    train = subprocess.run([sys.executable, "-m", "hyrun", *ARGS, "log_config.interval=1", "evaluation=null",
                            "checkpoint_config=null", f"hydra.run.dir={tmp_path}/train"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert train.returncode == 0, train.stderr
    logged = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if r["mode"] == "train"]
    assert [(int(r["iter"]), int(r["epoch"])) for r in rows] == [(r["iter"], r["epoch"]) for r in logged]
    assert [float(r["lr"]) for r in rows] == [r["lr"] for r in logged]  # csv keeps repr precision
    assert [float(r["momentum"]) for r in rows] == [r["momentum"] for r in logged]
