"""Periodic checkpoints (MMCV's CheckpointHook): ``checkpoints/epoch_N.pth`` or ``iter_N.pth``
and ``checkpoints/latest.pth``; with ``topk``, the best ``topk`` evaluated weights as
``top_<metric>_epoch_N.pth``, kept as each val record is published.

It stands at ``Order.CHECKPOINT``, after evaluation and the hooks that act on its record, so
a checkpoint holds their state and a resumed run continues exactly (MMCV saves first, at
NORMAL). Only rank 0 writes (``main_process_only``).

With ``async_save`` the periodic saves (and ``latest.pth``) are written in the background
(``hyrun.checkpoint_writer``); top-k files are written at once. A checkpoint that cannot be
written stops the run (``SaveGuard``); nothing more is saved, and ``after_run`` raises its
``CheckpointSaveError``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from hyrun.checkpoint import SaveGuard, link_atomic, remove_stale_temp_files, runner_state, save_atomic
from hyrun.checkpoint_writer import make_writer
from hyrun.direction import GREATER, infer_rule, is_better
from hyrun.hooks.base import Hook
from hyrun.hooks.priority import Order
from hyrun.records import VAL


class CheckpointHook(Hook):
    priority = Order.CHECKPOINT
    main_process_only = True

    def __init__(self, interval: int = 1, by_epoch: bool = True, save_optimizer: bool = True,
                 max_keep_ckpts: int = -1, save_last: bool = True, out_dir: str | None = None,
                 topk: int = 0, topk_metric: str = "accuracy", rule: str | None = None,
                 async_save: bool = False) -> None:
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.out_dir = out_dir
        # the best `topk` evaluations by `topk_metric`: [(score, path)], best first
        self.topk, self.topk_metric = topk, topk_metric
        self.rule = rule or (infer_rule(topk_metric) if topk else None)
        self.top: list[tuple[float, str]] = []
        self.async_save = async_save

    def before_run(self, runner) -> None:
        self.folder = Path(self.out_dir) if self.out_dir else runner.work_dir / "checkpoints"
        self._saved_at: int | None = runner.iter if runner.iter else None
        remove_stale_temp_files(self.folder)
        self.writer = make_writer(self.async_save)
        self.guard = SaveGuard()

    def stages(self) -> list[str]:
        idle = {"after_train_iter" if self.by_epoch else "after_train_epoch"}
        if not self.topk:
            idle.add("after_record")
        return [s for s in super().stages() if s not in idle]

    def after_run(self, runner) -> None:
        """A run stopped early (a signal, a time limit, early stopping) saves where it is,
        mid-epoch too, so that ``resume=auto`` continues exactly. Then every save is awaited:
        the run ends with its checkpoints on disk, or raises the error of one that failed."""
        try:
            if runner.should_stop and not self.guard.failed(runner) and self._saved_at != runner.iter:
                self.save(runner, f"iter_{runner.iter}.pth", epoch=runner.epoch, iter=runner.iter)
        finally:
            self.guard.write(runner, self.writer.close)
        self.guard.raise_error()

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and (self.every_n_epochs(runner, self.interval)
                              or (self.save_last and self.is_last_epoch(runner))):
            # hooks run before the runner counts the epoch that just finished
            self.save(runner, f"epoch_{runner.epoch + 1}.pth", epoch=runner.epoch + 1, iter=runner.iter)

    def after_train_iter(self, runner) -> None:
        if not self.by_epoch and (self.every_n_iters(runner, self.interval)
                                  or (self.save_last and self.is_last_iter(runner))):
            last_of_epoch = runner.inner_iter + 1 == runner.iters_per_epoch
            self.save(runner, f"iter_{runner.iter + 1}.pth", epoch=runner.epoch + last_of_epoch, iter=runner.iter + 1)

    def save(self, runner, filename: str, *, epoch: int, iter: int) -> Path:
        path = self.folder / filename
        if self.guard.failed(runner):
            return path  # the run is stopping: the disk said no already
        state = runner_state(runner, epoch=epoch, iter=iter, save_optimizer=self.save_optimizer)
        logger = runner.logger
        # what max_keep_ckpts drops, counted now, removed once this checkpoint is on disk
        unit, current = ("epoch", runner.epoch + 1) if self.by_epoch else ("iter", runner.iter + 1)

        def saved() -> None:
            link_atomic(path, self.folder / "latest.pth")
            logger.info(f"Saved checkpoint {path}")
            self._remove_old(unit, current)

        self.guard.write(runner, lambda: self.writer.save(state, path, then=saved))
        self._saved_at = iter
        return path

    def after_record(self, runner, record: dict[str, Any]) -> None:
        """An evaluation just published: its weights are the model's now."""
        score = record.get(self.topk_metric)
        if record["mode"] != VAL or score is None:
            return
        if len(self.top) == self.topk and not is_better(self.rule, score, self.top[-1][0]):
            return
        path = self.folder / f"top_{self.topk_metric}_epoch_{record['epoch']}.pth"
        if not self.by_epoch:
            path = self.folder / f"top_{self.topk_metric}_iter_{record['iter']}.pth"
        if self.guard.failed(runner):
            return
        state = runner_state(runner, epoch=runner.epoch, iter=runner.iter, save_optimizer=False)
        if not self.guard.write(runner, lambda: save_atomic(state, path)):
            return
        self.top.append((score, str(path)))
        self.top.sort(key=lambda item: item[0], reverse=self.rule == GREATER)
        for _, dropped in self.top[self.topk:]:
            Path(dropped).unlink(missing_ok=True)
        del self.top[self.topk:]
        runner.logger.info(f"Top {self.topk} by {self.topk_metric}: " + ", ".join(
            f"{Path(p).name} ({s:.4f})" for s, p in self.top))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.topk:
            checkpoint.setdefault("hooks", {})["CheckpointHook"] = {"top": [list(item) for item in self.top]}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get("hooks", {}).get("CheckpointHook")
        if state:
            self.top = [(score, path) for score, path in state["top"]]

    def _remove_old(self, unit: str, current: int) -> None:
        if self.max_keep_ckpts <= 0:
            return
        step = self.interval
        for old in range(current - self.max_keep_ckpts * step, 0, -step):
            path = self.folder / f"{unit}_{old}.pth"
            if not path.exists():
                break
            path.unlink()
