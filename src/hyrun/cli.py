"""``python -m hyrun`` / ``hyrun``: compose (Hydra), then one job (``hyrun.job``: validate, build, run).

Only Hydra and the schema are imported at start, so ``--help`` and ``--cfg`` stay fast;
torch comes in when a run is built.
"""
from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from hyrun.config.errors import exit_with
from hyrun.config.location import config_dir
from hyrun.config.store import register_configs
from hyrun.hydra_version import main_kwargs


@hydra.main(config_path=config_dir(), config_name="config", **main_kwargs())
def run(cfg: DictConfig) -> float | dict | None:
    """One job: returns the last evaluated value of the first metric (for sweepers); a trial of
    hyrun's Optuna sweeper returns its outcome (``hyrun.tuning.trial``)."""
    from hyrun.job import train

    return train(cfg)


def prepare() -> None:
    """Before Hydra composes: the schema, plugins and custom_imports registered, the
    multi-select group options checked; under torchrun, ranks other than 0 told to write
    nothing of Hydra's own (rank 0 writes ``.hydra/`` and the log)."""
    from hyrun.config.choices import (
        custom_imports_in,
        custom_imports_of_patches,
        select_patches,
        unknown_choice,
    )

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and int(os.environ.get("RANK", "0")) > 0:
        sys.argv += ["hydra.output_subdir=null", "hydra/job_logging=none"]
    sys.argv[1:] = select_patches(sys.argv[1:])
    from hyrun.config.errors import ConfigError, config_errors_exit_alike
    from hyrun.config.validate import import_custom_modules
    from hyrun.registry import load_plugins

    config_errors_exit_alike()
    register_configs()
    try:
        load_plugins()
        args = sys.argv[1:]
        import_custom_modules(custom_imports_in(args) + custom_imports_of_patches(args, [config_dir()]))
    except ConfigError as error:
        exit_with(str(error))
    problem = unknown_choice(sys.argv[1:], [config_dir()])
    if problem is not None:
        exit_with(str(problem))


def main() -> None:
    from hyrun.collector import pause_for_startup
    from hyrun.fast_exit import exit_now

    pause_for_startup()  # `python -m hyrun` paused it before importing Hydra (hyrun/__main__.py)

    from hyrun.config.choices import custom_imports_in
    from hyrun.run_mode import skip_mode_composition
    from hyrun.trusted_targets import trusting

    try:
        prepare()
        skip_mode_composition()
        with trusting(custom_imports_in(sys.argv[1:])):  # Hydra's callbacks, the job's parts
            run()
    except SystemExit as stop:
        exit_now(stop.code)
    exit_now(0)


if __name__ == "__main__":
    main()
