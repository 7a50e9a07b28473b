"""Who writes a checkpoint, and when: at once on the training thread (``SyncWriter``), or in
the background (``AsyncWriter``, ``checkpoint_config.async_save=true``).

Both write with ``save_atomic`` (temp file, fsync, rename), so ``latest.pth`` is never torn.
The asynchronous writer takes a host copy of the state on the training thread
(``HostStaging``) and writes it on one background thread; a save that finds the previous one
still in flight waits for it, so at most one is in flight and the copy's buffers are free
again. A save that failed in the background raises its ``CheckpointSaveError`` on the
training thread at the next ``save``, or at ``wait``/``close``.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hyrun.checkpoint import save_atomic
from hyrun.checkpoint_staging import HostStaging, Staged

Then = Callable[[], None]  # what follows a save once its file is on disk (latest.pth, cleanup)


class CheckpointWriter:
    def save(self, state: dict[str, Any], path: Path, then: Then | None = None) -> None:
        """Write ``state`` to ``path``, then call ``then``; may return before the file exists."""
        raise NotImplementedError

    def wait(self) -> None:
        """Until the saves asked for are on disk; raise the error of one that failed."""

    def close(self) -> None:
        """``wait``, and release what the writer holds."""
        self.wait()


class SyncWriter(CheckpointWriter):
    def save(self, state: dict[str, Any], path: Path, then: Then | None = None) -> None:
        save_atomic(state, path)
        if then is not None:
            then()


class AsyncWriter(CheckpointWriter):
    def __init__(self) -> None:
        self._staging = HostStaging()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None

    def save(self, state: dict[str, Any], path: Path, then: Then | None = None) -> None:
        self.wait()  # one save in flight; and the staging buffers are free again
        staged = self._staging.copy(state)
        if self._executor is None:
            # a worker thread that interpreter exit waits for: a run that raises elsewhere
            # still gets its last save written
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hyrun-checkpoint")
        self._pending = self._executor.submit(_write, staged, path, then)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            self._staging = HostStaging()  # the buffers: a checkpoint's size of host memory


def _write(staged: Staged, path: Path, then: Then | None) -> None:
    save_atomic(staged.ready(), path)
    if then is not None:
        then()


def make_writer(async_save: bool) -> CheckpointWriter:
    return AsyncWriter() if async_save else SyncWriter()
