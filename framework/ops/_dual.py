"""The functions backward formulas call, working on raw arrays or on Tensors.

First-order backward runs the formulas on arrays (fast: no wrappers). With create_graph=True
the engine hands them Tensors instead, and the same lines build a differentiable graph.
Operators (+, *, @, ...) already work on both kinds; this module covers the rest.
"""

from __future__ import annotations

import numpy as np

from .._backend import ARRAY_TYPES, scatter_add_at, xp_of


def is_array(a) -> bool:
    # NumPy scalars count: arithmetic on 0-dim arrays returns them (np.float64, ...)
    return type(a) in ARRAY_TYPES or isinstance(a, np.generic)


def sum_to(g, shape):
    """Undo broadcasting: sum `g` down to `shape` (the one place broadcasting is undone)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    if is_array(g):
        out = g.sum(axis=axes) if axes else g
        # reshape only when needed: a reshaped result is a view, which a leaf would have to copy
        return out if out.shape == shape else out.reshape(shape)
    return (g.sum(dim=axes) if axes else g).reshape(shape)


def broadcast_to(g, shape):
    if g.shape == shape:
        return g
    return np.broadcast_to(g, shape) if type(g) is np.ndarray else (
        xp_of(g).broadcast_to(g, shape) if is_array(g) else g.expand(shape)
    )


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast the gradient of a reduction over `dims` back to the input's `shape`."""
    if not keepdim and dims:
        kept = [1 if i in dims else n for i, n in enumerate(shape)]
        g = g.reshape(tuple(kept))
    return broadcast_to(g, shape)


def permute(g, axes):
    return g.transpose(axes) if is_array(g) else g.permute(axes)


def mT(g):
    """Swap the last two dims."""
    return g.swapaxes(-1, -2) if is_array(g) else g.transpose(-2, -1)


def where(cond, a, b):
    """`cond` is a constant boolean array; `a`, `b` gradients, or 0."""
    if is_array(a) or is_array(b):
        return xp_of(cond).where(cond, a, b)
    from .._tensor import wrap
    from ..ops.arith import where as fwhere

    return fwhere(wrap(cond), a, b)


def zeros_like(g):
    if is_array(g):
        return xp_of(g).zeros_like(g)
    return g.new_zeros(g.shape)


def index_add(shape, index, g):
    """A zero array of `shape` with `g` added at `index` (repeated indices accumulate)."""
    if is_array(g):
        xp = xp_of(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g  # basic indexing selects each element at most once
        else:
            scatter_add_at(xp, out, index, g)
        return out
    from ..ops.indexing import index_scatter

    return index_scatter(g, shape, index)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


def _unary(name):
    def f(a):
        if is_array(a):
            return getattr(xp_of(a), name)(a)
        return getattr(a, name)()

    f.__name__ = name
    return f


exp = _unary("exp")
log = _unary("log")
sin = _unary("sin")
cos = _unary("cos")
sqrt = _unary("sqrt")
tanh = _unary("tanh")
sign = _unary("sign")


def sigmoid(a):
    if is_array(a):
        xp = xp_of(a)
        e = xp.exp(-xp.abs(a))  # exp of a non-positive number never overflows
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
    return a.sigmoid()


# --- added for reductions, joins and indexing (reduce.py, join.py, indexing.py) -------------

absolute = _unary("abs")


def sum_over(g, dims, keepdim=False):
    if is_array(g):
        return g.sum(axis=dims, keepdims=keepdim)
    return g.sum(dim=dims, keepdim=keepdim)


def mean_over(g, dims, keepdim=False):
    if is_array(g):
        return g.mean(axis=dims, keepdims=keepdim)
    return g.mean(dim=dims, keepdim=keepdim)


def put_unique(shape, index, g):
    """A zero array of `shape` with `g` written at `index`, whose positions are all distinct."""
    if is_array(g):
        out = xp_of(g).zeros(shape, dtype=g.dtype)
        out[index] = g
        return out
    from ..ops.indexing import index_scatter

    return index_scatter(g, shape, index)


def flip(g, dims):
    return xp_of(g).flip(g, axis=dims) if is_array(g) else g.flip(dims)


def roll(g, shifts, dims):
    return xp_of(g).roll(g, shifts, axis=dims) if is_array(g) else g.roll(shifts, dims)


def cumsum(g, dim):
    return g.cumsum(axis=dim) if is_array(g) else g.cumsum(dim)


def reverse_cumsum(g, dim):
    """out[i] = sum of g[j] for j >= i along `dim` (the backward of cumsum)."""
    return flip(cumsum(flip(g, (dim,)), dim), (dim,))


def prod_others(x, dim):
    """out[i] = product of x[j] for j != i along `dim`, exact when x holds zeros."""
    if is_array(x):
        xp = xp_of(x)
        head = (slice(None),) * dim
        n = x.shape[dim]
        one = xp.ones_like(x[head + (slice(0, 1),)])

        def exclusive_cumprod(a):  # out[i] = a[0] * ... * a[i-1]
            return xp.cumprod(xp.concatenate([one, a[head + (slice(0, n - 1),)]], axis=dim), axis=dim)

        return exclusive_cumprod(x) * xp.flip(exclusive_cumprod(xp.flip(x, dim)), dim)
    # Tensors (create_graph): row i of an (n, n) stack holds x with x[i] replaced by 1
    xm = x.movedim(dim, -1)
    n = xm.shape[-1]
    rows = xm.unsqueeze(-2).expand(*xm.shape[:-1], n, n)
    eye = xp_of(x._data).eye(n, dtype=bool)
    return where(eye, 1, rows).prod(-1).movedim(-1, dim)


def zeros(shape, like):
    """Zeros of `shape` of the same kind (array or Tensor), dtype and device as `like`."""
    if is_array(like):
        return xp_of(like).zeros(shape, dtype=like.dtype)
    return like.new_zeros(shape)


def cat(parts, dim):
    if is_array(parts[0]):
        return xp_of(parts[0]).concatenate(parts, axis=dim)
    from .join import cat as fcat

    return fcat(parts, dim)


def stack(parts, dim):
    if is_array(parts[0]):
        return xp_of(parts[0]).stack(parts, axis=dim)
    from .join import stack as fstack

    return fstack(parts, dim)
