"""The framework's data sets, as NumPy arrays: MNIST-1D, MNIST, Fashion-MNIST, CIFAR-10, toy 2-D
problems and character-level text.

This package's top-level name is also that of the Hugging Face `datasets` package. Whichever
comes first on sys.path (or is already in sys.modules) wins `import datasets`, so callers check
`__framework_datasets__` to know they got this one (see tests/test_datasets.py).
"""

# Relative imports below bind to this package's own files whatever else is named `datasets`.
from .download import ChecksumError, DatasetError, DatasetUnavailableError
from .mnist1d import load_mnist1d
from .synthetic import make_blobs, make_spirals
from .text import DEFAULT_TEXT, CharDataset, CharVocab
from .vision import load_cifar10, load_fashion_mnist, load_mnist

__framework_datasets__ = True

__all__ = [
    "DEFAULT_TEXT",
    "CharDataset",
    "CharVocab",
    "ChecksumError",
    "DatasetError",
    "DatasetUnavailableError",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist1d",
    "make_blobs",
    "make_spirals",
]
