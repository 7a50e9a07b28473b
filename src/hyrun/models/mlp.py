from __future__ import annotations

from torch import nn


class MLP(nn.Sequential):
    """A small fully connected classifier: flatten -> Linear -> ReLU -> ... -> Linear."""

    def __init__(self, in_features: int = 32, hidden: list[int] | tuple[int, ...] = (64,), num_classes: int = 10):
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)
