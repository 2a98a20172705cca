"""MNIST, Fashion-MNIST and CIFAR-10 as NumPy arrays, downloaded on demand and checksummed.

The MD5s are the ones torchvision publishes for the same files.
"""

from __future__ import annotations

import gzip
import os
import tarfile

import numpy as np

from ._storage import resolve_dir
from .download import RemoteFile, Source, ensure_files
from .formats import parse_idx, restricted_unpickle

_IDX_NAMES = {  # role -> file name, identical for MNIST and Fashion-MNIST
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

MNIST_SOURCE = Source(
    title="MNIST",
    subdir="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    files=(
        RemoteFile(_IDX_NAMES["x_train"], "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        RemoteFile(_IDX_NAMES["y_train"], "d53e105ee54ea40749a09fcbcd1e9432"),
        RemoteFile(_IDX_NAMES["x_test"], "9fb629c4189551a2d022fa330f9573f3"),
        RemoteFile(_IDX_NAMES["y_test"], "ec29112dd5afa0611ce80d1b7f02629c"),
    ),
)

FASHION_MNIST_SOURCE = Source(
    title="Fashion-MNIST",
    subdir="fashion_mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files=(
        RemoteFile(_IDX_NAMES["x_train"], "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        RemoteFile(_IDX_NAMES["y_train"], "25c81989df183df01b3e8a0aad5dffbe"),
        RemoteFile(_IDX_NAMES["x_test"], "bef4ecab320f06d8554ea6380940ec79"),
        RemoteFile(_IDX_NAMES["y_test"], "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
)

CIFAR10_SOURCE = Source(
    title="CIFAR-10",
    subdir="cifar10",
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    files=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
)
CIFAR10_TRAIN_BATCHES = tuple(f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCHES = ("cifar-10-batches-py/test_batch",)


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> dict:
    """MNIST digits: x_train (60000, 28, 28) uint8, y_train (60000,) int64, x_test (10000, 28,
    28) uint8, y_test (10000,) int64. Files live in data_dir (default <data root>/mnist)."""
    # Sources are looked up at call time so that tests can substitute small fixtures.
    return _load_idx_dataset(MNIST_SOURCE, data_dir, download)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None, download: bool = True) -> dict:
    """Fashion-MNIST: keys, shapes and dtypes as load_mnist (default dir <root>/fashion_mnist)."""
    return _load_idx_dataset(FASHION_MNIST_SOURCE, data_dir, download)


def _load_idx_dataset(source: Source, data_dir, download: bool) -> dict:
    paths = ensure_files(source, resolve_dir(data_dir, source.subdir), download)
    arrays = {}
    for role, name in _IDX_NAMES.items():
        with gzip.open(paths[name], "rb") as f:
            arrays[role] = parse_idx(f.read())
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(
                f"{source.title} {split} files disagree: images {x.shape}, labels {y.shape}; "
                "expected (N, H, W) images and (N,) labels"
            )
        arrays[f"y_{split}"] = y.astype(np.int64)
    return arrays


def load_cifar10(data_dir: str | os.PathLike | None = None, download: bool = True) -> dict:
    """CIFAR-10: x_train (50000, 3, 32, 32) uint8, y_train (50000,) int64, x_test (10000, 3, 32,
    32) uint8, y_test (10000,) int64.

    Images are channels-first (N, C, H, W), the layout torch uses after ToTensor (and the order
    of the published rows: 1024 red, then 1024 green, then 1024 blue values). The archive in
    data_dir (default <data root>/cifar10) is read in place, never unpacked to disk, and its
    checksum is verified before any of its pickles is opened.
    """
    source = CIFAR10_SOURCE
    paths = ensure_files(source, resolve_dir(data_dir, source.subdir), download)
    batches = _read_members(
        paths[source.files[0].name], CIFAR10_TRAIN_BATCHES + CIFAR10_TEST_BATCHES
    )
    x_train, y_train = _stack_batches([batches[name] for name in CIFAR10_TRAIN_BATCHES])
    x_test, y_test = _stack_batches([batches[name] for name in CIFAR10_TEST_BATCHES])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _read_members(archive, names: tuple[str, ...]) -> dict[str, dict]:
    """Unpickle the named members of a tar.gz in one sequential pass (gzip cannot seek back)."""
    wanted, batches = set(names), {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.name in wanted and member.isfile():
                batches[member.name] = restricted_unpickle(tar.extractfile(member).read())
    missing = [name for name in names if name not in batches]
    if missing:
        raise ValueError(f"{archive} lacks the CIFAR batches {missing}")
    return batches


def _stack_batches(batches: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate CIFAR batch dicts into x: (N, 3, 32, 32) uint8 and y: (N,) int64."""
    xs, ys = [], []
    for raw_batch in batches:
        # Python 2 str keys come back as str under latin1; tolerate bytes keys too.
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in raw_batch.items()}
        data, labels = batch.get("data"), batch.get("labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
            raise ValueError(f"CIFAR batch 'data' should be a 2-D uint8 array, got {type(data)}")
        if data.shape[1] != 3 * 32 * 32 or not isinstance(labels, list) or len(labels) != len(data):
            raise ValueError(
                f"CIFAR batch holds data {data.shape} and labels {type(labels).__name__}; "
                "expected (N, 3072) and N labels"
            )
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(np.asarray(labels, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)
