"""Indexing: `x[index]` (basic, negative, None, Ellipsis, integer-array and boolean-mask),
its backward (a scatter that accumulates repeated indices), and `x[index] = value`.
"""

from __future__ import annotations

import numpy as np

from .. import tensor as _t
from .._backend import xp_of
from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Node
from . import _dual as D


def convert_index(index, like):
    """Turn Tensors and lists inside an index into arrays on `like`'s device."""
    if isinstance(index, tuple):
        return tuple(_convert_one(i, like) for i in index)
    return _convert_one(index, like)


def _convert_one(i, like):
    if isinstance(i, _t.Tensor):
        if i._data.ndim == 0 and i._data.dtype.kind in "iu":
            return int(i._data)
        return xp_of(like).asarray(i._data)
    if isinstance(i, (list, np.ndarray)) or type(i).__module__ == "cupy":
        a = xp_of(like).asarray(i)
        if a.dtype.kind == "f":
            raise IndexError(
                "tensors used as indices must be long, int, byte or bool tensors"
            )
        return a
    if isinstance(i, bool) or i is None or i is Ellipsis or isinstance(i, (int, slice)):
        return i
    if isinstance(i, np.integer):
        return int(i)
    raise IndexError(
        f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
        f"valid indices (got {type(i).__name__})"
    )


def _check_bounds(x, index):
    """NumPy's own IndexError is fine in substance; add the shape so users see both sides."""
    try:
        return x[index]
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {list(x.shape)})") from None


class SliceBackward0(Node):
    """Basic indexing (ints, slices, None, Ellipsis): a view of the input."""

    __slots__ = ("x_shape", "index")
    is_view = True

    def forward(self, x, index):
        self.x_shape, self.index = x.shape, index
        return _check_bounds(x, index)

    def backward(self, gy):
        return D.index_add(self.x_shape, self.index, gy)


class IndexBackward0(SliceBackward0):
    """Advanced indexing (integer arrays, masks): a copy; backward accumulates repeats."""

    __slots__ = ()
    is_view = False


def getitem(input, index):
    index = convert_index(index, input._data)
    op = SliceBackward0 if D._is_basic(index) else IndexBackward0
    return _t.apply(op, input, index=index)


class IndexScatterBackward(Node):
    """zeros(shape) with g added at index: the differentiable form of getitem's backward."""

    __slots__ = ("index",)

    def forward(self, g, shape, index):
        self.index = index
        return D.index_add(shape, index, g)

    def backward(self, gy):
        return gy[self.index]


def index_scatter(g, shape, index):
    return _t.apply(IndexScatterBackward, g, shape=shape, index=index)


class IndexPutBackward0(Node):
    """out = x with out[index] = value (out of place; `__setitem__` writes it back)."""

    __slots__ = ("index", "keep", "v_shape")
    inputs = ("self", "values")

    def forward(self, x, value, index):
        xp = xp_of(x)
        out = x.copy()
        out[index] = value
        self.index = index
        self.v_shape = getattr(value, "shape", ())
        keep = xp.ones(x.shape, dtype=bool)
        keep[index] = False
        self.keep = keep
        return out

    def backward(self, gy):
        gx = gy * self.keep if self.needs_input_grad(0) else None
        gv = None
        if self.needs_input_grad(1):
            gv = D.sum_to(gy[self.index], self.v_shape)
        return gx, gv


def setitem(target, index, value):
    index = convert_index(index, target._data)
    if not isinstance(value, _t.Tensor):
        value = _t.wrap(xp_of(target._data).asarray(value, dtype=target._data.dtype))
    inplace(target, lambda src: _t.apply(IndexPutBackward0, src, value, index=index), value)


def inplace(target, compute, *others):
    """Run the out-of-place `compute(src)` and write its result into target's own array.

    When a graph is recorded, `src` is a snapshot of target (a copy carrying its grad_fn), so
    the new node's saved values stay intact; target then takes the node as its grad_fn.
    """
    record = _grad_state.grad_enabled and (
        target._requires_grad or any(isinstance(o, _t.Tensor) and o._requires_grad for o in others)
    )
    if record:
        if target.grad_fn is None and target._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "Wrap the update in `with framework.no_grad():` (as optimizers do), or "
                "operate on a clone."
            )
        src = _t.wrap(target._data.copy())
        src.grad_fn, src._requires_grad = target.grad_fn, target._requires_grad
        src._output_nr = target._output_nr
        result = compute(src)
    else:
        result = compute(target)
    data = result._data
    if data.dtype != target._data.dtype:
        from ..dtypes import from_numpy_dtype

        if from_numpy_dtype(data.dtype)._category > from_numpy_dtype(target._data.dtype)._category:
            raise RuntimeError(
                f"result type {from_numpy_dtype(data.dtype)} can't be cast to the desired output "
                f"type {target.dtype}"
            )
    if data is not target._data:
        target._data[...] = data
    target._bump_version()
    if record:
        target.grad_fn, target._requires_grad, target._output_nr = result.grad_fn, True, 0
    return target
