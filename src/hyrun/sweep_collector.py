"""A sweep's parent process may never train itself (its launcher runs the jobs elsewhere) and
lives for the whole sweep: the garbage collector that the command line paused for start-up
(``hyrun.collector``) is back on as the sweep starts. A Hydra callback in conf/hyrun.yaml.

Apart from ``hyrun.collector`` because Hydra is imported here, and ``python -m hyrun`` pauses
the collector before it imports Hydra.
"""
from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from hyrun.collector import resume


class ResumeCollectorOnSweep(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        resume()
