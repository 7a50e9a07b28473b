#!/usr/bin/env python
"""What hyrun's runner costs over a hand-written PyTorch loop, per iteration and at start-up.

Per iteration: an MLP 32->64->10 on synthetic data (20000 samples, batch 32: 625 iterations
an epoch), SGD, 2 epochs, one thread, trained

  * by a hand-written loop (DataLoader, forward, cross-entropy, zero_grad(set_to_none=True),
    backward, step, the loss kept as a detached tensor), and
  * by hyrun's runner, composed from the real config and built by ``hyrun.build.build_runner``
    with the hooks that config registers: OptimizerHook, IterTimerHook, TextLoggerHook at
    interval 50 (its metrics.jsonl written; its console lines go to a NullHandler);
    ``evaluation=null checkpoint_config=null`` because the hand-written loop neither
    evaluates nor saves. A third arm (``--full-defaults``, on by default) keeps the config's
    CheckpointHook and EvalHook as well, for their per-iteration dispatch cost.

Both start from the same initial weights and see the same batches in the same order
(hyrun's EpochSeededSampler), so their final weights must agree; the benchmark checks that.

The arms alternate inside each round (hand, hyrun / hyrun, hand / ...) so that each hyrun
figure is paired with a hand-written one measured seconds apart. The per-iteration time of an
arm is the MEDIAN over the iterations of epoch 2 (warm) of the wall time from the end of one
iteration to the end of the next (data loading included); for hyrun these are the ``time``
values IterTimerHook leaves in the runner's log buffer, for the hand-written loop the same
perf_counter differences taken in the loop. The epoch-2 total / iterations is printed too.
The ratio reported is the median over rounds of the per-round ratio hyrun / hand-written.

Start-up: wall time of ``python -m hyrun data=synthetic model=mlp runner.max_epochs=1``
(default data size, default hooks, ``log_config.interval=1`` so that iteration 1 is logged)
from just before the process is started to the appearance of its ``Epoch [1][1/`` line on
stdout (PYTHONUNBUFFERED=1), and to its exit; ``python -m hyrun --help``; and, for
reference, a hand-written script doing the same job (import torch, data, model, SGD, one
epoch). Medians of ``--startup-reps`` runs.

Machines here are noisy: compare the ratios printed by one run, not absolute times across runs.

    python benchmarks/overhead.py [--rounds 9] [--samples 20000] [--startup-reps 3]
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.10
BATCH = 32
EPOCHS = 2

# The hand-written start-up reference: same job as the hyrun command (default synthetic
# data: 1024 samples; MLP; SGD with hyrun's preset; one epoch), printing after iteration 1.
BASELINE_SCRIPT = r"""
import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
g = torch.Generator().manual_seed(0)
teacher = torch.randn(32, 10, generator=g)
x = torch.randn(1024, 32, generator=g)
data = DataLoader(TensorDataset(x, (x @ teacher).argmax(1)), batch_size=32, shuffle=True)
model = nn.Sequential(nn.Flatten(), nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=1e-4)
for i, (xb, yb) in enumerate(data):
    loss = F.cross_entropy(model(xb), yb)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if i == 0:
        print(f"first-iter loss {loss.item():.4f}", flush=True)
"""


# -- per-iteration ------------------------------------------------------------------------
def compose_cfg(samples: int, full_defaults: bool):
    from hydra import compose, initialize_config_dir

    from hyrun.cli import config_dir
    from hyrun.config.validate import validate

    overrides = [
        "data=synthetic", "model=mlp", "optimizer=sgd",
        f"data.num_samples={samples}", f"data.batch_size={BATCH}",
        "runner.type=epoch", f"runner.max_epochs={EPOCHS}",
        "log_config.interval=50", "log_config.progress_bar=false",
        "workflow=train", "device=cpu",
    ]
    if not full_defaults:
        overrides += ["evaluation=null", "checkpoint_config=null"]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    validate(cfg)
    return cfg


def quiet_logger() -> logging.Logger:
    """A logger that formats and handles every record but shows nothing."""
    logger = logging.getLogger("hyrun.benchmark")
    logger.handlers[:] = [logging.NullHandler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def make_epoch_clock():
    from hyrun.hooks.base import Hook

    class EpochClock(Hook):
        """Stamps the start and end of each training epoch (no per-iteration stage)."""

        def __init__(self) -> None:
            self.starts: list[tuple[float, float]] = []  # (wall, this thread's CPU time)
            self.ends: list[tuple[float, float]] = []

        def before_train_epoch(self, runner) -> None:
            self.starts.append((time.perf_counter(), time.thread_time()))

        def after_train_epoch(self, runner) -> None:
            self.ends.append((time.perf_counter(), time.thread_time()))

    return EpochClock


def run_hyrun(cfg, work_dir: Path, logger: logging.Logger, clock_cls):
    """Build through the real builder, run, return (per-iteration wall times of the last
    epoch, the last epoch's (wall, CPU) totals, the runner). The EpochClock hooks only fire
    at epoch boundaries."""
    from hyrun.build import build_runner

    runner = build_runner(cfg, work_dir=work_dir, logger=logger)
    start_clock, end_clock = clock_cls(), clock_cls()
    runner.register_hook(start_clock, "HIGHEST")
    runner.register_hook(end_clock, "LOWEST")
    gc.collect()
    runner.run([("train", 1)])
    times = runner._log_buffers["train"].history.get("time")
    if not times or len(times) != len(runner.data_loaders["train"]):
        raise RuntimeError("IterTimerHook's per-iteration 'time' values are missing from the log buffer")
    metrics = work_dir / "metrics.jsonl"
    if not metrics.is_file() or not metrics.read_text().strip():
        raise RuntimeError(f"the text logger wrote no {metrics}")
    (wall0, cpu0), (wall1, cpu1) = start_clock.starts[-1], end_clock.ends[-1]
    return list(times), (wall1 - wall0, cpu1 - cpu0), runner


def run_hand(init_state, dataset, opt_kwargs, seed: int):
    """The hand-written loop: same model, data, batch order and optimizer as the runner's."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from hyrun.data.loaders import EpochSeededSampler
    from hyrun.models.mlp import MLP

    model = MLP(32, [64], 10)
    model.load_state_dict(init_state)
    optimizer = torch.optim.SGD(model.parameters(), **opt_kwargs)
    sampler = EpochSeededSampler(len(dataset), seed)
    loader = DataLoader(dataset, batch_size=BATCH, sampler=sampler)
    model.train()
    losses = []
    gc.collect()
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        times = []
        cpu_start = time.thread_time()
        start = last = time.perf_counter()
        for inputs, targets in loader:
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            now = time.perf_counter()
            times.append(now - last)
            last = now
        total = (last - start, time.thread_time() - cpu_start)
    return times, total, model, optimizer


def max_param_diff(a, b) -> float:
    return max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))


def per_iteration(args) -> dict:
    import torch
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from hyrun.config.store import register_configs

    torch.set_num_threads(1)
    register_configs()
    GlobalHydra.instance().clear()
    arms = {"hyrun": compose_cfg(args.samples, full_defaults=False)}
    if args.full_defaults:
        GlobalHydra.instance().clear()
        arms["hyrun+ckpt+eval"] = compose_cfg(args.samples, full_defaults=True)
    cfg = arms["hyrun"]
    opt_cfg = OmegaConf.to_container(cfg.optimizer, resolve=True)
    opt_kwargs = {k: opt_cfg[k] for k in ("lr", "momentum", "weight_decay")}
    seed = cfg.seed if cfg.seed is not None else 0
    logger = quiet_logger()
    clock_cls = make_epoch_clock()

    # Warm-up, untimed: the first SGD step of a process imports torch._dynamo (seconds).
    from hyrun.build import build_data
    warm_model = torch.nn.Linear(2, 2)
    warm_opt = torch.optim.SGD(warm_model.parameters(), lr=0.1, momentum=0.9)
    warm_model(torch.randn(3, 2)).sum().backward()
    warm_opt.step()

    names = ["hand"] + list(arms)
    results = {name: {"median": [], "p25": [], "epoch": [], "cpu": []} for name in names}
    checks = []
    iters = None
    print(f"per-iteration: {args.samples} samples, batch {BATCH}, {EPOCHS} epochs, "
          f"{torch.get_num_threads()} thread(s), {args.rounds} rounds; arms: {', '.join(names)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="hyrun-overhead-") as tmp:
        for r in range(args.rounds):
            # same initial weights and data as the runner builds (build_runner seeds first)
            from hyrun.seeding import seed_everything
            seed_everything(seed, cfg.deterministic)
            dataset = build_data(cfg.data, seed)["train"].dataset
            from hydra.utils import instantiate
            init_state = {k: v.clone() for k, v in instantiate(cfg.model).state_dict().items()}
            iters = -(-len(dataset) // BATCH)

            order = names if r % 2 == 0 else names[::-1]
            models = {}
            for name in order:
                if name == "hand":
                    times, total, model, optimizer = run_hand(init_state, dataset, opt_kwargs, seed)
                    models[name] = (model, optimizer)
                else:
                    times, total, runner = run_hyrun(arms[name], Path(tmp) / f"r{r}-{name}", logger, clock_cls)
                    models[name] = (runner.model, runner.optimizer)
                results[name]["median"].append(statistics.median(times))
                results[name]["p25"].append(statistics.quantiles(times, n=4)[0])
                results[name]["epoch"].append(total[0] / len(times))
                results[name]["cpu"].append(total[1] / len(times))
            hand_model, hand_opt = models["hand"]
            for name in arms:
                model, optimizer = models[name]
                checks.append((name, max_param_diff(hand_model, model),
                               _group_settings(hand_opt) == _group_settings(optimizer)))
            line = "  round %d (%s): " % (r + 1, ", ".join(order)) + ", ".join(
                f"{n} {results[n]['median'][-1] * 1e3:.3f} ms" for n in names)
            line += ", " + ", ".join(
                f"ratio {n} {results[n]['median'][-1] / results['hand']['median'][-1]:.3f}" for n in arms)
            print(line, flush=True)
    return {"results": results, "arms": list(arms), "checks": checks, "iters": iters}


def _group_settings(optimizer) -> list[dict]:
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


# -- start-up -------------------------------------------------------------------------------
def timed_process(cmd: list[str], cwd: Path, marks: dict[str, str], timeout: float = 300.0) -> dict:
    """Wall seconds from just before start to the first stdout line containing each mark,
    and to exit."""
    # One intra-op thread, as in the per-iteration comparison: with torch's default (one per
    # core) a tiny model's iteration on a busy 2-core machine can take 100+ ms of OpenMP waiting.
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    found: dict[str, float] = {}
    lines: list[str] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    assert proc.stdout is not None
    for line in proc.stdout:
        now = time.perf_counter()
        lines.append(line)
        for name, mark in marks.items():
            if name not in found and mark in line:
                found[name] = now - t0
        if now - t0 > timeout:
            proc.kill()
            break
    rc = proc.wait()
    found["exit"] = time.perf_counter() - t0
    if rc != 0 or len(found) != len(marks) + 1:
        tail = "".join(lines[-20:])
        raise RuntimeError(f"{' '.join(cmd)} (rc {rc}) did not print {marks}:\n{tail}")
    return found


def startup(args) -> dict:
    py = sys.executable
    runs: dict[str, list[dict]] = {"hyrun": [], "help": [], "hand": []}
    with tempfile.TemporaryDirectory(prefix="hyrun-startup-") as tmp:
        cwd = Path(tmp)
        for i in range(args.startup_reps):
            runs["help"].append(timed_process([py, "-m", "hyrun", "--help"], cwd, {}))
            runs["hyrun"].append(timed_process(
                [py, "-m", "hyrun", "data=synthetic", "model=mlp", "runner.max_epochs=1",
                 "log_config.interval=1", f"hydra.run.dir={cwd / f'run{i}'}"],
                cwd, {"built": "Hooks by stage", "first": "Epoch [1][1/"}))
            runs["hand"].append(timed_process([py, "-c", BASELINE_SCRIPT], cwd, {"first": "first-iter"}))
            print(f"  start-up rep {i + 1}: hyrun first iteration {runs['hyrun'][-1]['first']:.2f} s, "
                  f"exit {runs['hyrun'][-1]['exit']:.2f} s; hand-written first iteration "
                  f"{runs['hand'][-1]['first']:.2f} s, exit {runs['hand'][-1]['exit']:.2f} s; "
                  f"--help {runs['help'][-1]['exit']:.2f} s", flush=True)
    return {name: {key: statistics.median(r[key] for r in reps) for key in reps[0]}
            for name, reps in runs.items()}


# -- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="paired rounds (>= 5; default 9)")
    parser.add_argument("--samples", type=int, default=20000,
                        help="training samples (default 20000: 625 iterations an epoch)")
    parser.add_argument("--startup-reps", type=int, default=3, help="runs of each start-up command (default 3)")
    parser.add_argument("--no-full-defaults", dest="full_defaults", action="store_false",
                        help="skip the arm that also keeps CheckpointHook and EvalHook")
    parser.add_argument("--skip-startup", action="store_true", help="only the per-iteration comparison")
    parser.add_argument("--skip-iteration", action="store_true", help="only the start-up timings")
    args = parser.parse_args()
    if args.rounds < 1 or args.samples < BATCH:
        parser.error("--rounds must be >= 1 and --samples >= 32")

    wall = time.perf_counter()
    per_iter = None if args.skip_iteration else per_iteration(args)
    start = None if args.skip_startup else startup(args)

    print()
    print("=" * 100)
    if per_iter is not None:
        res, n = per_iter["results"], args.rounds

        def med(name: str, key: str) -> float:
            return statistics.median(res[name][key])

        def ratios(name: str, key: str) -> list[float]:
            return [h / b for h, b in zip(res[name][key], res["hand"][key])]

        for name in per_iter["arms"]:
            per_round = ratios(name, "median")
            ratio = statistics.median(per_round)
            q1, _, q3 = statistics.quantiles(per_round, n=4) if n >= 2 else (ratio, ratio, ratio)
            if name != "hyrun":
                verdict = "  (not the target's configuration)"
            elif ratio > TARGET:
                verdict = "  ABOVE TARGET"
            else:
                verdict = "  OK" if q3 <= TARGET else "  OK (but the rounds' spread reaches past the target)"
            print(f"per-iteration (epoch 2, median over its {per_iter['iters']} iterations, wall; median of {n} "
                  f"rounds): hand-written {med('hand', 'median') * 1e3:.3f} ms, {name} "
                  f"{med(name, 'median') * 1e3:.3f} ms, ratio {ratio:.3f} (target <= {TARGET:.2f}){verdict}")
            print(f"    per-round ratios: {' '.join(f'{x:.3f}' for x in per_round)} "
                  f"(quartiles {q1:.3f} .. {q3:.3f})")
            extra = statistics.median(h - b for h, b in zip(res[name]["median"], res["hand"]["median"]))
            print(f"    extra per iteration (median of per-round differences): {extra * 1e6:+.1f} us")
            for key, label in (("epoch", "epoch-2 wall total / iterations"),
                               ("cpu", "epoch-2 CPU time (thread_time) / iterations"),
                               ("p25", "25th percentile of epoch-2 iterations, wall")):
                print(f"    {label}: hand-written {med('hand', key) * 1e3:.3f} ms, {name} "
                      f"{med(name, key) * 1e3:.3f} ms, ratio {statistics.median(ratios(name, key)):.3f}")
        diffs = [(name, d, same) for name, d, same in per_iter["checks"]]
        worst = max(d for _, d, _ in diffs)
        same_opt = all(s for _, _, s in diffs)
        print(f"same work check: max |weight difference| hand vs hyrun after {EPOCHS} epochs = {worst:.3g}; "
              f"optimizer settings identical: {same_opt}")
    if start is not None:
        h, hy = start["hand"], start["hyrun"]
        print(f"start to first iteration (median of {args.startup_reps}): hyrun {hy['first']:.2f} s "
              f"(runner built at {hy['built']:.2f} s), hand-written script {h['first']:.2f} s, "
              f"extra {hy['first'] - h['first']:+.2f} s")
        print(f"whole 1-epoch run (1024 samples, default hooks incl. checkpoint + eval): hyrun {hy['exit']:.2f} s, "
              f"hand-written script {h['exit']:.2f} s; `python -m hyrun --help`: {start['help']['exit']:.2f} s")
    print(f"(benchmark wall time {time.perf_counter() - wall:.0f} s)")


if __name__ == "__main__":
    main()
