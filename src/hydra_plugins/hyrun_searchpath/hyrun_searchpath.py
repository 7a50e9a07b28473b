"""hyrun's config groups in any Hydra app that imports hyrun (README "Your own project").

Hydra imports every module under ``hydra_plugins`` when an app starts and lets each
search-path plugin extend the app's config search path. This one appends hyrun's ``conf/``
(after the app's own configs, which therefore win over hyrun's files of the same name) and
registers hyrun's structured configs (the schema, the optimizers, schedules, hooks and
loggers, the ``hyrun.plugins`` entry points) in Hydra's ConfigStore, so that a primary config
with ``defaults: [hyrun, _self_]`` composes with every group and option of hyrun's.

It acts only in a process that has imported ``hyrun`` (a ``train.py`` that calls
``hyrun.train``, the ``hyrun`` command, ``hyrun.compose``): other Hydra apps on the same
interpreter see none of hyrun's groups and pay nothing for them (registering costs ~0.3 s).
"""
from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

PROVIDER = "hyrun"


class HyrunSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if "hyrun" not in sys.modules:
            return
        from hyrun.config.location import config_dir
        from hyrun.config.store import register_configs
        from hyrun.registry import load_plugins

        register_configs()
        load_plugins()
        conf = Path(config_dir())
        if not any(_local_dir(element.path) == conf for element in search_path.get_path()):
            search_path.append(provider=PROVIDER, path=f"file://{conf}")  # not twice for `python -m hyrun`


def _local_dir(path: str | None) -> Path | None:
    if not path or path.startswith(("pkg://", "structured://")):
        return None
    return Path(path.removeprefix("file://")).resolve()
