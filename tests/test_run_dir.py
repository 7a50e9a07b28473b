"""A run dir that holds a run already (README, "What a run leaves"): started again without
``resume``, a run is refused before it writes anything; ``existing_run=append`` starts a new
run after the earlier one, marked in ``metrics.jsonl`` and ``hyrun.log``, and a later resume
of it never rewinds the earlier run's records."""
from __future__ import annotations

import json

import pytest

from hyrun.config.errors import EXIT_CONFIG_ERROR
from hyrun.hooks.logger.text import rewind_jsonl
from tests.conftest import read_metrics, run_hyrun

TINY = ("data=synthetic", "model=mlp", "data.num_samples=64", "runner.max_epochs=1", "log_config.interval=1")


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    root = tmp_path_factory.mktemp("run_dir")
    run_dir = root / "exp1"
    first = run_hyrun(*TINY, f"hydra.run.dir={run_dir}", cwd=root)
    assert first.returncode == 0, first.stderr
    return root, run_dir


@pytest.mark.slow
def test_a_dir_that_holds_a_run_is_refused_without_resume(earlier):
    root, run_dir = earlier
    before = {name: (run_dir / name).read_bytes() for name in ("metrics.jsonl", "hyrun.log", "finished.json")}
    again = run_hyrun(*TINY, f"hydra.run.dir={run_dir}", cwd=root)
    assert again.returncode == EXIT_CONFIG_ERROR and "Traceback" not in again.stderr
    assert again.stderr.strip() == (
        f"Error in config: resume=None is not valid: expected auto to continue the run in {run_dir} (it holds "
        f"metrics.jsonl, checkpoints/, finished.json), existing_run=append to start another run after it there, "
        f"or another output dir (hydra.run.dir=...)")
    assert {name: (run_dir / name).read_bytes() for name in before} == before  # nothing written


@pytest.mark.slow
def test_existing_run_append_marks_the_new_start_in_both_files(earlier):
    root, run_dir = earlier
    first_records = read_metrics(run_dir)
    appended = run_hyrun(*TINY, "seed=1", "existing_run=append", f"hydra.run.dir={run_dir}", cwd=root)
    assert appended.returncode == 0, appended.stderr
    records = read_metrics(run_dir)
    start = records[len(first_records)]
    assert records[:len(first_records)] == first_records
    assert (start["mode"], start["epoch"], start["iter"]) == ("start", 0, 0) and "time" in start
    second = records[len(first_records) + 1:]
    assert [r["iter"] for r in second if r["mode"] == "train"] == [1, 2]
    log = (run_dir / "hyrun.log").read_text().splitlines()
    ends = [i for i, line in enumerate(log) if "Final val accuracy" in line]
    (marker,) = [i for i, line in enumerate(log) if "existing_run=append" in line]
    assert len(ends) == 2 and ends[0] < marker < ends[1]
    assert f"{run_dir} holds an earlier run (metrics.jsonl, checkpoints/, finished.json); a new run starts here" \
        in log[marker]
    assert json.loads((run_dir / "finished.json").read_text())["iter"] == 2  # the new run's


def test_a_resumed_appended_run_rewinds_its_own_records_only(tmp_path):
    path = tmp_path / "metrics.jsonl"
    earlier = [{"mode": "train", "epoch": 1, "iter": i, "loss": 1.0} for i in (1, 2, 3)]
    start = {"mode": "start", "epoch": 0, "iter": 0, "time": "2026-12-03T10:00:00"}
    own = [{"mode": "train", "epoch": 1, "iter": i, "loss": 2.0} for i in (1, 2, 3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in [*earlier, start, *own]) + '{"mode": "tr')
    assert rewind_jsonl(path, 1) == (2, True)  # its iterations 2 and 3, and the torn line
    assert [json.loads(line) for line in path.read_text().splitlines()] == [*earlier, start, own[0]]
