"""MNIST-1D (Greydanus & Kobak, "Scaling Down Deep Learning with MNIST-1D"), generated in NumPy.

Ten hand-drawn 12-point templates are padded, dilated, scaled, translated, given correlated and
iid noise, sheared and resampled to 40 points. This module replays the reference generator (the
PyPI package `mnist1d`: `make_dataset` with `get_dataset_args()` defaults) draw for draw, so a
seed gives the same benchmark as the reference, with two differences that do not change numbers:
- the reference reseeds NumPy's global RNG; we draw the same legacy stream from a private
  np.random.RandomState, so the caller's global random state is left alone;
- scipy is replaced: interp1d(kind="linear") on 1-D float64 data delegates to np.interp, which we
  call directly, and gaussian_filter(sigma=2) is rebuilt from its kernel and 'reflect' padding.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ._storage import atomic_write, resolve_dir

# The reference's get_dataset_args() defaults.
TEMPLATE_LEN = 12
PADDING = (36, 60)  # zeros appended after a template: uniform integer in [36, 60]
SCALE_COEFF = 0.4
MAX_TRANSLATION = 48
CORR_NOISE_SCALE = 0.25
IID_NOISE_SCALE = 2e-2
SHEAR_SCALE = 0.75
FINAL_SEQ_LENGTH = 40
NUM_CLASSES = 10
DILATED_LEN = TEMPLATE_LEN + PADDING[1]  # every padded template is resampled to this length
# Added to the template before padding so that only padding is exactly zero: the noise mask
# below relies on it (the templates start at 0 by construction).
EPS = 1e-8
CORR_NOISE_SIGMA = 2.0

# The ten digit templates of the paper, one row per class.
_TEMPLATE_POINTS = (
    (5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5),
    (5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5),
    (5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5),
    (5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5),
    (5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5),
    (5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5),
    (5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5),
    (5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5),
)


def templates() -> tuple[np.ndarray, np.ndarray]:
    """The normalised templates x: (10, 12) and their abscissa t: (12,), as in the reference."""
    x = np.array(_TEMPLATE_POINTS, dtype=np.float64)
    # Same in-place steps and order as the reference, so the floats agree bit for bit.
    x -= x.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]  # every signal starts at 0
    return x / 6.0, np.linspace(-5, 5, TEMPLATE_LEN) / 6.0


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear resampling of x: (L,) onto n evenly spaced points spanning the same interval."""
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(x)), x)


def _gaussian_smooth_rows(noise: np.ndarray, sigma: float) -> np.ndarray:
    """scipy.ndimage.gaussian_filter(row, sigma) for each row of noise: (N, L)."""
    radius = int(4.0 * sigma + 0.5)  # scipy's default truncate=4.0
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    kernel = kernel / kernel.sum()
    # scipy's mode="reflect" repeats the edge sample (d c b a | a b c d), NumPy calls it symmetric.
    padded = np.pad(noise, ((0, 0), (radius, radius)), mode="symmetric")
    length = noise.shape[1]

    def window(offset):
        return padded[:, radius + offset : radius + offset + length]

    # Summed in scipy's order for a symmetric kernel (centre first, then mirrored pairs from the
    # outside in), so the result is bit-identical rather than equal to round-off.
    out = window(0) * kernel[radius]
    for offset in range(radius, 0, -1):
        out = out + (window(-offset) + window(offset)) * kernel[radius - offset]
    return out


def generate_mnist1d(seed: int = 42, num_train: int = 4000, num_test: int = 1000) -> dict:
    """Generate MNIST-1D in float64, exactly as the reference does (see module docstring)."""
    num_samples = num_train + num_test
    if num_train < 1 or num_test < 0 or num_samples % NUM_CLASSES:
        raise ValueError(
            f"MNIST-1D draws the same number of examples per class: num_train + num_test must be "
            f"a positive multiple of {NUM_CLASSES}, got {num_train} + {num_test}"
        )
    rng = np.random.RandomState(seed)
    template_x, template_t = templates()
    per_class = num_samples // NUM_CLASSES

    # The random draws, in the reference's order (class by class, sample by sample, then one
    # permutation). Only these calls touch the RNG; the arithmetic afterwards is vectorised.
    low, high = PADDING
    dilated = np.empty((num_samples, DILATED_LEN))
    scale = np.empty(num_samples)
    shift = np.empty(num_samples, dtype=np.int64)
    corr_noise = np.empty((num_samples, DILATED_LEN))
    iid_noise = np.empty((num_samples, DILATED_LEN))
    shear = np.empty(num_samples)
    for i in range(num_samples):
        pad = low + int(rng.rand() * (high - low + 1))
        signal = np.concatenate([template_x[i // per_class] + EPS, np.zeros(pad)])
        dilated[i] = _resample(signal, DILATED_LEN)
        scale[i] = 1 + SCALE_COEFF * (rng.rand() - 0.5)
        shift[i] = rng.choice(MAX_TRANSLATION)
        corr_noise[i] = CORR_NOISE_SCALE * rng.randn(DILATED_LEN)
        iid_noise[i] = IID_NOISE_SCALE * rng.randn(DILATED_LEN)
        shear[i] = SHEAR_SCALE * (rng.rand() - 0.5)
    order = rng.permutation(num_samples)

    x = dilated * scale[:, None]
    # Rotate each row right by its shift: the reference's concatenate([x[-k:], x[:-k]]).
    columns = (np.arange(DILATED_LEN)[None, :] - shift[:, None]) % DILATED_LEN
    x = np.take_along_axis(x, columns, axis=1)
    # Correlated noise fills only the padding (exact zeros); the signal keeps its values.
    mask = x != 0
    x = mask * x + (1 - mask) * _gaussian_smooth_rows(corr_noise, CORR_NOISE_SIGMA)
    x = x + iid_noise
    x = x - shear[:, None] * np.linspace(-0.5, 0.5, DILATED_LEN)
    x = np.stack([_resample(row, FINAL_SEQ_LENGTH) for row in x])

    labels = np.repeat(np.arange(NUM_CLASSES, dtype=np.int64), per_class)
    x, labels = x[order], labels[order]
    t = _resample(_resample(template_t, DILATED_LEN), FINAL_SEQ_LENGTH) / x.std()
    x = (x - x.mean()) / x.std()  # the whole set centred, unit standard deviation
    return {
        "x_train": x[:num_train],
        "y_train": labels[:num_train],
        "x_test": x[num_train:],
        "y_test": labels[num_train:],
        "t": t,
    }


def load_mnist1d(
    cache_dir: str | os.PathLike | None = None,
    seed: int = 42,
    num_train: int = 4000,
    num_test: int = 1000,
    regenerate: bool = False,
) -> dict:
    """MNIST-1D: x_train (num_train, 40) float32, y_train (num_train,) int64, x_test, y_test,
    t (40,) float32 (the signals' abscissa, for plotting).

    Generated on first use (well under a second) and cached as an .npz in cache_dir (default
    $FRAMEWORK_DATA_DIR/mnist1d or ~/.cache/framework/mnist1d); nothing is written elsewhere.
    """
    path = resolve_dir(cache_dir, "mnist1d") / f"mnist1d_seed{seed}_{num_train}_{num_test}.npz"
    if not regenerate:
        cached = _read_cache(path)
        if cached is not None:
            return cached
    data = generate_mnist1d(seed, num_train, num_test)
    data = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in data.items()}
    with atomic_write(path) as f:
        np.savez(f, **data)
    return data


def _read_cache(path) -> dict | None:
    """The cached arrays, or None when the file is missing or unreadable (then we regenerate)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test", "t")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
