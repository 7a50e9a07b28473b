"""``hyrun.compose``: a config composed in Python as the command line composes it, validated
(README "Your own project").

What the command line does before and after Hydra composes, done here on a list of
overrides: hyrun's options registered (the schema, ``hyrun.plugins`` entry points, the
``custom_imports`` that the overrides and the selected experiment files name), the options of
the multi-select groups checked, and the composed config validated. Each problem raises
``ConfigError`` with the message that the command line prints after ``Error in config:``;
Hydra's own errors (an unknown option of a group, an unknown key, a wrong type) are raised as
Hydra raises them, with the messages it prints.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict

from hyrun.config import location


def compose(overrides: Sequence[str] = (), config_dir: str | os.PathLike[str] | None = None,
            config_name: str | None = None) -> DictConfig:
    """The config that ``python -m hyrun OVERRIDES`` runs, or, with ``config_dir``, the one
    that a Hydra app with ``config_path=config_dir`` composes (a project's own ``configs/``,
    whose primary config lists ``hyrun`` in its defaults), validated.

    ``config_name`` is the primary config's name: ``config`` (hyrun's ``conf/config.yaml``)
    unless given. For hyrun's own config, ``+experiment=NAME`` means ``experiment=NAME``, as on
    the command line. ``hyrun.train`` runs the returned config with the output dir, ``.hydra/``
    and option names of this composition.

    Raises ``ConfigError`` (a bad value, an unknown option of ``hooks`` or ``logger``, a module
    that does not import) and Hydra's exceptions for what Hydra refuses.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from hyrun.config.choices import custom_imports_in, custom_imports_of_patches, select_patches, unknown_choice
    from hyrun.config.store import register_configs
    from hyrun.config.validate import import_custom_modules, validate
    from hyrun.hydra_version import main_kwargs
    from hyrun.outside_hydra import remember_composition
    from hyrun.registry import load_plugins

    own = config_dir is None
    primary_dir = location.config_dir() if own else str(Path(config_dir).resolve())
    overrides = select_patches(overrides) if own else list(overrides)
    config_dirs = [location.config_dir()] if own else [primary_dir, location.config_dir()]
    register_configs()
    load_plugins()
    import_custom_modules(custom_imports_in(overrides) + custom_imports_of_patches(overrides, config_dirs))
    problem = unknown_choice(overrides, config_dirs)
    if problem is not None:
        raise problem
    with initialize_config_dir(config_dir=primary_dir, **main_kwargs()):
        composed = hydra_compose(config_name or location.PRIMARY_CONFIG, overrides=overrides,
                                 return_hydra_config=True)
    cfg = copy.deepcopy(composed)
    with open_dict(cfg):
        del cfg["hydra"]
    validate(cfg)
    remember_composition(cfg, composed)
    return cfg
