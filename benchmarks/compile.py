#!/usr/bin/env python
"""What ``compile=true`` gives on this machine: eager vs compiled training iterations.

    python benchmarks/compile.py [--rounds 5] [--iters 200] [--backend inductor] [--mode default]

A small CNN (conv 3->32, conv 32->64, two 2x2 pools, linear 64*8*8->10) on 3x32x32 inputs,
batch 64, SGD with momentum, one thread. The compiled model is hyrun's (``compile_model``,
what ``compile=true`` does). Reported:

  * warm-up: the first compiled iteration's time (compiling forward and backward) and the
    second's, against an eager iteration;
  * per iteration after warm-up: the two models trained in lockstep (eager, compiled,
    compiled, eager, ...), so a slow spell of a shared machine hits both; the median of each
    over ``--iters`` iterations per round, and the median over rounds of the ratio
    compiled / eager.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from hyrun.models.compile import CompileSettings, check_backend, compile_model


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10))


class Arm:
    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iters", type=int, default=200, help="lockstep iterations per round")
    parser.add_argument("--backend", default="inductor")
    parser.add_argument("--mode", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = CompileSettings(mode=args.mode, backend=args.backend)
    check_backend(settings)
    torch.manual_seed(0)
    batches = [(torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))) for _ in range(8)]
    eager_model, compiled_model = small_cnn(), small_cnn()
    compiled_model.load_state_dict(eager_model.state_dict())
    compile_model(compiled_model, settings)
    eager, compiled = Arm(eager_model), Arm(compiled_model)

    eager_first = eager.step(*batches[0])
    warm = [compiled.step(*batches[i]) for i in range(3)]
    print(f"warm-up ({args.backend}, mode {args.mode or 'default'}): first compiled iteration {warm[0]:.2f} s, "
          f"second {warm[1] * 1e3:.1f} ms, third {warm[2] * 1e3:.1f} ms; first eager one {eager_first * 1e3:.1f} ms")

    ratios = []
    for r in range(args.rounds):
        times: dict[str, list[float]] = {"eager": [], "compiled": []}
        for i in range(args.iters):
            x, y = batches[i % len(batches)]
            order = (("eager", eager), ("compiled", compiled)) if i % 2 == 0 else (("compiled", compiled), ("eager", eager))
            for name, arm in order:
                times[name].append(arm.step(x, y))
        e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
        ratios.append(c / e)
        print(f"  round {r + 1}: eager {e * 1e3:.2f} ms, compiled {c * 1e3:.2f} ms an iteration, ratio {c / e:.3f}",
              flush=True)
    ratio = statistics.median(ratios)
    print(f"compiled / eager per iteration after warm-up: {ratio:.3f} (median of {args.rounds} rounds; "
          f"{'faster' if ratio < 1 else 'slower'} by {abs(1 - ratio) * 100:.1f}%); the warm-up pays for itself after "
          f"~{warm[0] / max(1e-9, statistics.median(times['eager']) * (1 - ratio)):.0f} iterations"
          if ratio < 1 else f"compiled / eager per iteration after warm-up: {ratio:.3f}: compiling does not pay here")


if __name__ == "__main__":
    main()
