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
            except AssertionError as error:  # OmegaConf 2.3's, for a key under a null node (2.4 says it)
                problem = _override_under_null(error)
                if problem is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
                    raise
                exit_with(str(problem))

        return hydra_run_and_report(call)

    run_and_report.hyrun = True  # type: ignore[attr-defined]
    utils.run_and_report = run_and_report


def _override_under_null(error: AssertionError) -> ConfigError | None:
    """An override of a key whose parent node is null (``checkpoint_config.interval=500`` after
    ``debug=fast_dev_run`` nulled ``checkpoint_config``) fails inside OmegaConf with a bare
    AssertionError while Hydra applies the overrides; that frame holds the override and the
    config, which name the key and the null node."""
    from omegaconf import OmegaConf

    traceback = error.__traceback__
    while traceback is not None:
        frame = traceback.tb_frame
        if frame.f_code.co_name == "_apply_overrides_to_config" and "override" in frame.f_locals:
            override, cfg = frame.f_locals["override"], frame.f_locals.get("cfg")
            parts = str(override.key_or_group).split(".")
            for depth in range(1, len(parts)):
                parent = ".".join(parts[:depth])
                if cfg is not None and OmegaConf.select(cfg, parent, throw_on_missing=False) is None:
                    return ConfigError(override.key_or_group, override.value(),
                                       f"a key of a node that is set ({parent} is null in this config: set so by a "
                                       f"config file, an option such as debug=fast_dev_run, or the command line)")
            return None
        traceback = traceback.tb_next
    return None
