"""A tracking worker's settings (the protocol's ``start`` message, typed) and what they make
of the run: its tags, params and artifacts. Plain Python (yaml aside): the starters build
the message with it."""
from __future__ import annotations

import dataclasses
import getpass
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyrun.tracking.params import clip_tag, flatten_params, safe_key
from hyrun.tracking.protocol import RUN, START


@dataclass
class WorkerSettings:
    tracking_uri: str
    role: str = RUN  # protocol.RUN (a training run) | protocol.SWEEP (a sweep's parent run)
    experiment_name: str | None = None
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None  # the composed config (params, config.yaml)
    extra_params: dict[str, Any] | None = None  # params beside the config's (the model summary)
    overrides: list[str] | None = None  # overrides.yaml
    parent_file: str | None = None  # a sweep job: where its parent's id appears; a sweep: the file to write
    system_metrics: bool = False
    cwd: str | None = None  # the launch folder (git commit)
    run_file: str | None = None  # role "run": the output dir's mlflow_run.json (hyrun.tracking.run_file)
    # an earlier attempt's run to continue (hyrun.tracking.continuation): the run's id when the
    # starter knows it (a checkpoint, the sweep's parent file), else the run file's; where it resumed
    continue_run: bool = False
    run_id: str | None = None
    resumed_at_iter: int | None = None
    predecessor: dict[str, Any] | None = None  # the earlier attempt's worker (pid, host): waited for
    # when the run started (s since the epoch: the training's start, the sweep's), the run's
    # start in MLflow (not when the worker, seconds later, made it); a continued run keeps its own
    start_time: float | None = None

    def to_message(self) -> dict[str, Any]:
        return {"op": START, **dataclasses.asdict(self)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> WorkerSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in message.items() if k in known and v is not None}
        return cls(**values)

    @property
    def parent_path(self) -> Path | None:
        return Path(self.parent_file) if self.parent_file else None

    @property
    def run_path(self) -> Path | None:
        return Path(self.run_file) if self.run_file else None


def git_commit(folder: str) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=False,
                             timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def run_params(settings: WorkerSettings) -> tuple[list[tuple[str, str]], list[str]]:
    """(the config's params in order, then the extra ones; the keys whose value was too long for a param)."""
    params, too_long = flatten_params({**(settings.config or {}), **(settings.extra_params or {})})
    return list(params.items()), too_long


def run_tags(settings: WorkerSettings, too_long: list[str]) -> dict[str, str]:
    """The run's tags: MLflow's source and user, the git commit, then the starter's."""
    tags: dict[str, str] = {"mlflow.source.name": "hyrun", "mlflow.source.type": "LOCAL"}
    try:
        tags["mlflow.user"] = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        pass
    commit = git_commit(settings.cwd or os.getcwd())
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if too_long:
        tags["hyrun.params_too_long"] = ",".join(too_long)
    tags.update({str(k): str(v) for k, v in settings.tags.items()})
    return {safe_key(k): clip_tag(v) for k, v in tags.items()}


def run_artifacts(settings: WorkerSettings) -> list[tuple[str, str]]:
    """(name, text) of the run's artifacts: ``config.yaml`` and ``overrides.yaml``."""
    import yaml

    artifacts = []
    if settings.config:
        artifacts.append(("config.yaml", yaml.safe_dump(settings.config, sort_keys=False, allow_unicode=True)))
    if settings.overrides is not None:
        artifacts.append(("overrides.yaml", yaml.safe_dump(list(settings.overrides), allow_unicode=True)))
    return artifacts
