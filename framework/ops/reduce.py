"""Reductions: sum, mean (more join this family: prod, var/std, max/min, logsumexp, norm, ...)."""

from __future__ import annotations

import numpy as np

from .. import tensor as _t
from ..autograd.node import Node
from . import _dual as D


def reduce_dims(dim, ndim):
    """`dim` (None, int, or sequence) as a sorted tuple of non-negative axes (all if None)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(sorted(_t._canon_dim(d, ndim) for d in dim))
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
        return dims
    return (_t._canon_dim(dim, ndim),)


class SumBackward0(Node):
    __slots__ = ("x_shape", "dims", "keepdim")

    def forward(self, x, dims, keepdim, dtype=None):
        self.x_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        if dtype is None and x.dtype.kind in "biu":
            dtype = np.int64  # integer sums widen to int64, as PyTorch
        return x.sum(axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, gy):
        return D.expand_reduced(gy, self.x_shape, self.dims, self.keepdim)


class MeanBackward0(Node):
    __slots__ = ("x_shape", "dims", "keepdim", "count")

    def forward(self, x, dims, keepdim, dtype=None):
        if x.dtype.kind not in "fc" and dtype is None:
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {x.dtype}; convert with .float() first"
            )
        self.x_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        count = 1
        for d in dims:
            count *= x.shape[d]
        self.count = count
        return x.mean(axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, gy):
        return D.expand_reduced(gy / self.count, self.x_shape, self.dims, self.keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    from ..dtypes import to_np

    dims = reduce_dims(dim, input._data.ndim)
    return _t.apply(SumBackward0, input, dims=dims, keepdim=keepdim, dtype=to_np(dtype))


def mean(input, dim=None, keepdim=False, *, dtype=None):
    from ..dtypes import to_np

    dims = reduce_dims(dim, input._data.ndim)
    return _t.apply(MeanBackward0, input, dims=dims, keepdim=keepdim, dtype=to_np(dtype))
