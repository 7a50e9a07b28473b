"""torchrun's environment for the tasks of a submitit job (``hydra/launcher=slurm_multi_gpu``,
or any submitit launcher with ``tasks_per_node`` > 1).

SLURM and submitit start one process per task and set their own variables (``SLURM_PROCID``,
...); hyrun joins a process group when it finds torchrun's (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). This Hydra callback, registered in
``conf/hyrun.yaml``, exports them from submitit's at the start of each job process, so the
tasks of a job train as one DDP run. Outside a submitit job of several tasks, or where a
launcher already set them, it does nothing (and imports nothing).
"""
from __future__ import annotations

import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class TorchrunEnvFromSubmitit(Callback):
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if "SUBMITIT_EXECUTOR" not in os.environ or "WORLD_SIZE" in os.environ:
            return
        from submitit.helpers import TorchDistributedEnvironment

        environment = TorchDistributedEnvironment()
        if environment.world_size > 1:
            # every GPU of the node stays visible: hyrun takes cuda:LOCAL_RANK itself
            environment.export(set_cuda_visible_devices=False)
