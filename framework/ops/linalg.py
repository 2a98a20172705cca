"""Matrix products: matmul in all of PyTorch's rank cases (dot, mv, mm, batched with
broadcasting), plus mm/bmm/dot/outer names."""

from __future__ import annotations

from .. import _tensor as _t
from ..autograd.node import Node
from . import _dual as D
from .arith import _promote


class MmBackward0(Node):
    """x @ y for x: (..., n, k), y: (..., k, m); 1-D operands are promoted as matmul does."""

    __slots__ = ("x_shape", "y_shape")
    inputs = ("self", "mat2")
    saves = ("self", "mat2")

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise RuntimeError(
                f"both arguments to matmul need to be at least 1D, but they are {x.ndim}D and "
                f"{y.ndim}D"
            )
        k_x = x.shape[-1]
        k_y = y.shape[-2] if y.ndim > 1 else y.shape[0]
        if k_x != k_y:
            _raise_mismatch(x, y)
        if x.ndim > 2 or y.ndim > 2:
            _check_batch(x.shape[:-2], y.shape[:-2])
        self.x_shape, self.y_shape = x.shape, y.shape
        x, y = _promote(x, y)
        return x @ y

    def backward(self, gy):
        x, y = self.saved()
        x2 = x.reshape((1,) + self.x_shape) if len(self.x_shape) == 1 else x
        y2 = y.reshape(self.y_shape + (1,)) if len(self.y_shape) == 1 else y
        g2 = gy
        if len(self.x_shape) == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if g2.ndim else g2.reshape((1,))
        if len(self.y_shape) == 1:
            g2 = g2.reshape(g2.shape + (1,))
        gx = gother = None
        if self.needs_input_grad(0):
            gx = D.sum_to(g2 @ D.mT(y2), x2.shape).reshape(self.x_shape)
        if self.needs_input_grad(1):
            gother = D.sum_to(D.mT(x2) @ g2, y2.shape).reshape(self.y_shape)
        return gx, gother


def _raise_mismatch(x, y):
    if x.ndim == 1 and y.ndim == 1:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src [{y.shape[0]}] to "
            f"have the same number of elements, but got {x.shape[0]} and {y.shape[0]} elements "
            "respectively"
        )
    if x.ndim == 2 and y.ndim == 1:
        raise RuntimeError(
            f"size mismatch, got input ({x.shape[0]}), mat ({_mat_str(x)}), vec ({y.shape[0]})"
        )
    raise RuntimeError(
        f"mat1 and mat2 shapes cannot be multiplied ({_mat_str(x)} and {_mat_str(y)})"
    )


def _check_batch(a, b):
    """The batch dims of a batched matmul must broadcast (PyTorch's message if not)."""
    for i in range(1, min(len(a), len(b)) + 1):
        p, q = a[-i], b[-i]
        if p != q and p != 1 and q != 1:
            raise RuntimeError(
                f"The size of tensor a ({p}) must match the size of tensor b ({q}) at "
                f"non-singleton dimension {max(len(a), len(b)) - i} (matmul batch dims "
                f"{list(a)} and {list(b)})"
            )


def _mat_str(a):
    return "x".join(str(s) for s in (a.shape if a.ndim > 1 else (1,) + a.shape))


class DotBackward0(MmBackward0):
    __slots__ = ()
    inputs = ("self", "tensor")
    saves = ("self", "tensor")


class MvBackward0(MmBackward0):
    __slots__ = ()
    inputs = ("self", "vec")
    saves = ("self", "vec")


class BmmBackward0(MmBackward0):
    __slots__ = ()


def matmul(input, other):
    a, b = input._data.ndim, other._data.ndim
    op = DotBackward0 if a == b == 1 else MvBackward0 if (a == 2 and b == 1) else (
        MmBackward0 if a <= 2 and b <= 2 else BmmBackward0
    )
    return _t.apply(op, input, other)


def mm(input, mat2):
    if input._data.ndim != 2 or mat2._data.ndim != 2:
        raise RuntimeError(f"mm: expected 2D tensors, got {input.ndim}D and {mat2.ndim}D")
    return _t.apply(MmBackward0, input, mat2)


def bmm(input, mat2):
    if input._data.ndim != 3 or mat2._data.ndim != 3:
        raise RuntimeError(f"bmm: expected 3D tensors, got {input.ndim}D and {mat2.ndim}D")
    if input._data.shape[0] != mat2._data.shape[0]:
        raise RuntimeError(
            f"bmm: batch sizes differ: {input._data.shape[0]} and {mat2._data.shape[0]}"
        )
    return _t.apply(BmmBackward0, input, mat2)


def dot(input, other):
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors"
        )
    return _t.apply(DotBackward0, input, other)


def mv(input, vec):
    return _t.apply(MvBackward0, input, vec)


def outer(input, vec2):
    from .shape import unsqueeze

    return unsqueeze(input, 1) * unsqueeze(vec2, 0)
