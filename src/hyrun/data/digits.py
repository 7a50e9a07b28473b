"""The 8x8 digits images that scikit-learn ships (1797 images, 10 classes), no download."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset


def _digits_file() -> Path:
    # Read the CSV that scikit-learn ships instead of importing sklearn (1.5 s of start-up).
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the digits data set comes with scikit-learn: pip install scikit-learn")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 (N, 1, 8, 8) scaled to [0, 1], labels as int64 (N,)."""
    table = np.loadtxt(_digits_file(), delimiter=",", dtype=np.float32)
    images = (table[:, :-1] / 16.0).reshape(-1, 1, 8, 8)
    return images, table[:, -1].astype(np.int64)


def digits(val_fraction: float = 0.2, split_seed: int = 0) -> dict[str, TensorDataset]:
    """Train and val splits, drawn once from ``split_seed`` (stratification is not needed:
    the classes are balanced to within 1%)."""
    images, labels = load_digits_arrays()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(split_seed))
    num_val = round(len(labels) * val_fraction)
    x, y = torch.from_numpy(images)[order], torch.from_numpy(labels)[order]
    return {
        "train": TensorDataset(x[num_val:], y[num_val:]),
        "val": TensorDataset(x[:num_val], y[:num_val]),
    }
