"""Indexing: `x[index]` (basic, negative, None, Ellipsis, integer-array and boolean-mask),
its backward (a scatter that accumulates repeated indices), `x[index] = value`, and the
indexing functions gather, scatter/scatter_add, index_select, masked_fill/masked_select,
take_along_dim and nonzero.
"""

from __future__ import annotations

import numpy as np

from .. import _tensor as _t
from .._backend import is_cupy_array, scatter_add_at, xp_of
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
    if isinstance(i, (list, np.ndarray)) or is_cupy_array(i):
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


class SelectBackward0(SliceBackward0):
    """x[i] with one integer: PyTorch's name for that case."""

    __slots__ = ()


def getitem(input, index):
    index = convert_index(index, input._data)
    if type(index) is int:
        op = SelectBackward0
    else:
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

    __slots__ = ("index", "x_shape", "v_shape")
    inputs = ("self", "values")

    def forward(self, x, value, index):
        out = x.copy()
        out[index] = value
        self.index, self.x_shape, self.v_shape = index, x.shape, getattr(value, "shape", ())
        return out

    def backward(self, gy):
        gx = gv = None
        if self.needs_input_grad(0):  # zero where x was overwritten
            keep = xp_of(getattr(gy, "_data", gy)).ones(self.x_shape, dtype=bool)
            keep[self.index] = False
            gx = D.where(keep, gy, 0)
        if self.needs_input_grad(1):
            g = gy[self.index]
            if g.ndim < len(self.v_shape):  # x[0] = v with v of shape (1, n): leading 1s
                g = g.reshape((1,) * (len(self.v_shape) - g.ndim) + tuple(g.shape))
            gv = D.sum_to(g, self.v_shape)
        return gx, gv


def setitem(target, index, value):
    """target[index] = value, in place; recorded (out of place, then written back) when needed."""
    index = convert_index(index, target._data)
    if not isinstance(value, _t.Tensor):
        value = _t.wrap(xp_of(target._data).asarray(value, dtype=target._data.dtype))
    else:
        _t._check_devices([target, value])
    if not (_grad_state.grad_enabled and (target._requires_grad or value._requires_grad)):
        target._data[index] = value._data  # nothing to record: write straight into the array
        target._bump_version()
        return
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
        _refuse_view_of_graph(target)
        src = _t.wrap(target._data.copy())
        src.grad_fn, src._requires_grad = target.grad_fn, target._requires_grad
        src._output_nr = target._output_nr
        result = compute(src)
    else:
        result = compute(target)
    data = result._data
    if data.shape != target._data.shape:
        raise RuntimeError(
            f"output with shape {list(target._data.shape)} doesn't match the broadcast shape "
            f"{list(data.shape)}"
        )
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


def _refuse_view_of_graph(target):
    """In-place changes through a view of a graph tensor are refused, never silently wrong.

    PyTorch rewrites the base tensor's history when a view of it changes in place; this
    framework does not track bases, so it raises instead (documented deviation).
    """
    node = target.grad_fn
    if node is None or not type(node).is_view:
        return
    while node is not None and type(node).is_view:
        node = node.next_functions[0][0]
    if node is not None and type(node).__name__ == "AccumulateGrad":
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation. Wrap it in `with framework.no_grad():`, or modify a clone."
        )
    raise RuntimeError(
        "in-place operation on a view of a tensor that requires grad is not supported here "
        f"(the view was made by {type(target.grad_fn).__name__}); PyTorch rewrites the base's "
        "history in this case, this framework refuses instead. Use an out-of-place op, or "
        "clone the view first: v = v.clone(); v.mul_(...)."
    )


class FillBackward0(Node):
    """out = value everywhere (zero_/fill_ on a graph tensor): no gradient reaches the old value."""

    inputs = ("self", "value")

    def forward(self, x, value):
        out = xp_of(x).empty_like(x)
        out[...] = value
        return out

    def backward(self, gy):
        gv = D.sum_to(gy, ()) if self.needs_input_grad(1) else None
        return D.zeros_like(gy), gv


def fill(input, value):
    return _t.apply(FillBackward0, input, value)


# --- gather, scatter, index_select, masked_fill, nonzero ---------------------------------------


def along_dim_index(index, dim):
    """The index tuple that picks x[..., index[i, j, ...], ...] at `dim`, by position elsewhere.

    `x[along_dim_index(index, dim)]` is gather(x, dim, index); used as a target it scatters.
    """
    xp = xp_of(index)
    n = index.ndim
    return tuple(
        index if d == dim else xp.arange(s).reshape((1,) * d + (s,) + (1,) * (n - d - 1))
        for d, s in enumerate(index.shape)
    )


def _check_in_bounds(name, idx, dim, size):
    bad = (idx < 0) | (idx >= size)
    if bad.any():
        raise RuntimeError(
            f"{name}(): index {int(idx[bad].reshape(-1)[0])} is out of bounds for dimension "
            f"{dim} with size {size}"
        )


def _dim_index(name, input, dim, index, src=None):
    """Check gather/scatter arguments as PyTorch does; returns (dim, index array)."""
    if not isinstance(index, _t.Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    _t._check_devices([input, index] + ([src] if isinstance(src, _t.Tensor) else []))
    x, idx = input._data, index._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index (got {index.dtype})")
    if idx.ndim != x.ndim:
        raise RuntimeError(
            f"Index tensor must have the same number of dimensions as input tensor ({name}: "
            f"index has shape {list(idx.shape)}, input {list(x.shape)})"
        )
    d = _t._canon_dim(dim, x.ndim)
    for k, (i, n) in enumerate(zip(idx.shape, x.shape)):
        if k != d and i > n:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(idx.shape)} to be no "
                f"larger than self {list(x.shape)} apart from dimension {d}"
            )
    if src is not None and any(i > s for i, s in zip(idx.shape, src._data.shape)):
        raise RuntimeError(
            f"Expected index {list(idx.shape)} to be no larger than self {list(x.shape)} apart "
            f"from dimension {d} and to be no larger size than src {list(src.shape)}"
        )
    _check_in_bounds(name, idx, d, x.shape[d])
    return d, idx


class GatherBackward0(Node):
    """out[i][j] = x[index[i][j]][j] (dim 0); backward scatter-adds (repeats accumulate)."""

    __slots__ = ("x_shape", "dim", "index")

    def forward(self, x, dim, index):
        self.x_shape, self.dim, self.index = x.shape, dim, index
        return x[along_dim_index(index, dim)]

    def backward(self, gy):
        return D.index_add(self.x_shape, along_dim_index(self.index, self.dim), gy)


def gather(input, dim, index, *, sparse_grad=False):
    """Values of `input` along `dim` at `index` (same ndim as input): out has index's shape."""
    d, idx = _dim_index("gather", input, dim, index)
    return _t.apply(GatherBackward0, input, dim=d, index=idx)


def take_along_dim(input, indices, dim=None):
    """gather() with broadcasting of the other dims (or on the flattened input if dim is None)."""
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    d = _t._canon_dim(dim, input._data.ndim)
    shape_x, shape_i = list(input._data.shape), list(indices._data.shape)
    shape_x[d] = shape_i[d] = 1
    common = _broadcast_shapes(tuple(shape_x), tuple(shape_i))
    expand = lambda t: t.expand(common[:d] + (t._data.shape[d],) + common[d + 1 :])
    return gather(expand(input), d, expand(indices))


class ScatterAddBackward0(Node):
    """out = x, then out[index[i][j]][j] += src[i][j] (dim 0)."""

    __slots__ = ("dim", "index", "src_shape")
    inputs = ("self", "src")

    def forward(self, x, src, dim, index):
        self.dim, self.index, self.src_shape = dim, index, src.shape
        out = x.copy()
        scatter_add_at(xp_of(x), out, along_dim_index(index, dim), src[_region(index)])
        return out

    def backward(self, gy):
        return (gy if self.needs_input_grad(0) else None), self._src_grad(gy)

    def _src_grad(self, gy):
        if not self.needs_input_grad(1):
            return None
        g = gy[along_dim_index(self.index, self.dim)]
        return g if g.shape == self.src_shape else D.put_unique(self.src_shape, _region(self.index), g)


def _region(index):
    """The part of src that scatter reads: index's extent in every dim."""
    return tuple(slice(0, s) for s in index.shape)


class ScatterBackward0(ScatterAddBackward0):
    """out = x, then out[index[i][j]][j] = src[i][j] (dim 0); x's gradient skips those places."""

    __slots__ = ("x_shape",)

    def forward(self, x, src, dim, index):
        self.dim, self.index, self.x_shape = dim, index, x.shape
        self.src_shape = getattr(src, "shape", ())
        out = x.copy()
        out[along_dim_index(index, dim)] = src[_region(index)] if self.src_shape else src
        return out

    def backward(self, gy):
        gx = None
        if self.needs_input_grad(0):
            keep = xp_of(self.index).ones(self.x_shape, dtype=bool)
            keep[along_dim_index(self.index, self.dim)] = False
            gx = D.where(keep, gy, 0)
        return gx, self._src_grad(gy) if self.src_shape else None


class ScatterBackward1(ScatterBackward0):  # src is a Python number (PyTorch's `value`)
    __slots__ = ()


def _check_src(name, input, src):
    if not isinstance(src, _t.Tensor):
        raise TypeError(f"{name}(): argument 'src' must be Tensor, not {type(src).__name__}")
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"{name}(): Expected self.dtype to be equal to src.dtype (got {input.dtype} and "
            f"{src.dtype}); convert src with .to(input.dtype)"
        )


def scatter_add(input, dim, index, src):
    """A copy of input with src added at index along dim (repeated indices accumulate)."""
    _check_src("scatter_add", input, src)
    d, idx = _dim_index("scatter_add", input, dim, index, src)
    return _t.apply(ScatterAddBackward0, input, src, dim=d, index=idx)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with src (a tensor) or value (a number) written at index along dim."""
    if src is not None and not isinstance(src, _t.Tensor):
        src, value = None, src  # scatter(dim, index, 2.0): the value form
    if reduce is not None:
        if reduce != "add" or src is None:
            raise NotImplementedError(
                f"scatter(reduce={reduce!r}) is not supported; use scatter_add (or "
                "scatter(reduce='add') with a src tensor)"
            )
        return scatter_add(input, dim, index, src)
    if src is None:
        if value is None:
            raise TypeError("scatter(): expected a src tensor or a value")
        d, idx = _dim_index("scatter", input, dim, index)
        return _t.apply(ScatterBackward1, input, value, dim=d, index=idx)
    _check_src("scatter", input, src)
    d, idx = _dim_index("scatter", input, dim, index, src)
    return _t.apply(ScatterBackward0, input, src, dim=d, index=idx)


def scatter_add_(input, dim, index, src):
    return inplace(input, lambda x: scatter_add(x, dim, index, src), src)


def scatter_(input, dim, index, src=None, value=None, *, reduce=None):
    return inplace(input, lambda x: scatter(x, dim, index, src, value, reduce=reduce), src)


class IndexSelectBackward0(Node):
    __slots__ = ("x_shape", "dim", "index")

    def forward(self, x, dim, index):
        self.x_shape, self.dim, self.index = x.shape, dim, index
        return xp_of(x).take(x, index, axis=dim)

    def backward(self, gy):
        return D.index_add(self.x_shape, (slice(None),) * self.dim + (self.index,), gy)


def index_select(input, dim, index):
    """input's slices along `dim` at the positions in the 1-D `index` (repeats allowed)."""
    if not isinstance(index, _t.Tensor):
        raise TypeError(f"index_select(): argument 'index' must be Tensor, not {type(index).__name__}")
    _t._check_devices([input, index])
    idx = index._data
    if idx.ndim > 1:
        raise IndexError(
            f"index_select(): Index is supposed to be a vector (got shape {list(idx.shape)})"
        )
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index (got {index.dtype})")
    if input._data.ndim == 0:
        return input.reshape(1)[idx.reshape(-1)].reshape(())  # PyTorch allows 0-dim input
    d = _t._canon_dim(dim, input._data.ndim)
    _check_in_bounds("index_select", idx, d, input._data.shape[d])
    return _t.apply(IndexSelectBackward0, input, dim=d, index=idx.reshape(-1))


class MaskedFillBackward0(Node):
    """where(mask, value, x) with x's dtype; value is a Python number here."""

    __slots__ = ("mask", "x_shape")
    inputs = ("self", "value")

    def forward(self, x, value, mask):
        self.mask, self.x_shape = mask, x.shape
        xp = xp_of(x)
        return xp.where(mask, xp.asarray(value, dtype=x.dtype), x)

    def backward(self, gy):
        gx = D.sum_to(D.where(self.mask, 0, gy), self.x_shape) if self.needs_input_grad(0) else None
        gv = D.sum_to(D.where(self.mask, gy, 0), ()) if self.needs_input_grad(1) else None
        return gx, gv


class MaskedFillBackward1(MaskedFillBackward0):  # value is a 0-dim tensor (gets a gradient)
    __slots__ = ()


def masked_fill(input, mask, value):
    """A copy of input with `value` where the boolean `mask` (broadcast) is True."""
    if not isinstance(mask, _t.Tensor) or mask._data.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, _t.Tensor) else type(mask).__name__
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {got}")
    _t._check_devices([input, mask])
    _broadcast_shapes(input._data.shape, mask._data.shape)
    if isinstance(value, _t.Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        return _t.apply(MaskedFillBackward1, input, value, mask=mask._data)
    return _t.apply(MaskedFillBackward0, input, value, mask=mask._data)


def masked_select(input, mask):
    """The elements of input (broadcast with mask) where mask is True, as a 1-D tensor."""
    shape = _broadcast_shapes(input._data.shape, mask._data.shape)
    return getitem(input.expand(shape), mask.expand(shape))


def nonzero(input, *, as_tuple=False):
    """Indices of nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim."""
    x = input._data
    xp = xp_of(x)
    if not as_tuple:
        return _t.wrap(xp.argwhere(x).astype(np.int64, copy=False))
    if x.ndim == 0:
        return (_t.wrap(xp.zeros(int(x != 0), dtype=np.int64)),)
    return tuple(_t.wrap(i.astype(np.int64, copy=False)) for i in xp.nonzero(x))


def _broadcast_shapes(a, b):
    """The broadcast of shapes a and b, or PyTorch's error naming the mismatched dim."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    out = []
    for i, (p, q) in enumerate(zip(a, b)):
        if p != q and p != 1 and q != 1:
            raise RuntimeError(
                f"The size of tensor a ({p}) must match the size of tensor b ({q}) at "
                f"non-singleton dimension {i}"
            )
        out.append(q if p == 1 else p)
    return tuple(out)
