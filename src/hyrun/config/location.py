"""Where hyrun's configs are, and the names of its two top-level configs.

``conf/`` lives at the root of the repository and ships inside the wheel as ``hyrun/conf``: an
installed hyrun finds it beside its modules, an editable install (``pip install -e .``) at the
root of the checkout, where ``pkg://hyrun.conf`` does not reach it. Hydra apps get it from
hyrun's search-path plugin (``hydra_plugins/hyrun_searchpath``), which asks here.
"""
from __future__ import annotations

from pathlib import Path

HYRUN_CONFIG = "hyrun"  # conf/hyrun.yaml: every group and node, what a project's defaults list starts with
PRIMARY_CONFIG = "config"  # conf/config.yaml: ``python -m hyrun``'s primary config (hyrun + the global patches)


def config_dir() -> str:
    """``conf/``: inside the installed package (wheel), or at the root of a source checkout."""
    packaged = Path(__file__).resolve().parents[1] / "conf"
    if packaged.is_dir():
        return str(packaged)
    return str(Path(__file__).resolve().parents[3] / "conf")
