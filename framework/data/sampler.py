"""Samplers: which dataset indices to visit, in which order (torch.utils.data's samplers).

Random samplers draw from a framework Generator (or a NumPy Generator); with generator=None
they draw from framework's default generator, so `framework.manual_seed(s)` reproduces the
order, and each new iteration (epoch) draws a fresh permutation, so epochs differ.

The built-in samplers also give their whole epoch as one int64 array (`_index_array`, drawing
exactly what iterating would draw); the DataLoader slices batches from it without building
Python lists of indices.
"""

from __future__ import annotations

import itertools

import numpy as np

from .._tensor import Tensor

__all__ = [
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
]


def _rng(generator):
    """The NumPy Generator to draw from, looked up at draw time (manual_seed replaces it)."""
    if generator is None:
        from ..random import default_generator

        return default_generator.numpy_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    return generator.numpy_generator()


class Sampler:
    """Base class: subclasses implement __iter__ (yielding indices) and usually __len__."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)

    def _index_array(self):
        return None  # in order: the DataLoader takes contiguous slices instead


class RandomSampler(Sampler):
    """A random permutation each epoch; or `num_samples` draws with replacement."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                "num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self):
        n, k = len(self.data_source), self.num_samples
        rng = _rng(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        perms = [rng.permutation(n) for _ in range(k // n)]
        if k % n:
            perms.append(rng.permutation(n)[: k % n])
        return np.concatenate(perms) if len(perms) != 1 else perms[0]

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def _index_array(self):
        perm = _rng(self.generator).permutation(len(self.indices))
        return np.asarray(self.indices, dtype=np.int64)[perm]

    def __iter__(self):
        perm = _rng(self.generator).permutation(len(self.indices)).tolist()  # drawn now
        return (self.indices[i] for i in perm)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights`."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        w = weights.detach().cpu().numpy() if isinstance(weights, Tensor) else weights
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}"
            )
        if not replacement and num_samples > w.size:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _index_array(self):
        p = self.weights / self.weights.sum()
        return _rng(self.generator).choice(p.size, self.num_samples, self.replacement, p)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of batch_size (the last may be shorter
    unless drop_last)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        if self.drop_last:
            yield from (list(b) for b in zip(*[it] * self.batch_size))
            return
        batch = list(itertools.islice(it, self.batch_size))
        while batch:
            yield batch
            batch = list(itertools.islice(it, self.batch_size))

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size

    def _index_batches(self):
        """The epoch's batches as int64 arrays or slices (same order and draws as __iter__),
        or None when the inner sampler isn't one of ours."""
        sampler = self.sampler
        # only a class that defines _index_array itself: a subclass that overrides __iter__
        # alone (a custom order) must take the slow path
        if "_index_array" not in type(sampler).__dict__:
            return None
        n = len(sampler)
        bs = self.batch_size
        stop = n - n % bs if self.drop_last else n
        order = sampler._index_array()
        if order is None:  # sequential
            return (slice(i, min(i + bs, stop)) for i in range(0, stop, bs))
        return (order[i:i + bs] for i in range(0, stop, bs))

