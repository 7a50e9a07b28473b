"""What a user's code may leave running when a run ends: an atexit handler and a thread still
writing. The command line's quick exit must let both finish (hyrun.fast_exit)."""
from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path

from hyrun import Hook

atexit.register(lambda: Path("atexit.txt").write_text("ran"))


class LateWriter(Hook):
    """At the end of the run, starts a (non-daemon) thread that writes a file half a second later."""

    def after_run(self, runner):
        def write():
            time.sleep(0.5)
            (runner.work_dir / "late.txt").write_text("written")

        threading.Thread(target=write).start()
