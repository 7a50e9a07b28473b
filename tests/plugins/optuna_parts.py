"""A hook for the Optuna sweeper's tests: one trial that takes longer than the others."""
from __future__ import annotations

import time

from hyrun import Hook


class SlowTrial(Hook):
    """Sleeps ``seconds`` before training when the job is trial ``number`` of an Optuna study."""

    def __init__(self, number: int, seconds: float):
        self.number, self.seconds = number, seconds

    def before_run(self, runner):
        from hyrun.tuning.trial import current_trial

        trial = current_trial()
        if trial is not None and trial.number == self.number:
            time.sleep(self.seconds)
