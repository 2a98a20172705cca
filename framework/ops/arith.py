"""Elementwise ops: arithmetic with broadcasting and Python scalars, math functions,
activations, comparisons. Each node's forward (arrays in, array out) sits beside its backward.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _tensor as _t
from .. import dtypes
from .._backend import is_cupy_array, xp_of
from ..autograd.node import Node
from ..dtypes import result_type_arrays, result_type_scalar
from . import _dual as D


def _promote(x, y):
    """Cast array/scalar operands to the dtype PyTorch gives their result."""
    if type(y) in (int, float, bool):
        to = result_type_scalar(x, y)
        return (x if to is None else x.astype(to)), y
    if type(x) in (int, float, bool):
        to = result_type_scalar(y, x)
        return x, (y if to is None else y.astype(to))
    if x.dtype == y.dtype:
        return x, y
    to = result_type_arrays(x, y)
    return x.astype(to, copy=False), y.astype(to, copy=False)


def _shape(v):
    return getattr(v, "shape", ())


def _as_float(x):
    """Integer/bool inputs of float functions compute in the default float dtype (as PyTorch)."""
    if x.dtype.kind in "fc":
        return x
    return x.astype(dtypes.get_default_dtype().np_dtype)


# --- binary arithmetic -------------------------------------------------------------------------


class _Binary(Node):
    __slots__ = ("x_shape", "y_shape")  # None for a Python-scalar operand (it gets no gradient)
    inputs = ("self", "other")

    def _promoted(self, x, y):
        self.x_shape = getattr(x, "shape", None)
        self.y_shape = getattr(y, "shape", None)
        if type(x) is type(y) and x.dtype is y.dtype:
            return x, y  # the common case: two arrays of one dtype
        return _promote(x, y)


class AddBackward0(_Binary):
    __slots__ = ("alpha",)

    def forward(self, x, y, alpha=1):
        if type(x) is type(y) and x.dtype is y.dtype:  # two arrays of one dtype: inlined
            self.x_shape, self.y_shape = x.shape, y.shape
        else:
            x, y = self._promoted(x, y)
        self.alpha = alpha
        return x + y if alpha == 1 else x + alpha * y

    def backward(self, gy):
        # summing gy down for an operand that needs no grad is free unless it was broadcast;
        # the `shape ==` tests skip a call in the common unbroadcast case (a hot path)
        xs, ys = self.x_shape, self.y_shape
        gx = None if xs is None else gy if xs == gy.shape else D.sum_to(gy, xs)
        if ys is None:
            return gx, None
        if self.alpha != 1:
            gy = gy * self.alpha
        return gx, gy if ys == gy.shape else D.sum_to(gy, ys)


class SubBackward0(_Binary):
    __slots__ = ("alpha",)

    def forward(self, x, y, alpha=1):
        if type(x) is type(y) and x.dtype is y.dtype:  # two arrays of one dtype: inlined
            self.x_shape, self.y_shape = x.shape, y.shape
        else:
            x, y = self._promoted(x, y)
        self.alpha = alpha
        return x - y if alpha == 1 else x - alpha * y

    def backward(self, gy):
        gx = None if self.x_shape is None else D.sum_to(gy, self.x_shape)
        if self.y_shape is None:
            return gx, None
        return gx, D.sum_to(-gy if self.alpha == 1 else gy * -self.alpha, self.y_shape)


class MulBackward0(_Binary):
    saves = ("self", "other")
    self_only_for_other = True

    def forward(self, x, y):
        if type(x) is type(y) and x.dtype is y.dtype:  # two arrays of one dtype: inlined
            self.x_shape, self.y_shape = x.shape, y.shape
        else:
            x, y = self._promoted(x, y)
        return x * y

    def backward(self, gy):
        x, y = self.saved()
        (fx, _), (fy, _) = self.next_functions  # needs_input_grad, inlined (a hot path)
        gx = gother = None
        if fx is not None:
            gx = gy * y
            if gx.shape != self.x_shape:
                gx = D.sum_to(gx, self.x_shape)
        if fy is not None:
            gother = gy * x
            if gother.shape != self.y_shape:
                gother = D.sum_to(gother, self.y_shape)
        return gx, gother


class DivBackward0(_Binary):
    saves = ("self", "other")
    self_only_for_other = True

    def forward(self, x, y):
        x, y = self._promoted(x, y)
        if _integral(x) and _integral(y):  # true division of integers gives floats, as PyTorch
            x = _as_float(xp_of(y).asarray(x) if type(x) is int else x)
            if hasattr(y, "astype"):
                y = y.astype(x.dtype)  # else float32 / int64 array gives float64
        return x / y

    def backward(self, gy):
        x, y = self.saved()
        gx = D.sum_to(gy / y, self.x_shape) if self.needs_input_grad(0) else None
        gother = D.sum_to(-gy * x / (y * y), self.y_shape) if self.needs_input_grad(1) else None
        return gx, gother


class PowBackward0(_Binary):
    """x ** exponent; the exponent may be a tensor, and x a Python scalar."""

    inputs = ("self", "exponent")
    saves = ("self", "exponent", "result")

    def forward(self, x, y):
        x, y = self._promoted(x, y)
        return x**y

    def backward(self, gy):
        x, p, y = self.saved()
        gx = gp = None
        if self.needs_input_grad(0):
            if type(p) in (int, float) and p == 2:
                gx = gy * (2 * x)  # the common square: no pow in the gradient
            else:
                gx = D.sum_to(gy * p * x ** (p - 1), self.x_shape)
        if self.needs_input_grad(1):
            # d(x^p)/dp = x^p log x, taken as 0 where x <= 0 (as PyTorch does at x == 0)
            if type(x) in (int, float):
                log_x = math.log(x) if x > 0 else 0.0
            else:
                log_x = D.log(D.where(_data(x) > 0, x, 1))
            gp = D.sum_to(gy * y * log_x, self.y_shape)
        return gx, gp


def _data(v):
    return v._data if hasattr(v, "_data") else v


def _integral(v):
    return type(v) in (int, bool) or (hasattr(v, "dtype") and v.dtype.kind in "iub")


def add(input, other, *, alpha=1):
    if not isinstance(other, _t.Tensor):
        other = _operand(other, input)
    if alpha == 1:
        return _t.apply2(AddBackward0, input, other)
    return _t.apply(AddBackward0, input, other, alpha=alpha)


def sub(input, other, *, alpha=1):
    if not isinstance(other, _t.Tensor):
        other = _operand(other, input)
    if alpha == 1:
        return _t.apply2(SubBackward0, input, other)
    return _t.apply(SubBackward0, input, other, alpha=alpha)


def mul(input, other):
    if not isinstance(other, _t.Tensor):
        other = _operand(other, input)
    return _t.apply2(MulBackward0, input, other)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        return _rounded_div(input, other, rounding_mode)
    return _t.apply(DivBackward0, input, _operand(other, input))


class PowBackward1(PowBackward0):
    """x ** y with a tensor exponent (PyTorch's name for that case)."""

    __slots__ = ()


class PowBackward2(PowBackward0):
    """scalar ** x."""

    __slots__ = ()


class RsubBackward1(SubBackward0):
    """scalar - x."""

    __slots__ = ()


def pow(input, exponent):  # noqa: A001 - PyTorch's name
    exponent = _operand(exponent, input)
    op = PowBackward1 if isinstance(exponent, _t.Tensor) else PowBackward0
    return _t.apply(op, input, exponent)


def rsub(input, other):
    return _t.apply(RsubBackward1, _operand(other, input), input)


def rdiv(input, other):
    return _t.apply(DivBackward0, _operand(other, input), input)


def rpow(input, other):
    return _t.apply(PowBackward2, _operand(other, input), input)


def _operand(value, like):
    """Python scalars pass through (NumPy's weak-scalar rules then keep float32 float32)."""
    if isinstance(value, _t.Tensor) or type(value) in (int, float, bool):
        return value
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (list, tuple)) or isinstance(value, np.ndarray) or is_cupy_array(value):
        return _t._as_tensor_arg(value, like)
    raise TypeError(
        f"unsupported operand type for a tensor op: {type(value).__name__}; expected a Tensor "
        "or a Python number"
    )


def _rounded_div(input, other, mode):
    if mode not in ("trunc", "floor"):
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode}'"
        )
    x, y = _promote(input._data, _data(_operand(other, input)))
    xp = xp_of(x)
    if x.dtype.kind in "iub" and getattr(y, "dtype", np.dtype("i")).kind in "iub":
        q = xp.floor_divide(x, y)
        if mode == "trunc":  # floor and trunc differ for negative quotients with a remainder
            q = q + ((xp.remainder(x, y) != 0) & ((x < 0) != (y < 0)))
        return _t.wrap(q)
    q = x / y
    return _t.wrap(xp.floor(q) if mode == "floor" else xp.trunc(q))


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def remainder(input, other):
    x, y = _promote(input._data, _data(_operand(other, input)))
    return _t.wrap(xp_of(x).remainder(x, y))


# --- unary math --------------------------------------------------------------------------------


class NegBackward0(Node):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class ExpBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return xp_of(x).exp(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (y,) = self.saved()
        return gy * y


class LogBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return xp_of(x).log(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (x,) = self.saved()
        return gy / x


class Log1PBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return xp_of(x).log1p(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (x,) = self.saved()
        return gy / (x + 1)


class Expm1Backward0(Node):
    saves = ("result",)

    def forward(self, x):
        return xp_of(x).expm1(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (y,) = self.saved()
        return gy * (y + 1)


class SqrtBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return xp_of(x).sqrt(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (y,) = self.saved()
        return gy / (2 * y)


class RsqrtBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return 1 / xp_of(x).sqrt(_as_float(x))

    def backward(self, gy):
        (y,) = self.saved()
        return gy * (-0.5 * y * y * y)


class ReciprocalBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return 1 / _as_float(x)

    def backward(self, gy):
        (y,) = self.saved()
        return -gy * y * y


class AbsBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return xp_of(x).abs(x)

    def backward(self, gy):
        (x,) = self.saved()
        return gy * D.sign(x)


class SignBackward0(Node):
    def forward(self, x):
        return xp_of(x).sign(x)

    def backward(self, gy):
        return D.zeros_like(gy)  # piecewise constant


class SinBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return xp_of(x).sin(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (x,) = self.saved()
        return gy * D.cos(x)


class CosBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return xp_of(x).cos(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (x,) = self.saved()
        return -gy * D.sin(x)


class TanhBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return xp_of(x).tanh(x if x.dtype.kind == "f" else _as_float(x))

    def backward(self, gy):
        (y,) = self.saved()
        return gy * (1 - y * y)


class SigmoidBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        x = _as_float(x)
        xp = xp_of(x)
        # stable for large |x|: exp of a non-positive number never overflows
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, gy):
        (y,) = self.saved()
        return gy * y * (1 - y)


class ReluBackward0(Node):
    saves = ("result",)

    def forward(self, x):
        return xp_of(x).maximum(x, 0)

    def backward(self, gy):
        (y,) = self.saved()
        return gy * (_data(y) > 0)


class ClampBackward1(Node):
    __slots__ = ("min", "max")
    saves = ("self",)

    def forward(self, x, min=None, max=None):
        self.min, self.max = min, max
        return xp_of(x).clip(x, min, max)

    def backward(self, gy):
        (x,) = self.saved()
        x = _data(x)
        inside = True
        if self.min is not None:
            inside = x >= self.min
        if self.max is not None:
            inside = inside & (x <= self.max)
        return gy * inside


def neg(input):
    return _t.apply1(NegBackward0, input)


def exp(input):
    return _t.apply1(ExpBackward0, input)


def log(input):
    return _t.apply1(LogBackward0, input)


def log1p(input):
    return _t.apply1(Log1PBackward0, input)


def expm1(input):
    return _t.apply1(Expm1Backward0, input)


def sqrt(input):
    return _t.apply1(SqrtBackward0, input)


def rsqrt(input):
    return _t.apply1(RsqrtBackward0, input)


def reciprocal(input):
    return _t.apply1(ReciprocalBackward0, input)


def square(input):
    return pow(input, 2)


def abs(input):  # noqa: A001
    return _t.apply1(AbsBackward0, input)


def sign(input):
    return _t.apply1(SignBackward0, input)


def sin(input):
    return _t.apply1(SinBackward0, input)


def cos(input):
    return _t.apply1(CosBackward0, input)


def tanh(input):
    return _t.apply1(TanhBackward0, input)


def sigmoid(input):
    return _t.apply1(SigmoidBackward0, input)


def relu(input):
    return _t.apply1(ReluBackward0, input)


def clamp(input, min=None, max=None):  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, _t.Tensor) or isinstance(max, _t.Tensor):
        out = input
        if min is not None:
            out = maximum(out, _operand(min, input))
        if max is not None:
            out = minimum(out, _operand(max, input))
        return out
    return _t.apply(ClampBackward1, input, min=min, max=max)


clip = clamp


# --- maximum, minimum, where ---------------------------------------------------------------


class MaximumBackward0(_Binary):
    saves = ("self", "other")

    def forward(self, x, y):
        x, y = self._promoted(x, y)
        return xp_of(x).maximum(x, y)

    def backward(self, gy):
        x, y = (_data(v) for v in self.saved())
        # ties split the gradient evenly, as PyTorch does
        wx = (x > y) + 0.5 * (x == y)
        return (
            D.sum_to(gy * wx.astype(_data(gy).dtype), self.x_shape) if self.needs_input_grad(0) else None,
            D.sum_to(gy * (1 - wx).astype(_data(gy).dtype), self.y_shape)
            if self.needs_input_grad(1)
            else None,
        )


class MinimumBackward0(_Binary):
    saves = ("self", "other")

    def forward(self, x, y):
        x, y = self._promoted(x, y)
        return xp_of(x).minimum(x, y)

    def backward(self, gy):
        x, y = (_data(v) for v in self.saved())
        wx = (x < y) + 0.5 * (x == y)
        return (
            D.sum_to(gy * wx.astype(_data(gy).dtype), self.x_shape) if self.needs_input_grad(0) else None,
            D.sum_to(gy * (1 - wx).astype(_data(gy).dtype), self.y_shape)
            if self.needs_input_grad(1)
            else None,
        )


class WhereBackward0(Node):
    __slots__ = ("cond", "x_shape", "y_shape")
    inputs = ("condition", "self", "other")

    def forward(self, cond, x, y):
        self.cond, self.x_shape, self.y_shape = cond, _shape(x), _shape(y)
        x, y = _promote(x, y)
        return xp_of(cond).where(cond, x, y)

    def backward(self, gy):
        gx = gother = None
        if self.needs_input_grad(1):
            gx = D.sum_to(D.where(self.cond, gy, 0), self.x_shape)
        if self.needs_input_grad(2):
            gother = D.sum_to(D.where(self.cond, 0, gy), self.y_shape)
        return None, gx, gother


def maximum(input, other):
    return _t.apply(MaximumBackward0, input, _operand(other, input))


def minimum(input, other):
    return _t.apply(MinimumBackward0, input, _operand(other, input))


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    if condition._data.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got {condition.dtype}")
    like = condition
    return _t.apply(WhereBackward0, condition, _operand(input, like), _operand(other, like))


# --- comparisons and logic (no gradient: bool results) ---------------------------------------


def _compare(name):
    def compare(input, other):
        x = input._data
        y = _data(_operand(other, input)) if not isinstance(other, _t.Tensor) else other._data
        if isinstance(other, _t.Tensor):
            _t._check_devices([input, other])
        return _t.wrap(getattr(x, name)(y))

    compare.__name__ = name.strip("_")
    return compare


eq = _compare("__eq__")
ne = _compare("__ne__")
lt = _compare("__lt__")
le = _compare("__le__")
gt = _compare("__gt__")
ge = _compare("__ge__")


def _logical(fn_name):
    def op(input, other=None):
        xp = xp_of(input._data)
        if other is None:
            return _t.wrap(getattr(xp, fn_name)(input._data))
        return _t.wrap(getattr(xp, fn_name)(input._data, _data(_operand(other, input))))

    op.__name__ = fn_name
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")
logical_not = _logical("logical_not")
bitwise_not = _logical("invert")
bitwise_and = _logical("bitwise_and")
bitwise_or = _logical("bitwise_or")
bitwise_xor = _logical("bitwise_xor")


def isnan(input):
    return _t.wrap(xp_of(input._data).isnan(input._data))


def isinf(input):
    return _t.wrap(xp_of(input._data).isinf(input._data))


def isfinite(input):
    return _t.wrap(xp_of(input._data).isfinite(input._data))


def floor(input):
    return _t.wrap(xp_of(input._data).floor(input._data))


def ceil(input):
    return _t.wrap(xp_of(input._data).ceil(input._data))


def round(input, decimals=0):  # noqa: A001
    return _t.wrap(xp_of(input._data).round(input._data, decimals))


def trunc(input):
    return _t.wrap(xp_of(input._data).trunc(input._data))
