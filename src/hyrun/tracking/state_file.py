"""Small JSON files that the processes of a run or a sweep share (``mlflow_parent_run.json``
in a sweep dir): written whole and renamed into place, read as nothing when absent or torn,
and naming the tracking worker that acts on them (``pid``, ``host``)."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def pid_alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def worker_alive(info: dict[str, Any]) -> bool:
    """Whether the tracking worker a file names (``pid`` on ``host``) still runs. A process on
    another machine (a job of a sweep on SLURM) cannot look up that pid, so it takes the worker
    to be alive and waits for it as long as it may."""
    if info.get("host") not in (None, socket.gethostname()):
        return True
    return pid_alive(info.get("pid"))


def worker_of(info: dict[str, Any]) -> dict[str, Any] | None:
    """The worker a file names (``pid``, ``host``), if any."""
    return {"pid": info["pid"], "host": info.get("host")} if info.get("pid") else None
