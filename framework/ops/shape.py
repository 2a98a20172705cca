"""Shape ops: reshape/view, flatten/unflatten, squeeze/unsqueeze, transpose/permute/t,
expand/broadcast_to. All return views of their input's array (sharing its version counter,
so an in-place change through a view is seen by backward's checks).
"""

from __future__ import annotations

from .. import _tensor as _t
from ..autograd.node import Node
from . import _dual as D


def _dims(dims, ndim):
    return tuple(_t._canon_dim(d, ndim) for d in dims)


def _shape_arg(shape):
    """Accept reshape(2, 3), reshape((2, 3)) and reshape([2, 3])."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape, numel, src_shape):
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = list(shape)
        shape[neg[0]] = numel // known
        return tuple(shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class ViewBackward0(Node):
    __slots__ = ("x_shape",)
    is_view = True

    def forward(self, x, shape):
        self.x_shape = x.shape
        return x.reshape(_infer_shape(shape, x.size, x.shape))

    def backward(self, gy):
        return gy.reshape(self.x_shape)


class ReshapeAliasBackward0(ViewBackward0):
    __slots__ = ()


class PermuteBackward0(Node):
    __slots__ = ("dims",)
    is_view = True

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, gy):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return D.permute(gy, tuple(inverse))


class TransposeBackward0(PermuteBackward0):
    __slots__ = ()


class TBackward0(PermuteBackward0):
    __slots__ = ()


class ExpandBackward0(Node):
    __slots__ = ("x_shape",)
    is_view = True

    def forward(self, x, shape):
        self.x_shape = x.shape
        return D.broadcast_to(x, shape)

    def backward(self, gy):
        return D.sum_to(gy, self.x_shape)


class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


class UnsqueezeBackward0(ViewBackward0):
    __slots__ = ()


def reshape(input, *shape):
    # PyTorch names it ViewBackward0 when the result is a view, which NumPy gives us whenever
    # the input is contiguous
    op = ViewBackward0 if input._data.flags.c_contiguous else ReshapeAliasBackward0
    return _t.apply(op, input, shape=_shape_arg(shape))


def view(input, *shape):
    shape = _shape_arg(shape)
    if not input._data.flags.c_contiguous and input._data.size > 1:
        # PyTorch's view never copies; ours can't alias a non-contiguous array either
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{list(input.shape)} is not contiguous). Use .reshape(...) instead."
        )
    return _t.apply(ViewBackward0, input, shape=shape)


def flatten(input, start_dim=0, end_dim=-1):
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = _t._canon_dim(start_dim, len(shape)), _t._canon_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1 :])


def unflatten(input, dim, sizes):
    shape = input._data.shape
    d = _t._canon_dim(dim, len(shape))
    sizes = _infer_shape(tuple(sizes), shape[d], (shape[d],))
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1 :])


def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = _dims(dim if isinstance(dim, (tuple, list)) else (dim,), len(shape))
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    op = SqueezeBackward0 if dim is None else SqueezeBackward1
    return _t.apply(op, input, shape=new)


def unsqueeze(input, dim):
    shape = input._data.shape
    d = _t._canon_dim(dim, len(shape) + 1)
    return _t.apply(UnsqueezeBackward0, input, shape=shape[:d] + (1,) + shape[d:])


def permute(input, *dims):
    dims = _dims(_shape_arg(dims), input._data.ndim)
    if sorted(dims) != list(range(input._data.ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} is "
            f"not equal to len(dims) = {len(dims)}"
            if len(dims) != input._data.ndim
            else f"permute(): dims {list(dims)} is not a permutation of the tensor's dimensions"
        )
    return _t.apply(PermuteBackward0, input, dims=dims)


def transpose(input, dim0, dim1):
    n = input._data.ndim
    if n == 0:
        return input
    d0, d1 = _t._canon_dim(dim0, n), _t._canon_dim(dim1, n)
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _t.apply(TransposeBackward0, input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input):
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    if n < 2:
        return input
    return _t.apply(TBackward0, input, dims=(1, 0))


def mT(input):
    if input._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(input, -2, -1)


def T(input):
    n = input._data.ndim
    return input if n < 2 else _t.apply(PermuteBackward0, input, dims=tuple(range(n - 1, -1, -1)))


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({len(shape)})"
        )
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(shape):
        want = sizes[lead + i]
        if want == -1:
            out[lead + i] = s
        elif s != 1 and s != want:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) "
                f"at non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  Tensor "
                f"sizes: {list(shape)}"
            )
    return _t.apply(ExpandBackward0, input, shape=tuple(out))


def expand_as(input, other):
    return expand(input, other._data.shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def view_as(input, other):
    return view(input, other._data.shape)


def reshape_as(input, other):
    return reshape(input, other._data.shape)


def movedim(input, source, destination):
    """Move dims `source` (int or tuple) to positions `destination`; the others keep order."""
    n = input._data.ndim
    src = _dims(source if isinstance(source, (tuple, list)) else (source,), n)
    dst = _dims(destination if isinstance(destination, (tuple, list)) else (destination,), n)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    for name, ds, given in (("source", src, source), ("destination", dst, destination)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    if n == 0:
        return input
    perm = [None] * n
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(d for d in range(n) if d not in src)
    return permute(input, [p if p is not None else next(rest) for p in perm])


moveaxis = movedim


def narrow(input, dim, start, length):
    """input[..., start:start + length, ...] at `dim` (a view)."""
    from .indexing import getitem

    n = input._data.ndim
    d = _t._canon_dim(dim, n)
    size = input._data.shape[d]
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    start = start % size if start < 0 else start
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > size:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({size})."
        )
    return getitem(input, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim, index):
    """input[..., index, ...] at `dim`: drops that dim (a view)."""
    from .indexing import getitem

    shape = input._data.shape
    d = _t._canon_dim(dim, len(shape))
    if not -shape[d] <= index < shape[d]:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(shape)} at "
            f"dimension {d}"
        )
    return getitem(input, (slice(None),) * d + (index,))
