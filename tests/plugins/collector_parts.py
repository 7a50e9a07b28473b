"""A hook that writes down what Python's garbage collector did before and during a run
(hyrun.collector): whether it is on, how many objects it keeps out of its scans, and how
many full collections the start-up made."""
from __future__ import annotations

import gc
import json

from hyrun import Hook


class CollectorProbe(Hook):
    def before_run(self, runner):
        self._write(runner, "before_run")

    def after_train_iter(self, runner):
        if runner.iter == 1:
            self._write(runner, "iter_1")

    @staticmethod
    def _write(runner, when: str) -> None:
        state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                 "full_collections": gc.get_stats()[2]["collections"]}
        with open(runner.work_dir / "collector.jsonl", "a", encoding="utf-8") as file:
            file.write(json.dumps({"when": when, **state}) + "\n")
