"""Database URLs that every process of a sweep reads alike."""
from __future__ import annotations

import os
from pathlib import Path


def absolute_sqlite_url(url: str, base: str | os.PathLike) -> str:
    """``url`` with a relative SQLite path (``sqlite:///sub/x.db``) made absolute against
    ``base``, so that jobs started in other folders (or with another working directory) open the
    same file; any other URL (an absolute path, ``:memory:``, a server) as it is."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path, sep, query = url[len("sqlite:///"):].partition("?")
        if path and path != ":memory:":
            return "sqlite:///" + str((Path(base) / path).resolve()) + sep + query
    return url
