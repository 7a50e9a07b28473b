"""DDP through torchrun: 2 CPU processes (gloo) against 1 process with twice the batch."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from hyrun.checkpoint import EXIT_SAVE_FAILED
from hyrun.data.loaders import EpochSeededSampler

from .conftest import hyrun_env, read_metrics, run_hyrun

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "hyrun")
# synthetic data: 1024 samples = 32 steps of 32; 255 val samples (not a multiple of 2)
RUN = ["data=synthetic", "model=mlp", "data.num_val_samples=255", "log_config.interval=4",
       "log_config.progress_bar=false", "workflow=train_val"]
EVAL = ["evaluation.metric=[accuracy,{_target_:tests.plugins.custom_parts.seen_samples},"
        "{_target_:tests.plugins.custom_parts.order_checksum}]"]
TIMING = ("time", "data_time")


def hyrun(cwd: Path, *args: str, processes: int = 1, file_size_limit: int | None = None):
    env = hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return run_hyrun(*RUN, *args, cwd=cwd, env=env, program=TORCHRUN if processes == 2 else None,
                     file_size_limit=file_size_limit)


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints/latest.pth", weights_only=True)["state_dict"]


def without_timings(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


# -- the sampler: what each rank sees ----------------------------------------------------------
@pytest.mark.parametrize("size", [1024, 1023, 7])
def test_ranks_together_see_one_process_batches(size):
    one = list(EpochSeededSampler(size, seed=3))
    ranks = [list(EpochSeededSampler(size, seed=3, num_replicas=2, rank=r)) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == -(-size // 2)  # equal steps on every rank
    for k in range(0, size // 32):  # batch k of 16 on each rank = batch k of 32 in one process
        together = ranks[0][16 * k:16 * (k + 1)] + ranks[1][16 * k:16 * (k + 1)]
        assert sorted(together) == sorted(one[32 * k:32 * (k + 1)])
    assert set(ranks[0]) | set(ranks[1]) == set(range(size))


def test_val_shards_hold_each_sample_once():
    shards = [list(EpochSeededSampler(255, seed=0, shuffle=False, num_replicas=2, rank=r, pad=False))
              for r in range(2)]
    assert (len(shards[0]), len(shards[1])) == (128, 127)
    assert sorted(shards[0] + shards[1]) == list(range(255))


def test_a_resumed_rank_starts_mid_epoch_at_its_own_position():
    sampler = EpochSeededSampler(100, seed=1, num_replicas=2, rank=1)
    sampler.set_epoch(4)
    whole = list(sampler)
    sampler.set_epoch(4, start=16)
    assert list(sampler) == whole[16:]


# -- end to end --------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_processes_of_16_train_as_one_of_32(tmp_path):
    """One epoch: the same weights, the same (global) losses, each val sample counted once,
    and one output dir, written by rank 0 only."""
    ddp = hyrun(tmp_path, "runner.max_epochs=1", "data.batch_size=16", *EVAL, processes=2)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = hyrun(tmp_path, "runner.max_epochs=1", "data.batch_size=32", *EVAL,
                   "hydra.run.dir=single")
    assert single.returncode == 0, single.stderr[-3000:]

    runs = list((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 1, runs  # the ranks agreed on Hydra's ${now:...} dir
    ddp_dir, single_dir = runs[0], tmp_path / "single"
    assert sorted(p.name for p in ddp_dir.iterdir()) == sorted(p.name for p in single_dir.iterdir())
    assert "DistributedDataParallel: 2 processes, gloo backend, 32 samples a step" in ddp.stdout
    assert ddp.stdout.count("config (experiment: null") == 1  # the config tree: rank 0's only
    assert "Warning" not in ddp.stderr  # torch 2.13's FutureWarning for broadcast_buffers among them

    a, b = weights(ddp_dir), weights(single_dir)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6

    ddp_records, single_records = read_metrics(ddp_dir), read_metrics(single_dir)
    assert [(r["mode"], r["iter"]) for r in ddp_records] == [(r["mode"], r["iter"]) for r in single_records]
    for got, want in zip(ddp_records, single_records):
        if got["mode"] == "train":  # the mean loss over both ranks' halves of each batch
            assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)
    evaluation = [r for r in ddp_records if "seen_samples" in r][-1]
    reference = [r for r in single_records if "seen_samples" in r][-1]
    assert evaluation["seen_samples"] == 255.0
    assert evaluation["order_checksum"] == reference["order_checksum"]
    assert evaluation["accuracy"] == reference["accuracy"]


@pytest.mark.slow
def test_a_rank_preempted_mid_epoch_stops_every_rank_and_resume_continues_exactly(tmp_path):
    """SIGTERM to rank 1 only: both ranks stop after the same iteration, rank 0 saves it,
    and resume=auto under DDP ends bit-identical to an uninterrupted DDP run."""
    args = ["runner.max_epochs=2", "data.batch_size=16"]
    preempt = ["+custom_hooks.preempt._target_=tests.plugins.custom_parts.SignalAt",
               "+custom_hooks.preempt.iter=41", "+custom_hooks.preempt.rank=1"]
    stopped = hyrun(tmp_path, *args, *preempt, "hydra.run.dir=run", processes=2)
    assert stopped.returncode != 0  # torchrun reports its workers' exit status 75 as a failure
    assert "exitcode  : 75" in stopped.stderr
    checkpoints = sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir())
    assert checkpoints == ["epoch_1.pth", "iter_41.pth", "latest.pth"]
    assert not (tmp_path / "run/finished.json").exists()

    resumed = hyrun(tmp_path, *args, "resume=auto", "hydra.run.dir=run", processes=2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resumed from" in resumed.stdout and "9 iterations into it" in resumed.stdout
    straight = hyrun(tmp_path, *args, "hydra.run.dir=straight", processes=2)
    assert straight.returncode == 0, straight.stderr[-3000:]

    a, b = weights(tmp_path / "run"), weights(tmp_path / "straight")
    assert all(torch.equal(a[k], b[k]) for k in a)
    after_stop = [r for r in without_timings(read_metrics(tmp_path / "run")) if r["iter"] > 41]
    assert after_stop == [r for r in without_timings(read_metrics(tmp_path / "straight")) if r["iter"] > 41]
    assert json.loads((tmp_path / "run/finished.json").read_text())["iter"] == 64


@pytest.mark.slow
def test_a_checkpoint_rank_0_cannot_write_stops_every_rank(tmp_path):
    """Rank 0's save of iteration 10 is refused (over a file-size limit): both ranks stop
    after that iteration, none waits in an all-reduce, both exit with EXIT_SAVE_FAILED."""
    ballast = ["+custom_hooks.ballast._target_=tests.plugins.checkpoint_parts.Ballast",
               "+custom_hooks.ballast.megabytes=16", "+custom_hooks.ballast.from_iter=10"]
    done = hyrun(tmp_path, "runner.max_epochs=1", "data.batch_size=16", "checkpoint_config.by_epoch=false",
                 "checkpoint_config.interval=5", *ballast, "hydra.run.dir=run", processes=2,
                 file_size_limit=8 * 2**20)
    assert done.returncode != 0
    assert f"exitcode  : {EXIT_SAVE_FAILED}" in done.stderr, done.stderr[-3000:]
    path = tmp_path / "run/checkpoints/iter_10.pth"
    assert done.stdout.count(f"checkpoint save failed: {path}: [Errno 27] File too large") == 1
    assert "Stopped at iter 10: rank 0 could not save a checkpoint" in done.stdout + done.stderr
    assert torch.load(tmp_path / "run/checkpoints/latest.pth", weights_only=True)["meta"]["iter"] == 5


@pytest.mark.slow
def test_a_compiled_model_trains_under_ddp_as_an_eager_one(tmp_path):
    """compile=true under torchrun: DDP wraps the module whose forward is compiled."""
    compiled = hyrun(tmp_path, "runner.max_epochs=1", "data.batch_size=16", "compile={backend:aot_eager}",
                     "hydra.run.dir=compiled", processes=2)
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    eager = hyrun(tmp_path, "runner.max_epochs=1", "data.batch_size=16", "hydra.run.dir=eager", processes=2)
    assert eager.returncode == 0, eager.stderr[-3000:]
    assert "torch.compile warm-up" in (tmp_path / "compiled" / "hyrun.log").read_text()
    a, b = weights(tmp_path / "compiled"), weights(tmp_path / "eager")
    assert list(a) == list(b) and max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6


@pytest.mark.slow
def test_sync_batchnorm_on_cpu_stops_every_rank_with_a_config_error(tmp_path):
    # torchrun ends the other workers once one has failed: its monitor waits long enough here
    # for the slower rank to reach the check too
    env = hyrun_env(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    done = run_hyrun(*RUN, "runner.max_epochs=1", "ddp.sync_batchnorm=true", cwd=tmp_path, env=env,
                     program=(*TORCHRUN[:3], "--monitor-interval=5", *TORCHRUN[3:]))
    assert done.returncode != 0  # torchrun's own report (its traceback) follows the ranks' messages
    message = ("Error in config: ddp.sync_batchnorm=True is not valid: expected false for a run on cpu: torch's "
               "SyncBatchNorm runs on cuda, xpu, hpu devices only")
    assert done.stderr.count(message) == 2  # each rank, before the first step
    assert "Epoch [1][1/" not in done.stdout
    assert "exitcode  : 2" in done.stderr
