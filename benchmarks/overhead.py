#!/usr/bin/env python
"""What hyrun's runner costs over a hand-written PyTorch loop, per iteration and at start-up.

    python benchmarks/overhead.py [--rounds 15] [--samples 20000] [--startup-reps 3] [--mlflow]

Per iteration: an MLP 32->64->10 on synthetic data (20000 samples, batch 32: 625 iterations
an epoch), SGD (hyrun's preset lr 0.02, momentum 0.9, weight decay 1e-4), 2 epochs, one
thread, trained

  * by a hand-written loop: DataLoader, forward, cross-entropy, zero_grad(set_to_none=True),
    backward, step, the loss kept as a detached tensor; and
  * by hyrun's runner, composed from the real config (``data=synthetic model=mlp``) and built
    by ``hyrun.build.build_runner`` with the hooks that config registers: OptimizerHook,
    IterTimerHook and TextLoggerHook at interval 50 (metrics.jsonl written, its console lines
    handled by a NullHandler). ``evaluation=null checkpoint_config=null``, as the hand-written
    loop neither evaluates nor saves; ``--full-defaults`` adds an arm that keeps them.

Both start from the same initial weights and see the same batches in the same order (hyrun's
EpochSeededSampler); the benchmark checks that their final weights agree exactly.

Two measurements:

  1. Whole runs (the target's figure). Each round trains a hand-written model and a hyrun
     runner (``runner.run``), one after the other, the order alternating between rounds. An
     arm's per-iteration time is the MEDIAN over the 625 iterations of epoch 2 (warm) of the
     wall time from the end of one iteration to the end of the next (data loading included);
     for hyrun these are the ``time`` values IterTimerHook leaves in the runner's log buffer.
     Reported: the median over rounds of the per-round ratio hyrun / hand-written, with a
     bootstrap 95% interval, and, for reference, epoch-2 wall total / iterations and epoch-2
     CPU time of the thread (``time.thread_time``, less disturbed by other processes) / iterations.
  2. Lockstep. The same two trainings advanced one iteration at a time, alternately (hand,
     hyrun, hyrun, hand, ...): hyrun's through ``Runner._train_iter`` with EpochBasedRunner's
     epoch prologue and epilogue done by hand (its ``train()`` loop, unrolled). Each pair of
     iterations is measured microseconds apart, so the seconds-long slow spells of a shared
     machine hit both arms alike; reported: ratio of the epoch-2 medians and the median of the
     per-pair differences (what hyrun adds to an iteration).

Start-up: wall time of ``python -m hyrun data=synthetic model=mlp runner.max_epochs=1
log_config.interval=1`` (default data size and hooks, iteration 1 logged) from just before the
process is started to its ``Epoch [1][1/`` line on stdout (PYTHONUNBUFFERED=1) and to its exit;
``python -m hyrun --help``; and a hand-written script doing the same job for reference (import
torch, data, model, SGD, one epoch). OMP_NUM_THREADS=1 for all of them. Medians of
``--startup-reps`` runs.

``--mlflow`` adds two whole-run arms at ``log_config.interval=1`` (a record every iteration):
``logger=[text]`` ("text@1") and ``logger=[text,mlflow]`` ("mlflow@1", a SQLite store in a temporary
folder), and reports mlflow@1 / text@1 per round (target <= 1.05: MLflow's work is in the tracking
worker process, off the training path). The mlflow@1 run's end waits for its worker (import mlflow,
open the store, write the rest): seconds a round, outside the timed epoch.

Machines here are noisy: compare the ratios one run prints, not absolute times across runs.
"""
from __future__ import annotations

import argparse
import gc
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.10
MLFLOW_TARGET = 1.05  # mlflow@1 / text@1
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


# -- set-up -------------------------------------------------------------------------------
def compose_cfg(samples: int, full_defaults: bool, extra: tuple[str, ...] = ()):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

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
    overrides += list(extra)  # later overrides win
    GlobalHydra.instance().clear()
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


class Setup:
    """The configs, and the data, initial weights and optimizer settings the runner builds."""

    def __init__(self, samples: int, full_defaults: bool, mlflow: bool = False) -> None:
        import torch
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        from hyrun.build import build_data
        from hyrun.config.store import register_configs
        from hyrun.seeding import seed_everything

        register_configs()
        self.arms = {"hyrun": compose_cfg(samples, full_defaults=False)}
        if full_defaults:
            self.arms["hyrun+ckpt+eval"] = compose_cfg(samples, full_defaults=True)
        self.mlflow_dir = None
        if mlflow:
            # the store (and MLflow's ./mlruns artifacts) in a folder of its own, removed at exit
            self._mlflow_tmp = tempfile.TemporaryDirectory(prefix="hyrun-overhead-mlflow-")
            self.mlflow_dir = self._mlflow_tmp.name
            self.arms["text@1"] = compose_cfg(samples, False, ("log_config.interval=1", "logger=[text]"))
            self.arms["mlflow@1"] = compose_cfg(samples, False, (
                "log_config.interval=1", "logger=[text,mlflow]",
                f"logger.mlflow.tracking_uri=sqlite:///{self.mlflow_dir}/mlflow.db",
                "logger.mlflow.experiment_name=overhead-benchmark"))
        cfg = self.arms["hyrun"]
        self.seed = cfg.seed if cfg.seed is not None else 0
        # as build_runner does: seed, data, then the model
        seed_everything(self.seed, cfg.deterministic)
        self.dataset = build_data(cfg.data, self.seed)["train"].dataset
        self.init_state = {k: v.clone() for k, v in instantiate(cfg.model).state_dict().items()}
        opt_cfg = OmegaConf.to_container(cfg.optimizer, resolve=True)
        self.opt_kwargs = {k: opt_cfg[k] for k in ("lr", "momentum", "weight_decay")}
        self.iters = -(-len(self.dataset) // BATCH)
        self.logger = quiet_logger()

        # Untimed warm-up: the first SGD step of a process imports torch._dynamo (seconds).
        warm = torch.nn.Linear(2, 2)
        warm_opt = torch.optim.SGD(warm.parameters(), lr=0.1, momentum=0.9)
        warm(torch.randn(3, 2)).sum().backward()
        warm_opt.step()

    def hand(self):
        """The hand-written loop's model, optimizer, sampler and loader."""
        import torch
        from torch.utils.data import DataLoader

        from hyrun.data.loaders import EpochSeededSampler
        from hyrun.models.mlp import MLP

        model = MLP(32, [64], 10)
        model.load_state_dict(self.init_state)
        optimizer = torch.optim.SGD(model.parameters(), **self.opt_kwargs)
        sampler = EpochSeededSampler(len(self.dataset), self.seed)
        loader = DataLoader(self.dataset, batch_size=BATCH, sampler=sampler)
        return model, optimizer, sampler, loader

    def runner(self, arm: str, work_dir: Path):
        from hyrun.build import build_runner

        runner = build_runner(self.arms[arm], work_dir=work_dir, logger=self.logger)
        if self.mlflow_dir is not None:
            runner.meta["hydra"] = {"cwd": self.mlflow_dir}  # the tracking worker's folder (not the caller's)
        return runner


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


def check_metrics_written(work_dir: Path, iters: int) -> None:
    """The text logger's file exists, with lines when an epoch reaches the interval (50)."""
    metrics = work_dir / "metrics.jsonl"
    if not metrics.is_file() or (iters >= 50 and not metrics.read_text().strip()):
        raise RuntimeError(f"the text logger wrote no {metrics}")


def max_param_diff(a, b) -> float:
    return max((pa - pb).abs().max().item() for pa, pb in zip(a.parameters(), b.parameters()))


def same_settings(a, b) -> bool:
    def settings(optimizer):
        # the schedule hooks record each group's base (initial_lr); the settings are the rest
        return [{k: v for k, v in g.items() if k != "params" and not k.startswith("initial_")}
                for g in optimizer.param_groups]

    return settings(a) == settings(b)


# -- 1. whole runs ----------------------------------------------------------------------------
def run_hyrun(setup: Setup, arm: str, work_dir: Path, clock_cls):
    """``runner.run`` for EPOCHS epochs: (epoch-2 per-iteration wall times, epoch-2 (wall, CPU)
    totals, runner). The EpochClock hooks fire only at epoch boundaries."""
    runner = setup.runner(arm, work_dir)
    first, last = clock_cls(), clock_cls()
    runner.register_hook(first, "HIGHEST")
    runner.register_hook(last, "LOWEST")
    buffer = runner.log_buffers["train"]
    buffer.keep = None  # keep every value (normally only a logger's window), to read epoch 2's times
    gc.collect()
    runner.run([("train", 1)])
    times = buffer.history.get("time", [])[-setup.iters:]
    if len(times) != setup.iters:
        raise RuntimeError("IterTimerHook's per-iteration 'time' values are missing from the log buffer")
    check_metrics_written(work_dir, setup.iters)
    (wall0, cpu0), (wall1, cpu1) = first.starts[-1], last.ends[-1]
    return list(times), (wall1 - wall0, cpu1 - cpu0), runner


def run_hand(setup: Setup):
    """The hand-written loop for EPOCHS epochs: (epoch-2 per-iteration wall times, epoch-2
    (wall, CPU) totals, model, optimizer)."""
    import torch.nn.functional as F

    model, optimizer, sampler, loader = setup.hand()
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


def whole_runs(setup: Setup, rounds: int, tmp: Path) -> dict:
    clock_cls = make_epoch_clock()
    names = ["hand"] + list(setup.arms)
    results = {name: {"median": [], "epoch": [], "cpu": []} for name in names}
    checks = []
    print(f"1. whole runs: {len(setup.dataset)} samples, batch {BATCH} ({setup.iters} iterations an epoch), "
          f"{EPOCHS} epochs, {rounds} rounds; arms: {', '.join(names)}", flush=True)
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        trained = {}
        for name in order:
            if name == "hand":
                times, total, model, optimizer = run_hand(setup)
            else:
                times, total, runner = run_hyrun(setup, name, tmp / f"round{r}-{name}", clock_cls)
                model, optimizer = runner.model, runner.optimizer
            trained[name] = (model, optimizer)
            results[name]["median"].append(statistics.median(times))
            results[name]["epoch"].append(total[0] / len(times))
            results[name]["cpu"].append(total[1] / len(times))
        for name in setup.arms:
            checks.append((max_param_diff(trained["hand"][0], trained[name][0]),
                           same_settings(trained["hand"][1], trained[name][1])))
        print(f"  round {r + 1:2d} ({', '.join(order)}): "
              + ", ".join(f"{n} {results[n]['median'][-1] * 1e3:.3f} ms" for n in names) + "; "
              + ", ".join(f"ratio {n} {results[n]['median'][-1] / results['hand']['median'][-1]:.3f}"
                          for n in setup.arms), flush=True)
    return {"results": results, "checks": checks}


# -- 2. lockstep ----------------------------------------------------------------------------
def lockstep(setup: Setup, work_dir: Path) -> dict:
    """Both trainings, one iteration each in turn; hyrun's through Runner._train_iter with
    EpochBasedRunner.train's prologue and epilogue (the same calls, unrolled)."""
    from time import perf_counter

    import torch.nn.functional as F

    runner = setup.runner("hyrun", work_dir)
    model, optimizer, sampler, loader = setup.hand()
    losses = []
    hand_times: list[float] = []
    hyrun_times: list[float] = []
    gc.collect()
    runner.call_hook("before_run")
    model.train()
    for epoch in range(EPOCHS):
        # EpochBasedRunner.train(), before its loop
        runner.model.train()
        runner._start_epoch("train")
        runner.call_hook("before_train_epoch")
        sampler.set_epoch(epoch)
        hand_batches = iter(loader)
        hyrun_batches = enumerate(runner.data_loader)

        def hand_iter() -> float:
            t0 = perf_counter()
            inputs, targets = next(hand_batches)
            loss = F.cross_entropy(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            return perf_counter() - t0

        def hyrun_iter() -> float:
            t0 = perf_counter()
            runner.inner_iter, batch = next(hyrun_batches)  # the runner's `for ... in enumerate(...)`
            runner._train_iter(batch)
            return perf_counter() - t0

        for i in range(setup.iters):
            if i % 2 == 0:
                t_hand = hand_iter()
                t_hyrun = hyrun_iter()
            else:
                t_hyrun = hyrun_iter()
                t_hand = hand_iter()
            if epoch == EPOCHS - 1:
                hand_times.append(t_hand)
                hyrun_times.append(t_hyrun)
        # EpochBasedRunner.train(), after its loop
        runner.call_hook("after_train_epoch")
        runner.epoch += 1
    runner.call_hook("after_run")
    check_metrics_written(work_dir, setup.iters)
    return {
        "hand": statistics.median(hand_times),
        "hyrun": statistics.median(hyrun_times),
        "extra": statistics.median(h - b for h, b in zip(hyrun_times, hand_times)),
        "check": (max_param_diff(model, runner.model), same_settings(optimizer, runner.optimizer)),
    }


# -- start-up -------------------------------------------------------------------------------
def timed_process(cmd: list[str], cwd: Path, marks: dict[str, str], timeout: float = 300.0) -> dict:
    """Wall seconds from just before start to the first stdout line containing each mark,
    and to exit."""
    # One intra-op thread, as in the per-iteration comparison: with torch's default (one per
    # core) a tiny model's iteration on a busy 2-core machine can take 100+ ms of OpenMP waiting.
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # A user's second run finds hyrun's modules compiled (__pycache__, written by the first run,
    # or by pip for a wheel); with PYTHONDONTWRITEBYTECODE every start would compile them again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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


def startup(reps: int) -> dict:
    py = sys.executable
    runs: dict[str, list[dict]] = {"hyrun": [], "help": [], "cfg_job": [], "hand": []}
    print(f"start-up: {reps} runs of each command, after one untimed run of each", flush=True)
    with tempfile.TemporaryDirectory(prefix="hyrun-startup-") as tmp:
        cwd = Path(tmp)

        def rep(i: int) -> dict[str, dict]:
            train = [py, "-m", "hyrun", "data=synthetic", "model=mlp", "runner.max_epochs=1",
                     "log_config.interval=1", f"hydra.run.dir={cwd / f'run{i}'}"]
            return {
                "help": timed_process([py, "-m", "hyrun", "--help"], cwd, {}),
                "cfg_job": timed_process([py, "-m", "hyrun", "data=synthetic", "--cfg", "job"], cwd, {}),
                "hyrun": timed_process(train, cwd, {"built": "Hooks, in run order", "first": "Epoch [1][1/"}),
                "hand": timed_process([py, "-c", BASELINE_SCRIPT], cwd, {"first": "first-iter"}),
            }

        rep(-1)  # compiles hyrun's modules once and warms the page cache, as any earlier run would
        for i in range(reps):
            for name, result in rep(i).items():
                runs[name].append(result)
            print(f"  rep {i + 1}: hyrun first iteration {runs['hyrun'][-1]['first']:.2f} s, "
                  f"exit {runs['hyrun'][-1]['exit']:.2f} s; hand-written first iteration "
                  f"{runs['hand'][-1]['first']:.2f} s, exit {runs['hand'][-1]['exit']:.2f} s "
                  f"(hyrun {runs['hyrun'][-1]['first'] - runs['hand'][-1]['first']:+.2f} s, "
                  f"{runs['hyrun'][-1]['exit'] - runs['hand'][-1]['exit']:+.2f} s); "
                  f"--help {runs['help'][-1]['exit']:.2f} s, --cfg job {runs['cfg_job'][-1]['exit']:.2f} s",
                  flush=True)
    medians = {name: {key: statistics.median(r[key] for r in reps_) for key in reps_[0]}
               for name, reps_ in runs.items()}
    # each rep ran hyrun and the hand-written script back to back: pair them
    medians["extra_first"] = statistics.median(hy["first"] - h["first"] for hy, h in zip(runs["hyrun"], runs["hand"]))
    medians["extra_exit"] = statistics.median(hy["exit"] - h["exit"] for hy, h in zip(runs["hyrun"], runs["hand"]))
    return medians


# -- report -----------------------------------------------------------------------------------
def bootstrap_median(values: list[float], n: int = 2000) -> tuple[float, float]:
    """A percentile-bootstrap 95% interval of the median."""
    rng = random.Random(0)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(n))
    return meds[int(0.025 * n)], meds[int(0.975 * n) - 1]


def report(args, setup: Setup | None, whole: dict | None, locks: list[dict], start: dict | None) -> None:
    print()
    print("=" * 100)
    if whole is not None:
        res = whole["results"]

        def med(name: str, key: str) -> float:
            return statistics.median(res[name][key])

        def ratios(name: str, key: str) -> list[float]:
            return [h / b for h, b in zip(res[name][key], res["hand"][key])]

        for name in setup.arms:
            per_round = ratios(name, "median")
            ratio = statistics.median(per_round)
            low, high = bootstrap_median(per_round)
            if name != "hyrun":
                verdict = "(not the target's configuration)"
            elif ratio > TARGET:
                verdict = "ABOVE TARGET"
            else:
                verdict = "OK" if high <= TARGET else "OK, but the interval reaches past the target"
            print(f"per-iteration, whole runs (epoch 2: median of its {setup.iters} iterations; median of "
                  f"{args.rounds} rounds): hand-written {med('hand', 'median') * 1e3:.3f} ms, {name} "
                  f"{med(name, 'median') * 1e3:.3f} ms, ratio {ratio:.3f} (95% interval {low:.3f}..{high:.3f}; "
                  f"target <= {TARGET:.2f}) {verdict}")
            print(f"    per-round ratios: {' '.join(f'{x:.3f}' for x in per_round)}")
            for key, label in (("epoch", "epoch-2 wall total / iterations"),
                               ("cpu", "epoch-2 CPU time (thread_time) / iterations")):
                print(f"    {label}: hand-written {med('hand', key) * 1e3:.3f} ms, {name} "
                      f"{med(name, key) * 1e3:.3f} ms, ratio {statistics.median(ratios(name, key)):.3f}")
        if "mlflow@1" in res:
            per_round = [m / t for m, t in zip(res["mlflow@1"]["median"], res["text@1"]["median"])]
            ratio = statistics.median(per_round)
            low, high = bootstrap_median(per_round)
            verdict = ("ABOVE TARGET" if ratio > MLFLOW_TARGET else
                       "OK" if high <= MLFLOW_TARGET else "OK, but the interval reaches past the target")
            print(f"MLflow at interval 1 vs the text logger alone at interval 1 (epoch-2 median iteration; median "
                  f"of {args.rounds} rounds): text@1 {med('text@1', 'median') * 1e3:.3f} ms, mlflow@1 "
                  f"{med('mlflow@1', 'median') * 1e3:.3f} ms, ratio {ratio:.3f} (95% interval {low:.3f}..{high:.3f}; "
                  f"target <= {MLFLOW_TARGET:.2f}) {verdict}")
            print(f"    per-round ratios: {' '.join(f'{x:.3f}' for x in per_round)}")
            for key, label in (("epoch", "epoch-2 wall total / iterations"),
                               ("cpu", "epoch-2 CPU time (thread_time) / iterations")):
                pairs = [m / t for m, t in zip(res["mlflow@1"][key], res["text@1"][key])]
                print(f"    {label}: text@1 {med('text@1', key) * 1e3:.3f} ms, mlflow@1 "
                      f"{med('mlflow@1', key) * 1e3:.3f} ms, ratio {statistics.median(pairs):.3f}")
    if locks:
        hand = statistics.median(r["hand"] for r in locks)
        hy = statistics.median(r["hyrun"] for r in locks)
        ratio = statistics.median(r["hyrun"] / r["hand"] for r in locks)
        extra = statistics.median(r["extra"] for r in locks)
        print(f"per-iteration, lockstep (epoch 2, iteration-interleaved; median of {len(locks)} runs): "
              f"hand-written {hand * 1e3:.3f} ms, hyrun {hy * 1e3:.3f} ms, ratio {ratio:.3f}; "
              f"hyrun adds {extra * 1e6:+.1f} us an iteration (median of paired differences; "
              f"runs: {', '.join(format(r['extra'] * 1e6, '+.1f') for r in locks)})")
    checks = (whole["checks"] if whole else []) + [r["check"] for r in locks]
    if checks:
        print(f"same work: max |weight difference| hand-written vs hyrun after {EPOCHS} epochs = "
              f"{max(d for d, _ in checks):.3g}; optimizer settings identical: {all(s for _, s in checks)}")
    if start is not None:
        h, hy = start["hand"], start["hyrun"]
        print(f"start to first iteration (median of {args.startup_reps}): hyrun {hy['first']:.2f} s "
              f"(runner built at {hy['built']:.2f} s), hand-written script {h['first']:.2f} s, "
              f"hyrun adds {start['extra_first']:+.2f} s (median of paired differences; target <= +0.4 s)")
        print(f"whole 1-epoch run (1024 samples; hyrun's default hooks incl. checkpoint and eval): "
              f"hyrun {hy['exit']:.2f} s, hand-written script {h['exit']:.2f} s, hyrun adds "
              f"{start['extra_exit']:+.2f} s (target <= +0.5 s); `python -m hyrun --help`: "
              f"{start['help']['exit']:.2f} s, `--cfg job`: {start['cfg_job']['exit']:.2f} s (targets < 0.5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15, help="paired whole-run rounds (>= 5; default 15)")
    parser.add_argument("--lockstep", type=int, default=3, help="lockstep runs (default 3; 0: none)")
    parser.add_argument("--samples", type=int, default=20000,
                        help="training samples (default 20000: 625 iterations an epoch)")
    parser.add_argument("--startup-reps", type=int, default=3, help="runs of each start-up command (default 3)")
    parser.add_argument("--full-defaults", action="store_true",
                        help="add a whole-run arm that keeps the config's CheckpointHook and EvalHook")
    parser.add_argument("--mlflow", action="store_true",
                        help="add whole-run arms text@1 and mlflow@1 (log_config.interval=1) and their ratio")
    parser.add_argument("--skip-startup", action="store_true", help="only the per-iteration comparisons")
    parser.add_argument("--skip-iteration", action="store_true", help="only the start-up timings")
    args = parser.parse_args()
    if args.rounds < 1 or args.samples < BATCH or args.lockstep < 0 or args.startup_reps < 1:
        parser.error("need --rounds >= 1, --samples >= 32, --lockstep >= 0, --startup-reps >= 1")

    wall = time.perf_counter()
    setup = whole = None
    locks: list[dict] = []
    if not args.skip_iteration:
        import torch

        torch.set_num_threads(1)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, python {sys.version.split()[0]}")
        setup = Setup(args.samples, args.full_defaults, args.mlflow)
        with tempfile.TemporaryDirectory(prefix="hyrun-overhead-") as tmp:
            whole = whole_runs(setup, args.rounds, Path(tmp))
            if args.lockstep:
                print(f"2. lockstep: {args.lockstep} runs", flush=True)
            for i in range(args.lockstep):
                locks.append(lockstep(setup, Path(tmp) / f"lockstep{i}"))
                r = locks[-1]
                print(f"  run {i + 1}: hand {r['hand'] * 1e3:.3f} ms, hyrun {r['hyrun'] * 1e3:.3f} ms, "
                      f"ratio {r['hyrun'] / r['hand']:.3f}, hyrun adds {r['extra'] * 1e6:+.1f} us", flush=True)
    start = None if args.skip_startup else startup(args.startup_reps)
    report(args, setup, whole, locks, start)
    print(f"(benchmark wall time {time.perf_counter() - wall:.0f} s)")


if __name__ == "__main__":
    main()
