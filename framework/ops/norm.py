"""Normalization: batch_norm, layer_norm, group_norm (one fused node each), rms_norm.

The three fused norms share one node: normalize `x` over `axes` of a view of it, then scale
and shift by weight/bias broadcast as `pshape`. Batch statistics or given (running) statistics.
    batch_norm: x (N, C, *)  axes = all but C          pshape (1, C, 1, ...)
    layer_norm: x (*, S)     axes = the last len(S)    pshape S
    group_norm: x (N, C, *)  view (N, G, -1), axes (2,) pshape (1, C, 1, ...)
"""

from __future__ import annotations

import numpy as np

from .._backend import xp_of
from .._tensor import apply
from ..autograd.node import Node
from . import _dual as D
from .arith import rsqrt
from .reduce import mean


class NativeBatchNormBackward0(Node):
    __slots__ = ("axes", "view", "pshape", "eps", "batch_stats", "mean", "invstd", "x_shape",
                 "b_shape")
    inputs = ("input", "weight", "bias")
    saves = ("input", "weight")

    def forward(self, x, w, b, axes, pshape, eps, view=None, stats=None, running=None):
        """stats: (mean, var) arrays to normalize with (else the batch's own); running:
        (running_mean, running_var, momentum), updated in place from the batch (as PyTorch)."""
        self.axes, self.view, self.pshape, self.eps = axes, view, pshape, eps
        self.x_shape, self.b_shape = x.shape, getattr(b, "shape", None)
        xp = xp_of(x)
        xv = x if view is None else x.reshape(view)
        if stats is None:
            mu = xv.mean(axis=axes, keepdims=True)
            xc = xv - mu
            var = (xc * xc).mean(axis=axes, keepdims=True)
            if running is not None:
                _update_running(running, mu, var, xv.size // mu.size)
        else:
            mu, var = (s.reshape(pshape).copy() for s in stats)  # later updates don't leak in
            xc = xv - mu
        self.batch_stats = stats is None
        invstd = 1 / xp.sqrt(var + eps)
        self.mean, self.invstd = mu, invstd
        y = xc * invstd
        if view is not None:
            y = y.reshape(x.shape)
        if w is not None:
            y = y * w.reshape(pshape)
        if b is not None:
            y = y + b.reshape(pshape)
        return y.astype(x.dtype, copy=False)

    def _xhat(self, x):
        """(x - mean) * invstd in the view's shape; on Tensors (create_graph) recomputed from x
        so the batch statistics are differentiated too."""
        xv = x if self.view is None else x.reshape(self.view)
        if D.is_array(xv) or not self.batch_stats:
            return (xv - self.mean) * self.invstd, self.invstd
        xc = xv - D.mean_over(xv, self.axes, keepdim=True)
        invstd = (D.mean_over(xc * xc, self.axes, keepdim=True) + self.eps) ** -0.5
        return xc * invstd, invstd

    def backward(self, gy):
        x, w = self.saved()
        xhat, invstd = self._xhat(x)
        gx = gw = gb = None
        if self.needs_input_grad(0):
            g = gy if w is None else gy * w.reshape(self.pshape)
            if self.view is not None:
                g = g.reshape(self.view)
            if self.batch_stats:
                m = lambda a: D.mean_over(a, self.axes, keepdim=True)
                gx = invstd * (g - m(g) - xhat * m(g * xhat))
            else:
                gx = g * invstd
            gx = gx.reshape(self.x_shape)
        if self.needs_input_grad(1):
            xh = xhat if self.view is None else xhat.reshape(self.x_shape)
            gw = D.sum_to(gy * xh, self.pshape).reshape(w.shape)
        if self.needs_input_grad(2):
            gb = D.sum_to(gy, self.pshape).reshape(self.b_shape)
        return gx, gw, gb


class NativeLayerNormBackward0(NativeBatchNormBackward0):
    __slots__ = ()


class NativeGroupNormBackward0(NativeBatchNormBackward0):
    __slots__ = ()


def _update_running(running, mu, var, n):
    """running = (1 - momentum) running + momentum batch, with the UNBIASED batch variance."""
    rm, rv, momentum = running
    if rm is not None:
        rm *= 1 - momentum
        rm += momentum * mu.reshape(rm.shape).astype(rm.dtype, copy=False)
    if rv is not None:
        unbiased = var * (n / (n - 1)) if n > 1 else var
        rv *= 1 - momentum
        rv += momentum * unbiased.reshape(rv.shape).astype(rv.dtype, copy=False)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """input: (N, C, *) normalized per channel C with batch statistics (training) or the
    running ones; running_mean/var are updated in place when training and given."""
    x = input._data
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects an input of at least 2 dims (N, C, *), got {x.ndim}D")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != (C,):
            raise RuntimeError(
                f"batch_norm: {name} should contain {C} elements (one per channel of input of "
                f"shape {list(input.shape)}), not {t._data.size}"
            )
    axes = (0,) + tuple(range(2, x.ndim))
    pshape = (1, C) + (1,) * (x.ndim - 2)
    if training:
        n = x.size // C if C else 0
        if n <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {list(input.shape)}"
            )
        running = None
        if running_mean is not None or running_var is not None:
            running = (_arr(running_mean), _arr(running_var), momentum)
        out = apply(NativeBatchNormBackward0, input, weight, bias, axes=axes, pshape=pshape,
                    eps=eps, running=running)
        for t in (running_mean, running_var):
            if t is not None:
                t._bump_version()
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    stats = (running_mean._data, running_var._data)
    return apply(NativeBatchNormBackward0, input, weight, bias, axes=axes, pshape=pshape,
                 eps=eps, stats=stats)


def _arr(t):
    return None if t is None else t._data


def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_trailing(input, shape):
    k = len(shape)
    if input._data.shape[input.ndim - k:] != shape or input.ndim < k:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}"
        )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalize over the trailing dims `normalized_shape`, then * weight + bias (that shape)."""
    shape = _normalized_shape(normalized_shape)
    _check_trailing(input, shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != shape:
            raise RuntimeError(
                f"layer_norm: {name} has shape {list(t.shape)}, expected normalized_shape "
                f"{list(shape)}"
            )
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    return apply(NativeLayerNormBackward0, input, weight, bias, axes=axes, pshape=shape,
                 eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """input (N, C, *): normalize each of num_groups groups of C/num_groups channels."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {x.ndim}"
        )
    N, C = x.shape[:2]
    if C % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != (C,):
            raise RuntimeError(
                f"group_norm: expected {name} to be a vector of size equal to the number of "
                f"channels in input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    pshape = (1, C) + (1,) * (x.ndim - 2)
    return apply(NativeGroupNormBackward0, input, weight, bias, axes=(2,), pshape=pshape,
                 eps=eps, view=(N, num_groups, -1))


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over normalized_shape) + eps) * weight; eps defaults to finfo.eps."""
    shape = _normalized_shape(normalized_shape)
    _check_trailing(input, shape)
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    y = input * rsqrt(mean(input * input, dims, keepdim=True) + eps)
    return y if weight is None else y * weight

