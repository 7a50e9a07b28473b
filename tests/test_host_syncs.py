"""No host syncs on the training path: between log intervals an iteration never reads a tensor
back to Python (on an accelerator each read stalls the host until the device catches up).

Every way a value comes back is counted (``Tensor.item``, ``float()``/``int()``/``bool()`` of a
tensor, ``.tolist()``, ``.cpu()``, ``.numpy()``), with the iteration it happened in; reads
outside iterations (evaluation, checkpoints at an epoch's end) are allowed, as are those of
a log iteration and of the steps a hook was configured to check. Not counted: torch's own
optimizers reading their ``state["step"]`` counters (Adam's bias correction), which torch keeps
on the host for that reason (unless ``capturable``), so on an accelerator they are no sync.
"""
from __future__ import annotations

import logging
from collections import Counter

import pytest
import torch

from hyrun.hooks.base import Hook
from tests.helpers import composed

READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")
LOG_INTERVAL = 5


class IterationBounds(Hook):
    """Marks where a training iteration starts and ends (first and last hook of each)."""

    def __init__(self, counter: "SyncCounter", edge: str) -> None:
        self.counter, self.edge = counter, edge
        self.priority = "HIGHEST" if edge == "start" else "LOWEST"

    def before_train_iter(self, runner) -> None:
        if self.edge == "start":
            self.counter.iteration = runner.iter + 1  # 1-based, as the records count

    def after_train_iter(self, runner) -> None:
        if self.edge == "end":
            self.counter.iteration = None


class SyncCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, optimizer: torch.optim.Optimizer) -> None:
        self.iteration: int | None = None
        self.reads: Counter[tuple[int, str]] = Counter()
        for name in READS:
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _original=original, _name=name, **kwargs):
                if self.iteration is not None and not self.is_step_counter(tensor, optimizer):
                    self.reads[(self.iteration, _name)] += 1
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)

    @staticmethod
    def is_step_counter(tensor: torch.Tensor, optimizer: torch.optim.Optimizer) -> bool:
        return any(state.get("step") is tensor for state in optimizer.state.values())

    def iterations_with_reads(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for (iteration, name), n in sorted(self.reads.items()):
            found.setdefault(iteration, []).append(f"{name} x{n}")
        return found


def run_counting(tmp_path, monkeypatch, *overrides: str) -> tuple[SyncCounter, int]:
    from hyrun.build import build_runner

    cfg = composed("data=synthetic", "model=mlp", "data.num_samples=320", "data.batch_size=8",
                   "runner.max_epochs=2", f"log_config.interval={LOG_INTERVAL}", "log_config.progress_bar=false",
                   "logger=[text,tensorboard]", *overrides)
    runner = build_runner(cfg, tmp_path, logging.getLogger("hyrun.test"))
    counter = SyncCounter(monkeypatch, runner.optimizer)
    runner.register_hook(IterationBounds(counter, "start"))
    runner.register_hook(IterationBounds(counter, "end"))
    runner.run([tuple(p) for p in cfg.workflow.phases])
    return counter, runner.iter


@pytest.mark.parametrize("overrides", [
    pytest.param([], id="defaults"),
    pytest.param(["optimizer_config=grad_clip", "optimizer_config.cumulative_iters=2", "hooks=[ema,nan_guard]",
                  f"hooks.nan_guard.interval={LOG_INTERVAL}", "optimizer=adam", "momentum_config=none",
                  "lr_config=cosine_annealing", "lr_config.min_lr=0"],
                 id="clip-accumulate-ema-nan_guard"),
])
def test_only_log_iterations_read_tensors_back(tmp_path, monkeypatch, overrides):
    counter, iterations = run_counting(tmp_path, monkeypatch, *overrides)
    assert iterations == 80
    reads = counter.iterations_with_reads()
    off_interval = {i: what for i, what in reads.items() if i % LOG_INTERVAL}
    assert not off_interval, f"iterations between log intervals read tensors back: {off_interval}"
    assert set(reads) <= set(range(LOG_INTERVAL, iterations + 1, LOG_INTERVAL))
    assert reads, "the counter saw no read at all: it is not counting"


def test_a_nan_guard_checking_every_step_reads_each_iteration(tmp_path, monkeypatch):
    """The guard's default: every step checked, one read an iteration (what skip needs)."""
    counter, iterations = run_counting(tmp_path, monkeypatch, "hooks=[nan_guard]")
    assert sorted(counter.iterations_with_reads()) == list(range(1, iterations + 1))
