"""The sweeper Hydra instantiates (``hydra/sweeper=hyrun_optuna``); optuna is imported when it
sweeps, and the sampler and pruner are built from their configs then."""
from __future__ import annotations

from typing import Any

from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException, HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException


class SweeperError(CompactHydraException):
    """Printed as its message alone (no traceback unless HYDRA_FULL_ERROR=1), as hyrun's errors."""


class HyrunOptunaSweeper(Sweeper):
    def __init__(self, sampler: Any, pruner: Any, direction: Any, study_name: str | None, storage: str | None,
                 n_trials: int, n_jobs: int, params: DictConfig | None) -> None:
        self.sampler, self.pruner = sampler, pruner
        self.direction = direction
        self.study_name, self.storage = study_name, storage
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.params = params
        self.config: DictConfig | None = None
        self.launcher: Any = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)

    def sweep(self, arguments: list[str]) -> None:
        from ._launch import run_jobs
        from ._report import Report
        from ._study import StudyDriver

        try:
            driver = StudyDriver(self, list(arguments))
        except (ValueError, HydraException, OmegaConfBaseException) as problem:
            # a bad search space, direction, sampler or pruner argument, storage or sweep dir
            raise SweeperError(f"Error in config: {problem}") from None
        driver.report = report = Report(driver, self.n_jobs)
        try:
            run_jobs(driver, self.launcher, max(1, self.n_jobs))
        finally:
            report.finish()
        if driver.exit_code:
            raise SystemExit(driver.exit_code)
