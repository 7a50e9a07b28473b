"""Periodic checkpoints (MMCV's CheckpointHook): ``checkpoints/epoch_N.pth`` or ``iter_N.pth``
and ``checkpoints/latest.pth``."""
from __future__ import annotations

from pathlib import Path

from hyrun.checkpoint import link_atomic, remove_stale_temp_files, runner_state, save_atomic
from hyrun.hooks.base import Hook
from hyrun.runner.priority import Priority


class CheckpointHook(Hook):
    priority = Priority.NORMAL

    def __init__(self, interval: int = 1, by_epoch: bool = True, save_optimizer: bool = True,
                 max_keep_ckpts: int = -1, save_last: bool = True, out_dir: str | None = None) -> None:
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.out_dir = out_dir

    def before_run(self, runner) -> None:
        self.folder = Path(self.out_dir) if self.out_dir else runner.work_dir / "checkpoints"
        self._saved_at: int | None = runner.iter if runner.iter else None
        remove_stale_temp_files(self.folder)

    def after_run(self, runner) -> None:
        """A run stopped early (a signal, a time limit, early stopping) saves where it is,
        mid-epoch too, so that ``resume=auto`` continues exactly."""
        if runner.should_stop and self._saved_at != runner.iter:
            self.save(runner, f"iter_{runner.iter}.pth", epoch=runner.epoch, iter=runner.iter)

    def stages(self) -> list[str]:
        skip = "after_train_iter" if self.by_epoch else "after_train_epoch"
        return [s for s in super().stages() if s != skip]

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
        state = runner_state(runner, epoch=epoch, iter=iter, save_optimizer=self.save_optimizer)
        path = self.folder / filename
        save_atomic(state, path)
        link_atomic(path, self.folder / "latest.pth")
        runner.logger.info(f"Saved checkpoint {path}")
        self._saved_at = iter
        self._remove_old(runner)
        return path

    def _remove_old(self, runner) -> None:
        if self.max_keep_ckpts <= 0:
            return
        unit, current = ("epoch", runner.epoch + 1) if self.by_epoch else ("iter", runner.iter + 1)
        step = self.interval
        for old in range(current - self.max_keep_ckpts * step, 0, -step):
            path = self.folder / f"{unit}_{old}.pth"
            if not path.exists():
                break
            path.unlink()
