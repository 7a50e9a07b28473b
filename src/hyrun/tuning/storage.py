"""Where a study lives, named by one string (``hydra.sweeper.storage``), and how to open it.

- unset (None): a journal file in the sweep dir, ``<sweep dir>/optuna_journal.log``, so that
  the jobs, whatever process or host runs them, can report to their trials;
- a URL (it has ``://``): Optuna's RDB storage, ``sqlite:///study.db``, ``postgresql://...``;
  a relative SQLite path is made absolute against the launch folder, once, so every job opens
  the same file;
- anything else: the path of a journal file (Optuna's ``JournalFileBackend``, relative to the
  launch folder), for a file system that several hosts share, where SQLite's locks fail.

The sweeper resolves the string to a *spec* (``{"url": ...}`` or ``{"journal": path}``) and
hands that to the jobs, which open the same storage with ``open_storage``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hyrun.urls import absolute_sqlite_url

DEFAULT_JOURNAL = "optuna_journal.log"
SQLITE_TIMEOUT_S = 60  # several jobs write intermediate values at once; SQLite makes them wait their turn


def storage_spec(storage: str | None, launch_dir: str | os.PathLike, sweep_dir: str | os.PathLike) -> dict[str, str]:
    """The storage a sweeper's ``storage`` names, with absolute paths (see the module doc)."""
    base = Path(launch_dir)
    if storage is None or str(storage) == "":
        return {"journal": str((base / sweep_dir / DEFAULT_JOURNAL).resolve())}
    storage = str(storage)
    if "://" in storage:
        return {"url": absolute_sqlite_url(storage, base)}
    return {"journal": str((base / storage).resolve())}


def open_storage(spec: dict[str, str]) -> Any:
    """The Optuna storage of a spec (imports optuna)."""
    import optuna

    if "journal" in spec:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(spec["journal"])
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    url = spec["url"]
    engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite:") else None
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def describe(spec: dict[str, str]) -> str:
    """The spec as a user writes it: the URL, or the journal file's path."""
    return spec.get("url") or spec["journal"]
