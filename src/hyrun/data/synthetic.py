"""A learnable synthetic classification problem, for tests and benchmarks."""
from __future__ import annotations

import torch
from torch.utils.data import TensorDataset


def synthetic(
    num_samples: int = 1024,
    in_features: int = 32,
    num_classes: int = 10,
    num_val_samples: int = 256,
    seed: int = 0,
) -> dict[str, TensorDataset]:
    """Gaussian inputs labelled by a fixed random linear teacher (argmax of x @ W), so a model
    can learn it; train and val are drawn from the same teacher."""
    generator = torch.Generator().manual_seed(seed)
    teacher = torch.randn(in_features, num_classes, generator=generator)

    def draw(n: int) -> TensorDataset:
        x = torch.randn(n, in_features, generator=generator)
        return TensorDataset(x, (x @ teacher).argmax(dim=1))

    return {"train": draw(num_samples), "val": draw(num_val_samples)}
