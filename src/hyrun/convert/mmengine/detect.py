"""Which format a config is written in: MMEngine's has keys MMCV 1.x never had."""
from __future__ import annotations

from typing import Any

MMCV, MMENGINE = "MMCV 1.x", "MMEngine"
# keys only MMEngine's Runner reads (MMCV 1.x's train_cfg is a model's, so it does not count)
MMENGINE_KEYS = ("optim_wrapper", "param_scheduler", "default_hooks", "train_dataloader", "log_processor",
                 "visualizer", "randomness", "env_cfg", "val_evaluator")
_LOOPS = ("EpochBasedTrainLoop", "IterBasedTrainLoop")


def config_format(settings: dict[str, Any], new_style: bool = False) -> str:
    if new_style or any(key in settings for key in MMENGINE_KEYS):
        return MMENGINE
    train_cfg = settings.get("train_cfg")
    if isinstance(train_cfg, dict) and (train_cfg.get("type") in _LOOPS or "max_epochs" in train_cfg
                                        or "max_iters" in train_cfg):
        return MMENGINE
    return MMCV
