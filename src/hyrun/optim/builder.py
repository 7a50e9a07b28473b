"""Build a torch optimizer from a config node shaped like hyrun's ``optimizer``."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn


def build_optimizer(model: nn.Module, cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
    """``cfg`` holds ``_target_`` (the optimizer class) and its keyword arguments."""
    return instantiate(cfg, params=[p for p in model.parameters() if p.requires_grad], _convert_="all")
