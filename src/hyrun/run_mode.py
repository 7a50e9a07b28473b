"""One composition instead of two for a plain run.

Before a run, Hydra composes the whole config once only to read ``hydra.mode`` (a config may
set ``MULTIRUN`` to sweep without ``-m``), then composes it again for the run: ~0.1-0.2 s of
every start. hyrun's own configs never set the mode, so when neither the command line nor a
config file on the search path mentions it, the mode is what the command line says and the
first composition is skipped. Anything hyrun cannot read cheaply (a config package of a plugin
on the search path) keeps Hydra's own way.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_SETS_MODE = re.compile(r"^\s*(hydra\.)?mode\s*:\s*['\"]?(MULTIRUN|RUN)\b", re.MULTILINE)
# config packages known to set no mode: Hydra's own, its plugins', hyrun's (a wheel's conf/)
_KNOWN_PACKAGES = ("pkg://hydra.conf", "pkg://hydra_plugins.", "pkg://hyrun.conf")


def skip_mode_composition() -> None:
    """Make ``Hydra.get_mode`` answer from the command line when no config can set the mode."""
    from hydra._internal.hydra import Hydra

    original = Hydra.get_mode
    if getattr(original, "__hyrun__", False):
        return

    def get_mode(self: Any, config_name: str | None, overrides: list[str], *args: Any, **kwargs: Any) -> Any:
        # *args, **kwargs: what a Hydra release adds (1.4: the parsed overrides), passed on
        if any("hydra.mode" in override for override in overrides) or _a_config_may_set_mode(self):
            return original(self, config_name, overrides, *args, **kwargs)
        return None  # Hydra then takes the mode from -m / --multirun

    get_mode.__hyrun__ = True  # type: ignore[attr-defined]
    Hydra.get_mode = get_mode


def _a_config_may_set_mode(hydra: Any) -> bool:
    for element in hydra.config_loader.get_search_path().get_path():
        path = element.path
        if path.startswith("file://") or "://" not in path:  # a folder (the primary config's: no scheme)
            folder = Path(path[len("file://"):] if path.startswith("file://") else path)
            if any(_SETS_MODE.search(_read(file)) for file in folder.rglob("*.yaml")):
                return True
        elif path.startswith("pkg://") and not path.startswith(_KNOWN_PACKAGES):
            return True
        elif not path.startswith(("pkg://", "structured://")):
            return True
    return False


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
