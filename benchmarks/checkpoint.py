#!/usr/bin/env python
"""What a checkpoint costs the training thread: synchronous vs ``checkpoint_config.async_save``.

    python benchmarks/checkpoint.py [--rounds 3] [--iters 45] [--interval 10] [--width 2048]

A model of six Linear(width, width) layers (width 2048: 25.2 M weights, 100.7 MB) with SGD and
momentum (as much again), so a checkpoint holds ~201 MB, trained by hyrun's EpochBasedRunner
with OptimizerHook and the real CheckpointHook saving ``iter_N.pth`` and ``latest.pth`` every
``--interval`` iterations (fsynced, into a temporary folder). Three arms, in one process, their
order rotating between rounds: ``sync``, ``async`` and ``none`` (no checkpoints, the baseline).

Measured, per arm:
  * stall: the time the training thread spends in the checkpoint hook at a save (two timing
    hooks stand just before and after it): the whole write for ``sync``; the state's host
    copy and the hand-over for ``async`` (its first save also allocates the copy's buffers,
    reported apart). Target: async <= 10% of sync.
  * whole: the wall time of the run minus the ``none`` arm's of the same round, per save: the
    cost of a checkpoint with everything counted, the background write's competition with
    training for the cores and memory included (the run ends by awaiting the last save). A
    gain there needs a core free for the writer; where all cores are busy it swings, and may
    be a loss.

One intra-op thread for training (``--threads``), as a GPU job leaves the CPU mostly free.
Machines here are noisy: compare the ratios one run prints, not absolute times across runs.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hyrun.hooks.base import Hook
from hyrun.hooks.checkpoint import CheckpointHook
from hyrun.hooks.optimizer import OptimizerHook
from hyrun.hooks.priority import Order
from hyrun.runner.epoch import EpochBasedRunner

ARMS = ("sync", "async", "none")


class Clock(Hook):
    """Reads the clock at ``after_train_iter`` just before (``start``) or after the checkpoint
    hook; the other end keeps the stalls of the iterations that saved."""

    def __init__(self, priority: int, stalls: list[float] | None = None, start: Clock | None = None,
                 interval: int = 1) -> None:
        self.priority, self.stalls, self.start, self.interval = priority, stalls, start, interval
        self.t = 0.0

    def after_train_iter(self, runner) -> None:
        self.t = time.perf_counter()
        if self.start is not None and self.every_n_iters(runner, self.interval):
            self.stalls.append(self.t - self.start.t)


def build(arm: str, args, work_dir: Path, stalls: list[float]) -> EpochBasedRunner:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(args.width, args.width) for _ in range(6)])
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(args.iters * 4, args.width, generator=generator),
                         torch.randint(0, args.width, (args.iters * 4,), generator=generator))
    runner = EpochBasedRunner(model, optimizer, {"train": DataLoader(data, batch_size=4)}, work_dir,
                              max_epochs=1, logger=logging.getLogger("bench"))
    runner.register_hook(OptimizerHook())
    if arm != "none":
        runner.register_hook(CheckpointHook(interval=args.interval, by_epoch=False, save_last=False,
                                            max_keep_ckpts=1, async_save=arm == "async"))
        start = Clock(Order.CHECKPOINT - 1)
        runner.register_hook(start)
        runner.register_hook(Clock(Order.CHECKPOINT + 1, stalls, start, args.interval))
    return runner


def run_arm(arm: str, args, root: Path) -> dict:
    stalls: list[float] = []
    work_dir = Path(tempfile.mkdtemp(dir=root, prefix=f"{arm}-"))
    runner = build(arm, args, work_dir, stalls)
    t0 = time.perf_counter()
    runner.run([("train", 1)])  # after_run awaits the last save
    wall = time.perf_counter() - t0
    size = (work_dir / "checkpoints" / "latest.pth").stat().st_size if arm != "none" else 0
    return {"wall": wall, "stalls": stalls, "size": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three arms (default 3)")
    parser.add_argument("--iters", type=int, default=45, help="training iterations an arm (default 45)")
    parser.add_argument("--interval", type=int, default=10, help="iterations between saves (default 10)")
    parser.add_argument("--width", type=int, default=2048, help="width of the six layers (default 2048)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        for round_ in range(args.rounds):
            order = ARMS[round_ % 3:] + ARMS[:round_ % 3]
            for arm in order:
                results[arm].append(run_arm(arm, args, Path(root)))
            print(f"round {round_ + 1}: " + ", ".join(f"{arm} {results[arm][-1]['wall']:.2f} s" for arm in order),
                  flush=True)

    saves = args.iters // args.interval
    size = results["sync"][0]["size"]
    sync_stall = statistics.median(s for r in results["sync"] for s in r["stalls"])
    async_first = statistics.median(r["stalls"][0] for r in results["async"])
    async_stall = statistics.median(s for r in results["async"] for s in r["stalls"][1:])
    whole = {arm: statistics.median((r["wall"] - n["wall"]) / saves for r, n in zip(results[arm], results["none"]))
             for arm in ("sync", "async")}
    print(f"\ncheckpoint {size / 1e6:.1f} MB, {saves} saves a run, {args.rounds} rounds, "
          f"{args.threads} training thread(s)")
    print(f"{'':28s}{'sync':>10s}{'async':>10s}{'ratio':>8s}")
    print(f"{'stall per save (median)':28s}{sync_stall * 1e3:8.1f}ms{async_stall * 1e3:8.1f}ms"
          f"{async_stall / sync_stall:8.3f}   (target <= 0.10)")
    print(f"{'async first save (buffers)':28s}{'':10s}{async_first * 1e3:8.1f}ms")
    print(f"{'whole-run cost per save':28s}{whole['sync'] * 1e3:8.1f}ms{whole['async'] * 1e3:8.1f}ms"
          f"{whole['async'] / whole['sync']:8.3f}")


if __name__ == "__main__":
    main()
