"""The one error a user sees for a bad config (README, "Choosing and overriding"): key, value,
what is allowed; and the one exit status of every config error, hyrun's and Hydra's."""
from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

# a bad config (a value, a key, an option, an override Hydra cannot parse), whoever found it;
# 74 and 75 are a failed checkpoint save and a preemption, 1 an error in the run itself
EXIT_CONFIG_ERROR = 2


class ConfigError(ValueError):
    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: expected {allowed}")


def exit_with(problem: str) -> NoReturn:
    """The command line's way out for a bad config: the message on stderr, ``EXIT_CONFIG_ERROR``."""
    print(f"Error in config: {problem}", file=sys.stderr)
    sys.exit(EXIT_CONFIG_ERROR)


def config_errors_exit_alike() -> None:
    """Hydra's own config errors (an override it cannot parse or merge, an unknown key or
    option, a value of the wrong type) exit with ``EXIT_CONFIG_ERROR`` as hyrun's do, their
    message as Hydra prints it; Hydra exits 1 for them, as for an error in the run. An error
    of the run itself (``InstantiationException`` included: a class that raised; a sweep job's
    ``JobFailed``) is left to Hydra."""
    from hydra._internal import utils
    from hydra.errors import CompactHydraException, InstantiationException
    from omegaconf.errors import OmegaConfBaseException

    from hyrun.job_failure import JobFailed

    hydra_run_and_report = utils.run_and_report
    if getattr(hydra_run_and_report, "hyrun", False):
        return

    def run_and_report(func: Any) -> Any:
        def call() -> Any:
            try:
                return func()
            except CompactHydraException as error:
                if isinstance(error, (InstantiationException, JobFailed)) or os.environ.get("HYDRA_FULL_ERROR") == "1":
                    raise
                sys.stderr.write(str(error) + os.linesep)
                if isinstance(error.__cause__, OmegaConfBaseException):
                    sys.stderr.write(str(error.__cause__) + os.linesep)
                sys.exit(EXIT_CONFIG_ERROR)

        return hydra_run_and_report(call)

    run_and_report.hyrun = True  # type: ignore[attr-defined]
    utils.run_and_report = run_and_report
