"""Shapes: small grey images of four shapes (square, circle, triangle, plus sign), each at a
random place, size and brightness, on a noisy background. Made from a seed with NumPy: the
same images on every machine, nothing to download. A shape spans 7 to 11 pixels of the 16.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

CLASSES = ("square", "circle", "triangle", "plus")


def shapes(num_train: int = 2000, num_val: int = 500, size: int = 16, noise: float = 0.2,
           seed: int = 0) -> dict[str, TensorDataset]:
    """``{"train": ..., "val": ...}``: images ``(1, size, size)`` as float32, labels as int64
    (the index into ``CLASSES``); in each split the classes take turns, shuffled."""
    rng = np.random.default_rng(seed)
    return {"train": TensorDataset(*make_images(num_train, size, noise, rng)),
            "val": TensorDataset(*make_images(num_val, size, noise, rng))}


def make_images(n: int, size: int, noise: float, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images and their labels, drawn from ``rng``; ``noise`` is the background's std."""
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    radius = rng.uniform(size * 0.22, size * 0.35, n)[:, None, None]
    cx, cy = (rng.uniform(radius[:, 0, 0] + 1, size - radius[:, 0, 0] - 1)[:, None, None] for _ in range(2))
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = np.abs(x - cx), np.abs(y - cy)
    masks = {
        "square": (dx <= radius * 0.8) & (dy <= radius * 0.8),
        "circle": dx**2 + dy**2 <= radius**2,
        "triangle": (y - cy <= radius * 0.8) & (dx <= (y - cy + radius) * 0.55),
        "plus": ((dx <= radius / 3) & (dy <= radius)) | ((dy <= radius / 3) & (dx <= radius)),
    }
    shape = np.select([labels[:, None, None] == i for i in range(len(CLASSES))], [masks[c] for c in CLASSES])
    brightness = rng.uniform(0.6, 1.0, n)[:, None, None]
    images = shape * brightness + rng.normal(0.0, noise, (n, size, size))
    return (torch.from_numpy(images[:, None].astype(np.float32)),
            torch.from_numpy(labels.astype(np.int64)))
