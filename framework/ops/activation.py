"""Activations and softmax: erf, GELU, ELU/SELU, LeakyReLU, SiLU, Mish, Softplus, Hardtanh,
LogSigmoid, GLU, softmax/log_softmax. (relu, sigmoid and tanh live in arith.py.)

Each node's backward is written once for arrays (first order) and Tensors (create_graph), as
everywhere in ops; the helpers `_erf`, `_softplus` below dispatch between the two kinds.
"""

from __future__ import annotations

import math
import warnings

from .._backend import xp_of
from .._tensor import _canon_dim, apply
from ..autograd.node import Node
from . import _dual as D
from . import arith as _A
from .arith import _as_float, _data

# --- erf / erfc: W. J. Cody's rational Chebyshev approximations (CALERF), ~1e-16 in float64 ----

_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 0.56418958354775628695


def _erf_small(x):
    """erf(x) for |x| <= 0.46875 (x clipped there by the caller)."""
    z = x * x
    num, den = _ERF_A[4] * z, z
    for i in range(3):
        num, den = (num + _ERF_A[i]) * z, (den + _ERF_B[i]) * z
    return x * (num + _ERF_A[3]) / (den + _ERF_B[3])


def _erfc_pos(y, xp):
    """erfc(y) for y >= 0.46875: two rational fits (y <= 4 and y > 4) times exp(-y^2)."""
    y = xp.minimum(y, 40.0)  # erfc underflows to 0 long before 40; keeps inf out of the math
    a = xp.clip(y, 0.46875, 4.0)
    num, den = _ERF_C[8] * a, a
    for i in range(7):
        num, den = (num + _ERF_C[i]) * a, (den + _ERF_D[i]) * a
    mid = (num + _ERF_C[7]) / (den + _ERF_D[7])
    b = xp.maximum(y, 4.0)
    z = 1 / (b * b)
    num, den = _ERF_P[5] * z, z
    for i in range(4):
        num, den = (num + _ERF_P[i]) * z, (den + _ERF_Q[i]) * z
    tail = (_INV_SQRT_PI - z * (num + _ERF_P[4]) / (den + _ERF_Q[4])) / b
    r = xp.where(y <= 4.0, mid, tail)
    # exp(-y^2) as exp(-s^2) exp(-(y-s)(y+s)) with s = y rounded to 1/16: keeps full precision
    s = xp.trunc(y * 16) / 16
    return xp.exp(-s * s) * xp.exp(-(y - s) * (y + s)) * r


def erf_array(x):
    x = _as_float(x)
    xp = xp_of(x)
    y = xp.abs(x)
    small = _erf_small(xp.clip(x, -0.46875, 0.46875))
    big = 1 - _erfc_pos(y, xp)
    out = xp.where(y <= 0.46875, small, xp.where(x < 0, -big, big))
    return out.astype(x.dtype, copy=False)


# erfc for float32/float16: Numerical Recipes' erfcc, one Chebyshev fit (relative error
# < 1.2e-7 in exact arithmetic; evaluated in float32, measured <= 2.4e-6 for |x| <= 4 and
# 1.4e-5 in the far tail where erfc < 1e-20), about a third of Cody's work. float64 inputs
# keep Cody's fits (~1e-16).
_ERFCC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
          -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erfc_single(x, xp):
    z = xp.abs(x)
    t = 1 / (1 + 0.5 * z)
    poly = _ERFCC[9]
    for c in _ERFCC[8::-1]:
        poly = poly * t + c
    r = t * xp.exp(poly - z * z)
    return xp.where(x >= 0, r, 2 - r)


def erfc_array(x):
    x = _as_float(x)
    xp = xp_of(x)
    if x.dtype.itemsize <= 4:
        return _erfc_single(x, xp).astype(x.dtype, copy=False)
    y = xp.abs(x)
    small = 1 - _erf_small(xp.clip(x, -0.46875, 0.46875))
    big = _erfc_pos(y, xp)
    out = xp.where(y <= 0.46875, small, xp.where(x < 0, 2 - big, big))
    return out.astype(x.dtype, copy=False)


class ErfBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return erf_array(x)

    def backward(self, gy):
        (x,) = self.saved()
        return gy * (2 * _INV_SQRT_PI) * D.exp(-(x * x))


class ErfcBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return erfc_array(x)

    def backward(self, gy):
        (x,) = self.saved()
        return gy * (-2 * _INV_SQRT_PI) * D.exp(-(x * x))


def erf(input):
    return apply(ErfBackward0, input)


def erfc(input):
    return apply(ErfcBackward0, input)


def _erfc(a):
    return erfc_array(a) if D.is_array(a) else erfc(a)


def _sigmoid(a):
    """1 / (1 + exp(-a)) without overflow, on arrays or Tensors."""
    if D.is_array(a):
        xp = xp_of(a)
        e = xp.exp(-xp.abs(a))  # exp of a non-positive number never overflows
        return xp.where(a >= 0, 1 / (1 + e), e / (1 + e))
    return a.sigmoid()


def _softplus(a):
    """log(1 + exp(a)) without overflow, on arrays or Tensors."""
    if D.is_array(a):
        xp = xp_of(a)
        return xp.log1p(xp.exp(-xp.abs(a))) + xp.maximum(a, 0)
    return softplus(a)


# --- GELU, SiLU, Mish -----------------------------------------------------------------------

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


class GeluBackward0(Node):
    __slots__ = ("approximate", "cdf")
    saves = ("self",)

    def forward(self, x, approximate):
        self.approximate = approximate
        x = _as_float(x)
        if approximate == "tanh":
            xp = xp_of(x)
            return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
        # x * Phi(x), Phi via erfc so the far negative tail keeps its precision; Phi is kept
        # for first-order backward (erfc is the costly part, so it is computed once)
        self.cdf = 0.5 * erfc_array(x * -math.sqrt(0.5))
        return x * self.cdf

    def backward(self, gy):
        (x,) = self.saved()
        if self.approximate == "tanh":
            t = D.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            dt = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dt)
        # under create_graph Phi must be a function of the Tensor x, so it is recomputed
        cdf = self.cdf if D.is_array(x) else 0.5 * _erfc(x * -math.sqrt(0.5))
        pdf = _INV_SQRT_2PI * D.exp(-0.5 * (x * x))
        return gy * (cdf + x * pdf)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh. (got {approximate!r})")
    return apply(GeluBackward0, input, approximate=approximate)


class SiluBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        x = _as_float(x)
        return x * _sigmoid(x)

    def backward(self, gy):
        (x,) = self.saved()
        s = _sigmoid(x)
        return gy * (s * (1 + x * (1 - s)))


def silu(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: apply(SiluBackward0, x))


class MishBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        x = _as_float(x)
        return x * xp_of(x).tanh(_softplus(x))

    def backward(self, gy):
        (x,) = self.saved()
        t = D.tanh(_softplus(x))
        return gy * (t + x * (1 - t * t) * _sigmoid(x))


def mish(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: apply(MishBackward0, x))


# --- ELU / SELU, LeakyReLU, Softplus, Hardtanh, LogSigmoid ------------------------------------


class EluBackward0(Node):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)); SELU is ELU with fixed alpha and scale."""

    __slots__ = ("alpha", "scale")
    saves = ("result",)

    def forward(self, x, alpha, scale):
        self.alpha, self.scale = alpha, scale
        x = _as_float(x)
        xp = xp_of(x)
        neg = alpha * xp.expm1(xp.minimum(x, 0))  # min: exp never overflows on the unused side
        y = xp.where(x > 0, x, neg.astype(x.dtype, copy=False))
        return y if scale == 1 else y * scale

    def backward(self, gy):
        (y,) = self.saved()
        # for x <= 0: dy/dx = scale * alpha * exp(x) = y + scale * alpha (needs only the result)
        pos = _data(y) > 0
        return D.where(pos, gy * self.scale, gy * (y + self.scale * self.alpha))


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: apply(EluBackward0, x, alpha=alpha, scale=1))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    return _maybe_inplace(
        input, inplace, lambda x: apply(EluBackward0, x, alpha=_SELU_ALPHA, scale=_SELU_SCALE)
    )


class LeakyReluBackward0(Node):
    __slots__ = ("slope",)
    saves = ("self",)

    def forward(self, x, negative_slope):
        self.slope = negative_slope
        return xp_of(x).where(x > 0, x, x * negative_slope)

    def backward(self, gy):
        (x,) = self.saved()
        return D.where(_data(x) > 0, gy, gy * self.slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(
        input, inplace, lambda x: apply(LeakyReluBackward0, x, negative_slope=negative_slope)
    )


class SoftplusBackward0(Node):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""

    __slots__ = ("beta", "threshold")
    saves = ("self",)

    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        x = _as_float(x)
        z = x * beta if beta != 1 else x
        y = _softplus(z)
        if beta != 1:
            y = y / beta
        return xp_of(x).where(z > threshold, x, y)

    def backward(self, gy):
        (x,) = self.saved()
        z = x * self.beta if self.beta != 1 else x
        return D.where(_data(z) > self.threshold, gy, gy * _sigmoid(z))


def softplus(input, beta=1.0, threshold=20.0):
    return apply(SoftplusBackward0, input, beta=beta, threshold=threshold)


class HardtanhBackward0(Node):
    __slots__ = ("min_val", "max_val")
    saves = ("self",)

    def forward(self, x, min_val, max_val):
        self.min_val, self.max_val = min_val, max_val
        return xp_of(x).clip(x, min_val, max_val)

    def backward(self, gy):
        (x,) = self.saved()
        x = _data(x)
        # PyTorch passes the gradient only strictly inside (min, max)
        return gy * ((x > self.min_val) & (x < self.max_val))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(
        input, inplace, lambda x: apply(HardtanhBackward0, x, min_val=min_val, max_val=max_val)
    )


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def relu(input, inplace=False):
    return _maybe_inplace(input, inplace, _A.relu)


def relu_(input):
    return relu(input, inplace=True)


def sigmoid(input):
    return _A.sigmoid(input)


def tanh(input):
    return _A.tanh(input)


class LogSigmoidBackward0(Node):
    saves = ("self",)

    def forward(self, x):
        return -_softplus(-_as_float(x))

    def backward(self, gy):
        (x,) = self.saved()
        return gy * _sigmoid(-x)


def logsigmoid(input):
    return apply(LogSigmoidBackward0, input)


def glu(input, dim=-1):
    """a * sigmoid(b) for the two halves a, b of `input` along `dim`."""
    d = _canon_dim(dim, input.ndim)
    n = input.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    head = (slice(None),) * d
    return input[head + (slice(0, n // 2),)] * _A.sigmoid(input[head + (slice(n // 2, n),)])


def _maybe_inplace(input, inplace, fn):
    if not inplace:
        return fn(input)
    from .indexing import inplace as write_back

    return write_back(input, fn)


# --- softmax / log_softmax ------------------------------------------------------------------


def _axis(x, dim):
    return None if x.ndim == 0 else dim


class SoftmaxBackward0(Node):
    __slots__ = ("dim",)
    saves = ("result",)

    def forward(self, x, dim):
        x = _as_float(x)
        xp = xp_of(x)
        axis = self.dim = _axis(x, dim)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # shift by the max: exp can't overflow
        return e / e.sum(axis=axis, keepdims=True)

    def backward(self, gy):
        (y,) = self.saved()
        gyy = gy * y
        return gyy - y * D.sum_over(gyy, self.dim, keepdim=True)


class LogSoftmaxBackward0(Node):
    __slots__ = ("dim",)
    saves = ("result",)

    def forward(self, x, dim):
        return log_softmax_array(_as_float(x), _axis(x, dim), self)

    def backward(self, gy):
        (y,) = self.saved()
        return gy - D.exp(y) * D.sum_over(gy, self.dim, keepdim=True)


def log_softmax_array(x, axis, node=None):
    """x - logsumexp(x) along `axis`, the max subtracted first (log-sum-exp trick)."""
    xp = xp_of(x)
    if node is not None:
        node.dim = axis
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_dim(name, ndim, stacklevel=3):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(input, dim, dtype, name):
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim(name, input.ndim, stacklevel=4)
    return input, _canon_dim(dim, input.ndim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _prepare(input, dim, dtype, "softmax")
    return apply(SoftmaxBackward0, input, dim=dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _prepare(input, dim, dtype, "softmin")
    return apply(SoftmaxBackward0, -input, dim=dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _prepare(input, dim, dtype, "log_softmax")
    return apply(LogSoftmaxBackward0, input, dim=dim)
