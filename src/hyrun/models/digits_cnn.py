from __future__ import annotations

from torch import nn


class DigitsCNN(nn.Sequential):
    """A small CNN for the 1x8x8 digits images: two 3x3 conv blocks, then a linear head."""

    def __init__(self, channels: int = 32, num_classes: int = 10, dropout: float = 0.1):
        super().__init__(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.BatchNorm2d(2 * channels),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * channels * 16, num_classes),
        )
