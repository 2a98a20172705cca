"""Small 2-D classification problems made on the spot: interleaved spirals and Gaussian blobs.

Each call draws from its own np.random.Generator(seed), so results depend only on the arguments
and NumPy's global random state is never touched.
"""

from __future__ import annotations

import numpy as np


def _class_sizes(n_samples: int, n_classes: int) -> np.ndarray:
    """Split n_samples as evenly as possible; the first n_samples % n_classes get one more."""
    if n_classes < 1 or n_samples < n_classes:
        raise ValueError(f"need n_samples >= n_classes >= 1, got {n_samples} and {n_classes}")
    sizes = np.full(n_classes, n_samples // n_classes)
    sizes[: n_samples % n_classes] += 1
    return sizes


def make_spirals(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Arms of a spiral, one per class (the CS231n toy problem): X (n_samples, 2) float32 with
    radius in [0, 1], y (n_samples,) int64. noise is the std of the angle jitter in radians."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, size in enumerate(_class_sizes(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, size)
        # Each arm turns 4 radians while it leaves the centre; arms start 4 radians apart.
        angle = np.linspace(label * 4.0, (label + 1) * 4.0, size) + noise * rng.standard_normal(
            size
        )
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(size, label, dtype=np.int64))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def make_blobs(
    n_samples: int = 300,
    n_classes: int = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters around centres drawn uniformly in center_box:
    X (n_samples, n_features) float32, y (n_samples,) int64."""
    rng = np.random.default_rng(seed)
    sizes = _class_sizes(n_samples, n_classes)
    centers = rng.uniform(*center_box, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    X = centers[y] + cluster_std * rng.standard_normal((n_samples, n_features))
    if shuffle:
        order = rng.permutation(n_samples)
        X, y = X[order], y[order]
    return X.astype(np.float32), y
