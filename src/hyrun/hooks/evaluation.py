"""Evaluation on the val set with MMCV's EvalHook rules (interval, start, by_epoch,
save_best with rule inferred from the metric name)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hyrun.checkpoint import runner_state, save_atomic
from hyrun.hooks.base import Hook
from hyrun.metrics import METRICS
from hyrun.runner.priority import Priority

_GREATER_KEYS = ("acc", "top", "ar@", "auc", "precision", "map", "mdice", "miou", "macc", "aacc")
_LESS_KEYS = ("loss",)


def infer_rule(metric: str) -> str:
    """MMCV's rule: 'less' for loss-like names, 'greater' for accuracy-like names."""
    name = metric.lower()
    if any(key in name for key in _LESS_KEYS):
        return "less"
    if any(key in name for key in _GREATER_KEYS):
        return "greater"
    raise ValueError(f"cannot infer the rule of metric {metric!r}: set evaluation.rule to greater or less")


class EvalHook(Hook):
    priority = Priority.LOW

    def __init__(self, interval: int = 1, start: int | None = None, by_epoch: bool = True,
                 metric: str | Sequence[str] = "accuracy", save_best: str | None = None,
                 rule: str | None = None, phase: str = "val") -> None:
        if start is not None and start < 0:
            raise ValueError(f"evaluation.start must be >= 0, got {start}")
        self.interval, self.start, self.by_epoch, self.phase = interval, start, by_epoch, phase
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        self.save_best = self.metrics[0] if save_best == "auto" else save_best
        self.rule = rule or (infer_rule(self.save_best) if self.save_best else None)
        self.best_score: float | None = None
        self.best_path: Path | None = None
        self._initial = True

    def stages(self) -> list[str]:
        unit = "epoch" if self.by_epoch else "iter"  # idle per-iteration calls cost ~0.3 us each
        return [s for s in super().stages() if s.endswith(unit) or not s.endswith(("epoch", "iter"))]

    # -- when (MMCV EvalHook, exactly) -------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        if self.by_epoch and self._initial:
            if self.start is not None and runner.epoch >= self.start:
                self._evaluate_if_due(runner, epochs_done=runner.epoch)
            self._initial = False

    def before_train_iter(self, runner) -> None:
        if not self.by_epoch and self._initial:
            if self.start is not None and runner.iter >= self.start:
                self._evaluate_if_due(runner, epochs_done=runner.epoch)
            self._initial = False

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch:
            self._evaluate_if_due(runner, epochs_done=runner.epoch + 1)

    def after_train_iter(self, runner) -> None:
        if not self.by_epoch:
            self._evaluate_if_due(runner, epochs_done=runner.epoch + 1, iters_done=runner.iter + 1)

    def should_evaluate(self, runner) -> bool:
        current = runner.epoch if self.by_epoch else runner.iter
        if self.start is None:
            return (self.every_n_epochs if self.by_epoch else self.every_n_iters)(runner, self.interval)
        if current + 1 < self.start:
            return False
        return (current + 1 - self.start) % self.interval == 0

    # -- what ------------------------------------------------------------------------
    def _evaluate_if_due(self, runner, epochs_done: int, iters_done: int | None = None) -> None:
        if not self.should_evaluate(runner):
            return
        results = self.evaluate(runner)
        record = {"mode": "val", "epoch": epochs_done,
                  "iter": runner.iter if iters_done is None else iters_done, **results}
        if self.save_best:
            self._update_best(runner, results, record)
        runner.publish(record)

    @torch.no_grad()
    def evaluate(self, runner) -> dict[str, float]:
        model = runner.model
        was_training = model.training
        model.eval()
        outputs, targets = [], []
        for batch in runner.data_loaders[self.phase]:
            result = runner.val_step(runner.to_device(batch))
            outputs.append(result["outputs"].detach())
            targets.append(result["targets"].detach())
        model.train(was_training)
        all_outputs, all_targets = torch.cat(outputs), torch.cat(targets)
        return {name: METRICS[name](all_outputs, all_targets) for name in self.metrics}

    def _update_best(self, runner, results: dict[str, float], record: dict) -> None:
        score = results[self.save_best]
        improved = self.best_score is None or (
            score > self.best_score if self.rule == "greater" else score < self.best_score)
        if not improved:
            return
        self.best_score = score
        folder = runner.work_dir / "checkpoints"
        if self.best_path is not None:
            self.best_path.unlink(missing_ok=True)
        self.best_path = folder / f"best_{self.save_best}_epoch_{record['epoch']}.pth"
        save_atomic(runner_state(runner, epoch=record["epoch"], iter=record["iter"]), self.best_path)
        record[f"best_{self.save_best}"] = score
        runner.logger.info(f"Best {self.save_best} {score:.4f}: saved {self.best_path}")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("hooks", {})["EvalHook"] = {
            "best_score": self.best_score, "best_path": str(self.best_path) if self.best_path else None}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("hooks", {}).get("EvalHook")
        if state:
            self.best_score = state["best_score"]
            self.best_path = Path(state["best_path"]) if state["best_path"] else None
