"""Joining, splitting and rearranging: cat/stack, split/chunk/unbind, repeat/tile, tril/triu,
pad (constant, reflect, replicate, circular), flip, roll.

split/chunk/unbind return views made by basic indexing (grad_fn SliceBackward0), so each
piece's gradient flows back through the indexing op's backward.
"""

from __future__ import annotations

import math

from .. import _tensor as _t
from .. import dtypes
from .._backend import xp_of
from ..autograd.node import Node
from . import _dual as D
from .indexing import IndexBackward0
from .shape import _shape_arg


def _result_dtype(tensors):
    """The dtype PyTorch gives cat/stack of `tensors` (category first, then width)."""
    d = tensors[0].dtype
    for t in tensors[1:]:
        d = dtypes.promote_types(d, t.dtype)
    return d.np_dtype


def _tensor_list(name, tensors):
    if isinstance(tensors, _t.Tensor):
        raise TypeError(
            f"{name}(): argument 'tensors' must be a tuple or list of Tensors, not Tensor"
        )
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, _t.Tensor):
            raise TypeError(
                f"{name}(): expected a sequence of Tensors, but element {i} is "
                f"{type(t).__name__}"
            )
    return tensors


# --- cat, stack ----------------------------------------------------------------------------------


class CatBackward0(Node):
    __slots__ = ("dim", "sizes")  # sizes: each input's extent along dim (None: skipped empty)
    inputs = ("tensors",)

    def forward(self, *xs, dim, np_dtype):
        self.dim = dim
        self.sizes = tuple(None if _skipped(x, xs) else x.shape[dim] for x in xs)
        kept = [x.astype(np_dtype, copy=False) for x, n in zip(xs, self.sizes) if n is not None]
        return xp_of(xs[0]).concatenate(kept, axis=dim)

    def backward(self, gy):
        grads, start, head = [], 0, (slice(None),) * self.dim
        for i, n in enumerate(self.sizes):
            if n is None:
                grads.append(gy.reshape(-1)[:0])  # a legacy empty (0,) input: empty gradient
                continue
            grads.append(gy[head + (slice(start, start + n),)] if self.needs_input_grad(i) else None)
            start += n
        return tuple(grads)


def _skipped(x, xs):
    """PyTorch still lets 1-D empty tensors join a cat of any rank (they are skipped)."""
    return x.shape == (0,) and any(o.ndim != 1 for o in xs)


def cat(tensors, dim=0):
    """Join tensors along an existing `dim`; all other sizes must match."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    arrays = [t._data for t in tensors]
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    kept = [(i, a.shape) for i, a in enumerate(arrays) if not _skipped(a, arrays)]
    ref = kept[0][1]
    d = _t._canon_dim(dim, len(ref))
    for i, shape in kept:
        if len(shape) != len(ref):
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {len(ref)} and {len(shape)}"
            )
        for k, (want, got) in enumerate(zip(ref, shape)):
            if k != d and want != got:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size {want} "
                    f"but got size {got} for tensor number {i} in the list."
                )
    return _t.apply(CatBackward0, *tensors, dim=d, np_dtype=_result_dtype(tensors))


concat = concatenate = cat


class StackBackward0(Node):
    __slots__ = ("dim",)
    inputs = ("tensors",)

    def forward(self, *xs, dim, np_dtype):
        self.dim = dim
        return xp_of(xs[0]).stack([x.astype(np_dtype, copy=False) for x in xs], axis=dim)

    def backward(self, gy):
        head = (slice(None),) * self.dim
        return tuple(
            gy[head + (i,)] if self.needs_input_grad(i) else None
            for i in range(len(self.next_functions))
        )


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new `dim`."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != ref:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(ref)} at entry 0 and "
                f"{list(t._data.shape)} at entry {i}"
            )
    d = _t._canon_dim(dim, len(ref) + 1)
    return _t.apply(StackBackward0, *tensors, dim=d, np_dtype=_result_dtype(tensors))


def hstack(tensors):
    tensors = _tensor_list("hstack", tensors)
    return cat(tensors, 0 if tensors and tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t._data.ndim > 1 else t.reshape(1, -1) for t in _tensor_list("vstack", tensors)], 0)


# --- split, chunk, unbind ----------------------------------------------------------------------


def split(tensor, split_size_or_sections=None, dim=0, *, split_size=None):
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the listed sizes."""
    if split_size_or_sections is None:  # Tensor.split's keyword is split_size, torch.split's the other
        split_size_or_sections = split_size
    shape = tensor._data.shape
    d = _t._canon_dim(dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or math.fsum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
    return _t.apply_n(SplitBackward0, tensor, dim=d, sizes=tuple(sizes))


def chunk(input, chunks, dim=0):
    """At most `chunks` pieces of equal size (ceil(n / chunks)) along `dim`."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input._data.shape[_t._canon_dim(dim, input._data.ndim)]
    return split(input, -(-n // chunks), dim)


def unbind(input, dim=0):
    """The slices along `dim`, each without that dim."""
    return _t.apply_n(UnbindBackward0, input, dim=_t._canon_dim(dim, input._data.ndim))


class SplitBackward0(Node):
    """split/chunk: one node with an output per piece (views of x); backward concatenates
    the pieces' gradients once, zeros standing in for pieces that got none."""

    __slots__ = ("n_outputs", "dim")  # n_outputs varies per call, so it is per instance
    is_view = True

    def forward(self, x, dim, sizes):
        self.dim = dim
        head, pieces, start = (slice(None),) * dim, [], 0
        for size in sizes:
            pieces.append(x[head + (slice(start, start + size),)])
            start += size
        return pieces

    def _filled(self, grads):
        like = next(g for g in grads if g is not None)
        return [g if g is not None else D.zeros(shape, like)
                for g, (shape, _) in zip(grads, self._out_meta)]

    def backward(self, *grads):
        return (D.cat(self._filled(grads), self.dim),)


class UnbindBackward0(SplitBackward0):
    """unbind: like split into pieces of 1, each without the split dim."""

    __slots__ = ()

    def forward(self, x, dim):
        self.dim = dim
        head = (slice(None),) * dim
        return [x[head + (i,)] for i in range(x.shape[dim])]

    def backward(self, *grads):
        return (D.stack(self._filled(grads), self.dim),)


# --- repeat, tile ------------------------------------------------------------------------------


class RepeatBackward0(Node):
    __slots__ = ("x_shape", "repeats")

    def forward(self, x, repeats):
        self.x_shape, self.repeats = x.shape, repeats
        lead = len(repeats) - x.ndim
        return xp_of(x).tile(x.reshape((1,) * lead + x.shape), repeats)

    def backward(self, gy):
        # out has shape (r0 * s0, r1 * s1, ...) with the copies outermost in each dim
        shape = (1,) * (len(self.repeats) - len(self.x_shape)) + self.x_shape
        pairs = tuple(n for r, s in zip(self.repeats, shape) for n in (r, s))
        g = D.sum_over(gy.reshape(pairs), tuple(range(0, len(pairs), 2)))
        return g.reshape(self.x_shape)


def repeat(input, *sizes):
    """Tile the whole tensor sizes[i] times along dim i (len(sizes) >= input.dim())."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input._data.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor (got {len(sizes)} repeats for a {input._data.ndim}-d tensor)"
        )
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: repeats {list(sizes)}")
    return _t.apply(RepeatBackward0, input, repeats=sizes)


def tile(input, dims):
    """repeat(), with missing leading repeats taken as 1."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


# --- tril, triu ----------------------------------------------------------------------------------


class TrilBackward0(Node):
    __slots__ = ("mask",)

    def forward(self, x, diagonal):
        xp = xp_of(x)
        self.mask = self._mask(xp, x.shape[-2], x.shape[-1], diagonal)
        # where, not x * mask: masking out inf (a causal mask) must give 0, not nan
        return xp.where(self.mask, x, xp.zeros((), dtype=x.dtype))

    @staticmethod
    def _mask(xp, n, m, k):
        return xp.tri(n, m, k, dtype=bool)

    def backward(self, gy):
        return D.where(self.mask, gy, 0)


class TriuBackward0(TrilBackward0):
    __slots__ = ()

    @staticmethod
    def _mask(xp, n, m, k):
        return ~xp.tri(n, m, k - 1, dtype=bool)


def _triangle(op, name, input, diagonal):
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return _t.apply(op, input, diagonal=int(diagonal))


def tril(input, diagonal=0):
    """The lower triangle (j <= i + diagonal) of the last two dims; zeros elsewhere."""
    return _triangle(TrilBackward0, "tril", input, diagonal)


def triu(input, diagonal=0):
    return _triangle(TriuBackward0, "triu", input, diagonal)


# --- pad -----------------------------------------------------------------------------------------


class ConstantPadNdBackward0(Node):
    """Pad with `value` (negative widths crop); backward takes the interior back out."""

    __slots__ = ("x_shape", "src", "dst")

    def forward(self, x, widths, value):
        shape, src, dst = [], [], []
        for n, (left, right) in zip(x.shape, widths):
            a, b = max(-left, 0), max(n - max(-right, 0), max(-left, 0))  # kept part of x
            src.append(slice(a, b))
            dst.append(slice(max(left, 0), max(left, 0) + b - a))
            shape.append(n + left + right)
        self.x_shape, self.src, self.dst = x.shape, tuple(src), tuple(dst)
        out = xp_of(x).full(tuple(shape), value, dtype=x.dtype)
        out[self.dst] = x[self.src]
        return out

    def backward(self, gy):
        g = gy[self.dst]
        return g if g.shape == self.x_shape else D.put_unique(self.x_shape, self.src, g)


class ReflectionPadBackward0(IndexBackward0):
    """Non-constant padding is a gather with index arrays; backward scatter-adds them."""

    __slots__ = ()


class ReplicationPadBackward0(IndexBackward0):
    __slots__ = ()


class CircularPadBackward0(IndexBackward0):
    __slots__ = ()


_PAD_OPS = {
    "reflect": ReflectionPadBackward0,
    "replicate": ReplicationPadBackward0,
    "circular": CircularPadBackward0,
}


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims; `pad` lists (left, right) from the last dim backwards.

    pad(x, (1, 2)) pads the last dim by 1 before and 2 after; (1, 1, 2, 2) also the one before.
    """
    pad = tuple(int(p) for p in pad)
    shape = input._data.shape
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > len(shape):
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {len(shape)}"
        )
    widths = [(0, 0)] * (len(shape) - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    for d, (n, (left, right)) in enumerate(zip(shape, widths)):
        if n + left + right < 0:
            raise RuntimeError(
                f"The input size {n}, plus negative padding {left} and {right} resulted in a "
                f"negative output size, which is invalid. Check dimension {d} of your input."
            )
    if mode == "constant":
        return _t.apply(
            ConstantPadNdBackward0, input, widths=tuple(widths), value=0 if value is None else value
        )
    if mode not in _PAD_OPS:
        raise NotImplementedError(
            f"Unrecognised padding mode {mode} (expected 'constant', 'reflect', 'replicate' or "
            "'circular')"
        )
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    index = _pad_index(xp_of(input._data), mode, shape, widths[len(shape) - k :])
    return _t.apply(_PAD_OPS[mode], input, index=(slice(None),) * (len(shape) - k) + index)


def _pad_index(xp, mode, shape, widths):
    """Per padded dim, the source position of every output position (an open mesh)."""
    k, lead, index = len(widths), len(shape) - len(widths), []
    for j, (left, right) in enumerate(widths):
        n = shape[lead + j]
        pos = xp.arange(-left, n + right)
        if mode == "reflect":
            if left >= n or right >= n:
                raise RuntimeError(
                    "Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({left}, {right}) at dimension {lead + j} of "
                    f"input {list(shape)}"
                )
            pos = xp.abs(pos)
            pos = xp.where(pos >= n, 2 * (n - 1) - pos, pos)
        elif mode == "replicate":
            if n == 0:
                raise RuntimeError(f"replicate padding needs a non-empty dimension {lead + j}")
            pos = xp.clip(pos, 0, n - 1)
        else:
            if left > n or right > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            pos = pos % n
        index.append(pos.reshape((1,) * j + (-1,) + (1,) * (k - j - 1)))
    return tuple(index)


# --- flip, roll ----------------------------------------------------------------------------------


class FlipBackward0(Node):
    __slots__ = ("dims",)

    def forward(self, x, dims):
        self.dims = dims
        return xp_of(x).flip(x, axis=dims).copy()  # a copy, as PyTorch (NumPy's flip is a view)

    def backward(self, gy):
        return D.flip(gy, self.dims)


def flip(input, *dims):
    """Reverse the order of elements along `dims`."""
    from .reduce import reduce_dims

    dims = _shape_arg(dims)
    if not dims:
        return _t.apply(FlipBackward0, input, dims=())
    return _t.apply(FlipBackward0, input, dims=reduce_dims(dims, input._data.ndim))


class RollBackward0(Node):
    __slots__ = ("shifts", "dims")

    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return xp_of(x).roll(x, shifts, axis=dims)

    def backward(self, gy):
        shifts = -self.shifts if self.dims is None else tuple(-s for s in self.shifts)
        return D.roll(gy, shifts, self.dims)


def roll(input, shifts, dims=None):
    """Shift elements along `dims` cyclically (the flattened tensor if dims is None)."""
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(
                f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0 (pass dims "
                "to roll by several shifts)"
            )
        return _t.apply(RollBackward0, input, shifts=int(shifts[0]), dims=None)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    dims = tuple(_t._canon_dim(d, input._data.ndim) for d in dims)
    return _t.apply(RollBackward0, input, shifts=tuple(int(s) for s in shifts), dims=dims)
