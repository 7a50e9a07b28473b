"""A small CNN for 1-channel images: two 3x3 conv blocks (conv, BatchNorm, ReLU, 2x2 max
pool), then a linear classifier over the pooled feature map (6,900 weights at the defaults)."""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, channels: int = 16, num_classes: int = 4, in_channels: int = 1, image_size: int = 16) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                                 nn.ReLU(inplace=True), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(in_channels, channels), block(channels, 2 * channels))
        self.classifier = nn.Linear(2 * channels * (image_size // 4) ** 2, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images).flatten(1))
