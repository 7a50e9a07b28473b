"""An MMCV 1.x / MMEngine config with its ``_base_`` files, merged as ``Config.fromfile``
does, each file read as data (``safe_eval``), never run.

``_base_`` (a path or a list of paths, relative to the file) is loaded the same way,
recursively; dicts merge key by key, anything else (lists included) is replaced, a later base
overrides an earlier one, the file overrides its bases, and a dict holding ``_delete_=True``
replaces the inherited one instead of merging into it. ``{{_base_.key}}`` reads the merged
bases. MMEngine's pure-Python configs (``with read_base(): from .._base_.x import *``) take
the base files' names as Python would, then change them with assignments and ``update``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyrun.convert.safe_eval import ConfigParseError, FileSettings, read_file

BASE_KEY, DELETE_KEY = "_base_", "_delete_"

__all__ = ["ConfigParseError", "MMCVConfig", "load_config", "merge"]


@dataclass(frozen=True)
class MMCVConfig:
    settings: dict[str, Any]  # plain data: dicts, lists, tuples, numbers, strings, None
    # names some later line of their file reads (``lr = 0.01`` then ``dict(lr=lr)``): MMCV keeps
    # them as settings too, but their values already went where they were read
    variables: frozenset[str]
    new_style: bool = False  # MMEngine's pure-Python config (with read_base(): ...)


def load_config(path: str | Path) -> MMCVConfig:
    """The config at ``path`` with its ``_base_`` files merged in, ``_delete_`` markers removed."""
    variables: set[str] = set()
    own = _read(Path(path).resolve(), (), variables)
    return MMCVConfig(_without_delete_markers(merge(own.names, own.bases)), frozenset(variables), own.new_style)


def merge(child: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    """``child`` merged over ``parent`` (MMCV's ``_merge_a_into_b``): dicts key by key unless
    the child's says ``_delete_=True``; everything else replaced. Neither input is changed."""
    merged = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and not value.get(DELETE_KEY, False) and isinstance(merged.get(key), dict):
            merged[key] = merge({k: v for k, v in value.items() if k != DELETE_KEY}, merged[key])
        else:
            merged[key] = value
    return merged


def _read(path: Path, chain: tuple[Path, ...], variables: set[str]) -> FileSettings:
    """One file with what its bases gave (``bases``), not yet merged together."""
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ConfigParseError(chain[-1], None, f"_base_ files include each other: {cycle}")
    if not path.is_file():
        where = chain[-1] if chain else path
        raise ConfigParseError(where, None, f"no such config file: {path}")
    if path.suffix != ".py":
        raise ConfigParseError(path, None, "not a Python config (.py); only those are converted")

    def load_bases(bases: Any, line: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for base in _base_paths(bases, path, line):
            merged = merge(_load(base, (*chain, path), variables), merged)
        return merged

    def load_module(module: Path) -> dict[str, Any]:
        return _load(module.resolve(), (*chain, path), variables)

    own = read_file(path, load_bases, load_module)
    variables.update(own.read)
    names = {k: v for k, v in own.names.items() if k != BASE_KEY}
    return FileSettings(names, own.read, own.bases, own.new_style)


def _load(path: Path, chain: tuple[Path, ...], variables: set[str]) -> dict[str, Any]:
    own = _read(path, chain, variables)
    # a _delete_ acts on this file's own bases only: a file inheriting from this one sees none
    return _without_delete_markers(merge(own.names, own.bases))


def _base_paths(bases: Any, path: Path, line: int) -> list[Path]:
    names = [bases] if isinstance(bases, str) else bases
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConfigParseError(path, line, f"_base_ must be a path or a list of paths, got {bases!r}")
    return [(path.parent / name).resolve() for name in names]


def _without_delete_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_delete_markers(v) for k, v in value.items() if k != DELETE_KEY}
    if isinstance(value, (list, tuple)):
        return type(value)(_without_delete_markers(v) for v in value)
    return value
