"""Matrix products: matmul in all of PyTorch's rank cases (dot, mv, mm, batched with
broadcasting), plus mm/bmm/dot/outer names."""

from __future__ import annotations

from .. import tensor as _t
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
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({_mat_str(x)} and {_mat_str(y)})"
            )
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
