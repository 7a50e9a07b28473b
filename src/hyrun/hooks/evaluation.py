"""Evaluation on the val set with MMCV 1.x's EvalHook rules (``mmcv/runner/hooks/evaluation.py``).

When (MMCV's ``_should_evaluate``, ``current`` = ``runner.epoch`` or ``runner.iter``, the
finished count before the hook's stage):
  start None: after every ``interval``-th epoch/iteration (``(current + 1) % interval == 0``);
  else: after epoch/iteration ``current + 1`` when ``current + 1 >= start`` and
  ``(current + 1 - start) % interval == 0``.
Before training (MMCV's ``before_train_epoch``/``before_train_iter`` with ``initial_flag``):
once, at the first training epoch/iteration a run (or a resumed run) starts, if ``start`` is
set and ``current >= start``, the same test is made with the counts as they are, so
``start=0, interval=1`` evaluates the untrained model, and a run resumed past ``start``
evaluates at once when the test passes (as in MMCV, e.g. not when ``interval`` steps over it).

Best (``save_best``): ``auto`` is the first metric (MMCV: the first key of the results);
``rule`` greater/less, when not given, is the one the metric's entry declares (``rule:
greater``, ``hyrun.metrics``), else inferred from the name as MMCV's ``_init_rule`` does: lower-cased,
an exact match in ``greater_keys`` then in ``less_keys``, then a substring of any greater key,
then of any less key, else ValueError. A new best is a score strictly better than the best so
far (MMCV: ``x > y`` / ``x < y`` from -inf / +inf); it is saved as
``checkpoints/best_<metric>_epoch_N.pth`` (``best_<metric>_iter_N.pth`` by iteration), N the
epochs (iterations) finished when it was evaluated (0 for an evaluation before training; MMCV
names that one after the next epoch), and the previous best file is removed. A score that is
not finite (NaN, inf) never becomes the best (MMCV: NaN never does; +inf would) and is warned
about. The val record of each evaluation holds every metric, then, once there is a best,
``best_<metric>`` (the best score so far) and ``best_checkpoint`` (its path relative to the
work dir, a string). The best score and path are kept in ``runner.meta["hook_msgs"]``
(``best_score``, ``best_ckpt``: the full path, as MMCV) and in every checkpoint under
``hooks.EvalHook`` (the path relative to the work dir).

Under DDP every rank evaluates its share of the val set (rank 0's buffers broadcast first,
so all evaluate one model) and the outputs are gathered: the metrics are those of the whole
set, each sample once, on every rank (so early stopping decides alike everywhere); rank 0
writes the best checkpoint.
"""
from __future__ import annotations

import glob
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from hyrun.checkpoint import SaveGuard, runner_state, save_atomic
from hyrun.config.errors import ConfigError
from hyrun.distributed import broadcast_buffers, gather_strided, is_main
from hyrun.hooks.base import Hook
from hyrun.direction import RULES, is_better, worst
from hyrun.metrics import as_float, build_metrics, metric_rule, undeclared_rule
from hyrun.hooks.priority import Order

class EvalHook(Hook):
    priority = Order.EVALUATE

    def __init__(self, interval: int = 1, start: int | None = None, by_epoch: bool = True,
                 metric: Any = "accuracy", save_best: str | None = None, rule: str | None = None,
                 greater_keys: Sequence[str] | None = None, less_keys: Sequence[str] | None = None,
                 phase: str = "val") -> None:
        # ConfigError (a ValueError) names the config key: validation builds this hook
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ConfigError("evaluation.interval", interval, "an int >= 1")
        if start is not None and start < 0:
            raise ConfigError("evaluation.start", start, "a number >= 0 or null")
        if not isinstance(by_epoch, bool):
            raise TypeError(f"evaluation.by_epoch must be a bool, got {by_epoch!r}")
        if rule is not None and rule not in RULES:
            raise ConfigError("evaluation.rule", rule, "greater or less")
        self.interval, self.start, self.by_epoch, self.phase = interval, start, by_epoch, phase
        self.metrics = build_metrics(metric)
        if save_best is not None and save_best != "auto" and save_best not in self.metrics:
            raise ConfigError("evaluation.save_best", save_best,
                              "auto or one of the evaluated metrics: " + ", ".join(self.metrics))
        # MMCV's key_indicator: 'auto' is the first key of the results, known here up front
        self.save_best = next(iter(self.metrics)) if save_best == "auto" else save_best
        self.rule = rule
        if self.save_best and rule is None:
            try:
                self.rule = metric_rule(self.save_best, metric, greater_keys, less_keys)
            except ValueError:
                raise ConfigError("evaluation.rule", None, undeclared_rule(self.save_best)) from None
        self.best_score: float | None = None
        self.best_path: Path | None = None
        self._initial = True  # MMCV's initial_flag
        self.guard = SaveGuard()  # a best checkpoint that cannot be written stops the run

    def stages(self) -> list[str]:
        unit = "epoch" if self.by_epoch else "iter"  # idle per-iteration calls cost ~0.3 us each
        return [s for s in super().stages() if s.endswith(unit) or not s.endswith(("epoch", "iter"))]

    # -- when (MMCV EvalHook, exactly) -------------------------------------------------
    def before_train_epoch(self, runner) -> None:
        if not (self.by_epoch and self._initial):
            return
        if self.start is not None and runner.epoch >= self.start and self._should_evaluate(runner):
            self._do_evaluate(runner, epoch=runner.epoch, iter=runner.iter, done=runner.epoch)
        self._initial = False

    def before_train_iter(self, runner) -> None:
        if self.by_epoch or not self._initial:
            return
        if self.start is not None and runner.iter >= self.start and self._should_evaluate(runner):
            self._do_evaluate(runner, epoch=runner.epoch, iter=runner.iter, done=runner.iter)
        self._initial = False

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self._should_evaluate(runner):
            # hooks run before the runner counts the epoch that just finished
            self._do_evaluate(runner, epoch=runner.epoch + 1, iter=runner.iter, done=runner.epoch + 1)

    def after_train_iter(self, runner) -> None:
        if not self.by_epoch and self._should_evaluate(runner):
            # record: the epoch in progress (1-based, as train lines); the file: iterations done
            # and epochs done (the current one when this was its last iteration), as CheckpointHook
            last_of_epoch = runner.inner_iter + 1 == runner.iters_per_epoch
            self._do_evaluate(runner, epoch=runner.epoch + 1, iter=runner.iter + 1, done=runner.iter + 1,
                              state_epoch=runner.epoch + last_of_epoch)

    def _should_evaluate(self, runner) -> bool:
        current = runner.epoch if self.by_epoch else runner.iter
        if self.start is None:
            return (self.every_n_epochs if self.by_epoch else self.every_n_iters)(runner, self.interval)
        if current + 1 < self.start:
            return False
        return (current + 1 - self.start) % self.interval == 0

    # -- what ------------------------------------------------------------------------
    def _do_evaluate(self, runner, *, epoch: int, iter: int, done: int, state_epoch: int | None = None) -> None:
        results = self.evaluate(runner)
        record: dict[str, Any] = {"mode": "val", "epoch": epoch, "iter": iter, **results}
        if self.save_best:
            self._save_best(runner, results[self.save_best], done,
                            epoch=epoch if state_epoch is None else state_epoch, iter=iter)
            if self.best_path is not None:
                record[f"best_{self.save_best}"] = self.best_score
                record["best_checkpoint"] = _relative(self.best_path, runner.work_dir)
        runner.publish(record)

    @torch.no_grad()
    def evaluate(self, runner) -> dict[str, float]:
        """Every metric on the whole val set (the model in eval mode, then as it was)."""
        if self.phase not in runner.data_loaders:
            raise KeyError(f"evaluation needs a {self.phase!r} data loader; the runner has "
                           f"{', '.join(runner.data_loaders)}")
        model = runner.model
        loader = runner.data_loaders[self.phase]
        broadcast_buffers(model)
        was_training = model.training
        model.eval()
        outputs, targets = [], []
        try:
            for batch in loader:
                result = runner.val_step(runner.to_device(batch))
                outputs.append(result["outputs"].detach())
                targets.append(result["targets"].detach())
        finally:
            model.train(was_training)
        all_outputs, all_targets = torch.cat(outputs), torch.cat(targets)
        if getattr(getattr(loader, "sampler", None), "num_replicas", 1) > 1:  # dealt out to the ranks
            all_outputs, all_targets = gather_strided(all_outputs), gather_strided(all_targets)
        return {name: as_float(name, metric(all_outputs, all_targets)) for name, metric in self.metrics.items()}

    def _save_best(self, runner, score: float, done: int, *, epoch: int, iter: int) -> None:
        """MMCV's ``_save_ckpt``: a strictly better score becomes the best; its checkpoint
        replaces the previous best file."""
        if not math.isfinite(score):
            runner.logger.warning(f"{self.save_best} is {score}: not finite, not a candidate for the best")
            return
        best = worst(self.rule) if self.best_score is None else self.best_score
        if not is_better(self.rule, score, best):
            return
        unit = "epoch" if self.by_epoch else "iter"
        name = f"best_{self.save_best}_{unit}_{done}.pth"
        folder = runner.work_dir / "checkpoints"
        old = self.best_path
        self.best_score, self.best_path = score, folder / name
        runner.meta.setdefault("hook_msgs", {}).update(best_score=score, best_ckpt=str(self.best_path))
        if not is_main() or self.guard.failed(runner):
            return
        state = runner_state(runner, epoch=epoch, iter=iter)
        if not self.guard.write(runner, lambda: save_atomic(state, self.best_path)):
            return
        if old is not None and old != self.best_path:  # MMCV: os.remove(best_ckpt_path) if it is a file
            old.unlink(missing_ok=True)
        # and any best file left over by a run resumed from a checkpoint older than it
        for path in folder.glob(f"best_{glob.escape(self.save_best)}_{unit}_*.pth"):
            if path != self.best_path and _is_best_name(path.name, self.save_best, unit):
                path.unlink(missing_ok=True)
        runner.logger.info(f"Now best checkpoint is saved as {name}.")
        runner.logger.info(f"Best {self.save_best} is {score:0.4f} at {done} {unit}.")

    def after_run(self, runner) -> None:
        self.guard.raise_error()

    # -- checkpoints -----------------------------------------------------------------
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("hooks", {})["EvalHook"] = {
            "key": self.save_best, "rule": self.rule, "best_score": self.best_score,
            "best_path": _relative(self.best_path, runner.work_dir) if self.best_path is not None else None}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("hooks", {}).get("EvalHook")
        if state is None:  # an MMCV-style checkpoint: meta.hook_msgs
            msgs = checkpoint.get("meta", {}).get("hook_msgs", {})
            state = {"best_score": msgs.get("best_score"), "best_path": msgs.get("best_ckpt")}
        if state.get("key", self.save_best) != self.save_best:
            return  # the best of another metric
        self.best_score = state.get("best_score")
        self.best_path = runner.work_dir / state["best_path"] if state.get("best_path") else None
        if self.save_best and self.best_path is not None:
            runner.meta.setdefault("hook_msgs", {}).update(best_score=self.best_score, best_ckpt=str(self.best_path))


def _relative(path: Path, work_dir: Path) -> str:
    """``path`` as the records give it: relative to the work dir (where metrics.jsonl is)
    when inside it, so that a moved or compared run dir reads the same."""
    try:
        return str(Path(path).relative_to(work_dir))
    except ValueError:
        return str(path)


def _is_best_name(filename: str, key: str, unit: str) -> bool:
    prefix = f"best_{key}_{unit}_"
    return filename.startswith(prefix) and filename.endswith(".pth") and filename[len(prefix):-4].isdigit()
