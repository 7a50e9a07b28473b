"""A hook that kills its own process with SIGKILL (the OOM killer, a lost node), once; hooks
that hold training to put a kill where a test wants it."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from hyrun import Hook


class KillOnce(Hook):
    """SIGKILL this process after training iteration ``at_iter`` (``stage=after_train_iter``),
    while the checkpoint of iteration ``at_iter`` is being taken (``stage=save``), or while
    its file is being written in the background (``stage=writing``, with
    ``checkpoint_config.async_save``: once its temp file has bytes); only on rank ``rank`` and
    only while ``marker`` does not exist (it is made just before, and says what was killed),
    so the resumed run or the restarted attempt trains on."""

    priority = "LOWEST"

    def __init__(self, at_iter: int, marker: str, stage: str = "after_train_iter", rank: int = 0) -> None:
        self.at_iter, self.marker, self.stage, self.rank = at_iter, Path(marker), stage, rank

    def _maybe_die(self, runner, finished: int) -> None:
        if finished == self.at_iter and int(os.environ.get("RANK", "0")) == self.rank and not self.marker.exists():
            what = self._wait_for_the_write(runner) if self.stage == "writing" else "killed"
            self.marker.write_text(what + "\n")
            os.kill(os.getpid(), signal.SIGKILL)

    def _wait_for_the_write(self, runner, timeout_s: float = 30.0) -> str:
        """Until the checkpoint of ``at_iter`` is partly written (this hook runs after the
        checkpoint hook has handed it to its writer)."""
        folder = runner.work_dir / "checkpoints"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for tmp in folder.glob(f".iter_{self.at_iter}.pth.tmp*"):
                try:
                    if tmp.stat().st_size > 0:
                        return f"killed while writing {tmp.name}"
                except FileNotFoundError:  # renamed just now: the write was done
                    pass
            time.sleep(0.001)
        return "killed, the write was not seen"

    def after_train_iter(self, runner) -> None:
        if self.stage in ("after_train_iter", "writing"):
            self._maybe_die(runner, runner.iter + 1)

    def before_save_checkpoint(self, runner, checkpoint) -> None:
        if self.stage == "save":
            self._maybe_die(runner, checkpoint["meta"]["iter"])


class SleepAt(Hook):
    """Holds training iteration ``at_iter`` (1-based) for ``seconds`` before it starts, so that
    a logger's timed flush falls between the iteration before and this one."""

    def __init__(self, at_iter: int, seconds: float) -> None:
        self.at_iter, self.seconds = at_iter, seconds

    def before_train_iter(self, runner) -> None:
        if runner.iter + 1 == self.at_iter:
            time.sleep(self.seconds)


class WaitForMlflowRun(Hook):
    """Holds training after iteration ``at_iter`` until the output dir's ``mlflow_run.json``
    names the run (at most 3 minutes), so that the checkpoints after it carry the run's id."""

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter

    def after_train_iter(self, runner) -> None:
        if runner.iter + 1 != self.at_iter:
            return
        from hyrun.tracking.run_file import FILENAME

        path = Path(runner.work_dir) / FILENAME
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if json.loads(path.read_text()).get("run_id"):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
