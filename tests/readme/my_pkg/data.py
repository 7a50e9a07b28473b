"""README's data option of one's own (``my_conf/data/mine.yaml``): ``my_pkg.data.images``
returns the phases' datasets, (image, label) pairs of 1x8x8 images of 10 classes."""
from __future__ import annotations

import torch
from torch.utils.data import TensorDataset


def images(num_samples: int = 512, seed: int = 0) -> dict[str, TensorDataset]:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (num_samples + 128,), generator=generator)
    pictures = torch.randn(num_samples + 128, 1, 8, 8, generator=generator) + labels.view(-1, 1, 1, 1) / 5
    return {"train": TensorDataset(pictures[:num_samples], labels[:num_samples]),
            "val": TensorDataset(pictures[num_samples:], labels[num_samples:])}
