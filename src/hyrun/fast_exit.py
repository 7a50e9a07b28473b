"""Ending the ``hyrun`` process without the interpreter's teardown.

Once torch is loaded, Python's own shut-down (clearing every module, collecting what they
hold) takes 1-2 s of a short run's wall time and does nothing a user needs. The command line
therefore ends the way the interpreter would up to that point: it waits for the threads that
are still working (a checkpoint being written), runs the ``atexit`` handlers (MLflow's, the
launchers', a user's), flushes the logs and the console, and then leaves at once with the
exit status. ``HYRUN_FAST_EXIT=0`` keeps the full teardown.
"""
from __future__ import annotations

import atexit
import logging
import os
import sys
import threading

ENV = "HYRUN_FAST_EXIT"


def exit_now(status: int | str | None) -> None:
    """Leave the process with ``status`` (as ``sys.exit`` reads it) after what must run has run."""
    if os.environ.get(ENV, "1") == "0":
        sys.exit(status)
    # what the interpreter does first at exit: thread pools' exit hooks (concurrent.futures
    # stops its workers there), then a join of every non-daemon thread
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    logging.shutdown()
    if isinstance(status, str):  # sys.exit("message"): printed, status 1
        print(status, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: nothing more can reach it
    os._exit(status or 0)
