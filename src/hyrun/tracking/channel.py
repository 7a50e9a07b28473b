"""The training process's end of the pipe to a tracking worker.

Writes never block: the worker's stdin is non-blocking, what the pipe cannot take now stays
in a local buffer (bounded; beyond it, a message is dropped and the caller counts it) and goes out at the
next ``send`` or ``pump``. The worker's events (JSON lines on its stdout) are read back the
same way. If the worker cannot start or dies, the channel says so once (``dead_reason``)
and every later call is a no-op.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hyrun.tracking.protocol import SUMMARY, decode, encode

MAX_BACKLOG_BYTES = 64 << 20  # what the pipe cannot take yet, kept here at most
PIPE_SIZE = 1 << 20  # asked of the kernel for the worker's stdin (Linux; the default is 64 KiB)
F_SETPIPE_SZ = 1031


def worker_env(tracking_uri: str) -> dict[str, str]:
    """The worker's environment: hyrun importable, MLflow's own HTTP retries short (the worker
    retries with its own backoff) unless the user set them, no ambient MLFLOW_RUN_ID."""
    import hyrun

    env = dict(os.environ)
    src = str(Path(hyrun.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    env["MLFLOW_TRACKING_URI"] = tracking_uri
    env.pop("MLFLOW_RUN_ID", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class WorkerChannel:
    def __init__(self, start: dict[str, Any], *, cwd: str | os.PathLike, log_path: str | os.PathLike) -> None:
        self.proc: subprocess.Popen | None = None
        self.dead_reason: str | None = None
        self.log_path = Path(log_path)
        self._backlog = bytearray()
        self._inbuf = b""
        self._events: list[dict[str, Any]] = []
        self._closed = False
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "hyrun.tracking.worker"], cwd=str(cwd),
                    env=worker_env(start["tracking_uri"]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=log, start_new_session=True)  # Ctrl-C stops training, not the worker's last flush
            self._stdin = self.proc.stdin.fileno()
            self._stdout = self.proc.stdout.fileno()
            try:
                import fcntl

                fcntl.fcntl(self._stdin, F_SETPIPE_SZ, PIPE_SIZE)
            except (ImportError, OSError):
                pass
            os.set_blocking(self._stdin, False)
            os.set_blocking(self._stdout, False)
        except Exception as error:  # noqa: BLE001 - whatever it is, training goes on
            self.proc = None
            self.dead_reason = f"the tracking worker could not be started ({type(error).__name__}: {error})"
            return
        self.send(start)

    # -- sending ---------------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        return self.dead_reason is None

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def send(self, message: dict[str, Any]) -> bool:
        """Queue ``message`` for the worker and write what the pipe takes now. False (the
        message dropped) when the worker is gone or too far behind."""
        if self.dead_reason is not None or self._closed:
            return False
        data = encode(message)
        if len(self._backlog) + len(data) > MAX_BACKLOG_BYTES:
            return False
        self._backlog += data
        self.pump()
        return True

    def pump(self) -> None:
        """Write as much of the backlog as the pipe takes without waiting."""
        while self._backlog and self.dead_reason is None:
            try:
                written = os.write(self._stdin, self._backlog)
            except BlockingIOError:
                return
            except OSError as error:  # BrokenPipeError: the worker is gone
                self._died(f"the tracking worker stopped reading ({error})")
                return
            del self._backlog[:written]

    # -- what the worker says --------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        """The worker's events since the last call (non-blocking)."""
        self._read_available()
        events, self._events = self._events, []
        if self.dead_reason is None and self.proc is not None and self.proc.poll() is not None:
            self._read_available()
            events += self._events
            self._events = []
            if not any(e.get("event") == SUMMARY for e in events):
                self._died(f"the tracking worker exited with status {self.proc.returncode}")
        return events

    def _read_available(self) -> bool:
        """Read what the worker wrote; True at end of file."""
        if self.proc is None:
            return True
        eof = False
        while True:
            try:
                chunk = os.read(self._stdout, 65536)
            except BlockingIOError:
                break
            except OSError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            self._inbuf += chunk
        *lines, self._inbuf = self._inbuf.split(b"\n")
        for line in lines:
            try:
                event = decode(line)
            except ValueError:
                continue
            if event is not None:
                self._events.append(event)
        return eof

    # -- the end -----------------------------------------------------------------------------
    def finish(self, end: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        """Send ``end``, then wait (at most ``timeout`` s) for the worker to write what is left
        and exit. Returns the events read meanwhile (the last one the worker's summary); a
        worker still running at the deadline is killed."""
        events = self.events()
        if self.proc is None:
            return events
        if self.dead_reason is None:
            self.send(end)
        deadline = time.monotonic() + timeout
        eof = False
        while time.monotonic() < deadline:
            if self._backlog and self.dead_reason is None:
                self.pump()
            if not self._backlog and not self._closed:
                self._close_stdin()
            eof = self._read_available()
            events += self._events
            self._events = []
            if eof:
                break
            wait_for = [self._stdout]
            writers = [self._stdin] if self._backlog and self.dead_reason is None else []
            select.select(wait_for, writers, [], max(0.0, min(0.5, deadline - time.monotonic())))
        self._close_stdin()
        try:
            self.proc.wait(timeout=max(0.5, deadline - time.monotonic()) if eof else 0.5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            if not any(e.get("event") == SUMMARY for e in events):
                self._died(f"the tracking worker did not finish within {timeout:.0f} s and was stopped")
        self._read_available()
        events += self._events
        self._events = []
        if self.dead_reason is None and not any(e.get("event") == SUMMARY for e in events):
            self._died(f"the tracking worker exited with status {self.proc.returncode} without a summary")
        for stream in (self.proc.stdout,):
            try:
                stream.close()
            except OSError:
                pass
        return events

    def abandon(self, timeout: float) -> None:
        """Write the backlog (waiting at most ``timeout`` s) and close the pipe without waiting
        for the worker, which then finishes on its own."""
        deadline = time.monotonic() + timeout
        while self._backlog and self.dead_reason is None and time.monotonic() < deadline:
            self.pump()
            if self._backlog:
                select.select([], [self._stdin], [], max(0.0, min(0.2, deadline - time.monotonic())))
        self._close_stdin()

    def _close_stdin(self) -> None:
        if self._closed or self.proc is None:
            return
        self._closed = True
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def _died(self, reason: str) -> None:
        if self.dead_reason is None:
            self.dead_reason = reason
        self._backlog.clear()

    def log_tail(self, lines: int = 3) -> str:
        """The last lines of the worker's log, for a message."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text[-lines:])

