"""The tracking worker's job for a sweep's parent run (role "sweep"), started by
``hyrun.tracking.callback.MlflowSweepCallback``: the run itself (tags, ``overrides.yaml``; no
params or metrics), and its state in the sweep's parent file for the jobs' workers to wait
on: ``ready`` with the run's id once it exists, ``failing`` while the store fails before
that, ``ended`` after its end, ``failed`` when it was never made. No training runs beside it,
so it is not paced."""
from __future__ import annotations

import logging
import os
from typing import Any

from hyrun.tracking.job import Job
from hyrun.tracking.state_file import read_json, write_json_atomic

log = logging.getLogger("hyrun.tracking.worker")


class SweepParentJob(Job):
    def run_created(self) -> None:
        self._write_parent("ready", run_id=self.run_id, experiment_id=self.experiment_id)

    def started_failing(self, message: str) -> None:
        if self.run_id is None:
            self._write_parent("failing", error=message)

    def ended(self) -> None:
        self._write_parent("ended", run_id=self.run_id, experiment_id=self.experiment_id)

    def finish(self) -> None:
        if self.run_id is None:
            self._write_parent("failed", error=self.retry.last_error)

    def _write_parent(self, status: str, **fields: Any) -> None:
        path = self.settings.parent_path
        if path is None:
            return
        info = read_json(path) or {}
        info.update(fields, status=status, pid=os.getpid())
        try:
            write_json_atomic(path, info)
        except OSError as error:
            log.error("could not write %s: %s", path, error)
