"""A user's own optimizer, optimizer constructor and hook, registered with hyrun."""
from __future__ import annotations

import torch

from hyrun import Hook, LoggerHook, register


@register("optimizer")
class MyOptimizer(torch.optim.Optimizer):
    """Plain SGD whose step is ``lr * a * grad``; ``b`` is checked to reach it."""

    def __init__(self, params, lr: float = 0.1, a: float = 1.0, b: int = 0):
        super().__init__(params, {"lr": lr, "a": a, "b": b})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"] * group["a"])


@register("optimizer_constructor")
class FrozenBiasConstructor:
    """Leaves biases out of the optimizer."""

    def __init__(self, optimizer_cfg, paramwise_cfg=None):
        self.optimizer_cfg = dict(optimizer_cfg)

    def __call__(self, model):
        from hydra.utils import get_class

        kwargs = {k: v for k, v in self.optimizer_cfg.items() if not k.startswith("_")}
        weights = [p for name, p in model.named_parameters() if not name.endswith("bias")]
        return get_class(self.optimizer_cfg["_target_"])(weights, **kwargs)


@register("hooks")
class CountingHook(Hook):
    priority = "HIGH"

    def __init__(self, every: int = 1):
        self.every, self.count = every, 0

    def after_train_iter(self, runner):
        if self.every_n_iters(runner, self.every):
            self.count += 1
            runner.log_buffer.update({"counted": float(self.count)})


@register("logger")
class CsvLogger(LoggerHook):
    """Writes each record as a CSV row of ``columns`` (empty where a record has none)."""

    def __init__(self, filename: str = "records.csv", columns: tuple[str, ...] = ("mode", "epoch", "iter", "loss")):
        self.filename, self.columns = filename, list(columns)
        self._file = None

    def before_run(self, runner):
        import csv

        self._file = open(runner.work_dir / self.filename, "w", newline="")
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore")
        self._writer.writeheader()

    def log(self, runner, record):
        self._writer.writerow(record)

    def after_run(self, runner):
        self._file.close()


@register("hooks")
class WeightNormLimit(Hook):
    """Stops the run once the weights' norm passes ``max_norm``: required, it has no sensible default."""

    def __init__(self, max_norm: float, norm_type: float = 2.0):
        self.max_norm, self.norm_type = max_norm, norm_type

    def after_train_iter(self, runner):
        norm = torch.nn.utils.get_total_norm(runner.model.parameters(), self.norm_type)
        runner.should_stop = runner.should_stop or float(norm) > self.max_norm


class SignalAt(Hook):
    """Sends this process a signal after training iteration ``iter`` (1-based): a preemption.
    With ``rank`` set, only that rank of a distributed run gets it."""

    def __init__(self, iter: int, signal_name: str = "SIGTERM", rank: int | None = None):
        self.at, self.signal_name, self.rank = iter, signal_name, rank

    def after_train_iter(self, runner):
        from hyrun.distributed import rank

        if runner.iter + 1 == self.at and self.rank in (None, rank()):
            import os
            import signal

            os.kill(os.getpid(), getattr(signal, self.signal_name))


class StopAt(Hook):
    """Asks the runner to stop after training iteration ``iter`` (1-based), as a time limit would."""

    def __init__(self, iter: int):
        self.at = iter

    def after_train_iter(self, runner):
        if runner.iter + 1 == self.at:
            runner.should_stop = True


def seen_samples(outputs, targets) -> float:
    """How many samples an evaluation saw."""
    return float(len(targets))


def order_checksum(outputs, targets) -> float:
    """Depends on which sample is where: equal only for the same samples in the same order."""
    return float((targets.double() * torch.arange(1, len(targets) + 1, dtype=torch.float64)).sum())


def macro_f1(outputs, targets) -> float:
    """The mean over the classes present of each class's F1 score."""
    predicted = outputs.argmax(dim=1)
    scores = []
    for label in targets.unique():
        hit = ((predicted == label) & (targets == label)).sum().item()
        wrong = ((predicted == label) & (targets != label)).sum().item()
        missed = ((predicted != label) & (targets == label)).sum().item()
        scores.append(2 * hit / max(1, 2 * hit + wrong + missed))
    return sum(scores) / len(scores)


macro_f1.rule = "greater"  # which way it improves: save_best=macro_f1 needs nothing else
