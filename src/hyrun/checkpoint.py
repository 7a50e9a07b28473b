"""Saving and loading a runner's state: atomic writes, plain tensors and containers only,
so a checkpoint loads with ``torch.load(weights_only=True)``."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

from hyrun.models.wrappers import unwrap_model
from hyrun.seeding import rng_state, set_rng_state

#: the exit status of a run stopped because a checkpoint could not be written (EX_IOERR)
EXIT_SAVE_FAILED = 74
#: ``runner.stop_reason`` of such a run (every rank's, under DDP)
SAVE_FAILED = "checkpoint save failed"


class CheckpointSaveError(Exception):
    """A checkpoint could not be written (disk full, a file-size limit, no permission):
    ``path`` is the checkpoint meant, ``os_error`` what the OS said. The file that was at
    ``path`` before, if any, is untouched, and no temp file is left."""

    def __init__(self, path: str | Path, os_error: OSError) -> None:
        self.path, self.os_error = Path(path), os_error
        super().__init__(f"{self.path}: {describe_os_error(os_error)}")


def describe_os_error(error: OSError) -> str:
    """``[Errno 28] No space left on device``: the OS's words, without the temp file's name."""
    if error.errno is not None and error.strerror:
        return f"[Errno {error.errno}] {error.strerror}"
    return str(error) or type(error).__name__


class SaveGuard:
    """What a hook does with a checkpoint it cannot write: the run is asked to stop after the
    current iteration (``SAVE_FAILED``; under DDP every rank stops there, as for any stop),
    nothing more is saved (``failed``), and the hook's ``after_run`` raises the error
    (``raise_error``) while the run ends, the other hooks' ``after_run`` still called (loggers
    close). The first error is the one kept."""

    def __init__(self) -> None:
        self.error: CheckpointSaveError | None = None

    def failed(self, runner) -> bool:
        """Whether a save of this run failed, this hook's or another's."""
        return self.error is not None or runner.stop_reason == SAVE_FAILED

    def write(self, runner, write: Callable[[], None]) -> bool:
        """Call ``write``; False when it could not write."""
        try:
            write()
            return True
        except CheckpointSaveError as error:
            self.error = self.error or error
            runner.should_stop, runner.stop_reason = True, SAVE_FAILED
            return False

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def runner_state(runner, *, epoch: int, iter: int, save_optimizer: bool = True) -> dict[str, Any]:
    """The checkpoint dict of ``runner``: meta, model weights, optimizer, the random generators,
    the loggers' current window, and what hooks add. ``epoch`` and ``iter`` are the finished
    counts a resumed run starts from (``inner_iter``: those of the epoch left open)."""
    epoch_len = len(runner.data_loaders["train"])
    checkpoint: dict[str, Any] = {
        "meta": {**runner.meta, "epoch": epoch, "iter": iter, "inner_iter": iter - epoch * epoch_len},
        "state_dict": unwrap_model(runner.model).state_dict(),
        "rng": rng_state(),
        "log_buffer": {key: [float(v) for v in values]
                       for key, values in runner.log_buffers["train"].history.items()},
    }
    if save_optimizer and runner.optimizer is not None:
        checkpoint["optimizer"] = runner.optimizer.state_dict()
    runner.call_hook("before_save_checkpoint", checkpoint)
    return checkpoint


def save_atomic(obj: dict[str, Any], path: str | Path) -> None:
    """Write to a temp file, fsync, rename over ``path``, fsync the folder: a crash leaves
    either the old file or the new one, never a truncated file. A write that fails (disk
    full, a file-size limit) removes its temp file and raises ``CheckpointSaveError``."""
    path = Path(path)
    tmp = temp_path(path)
    with _cleaned_up_on_failure(tmp, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            _torch_save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)


def link_atomic(target: str | Path, link: str | Path) -> None:
    """Make ``link`` name the same file as ``target`` (a hard link, no copy), atomically."""
    link = Path(link)
    tmp = temp_path(link)
    with _cleaned_up_on_failure(tmp, link):
        tmp.unlink(missing_ok=True)
        try:
            os.link(target, tmp)
        except OSError:  # file systems without hard links
            import shutil

            shutil.copyfile(target, tmp)
        os.replace(tmp, link)
        _fsync_dir(link.parent)


def temp_path(path: Path) -> Path:
    """Where ``path`` is written before its rename (``remove_stale_temp_files`` knows the name)."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


@contextlib.contextmanager
def _cleaned_up_on_failure(tmp: Path, path: Path):
    try:
        yield
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise CheckpointSaveError(path, error) from error
        raise


class _WriteErrorKept:
    """A file for ``torch.save`` that keeps the first OSError of a write: torch reports a
    failed write as a RuntimeError of its own ("unexpected pos ..."), without the errno."""

    def __init__(self, file: BinaryIO) -> None:
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        self.file.flush()


def _torch_save(obj: dict[str, Any], file: BinaryIO) -> None:
    kept = _WriteErrorKept(file)
    try:
        torch.save(obj, kept)
    except RuntimeError as error:
        if kept.error is not None:
            raise kept.error from error
        raise


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a truncated or foreign file: say which and why, briefly
        raise RuntimeError(f"cannot load checkpoint {path}: {type(error).__name__}: {error}") from error


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: str | Path) -> None:
    """Temp files left by a process killed while saving (the checkpoints themselves are whole)."""
    for path in Path(folder).glob(".*.pth.tmp*"):
        path.unlink(missing_ok=True)


def latest_checkpoint(folder: str | Path) -> Path | None:
    """``latest.pth`` in ``folder`` if present: what ``resume=auto`` continues from."""
    path = Path(folder) / "latest.pth"
    return path if path.is_file() else None


def load_model_state(model: torch.nn.Module, state_dict: dict[str, Any]) -> None:
    """Load weights, strictly but for the ``ema_*`` buffers an EMA hook adds to the model when
    it starts (it restores them itself, from the checkpoint)."""
    own = unwrap_model(model).state_dict().keys()
    unwrap_model(model).load_state_dict({k: v for k, v in state_dict.items() if k in own or not k.startswith("ema_")})


def load_weights(runner, path: str | Path) -> None:
    """``load_from``: the model's weights only; training starts at epoch 0."""
    checkpoint = load_checkpoint(path, runner.device)
    load_model_state(runner.model, checkpoint["state_dict"])
    runner.logger.info(f"Loaded weights from {path}")


def resume(runner, path: str | Path) -> None:
    """``resume``: weights, optimizer, counters, and each hook's state."""
    checkpoint = load_checkpoint(path, runner.device)
    load_model_state(runner.model, checkpoint["state_dict"])
    if "optimizer" in checkpoint and runner.optimizer is not None:
        runner.optimizer.load_state_dict(checkpoint["optimizer"])
    meta = checkpoint["meta"]
    runner.epoch, runner.iter = meta["epoch"], meta["iter"]
    runner.resume_inner_iter = meta.get("inner_iter", 0)
    if "rng" in checkpoint:
        set_rng_state(checkpoint["rng"])
    runner.log_buffers["train"].history = {k: list(v) for k, v in checkpoint.get("log_buffer", {}).items()}
    runner.call_hook("after_load_checkpoint", checkpoint)
    position = f", {runner.resume_inner_iter} iterations into it" if runner.resume_inner_iter else ""
    runner.logger.info(f"Resumed from {path} at epoch {runner.epoch + 1}{position} (iter {runner.iter})")
