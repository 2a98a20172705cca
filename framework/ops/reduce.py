"""Reductions: sum, mean, prod, var/std, max/min/amax/amin, argmax/argmin, logsumexp, norm,
cumsum, and the boolean all/any/count_nonzero (no gradient).

Ops over several dims take `dims` as a sorted tuple of non-negative axes (see `reduce_dims`);
their backward broadcasts the gradient back with `_dual.expand_reduced`.
"""

from __future__ import annotations

import math
import warnings
from collections import namedtuple

import numpy as np

from .. import _tensor as _t
from .._backend import xp_of
from ..autograd.node import Node
from . import _dual as D
from .arith import _as_float, maximum, minimum
from .indexing import along_dim_index


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


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _squeeze(y, dims, keepdim):
    """A keepdims=True reduction result in the requested form."""
    return y if keepdim or not dims else y.squeeze(axis=dims)


def _data(v):
    return v._data if hasattr(v, "_data") else v


def _check_float(name, x):
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"{name} only support floating point and complex dtypes (got {x.dtype}); convert "
            "with .float() first"
        )


def _check_nonempty(name, x, dims):
    for d in dims:
        if x._data.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


# --- sum, mean, prod ---------------------------------------------------------------------------


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
        self.count = _count(x.shape, dims)
        return x.mean(axis=dims, keepdims=keepdim, dtype=dtype)

    def backward(self, gy):
        return D.expand_reduced(gy / self.count, self.x_shape, self.dims, self.keepdim)


class ProdBackward0(Node):
    """Product over one dim, or over all elements (dim=None)."""

    __slots__ = ("x_shape", "dim", "keepdim")
    saves = ("self", "result")

    def forward(self, x, dim, keepdim, dtype=None):
        self.x_shape, self.dim, self.keepdim = x.shape, dim, keepdim
        if dtype is None and x.dtype.kind in "biu":
            dtype = np.int64
        return x.prod(axis=dim, keepdims=keepdim, dtype=dtype)

    def backward(self, gy):
        x, y = self.saved()
        shape, dim, keepdim = self.x_shape, self.dim, self.keepdim
        if dim is None:  # all elements: the one-dim case on the flattened input
            x, shape, dim, keepdim = x.reshape(-1), (math.prod(shape),), 0, False
        if not (_data(x) == 0).any():
            gx = D.expand_reduced(gy * y, shape, (dim,), keepdim) / x
        else:  # y / x is 0 / 0 at a zero: multiply the other elements instead
            gx = D.expand_reduced(gy, shape, (dim,), keepdim) * D.prod_others(x, dim)
        return gx.reshape(self.x_shape)


class SumBackward1(SumBackward0):
    __slots__ = ()


class MeanBackward1(MeanBackward0):
    __slots__ = ()


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    """Sum over `dim` (int, tuple, or None for all elements)."""
    from ..dtypes import to_np

    dims = reduce_dims(dim, input._data.ndim)
    op = SumBackward0 if dim is None else SumBackward1  # PyTorch's names for the two overloads
    return _t.apply(op, input, dims=dims, keepdim=keepdim, dtype=to_np(dtype))


def mean(input, dim=None, keepdim=False, *, dtype=None):
    from ..dtypes import to_np

    dims = reduce_dims(dim, input._data.ndim)
    op = MeanBackward0 if dim is None else MeanBackward1
    return _t.apply(op, input, dims=dims, keepdim=keepdim, dtype=to_np(dtype))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or over one `dim` (an int, as PyTorch)."""
    from ..dtypes import to_np

    if dim is not None:
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
        dim = _t._canon_dim(dim, input._data.ndim)
        if input._data.ndim == 0:
            dim = None
    return _t.apply(ProdBackward0, input, dim=dim, keepdim=keepdim, dtype=to_np(dtype))


# --- var, std ----------------------------------------------------------------------------------


class VarBackward0(Node):
    __slots__ = ("x_shape", "dims", "keepdim", "dof")
    saves = ("self",)

    def forward(self, x, dims, keepdim, correction):
        self.x_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        self.dof = _dof(x.shape, dims, correction)
        d = x - x.mean(axis=dims, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # dof 0 gives inf/nan, as PyTorch
            return (d * d).sum(axis=dims, keepdims=keepdim) / self.dof

    def backward(self, gy):
        (x,) = self.saved()
        scale = 2 / self.dof if self.dof else math.inf
        g = D.expand_reduced(gy * scale, self.x_shape, self.dims, self.keepdim)
        return g * (x - D.mean_over(x, self.dims, True))


class StdBackward0(VarBackward0):
    __slots__ = ()
    saves = ("self", "result")

    def forward(self, x, dims, keepdim, correction):
        return xp_of(x).sqrt(super().forward(x, dims, keepdim, correction))

    def backward(self, gy):
        x, y = self.saved()
        # d std = d var / (2 std); PyTorch takes it as 0 where std == 0 (a constant input)
        zero = _data(y) == 0
        g = D.where(zero, 0, gy / D.where(zero, 1, y))
        scale = 1 / self.dof if self.dof else math.inf
        g = D.expand_reduced(g * scale, self.x_shape, self.dims, self.keepdim)
        return g * (x - D.mean_over(x, self.dims, True))


def _dof(shape, dims, correction):
    dof = _count(shape, dims) - correction
    if dof <= 0:
        warnings.warn(
            "var(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=4,
        )
        return 0
    return dof


def _var_args(name, input, dim, unbiased, keepdim, correction):
    _check_float("std and var", input)
    if isinstance(dim, bool):  # var(x, True): the legacy (input, unbiased) form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): pass either unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None else int(unbiased)
    return dict(dims=reduce_dims(dim, input._data.ndim), keepdim=keepdim, correction=correction)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over `dim` with Bessel's correction by default (correction=1)."""
    return _t.apply(VarBackward0, input, **_var_args("var", input, dim, unbiased, keepdim, correction))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _t.apply(StdBackward0, input, **_var_args("std", input, dim, unbiased, keepdim, correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over `dim`."""
    v = var(input, dim, unbiased, keepdim, correction=correction)
    return v, mean(input, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    s = std(input, dim, unbiased, keepdim, correction=correction)
    return s, mean(input, None if isinstance(dim, bool) else dim, keepdim)


# --- max, min, amax, amin, argmax, argmin --------------------------------------------------------


def _return_type(name):
    """PyTorch's torch.return_types.<name>: a (values, indices) named tuple."""
    cls = namedtuple(name, ("values", "indices"))
    cls.__module__ = "framework.return_types"
    cls.__repr__ = lambda self: (
        f"framework.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    )
    return cls


max_return, min_return = _return_type("max"), _return_type("min")


class AmaxBackward0(Node):
    """Largest values over dims; tied elements share the gradient evenly, as PyTorch."""

    __slots__ = ("x_shape", "dims", "keepdim")
    saves = ("self", "result")
    _reduce = "max"

    def forward(self, x, dims, keepdim):
        self.x_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        return getattr(x, self._reduce)(axis=dims, keepdims=keepdim)

    def backward(self, gy):
        x, y = (_data(v) for v in self.saved())
        ties = x == D.expand_reduced(y, self.x_shape, self.dims, self.keepdim)
        share = (ties / ties.sum(axis=self.dims, keepdims=True)).astype(x.dtype)
        return D.expand_reduced(gy, self.x_shape, self.dims, self.keepdim) * share


class AminBackward0(AmaxBackward0):
    __slots__ = ()
    _reduce = "min"


class MaxBackward1(AmaxBackward0):  # max(input): the whole tensor
    __slots__ = ()


class MinBackward1(AminBackward0):
    __slots__ = ()


class MaxBackward0(Node):
    """max(input, dim): the values at `index` (argmax, kept dims); gradient goes there only."""

    __slots__ = ("x_shape", "dim", "keepdim", "index")

    def forward(self, x, dim, keepdim, index):
        self.x_shape, self.dim, self.keepdim, self.index = x.shape, dim, keepdim, index
        y = xp_of(x).take_along_axis(x, index, axis=dim)
        return y if keepdim else y.squeeze(axis=dim)

    def backward(self, gy):
        if not self.keepdim:
            gy = gy.reshape(self.index.shape)
        return D.put_unique(self.x_shape, along_dim_index(self.index, self.dim), gy)


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _values_indices(input, dim, keepdim, op, arg, result_type):
    if input._data.ndim == 0:  # a 0-dim tensor is its own max along dim 0 (or -1)
        _t._canon_dim(dim, 0)
        values, indices = _values_indices(input.reshape(1), 0, False, op, arg, result_type)
        return result_type(values.reshape(()), indices.reshape(()))
    d = _t._canon_dim(dim, input._data.ndim)
    _check_nonempty(arg[3:], input, (d,))
    x = input._data
    index = getattr(xp_of(x), arg)(x, axis=d, keepdims=True)
    values = _t.apply(op, input, dim=d, keepdim=keepdim, index=index)
    return result_type(values, _t.wrap(index if keepdim else index.squeeze(axis=d)))


def _whole(input, op, name):
    if input._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
            "the reduction dim with the 'dim' argument."
        )
    return _t.apply(op, input, dims=tuple(range(input._data.ndim)), keepdim=False)


def max(input, dim=None, keepdim=False):  # noqa: A001
    """max(x): the largest element; max(x, dim): (values, indices); max(x, other): maximum."""
    if isinstance(dim, _t.Tensor):
        return maximum(input, dim)
    if dim is None:
        return _whole(input, MaxBackward1, "max")
    return _values_indices(input, dim, keepdim, MaxBackward0, "argmax", max_return)


def min(input, dim=None, keepdim=False):  # noqa: A001
    if isinstance(dim, _t.Tensor):
        return minimum(input, dim)
    if dim is None:
        return _whole(input, MinBackward1, "min")
    return _values_indices(input, dim, keepdim, MinBackward0, "argmin", min_return)


def amax(input, dim=(), keepdim=False):
    """Largest values over `dim` (int or tuple; () for all)."""
    dims = reduce_dims(dim, input._data.ndim)
    _check_nonempty("amax", input, dims)
    return _t.apply(AmaxBackward0, input, dims=dims, keepdim=keepdim)


def amin(input, dim=(), keepdim=False):
    dims = reduce_dims(dim, input._data.ndim)
    _check_nonempty("amin", input, dims)
    return _t.apply(AminBackward0, input, dims=dims, keepdim=keepdim)


def _arg(name, input, dim, keepdim):
    x = input._data
    fn = getattr(xp_of(x), name)
    if dim is None:
        if x.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
            )
        i = fn(x)
        return _t.wrap(xp_of(x).asarray(i, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    d = _t._canon_dim(dim, x.ndim)
    if x.ndim == 0:
        return _t.wrap(xp_of(x).zeros((), dtype=np.int64))
    _check_nonempty(name, input, (d,))
    return _t.wrap(fn(x, axis=d, keepdims=keepdim).astype(np.int64, copy=False))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor if dim is None)."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim)


# --- logsumexp, norm, cumsum -------------------------------------------------------------------


class LogsumexpBackward0(Node):
    __slots__ = ("x_shape", "dims", "keepdim")
    saves = ("self", "result")

    def forward(self, x, dims, keepdim):
        self.x_shape, self.dims, self.keepdim = x.shape, dims, keepdim
        x = _as_float(x)
        xp = xp_of(x)
        # stable: subtract the max before exp (skipped where it is infinite, e.g. all -inf)
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):  # log(0) = -inf for all -inf rows, as PyTorch
            y = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        return _squeeze(y, dims, keepdim)

    def backward(self, gy):
        x, y = self.saved()
        expand = D.expand_reduced
        return expand(gy, self.x_shape, self.dims, self.keepdim) * D.exp(
            x - expand(y, self.x_shape, self.dims, self.keepdim)
        )


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed without overflow."""
    dims = reduce_dims(dim, input._data.ndim)
    _check_nonempty("logsumexp", input, dims)
    return _t.apply(LogsumexpBackward0, input, dims=dims, keepdim=keepdim)


class NormBackward1(Node):
    """The vector p-norm over dims: p = 2 (default), 1, inf, -inf, 0, or any other number."""

    __slots__ = ("p", "x_shape", "dims", "keepdim")
    saves = ("self", "result")

    def forward(self, x, p, dims, keepdim):
        self.p, self.x_shape, self.dims, self.keepdim = p, x.shape, dims, keepdim
        xp = xp_of(x)
        if p == 2:
            return xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
        a = xp.abs(x)
        if p == 1:
            return a.sum(axis=dims, keepdims=keepdim)
        if p == math.inf:
            return a.max(axis=dims, keepdims=keepdim)
        if p == -math.inf:
            return a.min(axis=dims, keepdims=keepdim)
        if p == 0:
            return (x != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype)
        return (a**p).sum(axis=dims, keepdims=keepdim) ** (1 / p)

    def backward(self, gy):
        x, y = self.saved()
        p, expand = self.p, D.expand_reduced
        args = (self.x_shape, self.dims, self.keepdim)
        if p == 0:
            return D.zeros_like(x)
        if p == 1:
            return expand(gy, *args) * D.sign(x)
        if p in (math.inf, -math.inf):  # |x| at the max (min): ties share evenly, as PyTorch
            xd = _data(x)
            ties = xp_of(xd).abs(xd) == expand(_data(y), *args)
            share = (ties / ties.sum(axis=self.dims, keepdims=True)).astype(xd.dtype)
            return expand(gy, *args) * (D.sign(x) * share)
        # x |x|^(p-2) / norm^(p-1), taken as 0 where the norm is 0 (PyTorch does the same)
        zero = _data(y) == 0
        g = D.where(zero, 0, gy / D.where(zero, 1, y if p == 2 else y ** (p - 1)))
        if p == 2:
            return expand(g, *args) * x
        return expand(g, *args) * (x * D.absolute(x) ** (p - 2))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over `dim` (all elements if None); 'fro' is the 2-norm."""
    if input._data.dtype.kind not in "fc":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{input.dtype}; convert with .float() first"
        )
    if p is None or p == "fro":
        p = 2
    elif isinstance(p, str):
        raise RuntimeError(
            f"norm(): p={p!r} is not supported; use a number, inf, -inf or 'fro' (matrix norms "
            "such as 'nuc' need an SVD, which this framework does not have)"
        )
    if dtype is not None:
        input = input.to(dtype)
    dims = reduce_dims(dim, input._data.ndim)
    return _t.apply(NormBackward1, input, p=p, dims=dims, keepdim=keepdim)


class CumsumBackward0(Node):
    __slots__ = ("dim",)

    def forward(self, x, dim, dtype=None):
        self.dim = dim
        if dtype is None and x.dtype.kind in "biu":
            dtype = np.int64
        return x.cumsum(axis=dim, dtype=dtype)

    def backward(self, gy):
        return D.reverse_cumsum(gy, self.dim)


def cumsum(input, dim, *, dtype=None):
    """Running sum along `dim`."""
    from ..dtypes import to_np

    d = _t._canon_dim(dim, input._data.ndim)
    if input._data.ndim == 0:
        return cumsum(input.reshape(1), 0, dtype=dtype).reshape(())
    return _t.apply(CumsumBackward0, input, dim=d, dtype=to_np(dtype))


# --- boolean reductions (no gradient) ----------------------------------------------------------


def all(input, dim=None, keepdim=False):  # noqa: A001
    """True where every element over `dim` is nonzero."""
    dims = reduce_dims(dim, input._data.ndim)
    return _t.wrap(xp_of(input._data).all(input._data, axis=dims, keepdims=keepdim))


def any(input, dim=None, keepdim=False):  # noqa: A001
    dims = reduce_dims(dim, input._data.ndim)
    return _t.wrap(xp_of(input._data).any(input._data, axis=dims, keepdims=keepdim))


def count_nonzero(input, dim=None):
    dims = reduce_dims(dim, input._data.ndim)
    return _t.wrap((input._data != 0).sum(axis=dims).astype(np.int64, copy=False))
