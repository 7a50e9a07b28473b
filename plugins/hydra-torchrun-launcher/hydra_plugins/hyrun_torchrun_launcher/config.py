"""``hydra/launcher=torchrun``: the launcher's options (imported by Hydra's plugin scan, so
it imports nothing heavy)."""
from dataclasses import dataclass
from typing import Optional

from hydra.core.config_store import ConfigStore


@dataclass
class TorchrunLauncherConf:
    _target_: str = "hydra_plugins.hyrun_torchrun_launcher.torchrun_launcher.TorchrunLauncher"
    nproc_per_node: int = 1  # processes per job (GPUs of the node, or CPU processes with gloo)
    max_restarts: int = 0  # elastic restarts of a job whose process failed
    monitor_interval: float = 0.1  # seconds between the agent's checks of its processes
    start_method: str = "spawn"  # spawn | fork | forkserver
    log_dir: Optional[str] = None  # each process's stdout/stderr in files here; None: the console


ConfigStore.instance().store(group="hydra/launcher", name="torchrun", node=TorchrunLauncherConf,
                             provider="hyrun_torchrun_launcher")
