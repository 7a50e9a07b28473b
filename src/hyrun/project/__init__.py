"""``hyrun-init DIR``: a project of one's own on hyrun, written from ``template/`` (README
"Your own project").

The template is a project that trains as it is: ``train.py`` (``@hydra.main`` calling
``hyrun.train``), ``configs/`` (a primary config built on hyrun's, ``model/``, ``data/``,
``lr_config/``, ``experiment/``), a package with a small CNN and a synthetic image data set,
a test, a README. Its package is named ``project_package`` there; writing it replaces that
name (in paths and text) with the new project's package, and ``project_name`` with the
folder's name.
"""
from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Iterator
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PACKAGE_TOKEN = "project_package"
NAME_TOKEN = "project_name"
RENAMED = {"gitignore": ".gitignore"}  # kept without the dot in hyrun's tree, where git would read it


def package_name(folder: str | Path) -> str:
    """A package name for a project in ``folder``: its name in snake case (``My-Project`` ->
    ``my_project``)."""
    name = re.sub(r"\W+", "_", Path(folder).resolve().name).strip("_").lower()
    return f"project_{name}" if not name or name[0].isdigit() else name


def check_package_name(name: str) -> None:
    """ValueError unless ``name`` can be the project's package without hiding another module."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} is not a Python package name")
    if name in sys.stdlib_module_names or find_spec(name) is not None:
        raise ValueError(f"a module named {name!r} exists already; the project's package would hide it")


def write_project(folder: str | Path, package: str | None = None) -> list[Path]:
    """Write the template into ``folder`` (new, or empty) with its package named ``package``
    (default: ``package_name(folder)``); returns the files written."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not an empty folder")
    package = package or package_name(folder)
    check_package_name(package)
    written: list[Path] = []
    for source, relative in _template_files(resources.files(__name__) / "template", ()):
        parts = [RENAMED.get(part, part.replace(PACKAGE_TOKEN, package)) for part in relative]
        target = folder.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        target.write_text(text.replace(PACKAGE_TOKEN, package).replace(NAME_TOKEN, folder.resolve().name),
                          encoding="utf-8")
        written.append(target)
    return written


def _template_files(node: Traversable, relative: tuple[str, ...]) -> Iterator[tuple[Traversable, tuple[str, ...]]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__" or child.name.endswith(".pyc"):
            continue
        if child.is_dir():
            yield from _template_files(child, (*relative, child.name))
        else:
            yield child, (*relative, child.name)
