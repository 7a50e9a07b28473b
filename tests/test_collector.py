"""The garbage collector around a run (README "Start-up"): paused while the command line
starts (importing torch would otherwise cost ~0.35 s of scans), back on for training with the
start-up objects frozen out of its scans, and given back whole when a job ends."""
from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from hyrun import collector
from hyrun.sweep_collector import ResumeCollectorOnSweep
from tests.conftest import hyrun_env


@pytest.fixture
def restore_collector():
    was_enabled = gc.isenabled()
    yield
    collector._paused_here = False
    gc.unfreeze()
    (gc.enable if was_enabled else gc.disable)()


def test_training_turns_the_paused_collector_back_on_and_freezes_only_while_it_trains(restore_collector):
    collector.pause_for_startup()
    assert not gc.isenabled()
    with collector.while_training():
        assert gc.isenabled()
        assert gc.get_freeze_count() > 1000  # the modules, the config, the runner: out of its scans
    assert gc.isenabled() and gc.get_freeze_count() == 0  # a sweep's next job frees this one's cycles


def test_a_collector_the_user_switched_off_stays_off(restore_collector):
    gc.disable()
    collector.pause_for_startup()
    with collector.while_training():
        assert not gc.isenabled()
    collector.resume()
    assert not gc.isenabled()


def test_a_sweeps_parent_collects_again_as_the_sweep_starts(restore_collector):
    collector.pause_for_startup()
    ResumeCollectorOnSweep().on_multirun_start(config=None)
    assert gc.isenabled()


@pytest.mark.slow
def test_the_command_line_starts_with_the_collector_paused_and_trains_with_it_on(tmp_path, run_hyrun):
    run_dir = tmp_path / "run"
    proc = run_hyrun("data=synthetic", "model=mlp", "data.num_samples=64", "runner.max_epochs=1",
                     "evaluation=null", "checkpoint_config=null", "custom_imports=[tests.plugins.collector_parts]",
                     "+custom_hooks.probe._target_=tests.plugins.collector_parts.CollectorProbe",
                     f"hydra.run.dir={run_dir}", cwd=tmp_path,
                     env=hyrun_env(PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert proc.returncode == 0, proc.stderr
    before, first = [json.loads(line) for line in (run_dir / "collector.jsonl").read_text().splitlines()]
    assert before["full_collections"] == 0  # torch, torch._dynamo, Hydra: imported without a full scan
    assert before["enabled"] and first["enabled"]
    assert before["frozen"] > 100_000  # torch's modules and all start-up made, out of training's scans
