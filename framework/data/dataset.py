"""Datasets: Dataset, IterableDataset, TensorDataset, StackDataset, ConcatDataset, ChainDataset,
Subset and random_split, as in torch.utils.data.

A map-style dataset implements `__getitem__(i)` and `__len__()`. Two optional batch methods
let the DataLoader skip per-sample work:
- `__getitems__(indices)` (PyTorch's): the list of samples at `indices`, still collated;
- `get_batch(indices)` (a framework extension): the *collated* batch itself, exactly what
  `default_collate([self[i] for i in indices])` returns, given `indices` as an int64 array or
  a slice. The DataLoader uses it when collate_fn is the default. TensorDataset has it (one
  fancy index per tensor instead of a Python loop over samples), and Subset passes it through,
  so array-backed datasets load a batch in one indexing operation. A dataset holding arrays
  can define it in two lines. (A subclass that overrides __getitem__ but not get_batch, e.g.
  to add a transform, goes through __getitem__ as it should.)
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings

import numpy as np

from .._backend import xp_of
from .._tensor import Tensor, wrap

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
    "ChainDataset", "Subset", "random_split",
]


class Dataset:
    """A map-style dataset: subclasses implement __getitem__ (and usually __len__)."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses implement __iter__."""

    def __iter__(self):
        raise NotImplementedError("Subclasses of IterableDataset should implement __iter__.")

    def __add__(self, other):
        return ChainDataset([self, other])


def _index_array(indices, like):
    """Batch indices as an index for `like` (slices pass through; lists become int arrays on
    like's device)."""
    if isinstance(indices, slice):
        return indices
    return xp_of(like).asarray(indices)


class TensorDataset(Dataset):
    """Samples are `tuple(t[i] for t in tensors)`; every tensor has the same length along dim 0.

    NumPy arrays are accepted too and wrapped without a copy (a framework convenience)."""

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else wrap(np.asarray(t)) for t in tensors)
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].size(0)

    def get_batch(self, indices):
        """The collated batch at `indices`: [t[indices] for t in tensors] (one copy each)."""
        out = []
        for t in self.tensors:
            a = t._data
            out.append(wrap(a[_index_array(indices, a)] if not isinstance(indices, slice)
                            else a[indices].copy()))
        return out


class StackDataset(Dataset):
    """Samples are tuples (positional datasets) or dicts (keyword datasets) of the datasets'
    samples at the same index."""

    def __init__(self, *args, **kwargs):
        if args:
            if kwargs:
                raise ValueError(
                    "Supported either ``tuple``- (via ``args``) or``dict``- (via ``kwargs``) like "
                    "input/output, but both types are given."
                )
            self._length = len(args[0])
            if any(self._length != len(d) for d in args):
                raise ValueError("Size mismatch between datasets")
            self.datasets = args
        elif kwargs:
            values = list(kwargs.values())
            self._length = len(values[0])
            if any(self._length != len(d) for d in values):
                raise ValueError("Size mismatch between datasets")
            self.datasets = kwargs
        else:
            raise ValueError("At least one dataset should be passed")

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    """The datasets one after another."""

    @staticmethod
    def cumsum(sequence):
        return list(itertools.accumulate(len(e) for e in sequence))

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = self.cumsum(self.datasets)

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class ChainDataset(IterableDataset):
    """Iterable datasets one after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        cls = type(self)
        if cls.__getitem__ is not Subset.__getitem__ and cls.__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{cls.__name__} overrides __getitem__ but not __getitems__. When subclassing "
                "Subset and overriding __getitem__, you must also override __getitems__ to "
                "ensure DataLoader works correctly with your custom logic. A simple "
                "implementation:\n\ndef __getitems__(self, indices):\n    return "
                "[self.__getitem__(idx) for idx in indices]"
            )

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        mapped = [self.indices[i] for i in indices]
        if callable(inner):
            return inner(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self):
        return len(self.indices)

    def __getattr__(self, name):
        # get_batch exists exactly when the wrapped dataset has it (so the DataLoader's
        # fast path applies to Subsets of array-backed datasets, e.g. from random_split)
        inner = self.__dict__.get("dataset")  # (absent while unpickling)
        cls = type(self)
        if (name == "get_batch" and batch_getter(inner) is not None
                and cls.__getitem__ is Subset.__getitem__
                and cls.__getitems__ is Subset.__getitems__):
            return self._get_batch
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _get_batch(self, indices):
        mapping = self.__dict__.get("_index_map")
        if mapping is None or mapping[0] is not self.indices:
            mapping = self._index_map = (self.indices, np.asarray(self.indices, dtype=np.int64))
        return self.dataset.get_batch(mapping[1][indices])


def batch_getter(dataset):
    """dataset.get_batch, if it stands for the dataset's own __getitem__ (a subclass that
    overrides __getitem__, say to add a transform, without its own get_batch gets None)."""
    fn = getattr(dataset, "get_batch", None)
    if not callable(fn):
        return None
    mro = type(dataset).__mro__
    owner = next((c for c in mro if "get_batch" in c.__dict__), None)
    getitem_owner = next((c for c in mro if "__getitem__" in c.__dict__), None)
    if owner is not None and getitem_owner is not None and not issubclass(owner, getitem_owner):
        return None
    return fn


def random_split(dataset, lengths, generator=None):
    """Split into non-overlapping Subsets of the given lengths (or fractions summing to 1),
    in a random order drawn from `generator` (default: framework's default generator)."""
    from ..random import default_generator

    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(int(math.floor(n * frac)))
        for i in range(n - sum(sizes)):  # hand out the remainder round-robin
            sizes[i % len(sizes)] += 1
        lengths = sizes
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.",
                    stacklevel=2,
                )
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    rng = _numpy_rng(generator if generator is not None else default_generator)
    indices = rng.permutation(sum(lengths)).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]


def _numpy_rng(generator):
    """The NumPy Generator behind a framework Generator (or a NumPy Generator given directly)."""
    if isinstance(generator, np.random.Generator):
        return generator
    return generator.numpy_generator()
