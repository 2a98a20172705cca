"""Every op in framework.ops, checked from one table (see tests/optable.py for the harness).

Adding an op costs one row: name ("op-variant"), fn on framework tensors, NumPy reference,
inputs (shapes; Given(values); constant arrays), flags. `test_op` runs each row on every backend:
forward vs NumPy in float32 and float64, gradcheck, gradgradcheck, float32 gradients.
Below the table: error types and messages, and behaviour a row can't express.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from optable import Given, bools, check_row, ints, row

import framework as fw
from framework.ops import arith, convert, indexing, join, linalg, reduce, shape
from framework.ops.join import pad

inf, nan = math.inf, math.nan


# --- NumPy references that are more than one call ------------------------------------------------


def np_lse(x, axis, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    y = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axis)


def np_norm(x, p=2, axis=None, keepdims=False):
    a = np.abs(x)
    if p == 2:
        return np.sqrt((a * a).sum(axis=axis, keepdims=keepdims))
    if p == inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -inf:
        return a.min(axis=axis, keepdims=keepdims)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdims).astype(x.dtype)
    return (a**p).sum(axis=axis, keepdims=keepdims) ** (1 / p)


def np_grid(index, dim):
    """NumPy's spelling of gather's index: index at dim, position elsewhere."""
    return tuple(
        index if d == dim else np.arange(s).reshape([-1 if k == d else 1 for k in range(index.ndim)])
        for d, s in enumerate(index.shape)
    )


def np_scatter_add(x, dim, index, src):
    out = x.copy()
    np.add.at(out, np_grid(index, dim), src[tuple(slice(0, s) for s in index.shape)])
    return out


def np_scatter(x, dim, index, src):
    out = x.copy()
    out[np_grid(index, dim)] = src if np.isscalar(src) else src[tuple(slice(0, s) for s in index.shape)]
    return out


def setitem(index, value=None):
    """fn and ref for `y = x.clone(); y[index] = v; return y` (v: an input, or `value`)."""

    def fn(x, v=value):
        y = x.clone()
        y[index] = v
        return y

    def ref(x, v=value):
        y = x.copy()
        y[index] = v
        return y

    return fn, ref


def np_pad(x, widths, mode="constant", value=0.0):
    """np.pad with PyTorch's pad list (last dim first); negative widths crop."""
    pairs = [(0, 0)] * x.ndim
    for i in range(len(widths) // 2):
        pairs[x.ndim - 1 - i] = (widths[2 * i], widths[2 * i + 1])
    grow = [(max(a, 0), max(b, 0)) for a, b in pairs]
    kw = dict(constant_values=value) if mode == "constant" else {}
    y = np.pad(x, grow, mode={"replicate": "edge", "circular": "wrap"}.get(mode, mode), **kw)
    crop = tuple(slice(max(-a, 0), y.shape[d] - max(-b, 0)) for d, (a, b) in enumerate(pairs))
    return y[crop]


A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)  # a constant for reflected matmul
M34 = bools([[True, False, False, True], [False, False, True, False], [True, True, False, False]])
IDX = ints([[0, 3], [1, 1], [2, 0]])  # gather/scatter index for a (3, 4) input, with repeats


# --- the table -----------------------------------------------------------------------------------

OPS = [
    # arithmetic, broadcasting, Python scalars on either side
    row("add", lambda a, b: a + b, np.add, (2, 3), (2, 3)),
    row("add-broadcast", lambda a, b: a + b, np.add, (2, 1), (1, 3)),
    row("add-rank", lambda a, b: a + b, np.add, (2, 3), (3,)),
    row("add-0dim", lambda a, b: a + b, np.add, (2, 3), ()),
    row("add-scalar", lambda a: a + 2, lambda a: a + 2, (2, 3)),
    row("radd-scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, (2, 3)),
    row("add-alpha", lambda a, b: fw.add(a, b, alpha=2), lambda a, b: a + 2 * b, (2, 3), (3,)),
    row("sub-rank", lambda a, b: a - b, np.subtract, (2, 3), (3,)),
    row("sub-alpha", lambda a, b: a.sub(b, alpha=0.5), lambda a, b: a - 0.5 * b, (2, 3), (2, 1)),
    row("rsub-scalar", lambda a: 3 - a, lambda a: 3 - a, (2, 3)),
    row("mul", lambda a, b: a * b, np.multiply, (2, 3), (2, 3)),
    row("mul-broadcast", lambda a, b: a * b, np.multiply, (3, 1), (1, 2)),
    row("mul-scalar", lambda a: a * -1.5, lambda a: a * -1.5, (2, 3)),
    row("rmul-scalar", lambda a: 2 * a, lambda a: 2 * a, (2, 3)),
    row("div", lambda a, b: a / b, np.divide, (2, 3), (3,), domain="positive"),
    row("div-scalar", lambda a: a / 4, lambda a: a / 4, (2, 3)),
    row("rdiv-scalar", lambda a: 2 / a, lambda a: 2 / a, (2, 3), domain="positive"),
    row("div-int", lambda a, b: a / b, np.divide, ints([7, -7, 5]), ints([2, 2, -3]),
        grad=False, out_dtype=np.float32, tol=dict(rtol=1e-6)),
    row("div-trunc", lambda a, b: fw.div(a, b, rounding_mode="trunc"),
        lambda a, b: np.trunc(a / b).astype(np.int64), ints([7, -7, 5]), ints([2, 2, -3]), grad=False),
    row("div-floor", lambda a: a.div(0.5, rounding_mode="floor"), lambda a: np.floor(a / 0.5),
        Given([[1.1, -2.3, 0.7]]), grad=False),
    row("pow-square", lambda a: a**2, lambda a: a**2, (2, 3)),
    row("pow-cube", lambda a: a**3, lambda a: a**3, (2, 3)),
    row("pow-half", lambda a: a**0.5, np.sqrt, (2, 3), domain="positive"),
    row("pow-negative", lambda a: fw.pow(a, -1.5), lambda a: a**-1.5, (2, 3), domain="positive"),
    row("pow-tensor", lambda a, b: a**b, np.power, (2, 3), (3,), domain="positive"),
    row("pow-0dim-exponent", lambda a, b: a.pow(b), np.power, (2, 3), (), domain="positive"),
    row("rpow-scalar", lambda a: 2**a, lambda a: 2.0**a, (2, 3)),
    row("floor_divide", lambda a: a // 0.7, lambda a: np.floor_divide(a, 0.7), (2, 3), grad=False),
    row("floor_divide-int", fw.floor_divide, np.floor_divide, ints([7, -7, 5]), ints([2, 2, -3]),
        grad=False),
    row("remainder", lambda a: a % 0.7, lambda a: np.remainder(a, 0.7), (2, 3), grad=False),
    row("remainder-int", fw.remainder, np.remainder, ints([7, -7, 5]), ints([2, 2, -3]), grad=False),
    # unary math and activations
    row("neg", lambda a: -a, np.negative, (2, 3)),
    row("exp", fw.exp, np.exp, (2, 3)),
    row("log", fw.log, np.log, (2, 3), domain="positive"),
    row("log1p", fw.log1p, np.log1p, (2, 3), domain="positive"),
    row("expm1", fw.expm1, np.expm1, (2, 3)),
    row("sqrt", fw.sqrt, np.sqrt, (2, 3), domain="positive"),
    row("rsqrt", fw.rsqrt, lambda a: 1 / np.sqrt(a), (2, 3), domain="positive"),
    row("reciprocal", fw.reciprocal, np.reciprocal, (2, 3), domain="positive"),
    row("square", fw.square, np.square, (2, 3)),
    row("abs", fw.abs, np.abs, (2, 3)),
    row("sign", fw.sign, np.sign, (2, 3)),
    row("sin", fw.sin, np.sin, (2, 3)),
    row("cos", fw.cos, np.cos, (2, 3)),
    row("tanh", fw.tanh, np.tanh, (2, 3)),
    row("sigmoid", fw.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (2, 3)),
    row("relu", fw.relu, lambda a: np.maximum(a, 0), (2, 3)),
    row("clamp", lambda a: a.clamp(-0.3141, 0.6180), lambda a: np.clip(a, -0.3141, 0.6180), (3, 4)),
    row("clamp-min", lambda a: a.clamp(min=0.1234), lambda a: np.maximum(a, 0.1234), (3, 4)),
    row("clamp-max", lambda a: fw.clamp(a, max=-0.2718), lambda a: np.minimum(a, -0.2718), (3, 4)),
    row("clamp-tensor", lambda a, lo: fw.clamp(a, min=lo), np.maximum, (3, 4), (4,)),
    row("clip", lambda a: fw.clip(a, -0.3141, 0.6180), lambda a: np.clip(a, -0.3141, 0.6180), (3, 4)),
    row("maximum", fw.maximum, np.maximum, (2, 3), (3,)),
    row("maximum-scalar", lambda a: a.maximum(0.1234), lambda a: np.maximum(a, 0.1234), (2, 3)),
    row("maximum-ties", fw.maximum, np.maximum, Given([1.0, 2.0, -1.0]), Given([1.0, 0.5, -1.0]),
        smooth=False),
    row("minimum", fw.minimum, np.minimum, (2, 3), (2, 1)),
    row("max-binary", fw.max, np.maximum, (2, 3), (3,)),
    row("min-binary", lambda a, b: a.min(b), np.minimum, (2, 3), (3,)),
    row("where", lambda c, a, b: fw.where(c, a, b), np.where, bools([[1, 0, 1], [0, 0, 1]]), (2, 3), (3,)),
    row("where-scalar", lambda c, a: fw.where(c, a, 0.0), lambda c, a: np.where(c, a, 0.0),
        bools([[1, 0, 1], [0, 0, 1]]), (2, 3)),
    row("where-method", lambda a, c, b: a.where(c, b), lambda a, c, b: np.where(c, a, b),
        (2, 3), bools([1, 0, 1]), (2, 1)),
    row("where-nonzero", lambda c: fw.where(c), np.nonzero, bools([[1, 0, 1], [0, 0, 1]]), grad=False),
    # comparisons and logic: bool results, never a gradient
    row("eq", lambda a, b: a == b, np.equal, Given([1.0, 2.0, 3.0]), Given([1.0, 0.0, 3.0]), grad=False),
    row("ne", fw.ne, np.not_equal, Given([1.0, 2.0, 3.0]), Given([1.0, 0.0, 3.0]), grad=False),
    row("lt", lambda a, b: a < b, np.less, (2, 3), (3,), grad=False),
    row("le-scalar", lambda a: a <= 0.1, lambda a: a <= 0.1, (2, 3), grad=False),
    row("gt-reflected", lambda a: 0.1 < a, lambda a: a > 0.1, (2, 3), grad=False),
    row("ge", fw.ge, np.greater_equal, (2, 3), (2, 1), grad=False),
    row("logical_and", fw.logical_and, np.logical_and, bools([1, 1, 0]), bools([1, 0, 0]), grad=False),
    row("logical_or", lambda p, q: p.logical_or(q), np.logical_or, bools([1, 1, 0]), bools([1, 0, 0]),
        grad=False),
    row("logical_xor", fw.logical_xor, np.logical_xor, bools([1, 1, 0]), bools([1, 0, 0]), grad=False),
    row("logical_not", fw.logical_not, np.logical_not, (2, 3), grad=False),
    row("bitwise_and", lambda p, q: p & q, np.bitwise_and, ints([6, 3, -1]), ints([3, 5, 4]), grad=False),
    row("bitwise_or", lambda p, q: p | q, np.bitwise_or, bools([1, 1, 0]), bools([1, 0, 0]), grad=False),
    row("bitwise_xor", lambda p, q: p ^ q, np.bitwise_xor, ints([6, 3, -1]), ints([3, 5, 4]), grad=False),
    row("bitwise_not", lambda p: ~p, np.invert, bools([1, 0]), grad=False),
    row("isnan", fw.isnan, np.isnan, Given([1.0, nan, inf, -inf]), grad=False),
    row("isinf", fw.isinf, np.isinf, Given([1.0, nan, inf, -inf]), grad=False),
    row("isfinite", lambda a: a.isfinite(), np.isfinite, Given([1.0, nan, inf, -inf]), grad=False),
    row("floor", fw.floor, np.floor, (2, 3), grad=False),
    row("ceil", lambda a: a.ceil(), np.ceil, (2, 3), grad=False),
    row("round", fw.round, np.round, (2, 3), grad=False),
    row("round-decimals", lambda a: fw.round(a, decimals=1), lambda a: np.round(a, 1), (2, 3), grad=False),
    row("trunc", fw.trunc, np.trunc, (2, 3), grad=False),
    # matrix products: every rank case
    row("matmul-1d1d", lambda a, b: a @ b, np.matmul, (3,), (3,)),
    row("matmul-2d1d", lambda a, b: a @ b, np.matmul, (2, 3), (3,)),
    row("matmul-1d2d", lambda a, b: a @ b, np.matmul, (3,), (3, 2)),
    row("matmul-2d2d", fw.matmul, np.matmul, (2, 3), (3, 2)),
    row("matmul-batched-2d", lambda a, b: a @ b, np.matmul, (2, 2, 3), (3, 2)),
    row("matmul-2d-batched", lambda a, b: a @ b, np.matmul, (2, 3), (2, 3, 2)),
    row("matmul-batched", lambda a, b: a.matmul(b), np.matmul, (2, 2, 3), (2, 3, 2)),
    row("matmul-broadcast", lambda a, b: a @ b, np.matmul, (2, 1, 2, 3), (3, 3, 2)),
    row("matmul-1d-batched", lambda a, b: a @ b, np.matmul, (3,), (2, 3, 2)),
    row("matmul-batched-1d", lambda a, b: a @ b, np.matmul, (2, 2, 3), (3,)),
    row("rmatmul-array", lambda b: A @ b, lambda b: A @ b, (3, 2)),
    row("mm", fw.mm, np.matmul, (2, 3), (3, 2)),
    row("bmm", fw.bmm, np.matmul, (2, 2, 3), (2, 3, 2)),
    row("dot", fw.dot, np.dot, (3,), (3,)),
    row("mv", fw.mv, np.matmul, (2, 3), (3,)),
    row("outer", fw.outer, np.outer, (3,), (2,)),
    # reductions
    row("sum", fw.sum, np.sum, (2, 3)),
    row("sum-dim", lambda a: a.sum(1), lambda a: a.sum(1), (2, 3)),
    row("sum-negdim-keepdim", lambda a: a.sum(-2, keepdim=True), lambda a: a.sum(-2, keepdims=True), (2, 3)),
    row("sum-dims", lambda a: fw.sum(a, (0, 2)), lambda a: a.sum((0, 2)), (2, 3, 2)),
    row("sum-dim-list", lambda a: a.sum([0, 1]), lambda a: a.sum((0, 1)), (2, 3, 2)),
    row("sum-dtype", lambda a: a.sum(dtype=fw.float64), np.sum, (2, 3), out_dtype=np.float64),
    row("sum-int", fw.sum, np.sum, ints([[1, 2], [3, 4]]), grad=False),
    row("sum-bool", lambda m: m.sum(0), lambda m: m.sum(0), bools([[1, 0], [1, 1]]), grad=False),
    row("mean", fw.mean, np.mean, (2, 3)),
    row("mean-dim", lambda a: a.mean(-1), lambda a: a.mean(-1), (2, 3)),
    row("mean-dims-keepdim", lambda a: a.mean((0, 2), keepdim=True),
        lambda a: a.mean((0, 2), keepdims=True), (2, 3, 2)),
    row("prod", fw.prod, np.prod, (2, 3)),
    row("prod-dim", lambda a: a.prod(1), lambda a: a.prod(1), (2, 3)),
    row("prod-keepdim", lambda a: fw.prod(a, -1, keepdim=True), lambda a: a.prod(-1, keepdims=True), (2, 3)),
    row("prod-zeros", lambda a: a.prod(1), lambda a: a.prod(1),
        Given([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [-1.0, 2.0, 0.5]])),
    row("prod-zeros-all", fw.prod, np.prod, Given([1.5, 0.0, 2.0, -1.0])),
    row("var", fw.var, lambda a: a.var(ddof=1), (2, 3)),
    row("var-dim", lambda a: a.var(1), lambda a: a.var(1, ddof=1), (2, 3)),
    row("var-dims-keepdim", lambda a: a.var((0, 2), keepdim=True),
        lambda a: a.var((0, 2), ddof=1, keepdims=True), (2, 3, 2)),
    row("var-correction", lambda a: fw.var(a, 0, correction=0), lambda a: a.var(0), (3, 2)),
    row("var-unbiased", lambda a: fw.var(a, 1, False), lambda a: a.var(1), (2, 3)),
    row("var-legacy", lambda a: a.var(False), lambda a: a.var(), (2, 3)),
    row("std", fw.std, lambda a: a.std(ddof=1), (2, 3)),
    row("std-dim-keepdim", lambda a: a.std(0, keepdim=True), lambda a: a.std(0, ddof=1, keepdims=True), (3, 2)),
    row("std-constant", lambda a: a.std(1), lambda a: a.std(1, ddof=1),
        Given([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]), smooth=False),
    row("var_mean", lambda a: fw.var_mean(a, 1), lambda a: (a.var(1, ddof=1), a.mean(1)), (2, 3)),
    row("std_mean", lambda a: fw.std_mean(a, 0), lambda a: (a.std(0, ddof=1), a.mean(0)), (3, 2)),
    row("max", fw.max, np.max, (2, 3)),
    row("max-ties", lambda a: a.max(), np.max, Given([[1.0, 3.0], [3.0, -2.0]]), smooth=False),
    row("max-dim", lambda a: fw.max(a, 1), lambda a: (a.max(1), a.argmax(1)), (3, 4)),
    row("max-dim-keepdim", lambda a: a.max(dim=0, keepdim=True),
        lambda a: (a.max(0, keepdims=True), a.argmax(0, keepdims=True)), (3, 4)),
    row("min", lambda a: a.min(), np.min, (2, 3)),
    row("min-dim", lambda a: a.min(-1), lambda a: (a.min(-1), a.argmin(-1)), (3, 4)),
    row("amax", lambda a: fw.amax(a, (0, 2)), lambda a: a.max((0, 2)), (2, 3, 2)),
    row("amax-ties", lambda a: a.amax(1, keepdim=True), lambda a: a.max(1, keepdims=True),
        Given([[1.0, 3.0, 3.0], [0.5, -1.0, 0.5]]), smooth=False),
    row("amin", lambda a: a.amin(-1), lambda a: a.min(-1), (2, 3)),
    row("amin-ties", fw.amin, np.min, Given([[1.0, -3.0], [-3.0, 2.0]]), smooth=False),
    row("argmax", fw.argmax, np.argmax, (3, 4), grad=False),
    row("argmax-dim", lambda a: a.argmax(1), lambda a: a.argmax(1), (3, 4), grad=False),
    row("argmax-keepdim", lambda a: a.argmax(0, keepdim=True), lambda a: a.argmax(0, keepdims=True),
        (3, 4), grad=False),
    row("argmin", lambda a: fw.argmin(a, -1), lambda a: a.argmin(-1), (3, 4), grad=False),
    row("logsumexp", lambda a: fw.logsumexp(a, 1), lambda a: np_lse(a, 1), (2, 3)),
    row("logsumexp-dims-keepdim", lambda a: a.logsumexp((0, 2), keepdim=True),
        lambda a: np_lse(a, (0, 2), True), (2, 3, 2)),
    row("logsumexp-huge", lambda a: fw.logsumexp(a, -1), lambda a: np_lse(a, -1),
        Given([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.5]])),
    row("norm", fw.norm, np_norm, (2, 3)),
    row("norm-fro-dim", lambda a: a.norm("fro", dim=1), lambda a: np_norm(a, 2, 1), (2, 3)),
    row("norm-p1", lambda a: a.norm(1), lambda a: np_norm(a, 1), (2, 3)),
    row("norm-inf", lambda a: a.norm(inf, dim=0), lambda a: np_norm(a, inf, 0), (2, 3)),
    row("norm-neginf", lambda a: a.norm(-inf), lambda a: np_norm(a, -inf), (2, 3)),
    row("norm-p3-keepdim", lambda a: fw.norm(a, 3, dim=(0, 1), keepdim=True),
        lambda a: np_norm(a, 3, (0, 1), True), (2, 3)),
    row("norm-p0", lambda a: a.norm(0), lambda a: np_norm(a, 0), (2, 3)),
    row("norm-zero", lambda a: a.norm(dim=1), lambda a: np_norm(a, 2, 1),
        Given([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]]), smooth=False),
    row("cumsum", lambda a: fw.cumsum(a, 0), lambda a: a.cumsum(0), (3, 2)),
    row("cumsum-negdim", lambda a: a.cumsum(-1), lambda a: a.cumsum(-1), (2, 4)),
    row("cumsum-int", lambda i: i.cumsum(0), lambda i: i.cumsum(0), ints([1, 2, 3]), grad=False),
    row("all", fw.all, np.all, bools([[1, 1], [0, 1]]), grad=False),
    row("all-dim", lambda m: m.all(1), lambda m: m.all(1), bools([[1, 1], [0, 1]]), grad=False),
    row("any", lambda m: m.any(), np.any, bools([[0, 0], [0, 1]]), grad=False),
    row("any-dim-keepdim", lambda m: fw.any(m, 0, keepdim=True), lambda m: m.any(0, keepdims=True),
        bools([[0, 0], [0, 1]]), grad=False),
    row("count_nonzero", lambda a: a.count_nonzero(1), lambda a: np.count_nonzero(a, 1),
        Given([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]]), grad=False),
    # shapes (views)
    row("reshape", lambda a: a.reshape(3, -1), lambda a: a.reshape(3, -1), (2, 3, 2)),
    row("reshape-tuple", lambda a: fw.reshape(a, (4, 3)), lambda a: a.reshape(4, 3), (2, 3, 2)),
    row("reshape_as", lambda a, b: a.reshape_as(b), lambda a, b: a.reshape(b.shape), (2, 3), (3, 2)),
    row("view", lambda a: a.view(-1), lambda a: a.reshape(-1), (2, 3)),
    row("view_as", lambda a, b: a.view_as(b), lambda a, b: a.reshape(b.shape), (2, 3), (6,)),
    row("flatten", fw.flatten, lambda a: a.reshape(-1), (2, 3, 2)),
    row("flatten-range", lambda a: a.flatten(1), lambda a: a.reshape(2, -1), (2, 3, 2)),
    row("unflatten", lambda a: a.unflatten(1, (2, -1)), lambda a: a.reshape(2, 2, 3), (2, 6)),
    row("squeeze", fw.squeeze, np.squeeze, (2, 1, 3, 1)),
    row("squeeze-dim", lambda a: a.squeeze(1), lambda a: a.squeeze(1), (2, 1, 3, 1)),
    row("squeeze-dims", lambda a: a.squeeze((1, -1)), lambda a: a.squeeze((1, 3)), (2, 1, 3, 1)),
    row("unsqueeze", lambda a: fw.unsqueeze(a, -1), lambda a: a[..., None], (2, 3)),
    row("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (2, 3, 2)),
    row("permute-list", lambda a: fw.permute(a, [1, 0, 2]), lambda a: a.transpose(1, 0, 2), (2, 3, 2)),
    row("transpose", lambda a: a.transpose(0, -1), lambda a: a.swapaxes(0, -1), (2, 3, 2)),
    row("swapaxes", lambda a: fw.swapaxes(a, 0, 1), lambda a: a.swapaxes(0, 1), (2, 3)),
    row("swapdims", lambda a: a.swapdims(1, 0), lambda a: a.swapaxes(0, 1), (2, 3)),
    row("t", fw.t, np.transpose, (2, 3)),
    row("t-1d", lambda a: a.t(), lambda a: a, (3,)),
    row("T", lambda a: a.T, lambda a: a.T, (2, 3, 2)),
    row("mT", lambda a: a.mT, lambda a: a.swapaxes(-1, -2), (2, 3, 2)),
    row("expand", lambda a: a.expand(2, 3), lambda a: np.broadcast_to(a, (2, 3)), (3,)),
    row("expand-keep", lambda a: a.expand(4, -1, 3), lambda a: np.broadcast_to(a, (4, 2, 3)), (2, 1)),
    row("expand_as", lambda a, b: a.expand_as(b), lambda a, b: np.broadcast_to(a, b.shape), (2, 1), (2, 3)),
    row("broadcast_to", lambda a: fw.broadcast_to(a, (2, 3)), lambda a: np.broadcast_to(a, (2, 3)), (1, 3)),
    row("movedim", lambda a: a.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1), (2, 3, 2)),
    row("moveaxis", lambda a: fw.moveaxis(a, (0, 1), (2, 0)), lambda a: np.moveaxis(a, (0, 1), (2, 0)),
        (2, 3, 2)),
    row("narrow", lambda a: a.narrow(1, 1, 2), lambda a: a[:, 1:3], (2, 4)),
    row("select", lambda a: fw.select(a, -1, 2), lambda a: a[..., 2], (2, 4)),
    row("contiguous", lambda a: a.t().contiguous(), lambda a: a.T, (2, 3)),
    row("clone", fw.clone, np.copy, (2, 3)),
    row("to", lambda a: a.to(fw.float64), lambda a: a, (2, 3), out_dtype=np.float64),
    row("to-float32", lambda a: a.float(), lambda a: a, (2, 3), out_dtype=np.float32, tol=dict(rtol=1e-6),
        check_kw=dict(eps=1e-3, atol=1e-3), smooth=False),  # float32 result: coarse differences
    # indexing: basic (views), advanced (copies; repeats accumulate), setitem, in place
    row("getitem-int", lambda a: a[1], lambda a: a[1], (3, 4)),
    row("getitem-negative", lambda a: a[-1, -2], lambda a: a[-1, -2], (3, 4)),
    row("getitem-slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], (3, 4)),
    row("getitem-reverse", lambda a: a[:, ::-1], lambda a: a[:, ::-1], (3, 4)),
    row("getitem-none", lambda a: a[None, :, None], lambda a: a[None, :, None], (3, 4)),
    row("getitem-ellipsis", lambda a: a[..., 1], lambda a: a[..., 1], (2, 3, 2)),
    row("getitem-mixed", lambda a: a[1, ..., None, -2:], lambda a: a[1, ..., None, -2:], (2, 3, 4)),
    row("getitem-repeats", lambda a, i: a[i], lambda a, i: a[i], (3, 4), ints([0, 2, 0, 0])),
    row("getitem-list", lambda a: a[[0, 2, 0]], lambda a: a[[0, 2, 0]], (3, 4)),
    row("getitem-pairs", lambda a, i, j: a[i, j], lambda a, i, j: a[i, j], (3, 4), ints([1, 1, 0]),
        ints([2, 2, -1])),
    row("getitem-slice-array", lambda a, i: a[:, i], lambda a, i: a[:, i], (3, 4), ints([1, 1, -1])),
    row("getitem-2d-array", lambda a, i: a[i], lambda a, i: a[i], (3, 2), ints([[0, 1], [1, 1]])),
    row("getitem-mask", lambda a, m: a[m], lambda a, m: a[m], (3, 4), M34),
    row("getitem-row-mask", lambda a, m: a[m], lambda a, m: a[m], (3, 4), bools([1, 0, 1])),
    row("getitem-0dim-index", lambda a, i: a[i], lambda a, i: a[i], (3, 4), ints(2)),
    row("setitem-slice", *setitem((slice(1, None), slice(None, 2))), (3, 4), (2, 2)),
    row("setitem-broadcast", *setitem((slice(None), 1)), (3, 4), (1,)),
    row("setitem-leading-ones", *setitem(0), (3, 4), (1, 4)),
    row("setitem-array", *setitem([0, 2]), (3, 4), (2, 4)),
    row("setitem-mask-scalar", *setitem(M34, 0.5), (3, 4)),
    row("add_", lambda a, b: (a * 1).add_(b), np.add, (2, 3), (3,)),
    row("mul_", lambda a, b: (a * 1).mul_(b), np.multiply, (2, 3), (2, 1)),
    row("masked_fill_", lambda a: (a * 1).masked_fill_(fw.tensor(M34).to(a.device), 0.5),
        lambda a: np.where(M34, 0.5, a), (3, 4)),
    row("gather", lambda a, i: fw.gather(a, 1, i), lambda a, i: a[np_grid(i, 1)], (3, 4), IDX),
    row("gather-dim0", lambda a, i: a.gather(0, i), lambda a, i: a[np_grid(i, 0)], (3, 4),
        ints([[0, 1, 2, 0], [2, 2, 2, 2]])),
    row("gather-small-index", lambda a, i: a.gather(-1, i), lambda a, i: a[np_grid(i, 1)], (3, 4),
        ints([[1], [3]])),
    row("take_along_dim", lambda a, i: fw.take_along_dim(a, i, 1), lambda a, i: np.take_along_axis(a, i, 1),
        (3, 4), ints([[0], [3], [3]])),
    row("take_along_dim-flat", lambda a, i: a.take_along_dim(i), lambda a, i: a.reshape(-1)[i],
        (3, 4), ints([0, 5, 5])),
    row("scatter_add", lambda a, s, i: fw.scatter_add(a, 1, i, s), lambda a, s, i: np_scatter_add(a, 1, i, s),
        (3, 4), (3, 2), IDX),
    row("scatter_add-big-src", lambda a, s, i: a.scatter_add(0, i, s), lambda a, s, i: np_scatter_add(a, 0, i, s),
        (3, 4), (3, 4), ints([[0, 1, 2, 0], [2, 2, 2, 2]])),
    row("scatter_add_", lambda a, s, i: (a * 1).scatter_add_(1, i, s),
        lambda a, s, i: np_scatter_add(a, 1, i, s), (3, 4), (3, 2), IDX),
    row("scatter", lambda a, s, i: a.scatter(1, i, s), lambda a, s, i: np_scatter(a, 1, i, s),
        (3, 4), (3, 2), ints([[0, 2], [1, 3], [3, 0]])),
    row("scatter-value", lambda a, i: fw.scatter(a, 1, i, 0.5), lambda a, i: np_scatter(a, 1, i, 0.5),
        (3, 4), IDX),
    row("scatter_", lambda a, s, i: (a * 1).scatter_(0, i, s), lambda a, s, i: np_scatter(a, 0, i, s),
        (3, 4), (1, 4), ints([[2, 0, 1, 2]])),
    row("index_select", lambda a, i: fw.index_select(a, 1, i), lambda a, i: a[:, i], (3, 4), ints([3, 0, 3])),
    row("index_select-negdim", lambda a, i: a.index_select(-2, i), lambda a, i: a[i], (3, 4), ints([2, 2])),
    row("masked_fill", lambda a, m: a.masked_fill(m, 0.5), lambda a, m: np.where(m, 0.5, a), (3, 4), M34),
    row("masked_fill-broadcast", lambda a, m: fw.masked_fill(a, m, -1.0), lambda a, m: np.where(m, -1.0, a),
        (3, 4), bools([1, 0, 0, 1])),
    row("masked_fill-tensor", lambda a, m, v: a.masked_fill(m, v), lambda a, m, v: np.where(m, v, a),
        (3, 4), M34, ()),
    row("masked_select", fw.masked_select, lambda a, m: np.broadcast_to(a, (3, 4))[np.broadcast_to(m, (3, 4))],
        (4,), M34),
    row("nonzero", fw.nonzero, np.argwhere, Given([[0.0, 1.0], [2.0, 0.0]]), grad=False),
    row("nonzero-tuple", lambda a: a.nonzero(as_tuple=True), np.nonzero, Given([[0.0, 1.0], [2.0, 0.0]]),
        grad=False),
    # joining and rearranging
    row("cat", lambda a, b: fw.cat([a, b]), lambda a, b: np.concatenate([a, b]), (2, 3), (1, 3)),
    row("cat-dim1", lambda a, b: fw.cat((a, b), 1), lambda a, b: np.concatenate([a, b], 1), (2, 3), (2, 2)),
    row("cat-three", lambda a, b, c: fw.cat([a, b, c], -1), lambda a, b, c: np.concatenate([a, b, c], -1),
        (2, 1), (2, 2), (2, 1)),
    row("cat-promote", lambda a, i: fw.cat([a, i]), lambda a, i: np.concatenate([a, i]), (2, 2),
        ints([[1, 2]])),
    row("concat", lambda a, b: fw.concat([a, b], 0), lambda a, b: np.concatenate([a, b]), (1, 2), (2, 2)),
    row("concatenate", lambda a, b: fw.concatenate([a, b], 0), lambda a, b: np.concatenate([a, b]), (1, 2), (2, 2)),
    row("stack", lambda a, b: fw.stack([a, b]), lambda a, b: np.stack([a, b]), (2, 3), (2, 3)),
    row("stack-lastdim", lambda a, b: fw.stack((a, b), -1), lambda a, b: np.stack([a, b], -1), (2, 3), (2, 3)),
    row("hstack", lambda a, b: fw.hstack([a, b]), lambda a, b: np.hstack([a, b]), (2, 1), (2, 2)),
    row("vstack", lambda a, b: fw.vstack([a, b]), lambda a, b: np.vstack([a, b]), (3,), (2, 3)),
    row("split", lambda a: fw.split(a, 2, 1), lambda a: np.split(a, [2, 4], 1), (3, 5)),
    row("split-sizes", lambda a: a.split([1, 2]), lambda a: np.split(a, [1]), (3, 4)),
    row("chunk", lambda a: a.chunk(3, 1), lambda a: np.split(a, [2, 4], 1), (2, 5)),
    row("unbind", lambda a: a.unbind(1), lambda a: tuple(a[:, i] for i in range(3)), (2, 3)),
    row("repeat", lambda a: a.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), (2, 3)),
    row("tile", lambda a: fw.tile(a, (2,)), lambda a: np.tile(a, 2), (2, 3)),
    row("tril", fw.tril, np.tril, (3, 4)),
    row("tril-diagonal", lambda a: a.tril(1), lambda a: np.tril(a, 1), (2, 3, 3)),
    row("triu", lambda a: fw.triu(a, -1), lambda a: np.triu(a, -1), (3, 4)),
    row("pad", lambda a: pad(a, (1, 2)), lambda a: np_pad(a, (1, 2)), (2, 3)),
    row("pad-value-2d", lambda a: pad(a, (1, 1, 2, 0), value=0.5), lambda a: np_pad(a, (1, 1, 2, 0), value=0.5),
        (2, 3)),
    row("pad-negative", lambda a: pad(a, (-1, 1, 0, -1)), lambda a: np_pad(a, (-1, 1, 0, -1)), (2, 3)),
    row("pad-reflect", lambda a: pad(a, (2, 1), "reflect"), lambda a: np_pad(a, (2, 1), "reflect"), (2, 4)),
    row("pad-reflect-2d", lambda a: pad(a, (1, 1, 2, 1), mode="reflect"),
        lambda a: np_pad(a, (1, 1, 2, 1), "reflect"), (1, 3, 3)),
    row("pad-replicate", lambda a: pad(a, (2, 1, 1, 1), mode="replicate"),
        lambda a: np_pad(a, (2, 1, 1, 1), "replicate"), (2, 3)),
    row("pad-circular", lambda a: pad(a, (3, 1), mode="circular"), lambda a: np_pad(a, (3, 1), "circular"),
        (2, 3)),
    row("flip", lambda a: a.flip(0), lambda a: np.flip(a, 0), (2, 3)),
    row("flip-dims", lambda a: fw.flip(a, (0, 2)), lambda a: np.flip(a, (0, 2)), (2, 3, 2)),
    row("roll", lambda a: fw.roll(a, 1), lambda a: np.roll(a, 1), (2, 3)),
    row("roll-dims", lambda a: a.roll((1, -2), (0, 1)), lambda a: np.roll(a, (1, -2), (0, 1)), (2, 3)),
]


@pytest.mark.parametrize("r", OPS, ids=lambda r: r.name)
def test_op(r, backend):
    check_row(r, backend)


def test_table_names_are_unique():
    names = [r.name for r in OPS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


# Public functions of the op modules that are helpers, not ops (each is exercised by the rows).
NOT_OPS = {"reduce_dims", "convert_index", "inplace", "index_scatter", "along_dim_index",
           "fill"}  # fill: zero_/fill_'s recorded form, tested in test_autograd


def test_table_covers_every_op():
    """A new public function in an op module needs a row (or a reason in NOT_OPS)."""
    covered = {r.op for r in OPS} | NOT_OPS
    missing = []
    for mod in (arith, reduce, join, indexing, shape, linalg, convert):
        for name, f in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(f) or f.__module__ != mod.__name__:
                continue
            if name not in covered:
                missing.append(f"{mod.__name__}.{name}")
    assert not missing, f"ops without a row in OPS: {missing}"


# --- errors: type and message --------------------------------------------------------------------


def _errors():
    R = RuntimeError
    return [
        ("matmul-shapes", lambda T, L: T(2, 3) @ T(4, 5), R, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
        ("matmul-1d", lambda T, L: T(3) @ T(4), R, r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
        ("matmul-mv", lambda T, L: T(2, 3) @ T(4), R, r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
        ("matmul-batch", lambda T, L: T(2, 2, 3) @ T(3, 3, 2), R,
         r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 0"),
        ("matmul-0d", lambda T, L: fw.matmul(T(), T(3)), R, "both arguments to matmul need to be at least 1D"),
        ("bmm-rank", lambda T, L: fw.bmm(T(2, 3), T(3, 2)), R, "bmm: expected 3D tensors"),
        ("cat-sizes", lambda T, L: fw.cat([T(2, 3), T(2, 4)]), R,
         r"Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 for tensor number 1"),
        ("cat-rank", lambda T, L: fw.cat([T(2, 3), T(2)]), R, "Tensors must have same number of dimensions: got 2 and 1"),
        ("cat-empty", lambda T, L: fw.cat([]), ValueError, r"expected a non-empty list of Tensors"),
        ("cat-0d", lambda T, L: fw.cat([T(2), T()]), R, r"zero-dimensional tensor \(at position 1\) cannot be concatenated"),
        ("cat-dim", lambda T, L: fw.cat([T(2, 3)], 2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
        ("cat-not-list", lambda T, L: fw.cat(T(2, 3)), TypeError, "must be a tuple or list of Tensors"),
        ("stack-sizes", lambda T, L: fw.stack([T(2, 3), T(2, 4)]), R,
         r"stack expects each tensor to be equal size, but got \[2, 3\] at entry 0 and \[2, 4\] at entry 1"),
        ("stack-empty", lambda T, L: fw.stack([]), R, "stack expects a non-empty TensorList"),
        ("expand", lambda T, L: T(2, 3).expand(2, 4), R,
         r"The expanded size of the tensor \(4\) must match the existing size \(3\) at non-singleton dimension 1"),
        ("expand-rank", lambda T, L: T(2, 3).expand(3), R, r"the number of sizes provided \(1\) must be greater or equal"),
        ("view-size", lambda T, L: T(2, 3).view(4, 2), R, r"shape '\[4, 2\]' is invalid for input of size 6"),
        ("view-noncontiguous", lambda T, L: T(2, 3).t().view(6), R, r"Use \.reshape\(\.\.\.\) instead"),
        ("reshape-two-inferred", lambda T, L: T(2, 3).reshape(-1, -1), R, "only one dimension can be inferred"),
        ("sum-dim", lambda T, L: T(2, 3).sum(2), IndexError, r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
        ("sum-dim-repeated", lambda T, L: T(2, 3).sum((1, -1)), R, "appears multiple times"),
        ("mean-int", lambda T, L: L([1, 2]).mean(), R, "mean\\(\\): could not infer output dtype"),
        ("var-int", lambda T, L: L([1, 2]).var(), R, "std and var only support floating point"),
        ("var-dim", lambda T, L: T(2, 3).var(-3), IndexError, "Dimension out of range"),
        ("norm-int", lambda T, L: L([1, 2]).norm(), R, "Expected a floating point or complex tensor"),
        ("norm-nuc", lambda T, L: T(2, 3).norm("nuc"), R, "is not supported"),
        ("prod-dims", lambda T, L: T(2, 3).prod((0, 1)), TypeError, "argument 'dim' must be int"),
        ("max-empty", lambda T, L: T(0, 3).max(), R, "Expected reduction dim to be specified for input.numel\\(\\) == 0"),
        ("max-empty-dim", lambda T, L: T(0, 3).max(0), IndexError, "Expected reduction dim 0 to have non-zero size"),
        ("max-dim", lambda T, L: T(2, 3).max(2), IndexError, "Dimension out of range"),
        ("amax-empty", lambda T, L: fw.amax(T(0, 3), 0), IndexError, r"amax\(\): Expected reduction dim 0 to have non-zero size"),
        ("argmax-dim", lambda T, L: T(2, 3).argmax(5), IndexError, "but got 5"),
        ("logsumexp-no-dim", lambda T, L: fw.logsumexp(T(2, 3)), TypeError, "dim"),
        ("cumsum-dim", lambda T, L: T(2, 3).cumsum(2), IndexError, "Dimension out of range"),
        ("transpose-dim", lambda T, L: T(2, 3).transpose(0, 5), IndexError, "but got 5"),
        ("unsqueeze-dim", lambda T, L: T(2, 3).unsqueeze(4), IndexError, r"range of \[-3, 2\], but got 4"),
        ("permute-not-perm", lambda T, L: T(2, 3).permute(0, 0), R, "is not a permutation"),
        ("movedim-repeated", lambda T, L: T(2, 3, 4).movedim((0, 0), (1, 2)), R, r"repeated dim in `source` \(\[0, 0\]\)"),
        ("narrow-length", lambda T, L: T(2, 3).narrow(1, 2, 3), R, r"start \(2\) \+ length \(3\) exceeds dimension size \(3\)"),
        ("select-index", lambda T, L: T(2, 3).select(1, 5), IndexError, "select\\(\\): index 5 out of range"),
        ("getitem-range", lambda T, L: T(3, 4)[5], IndexError, r"index 5 is out of bounds .* shape \[3, 4\]"),
        ("getitem-float-index", lambda T, L: T(3)[[0.5]], IndexError, "tensors used as indices must be long"),
        ("gather-bounds", lambda T, L: T(2, 3).gather(1, L([[0, 5]])), R, "index 5 is out of bounds for dimension 1 with size 3"),
        ("gather-negative", lambda T, L: T(2, 3).gather(1, L([[0, -1]])), R, "index -1 is out of bounds"),
        ("gather-dtype", lambda T, L: T(2, 3).gather(1, T(1, 2)), R, "Expected dtype int32/int64 for index"),
        ("gather-rank", lambda T, L: T(2, 3).gather(1, L([0, 1])), R, "Index tensor must have the same number of dimensions"),
        ("gather-size", lambda T, L: T(2, 3).gather(1, L([[0], [0], [0]])), R,
         r"Size does not match at dimension 0 expected index \[3, 1\] to be no larger than self \[2, 3\]"),
        ("scatter_add-dtype", lambda T, L: T(2, 3).scatter_add(1, L([[0]]), T(1, 1).double()), R,
         "Expected self.dtype to be equal to src.dtype"),
        ("scatter_add-src", lambda T, L: T(2, 3).scatter_add(1, L([[0, 0]]), T(1, 1)), R, "to be no larger size than src"),
        ("index_select-rank", lambda T, L: T(2, 3).index_select(1, L([[0, 1]])), IndexError, "Index is supposed to be a vector"),
        ("index_select-bounds", lambda T, L: T(2, 3).index_select(1, L([0, 3])), R, "index 3 is out of bounds"),
        ("masked_fill-mask", lambda T, L: T(2, 3).masked_fill(L([1, 0, 1]), 0.0), R, "only supports boolean masks"),
        ("masked_fill-value", lambda T, L: T(2, 3).masked_fill(T(3) > 0, T(2)), R,
         r"only supports a 0-dimensional value tensor, but got tensor with 1 dimension\(s\)"),
        ("masked_fill-shape", lambda T, L: T(2, 3).masked_fill(T(2) > 0, 0.0), R,
         r"The size of tensor a \(3\) must match the size of tensor b \(2\) at non-singleton dimension 1"),
        ("split-sizes", lambda T, L: T(2, 3).split([1, 1], 1), R, "split_with_sizes expects split_sizes to sum exactly to 3"),
        ("split-negative", lambda T, L: T(2, 3).split(-1), R, "split_size be non-negative"),
        ("chunk-zero", lambda T, L: T(2, 3).chunk(0), R, "chunk expects `chunks` to be greater than 0, got: 0"),
        ("repeat-rank", lambda T, L: T(2, 3).repeat(2), R, "Number of dimensions of repeat dims can not be smaller"),
        ("tril-rank", lambda T, L: fw.tril(T(3)), R, "tril: input tensor must have at least 2 dimensions"),
        ("pad-odd", lambda T, L: pad(T(2, 3), (1,)), R, "Padding length must be divisible by 2"),
        ("pad-long", lambda T, L: pad(T(2, 3), (1,) * 6), R, "Padding length should be less than or equal to two times"),
        ("pad-reflect-size", lambda T, L: pad(T(2, 3), (3, 3), "reflect"), R,
         r"Padding size should be less than the corresponding input dimension, but got: padding \(3, 3\) at dimension 1"),
        ("pad-circular-size", lambda T, L: pad(T(2, 3), (4, 0), "circular"), R, "wrapping around more than once"),
        ("pad-mode", lambda T, L: pad(T(2, 3), (1, 1), "foo"), NotImplementedError, "Unrecognised padding mode foo"),
        ("pad-negative-size", lambda T, L: pad(T(2, 3), (-2, -2)), R, "resulted in a negative output size"),
        ("flip-dim", lambda T, L: T(2, 3).flip(2), IndexError, "Dimension out of range"),
        ("roll-align", lambda T, L: T(2, 3).roll((1, 2), (0,)), R, "shifts and dimensions must align. shifts: 2, dims:1"),
        ("clamp-none", lambda T, L: T(2).clamp(), R, "At least one of 'min' or 'max' must not be None"),
        ("where-cond", lambda T, L: fw.where(T(2), T(2), T(2)), R, "where expected condition to be a boolean tensor"),
    ]


ERRORS = _errors()


@pytest.mark.parametrize("case", ERRORS, ids=[e[0] for e in ERRORS])
def test_error(case, backend):
    _, fn, exc, match = case

    def T(*shape):
        return fw.randn(*shape, device=backend.device)

    def L(data):
        return backend.tensor(data)

    with pytest.raises(exc, match=match):
        fn(T, L)


def test_broadcast_error_is_pytorchs(backend):
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(4\)"):
        fw.randn(2, 3, device=backend.device) + fw.randn(4, device=backend.device)


def test_masked_fill_inplace_broadcasts_mask(backend):
    x = backend.tensor([[1.0, 2.0], [3.0, 4.0]])
    x.masked_fill_(backend.tensor([True, False]), 0.0)
    np.testing.assert_array_equal(backend.asnumpy(x), [[0.0, 2.0], [0.0, 4.0]], err_msg="masked_fill_")


# --- behaviour a row can't express ---------------------------------------------------------------


def test_max_dim_returns_named_tuple(backend):
    x = backend.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    out = x.max(1)
    values, indices = out  # tuple unpacking
    assert out.values is values and out.indices is indices
    np.testing.assert_array_equal(backend.asnumpy(values), [5.0, 7.0], err_msg="max values")
    np.testing.assert_array_equal(backend.asnumpy(indices), [1, 0], err_msg="max indices: first of ties")
    assert indices.dtype == fw.int64 and not indices.requires_grad
    assert repr(out).startswith("framework.return_types.max(\nvalues=tensor(")
    assert type(fw.min(x, 0)).__name__ == "min"


def test_amax_splits_gradient_among_ties(backend):
    x = backend.tensor([[1.0, 3.0, 3.0], [3.0, 3.0, 3.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(backend.asnumpy(x.grad), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]],
                               err_msg="amax ties share the gradient evenly")
    x.grad = None
    x.max(1).values.sum().backward()  # max(dim) sends it to the one index it returned
    np.testing.assert_allclose(backend.asnumpy(x.grad), [[0, 1, 0], [1, 0, 0]], err_msg="max(dim)")


def test_repeated_indices_accumulate(backend):
    """Backward of getitem/gather/index_select adds repeated places, never overwrites."""
    x = backend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    i = backend.tensor([0, 0, 2, 0])
    for name, y in [("getitem", x[i]), ("gather", x.gather(0, i)), ("index_select", x.index_select(0, i))]:
        x.grad = None
        y.sum().backward()
        np.testing.assert_allclose(backend.asnumpy(x.grad), [3.0, 0.0, 1.0], err_msg=name)


def test_norm_and_std_gradients_are_zero_at_zero(backend):
    x = backend.tensor([0.0, 0.0], requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(backend.asnumpy(x.grad), [0.0, 0.0], err_msg="norm at 0")
    x.grad = None
    x.std().backward()
    np.testing.assert_array_equal(backend.asnumpy(x.grad), [0.0, 0.0], err_msg="std of a constant")


def test_logsumexp_is_stable(backend):
    x = backend.tensor([[1e4, 1e4], [-inf, -inf]])
    np.testing.assert_allclose(backend.asnumpy(fw.logsumexp(x, 1)), [1e4 + math.log(2), -inf],
                               err_msg="logsumexp of huge and all -inf rows")


def test_tril_of_infinite_mask_has_no_nan(backend):
    mask = fw.full((3, 3), -inf, device=backend.device).triu(1)
    np.testing.assert_array_equal(backend.asnumpy(mask), np.triu(np.full((3, 3), -inf), 1),
                                  err_msg="triu of -inf")


def test_results_do_not_alias_inputs(backend):
    """Copying ops return new memory (NumPy's flip/where could return views)."""
    x = backend.tensor([[1.0, 2.0], [3.0, 4.0]])
    for name, y in [("flip", x.flip(0)), ("roll", x.roll(1)), ("repeat", x.repeat(1, 1)),
                    ("tril", x.tril()), ("cat", fw.cat([x])), ("pad", pad(x, (0, 0)))]:
        y[0, 0] = 100.0
        assert x[0, 0].item() == 1.0, f"{name} result shares memory with its input"


def test_split_views_share_version_counter(backend):
    x = backend.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = (x * 1).split(2)
    y = a * a  # saves a
    with fw.no_grad():
        a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    assert b.shape == (2,)


def test_cat_skips_legacy_empty_and_promotes(backend):
    x = backend.tensor([[1.0, 2.0]], requires_grad=True)
    e = backend.tensor([], dtype=fw.float32)
    out = fw.cat([x, e, x.double()])
    assert out.shape == (2, 2) and out.dtype == fw.float64
    out.sum().backward()
    assert x.grad.dtype == fw.float32
    np.testing.assert_allclose(backend.asnumpy(x.grad), [[2.0, 2.0]], err_msg="cat grad")


def test_nonzero_and_argmax_shapes(backend):
    x = backend.tensor([[0.0, 1.0], [2.0, 0.0]])
    assert fw.nonzero(backend.tensor(3.0)).shape == (1, 0)
    assert fw.argmax(x, keepdim=True).shape == (1, 1)
    assert fw.argmax(x).item() == 2


def test_scatter_does_not_differentiate_index(backend):
    x = backend.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    src = backend.tensor([[5.0, 6.0]], requires_grad=True)
    y = x.scatter(1, backend.tensor([[2, 0]]), src)
    assert type(y.grad_fn).__name__ == "ScatterBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(backend.asnumpy(x.grad), [[0.0, 1.0, 0.0]], err_msg="scatter x grad")
    np.testing.assert_array_equal(backend.asnumpy(src.grad), [[1.0, 1.0]], err_msg="scatter src grad")


def test_grad_fn_names_follow_pytorch(backend):
    x = backend.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    i = backend.tensor([[0], [1]])
    names = {
        "ProdBackward0": x.prod(1), "VarBackward0": x.var(), "StdBackward0": x.std(),
        "AmaxBackward0": x.amax(), "MaxBackward1": x.max(), "MaxBackward0": x.max(0).values,
        "LogsumexpBackward0": x.logsumexp(1), "CumsumBackward0": x.cumsum(0),
        "CatBackward0": fw.cat([x, x]), "StackBackward0": fw.stack([x, x]),
        "RepeatBackward0": x.repeat(2, 1), "TrilBackward0": x.tril(), "FlipBackward0": x.flip(0),
        "RollBackward0": x.roll(1, 0), "ConstantPadNdBackward0": pad(x, (1, 1)),
        "GatherBackward0": x.gather(1, i), "ScatterAddBackward0": x.scatter_add(1, i, x),
        "IndexSelectBackward0": x.index_select(0, i[:, 0]), "MaskedFillBackward0": x.masked_fill(x > 2, 0.0),
    }
    for name, y in names.items():
        assert type(y.grad_fn).__name__ == name


def test_setitem_without_grad_writes_in_place(backend):
    x = backend.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    before = x._version
    with fw.no_grad():
        x[0] = 0.0
        x.masked_fill_(x > 3.5, -1.0)
    np.testing.assert_array_equal(backend.asnumpy(x), [[0.0, 0.0], [3.0, -1.0]], err_msg="setitem")
    assert x._version == before + 2 and x.grad_fn is None
