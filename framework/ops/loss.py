"""Losses: cross_entropy (one fused node), nll_loss, binary_cross_entropy (with logits),
mse_loss, l1_loss, smooth_l1_loss, huber_loss, kl_div. reduction is 'mean' | 'sum' | 'none'.

Each node reduces inside its forward, so a loss is one node; backward scales the incoming
gradient by the reduction (`_scale`) and broadcasts it back over the elements.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._backend import xp_of
from .._tensor import apply
from ..autograd.node import Node
from . import _dual as D
from .activation import _sigmoid, _softplus, log_softmax, softmax
from .arith import _data
from .reduce import mean as _mean
from .reduce import sum as _sum

_REDUCTIONS = ("none", "mean", "sum")


def _reduction(reduction, size_average=None, reduce=None):
    """Validate `reduction`; the legacy size_average/reduce flags override it as in PyTorch."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn(
            "size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.", UserWarning, stacklevel=3,
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss, reduction, denom=None):
    """Reduce an elementwise loss array in forward."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / (loss.size if denom is None else denom)


def _scale(gy, reduction, count):
    """The incoming gradient as each element's share: gy, gy, or gy / count."""
    return gy / count if reduction == "mean" else gy


def _clamp_min(a, v):
    return xp_of(a).maximum(a, v) if D.is_array(a) else a.clamp(min=v)


def _warn_size(input, target):
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", UserWarning, stacklevel=3,
        )


class _PairLoss(Node):
    """Base of the elementwise losses of (input, target) with broadcasting."""

    __slots__ = ("reduction", "count", "x_shape", "t_shape")
    inputs = ("self", "target")
    saves = ("self", "target")

    def _start(self, x, t, reduction):
        self.reduction, self.x_shape, self.t_shape = reduction, x.shape, t.shape
        self.count = math.prod(np.broadcast_shapes(x.shape, t.shape))

    def _grads(self, g):
        """g = d loss / d (x - t), elementwise (already scaled by gy)."""
        gx = D.sum_to(g, self.x_shape) if self.needs_input_grad(0) else None
        gt = D.sum_to(-g, self.t_shape) if self.needs_input_grad(1) else None
        return gx, gt


class MseLossBackward0(_PairLoss):
    __slots__ = ()

    def forward(self, x, t, reduction):
        self._start(x, t, reduction)
        d = x - t
        return _reduce(d * d, reduction)

    def backward(self, gy):
        x, t = self.saved()
        return self._grads((x - t) * (2 * _scale(gy, self.reduction, self.count)))


class SmoothL1LossBackward0(_PairLoss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""

    __slots__ = ("beta",)

    def forward(self, x, t, reduction, beta):
        self.beta = beta
        self._start(x, t, reduction)
        d = x - t
        a = xp_of(d).abs(d)
        return _reduce(xp_of(d).where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta), reduction)

    def backward(self, gy):
        x, t = self.saved()
        d = x - t
        inside = xp_of(_data(d)).abs(_data(d)) < self.beta
        g = D.where(inside, d / self.beta, D.sign(d))
        return self._grads(g * _scale(gy, self.reduction, self.count))


class HuberLossBackward0(_PairLoss):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""

    __slots__ = ("delta",)

    def forward(self, x, t, reduction, delta):
        self.delta = delta
        self._start(x, t, reduction)
        d = x - t
        a = xp_of(d).abs(d)
        return _reduce(xp_of(d).where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)

    def backward(self, gy):
        x, t = self.saved()
        d = x - t
        inside = xp_of(_data(d)).abs(_data(d)) < self.delta
        g = D.where(inside, d, D.sign(d) * self.delta)
        return self._grads(g * _scale(gy, self.reduction, self.count))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size(input, target)
    if weight is not None:
        d = input - target
        return _apply_reduction(d * d * weight, reduction)
    return apply(MseLossBackward0, input, target, reduction=reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction(reduction, size_average, reduce)
    _warn_size(input, target)
    loss = (input - target).abs()
    return _apply_reduction(loss if weight is None else loss * weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_size(input, target)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return apply(SmoothL1LossBackward0, input, target, reduction=reduction, beta=beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = _reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_size(input, target)
    if weight is not None:
        loss = apply(HuberLossBackward0, input, target, reduction="none", delta=delta)
        return _apply_reduction(loss * weight, reduction)
    return apply(HuberLossBackward0, input, target, reduction=reduction, delta=delta)


def _apply_reduction(loss, reduction):
    if reduction == "none":
        return loss
    return _sum(loss) if reduction == "sum" else _mean(loss)


# --- binary cross entropy -------------------------------------------------------------------


class BinaryCrossEntropyBackward0(_PairLoss):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as PyTorch."""

    __slots__ = ("weight",)

    def forward(self, x, t, reduction, weight=None):
        xp = xp_of(x)
        self._start(x, t, reduction)
        self.weight = weight
        with _quiet(xp):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    def backward(self, gy):
        x, t = self.saved()
        g = _scale(gy, self.reduction, self.count)
        if self.weight is not None:
            g = g * self.weight
        gx = gt = None
        if self.needs_input_grad(0):
            # PyTorch's form: (x - t) / max(x (1 - x), 1e-12)
            gx = D.sum_to(g * (x - t) / _clamp_min((1 - x) * x, 1e-12), self.x_shape)
        if self.needs_input_grad(1):
            log_x, log_1mx = (_clamp_min(D.log(v), -100) for v in (x, 1 - x))
            gt = D.sum_to(g * (log_1mx - log_x), self.t_shape)
        return gx, gt


class _quiet:
    """log(0) = -inf is expected (then clamped): silence NumPy's divide warning."""

    def __init__(self, xp):
        self.ctx = xp.errstate(divide="ignore") if hasattr(xp, "errstate") else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}) is deprecated. Please ensure they have the same size."
        )
    x = input._data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise RuntimeError("all elements of input should be between 0 and 1")
    return apply(BinaryCrossEntropyBackward0, input, target, reduction=reduction,
                 weight=None if weight is None else _like(weight, input))


class BinaryCrossEntropyWithLogitsBackward0(_PairLoss):
    """(1 - t) x + (1 + (pw - 1) t) softplus(-x), times weight: stable for any |x|."""

    __slots__ = ("weight", "pos_weight")

    def forward(self, x, t, reduction, weight=None, pos_weight=None):
        self._start(x, t, reduction)
        self.weight, self.pos_weight = weight, pos_weight
        sp = _softplus(-x)
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        loss = (1 - t) * x + lw * sp
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    def backward(self, gy):
        x, t = self.saved()
        g = _scale(gy, self.reduction, self.count)
        if self.weight is not None:
            g = g * self.weight
        pw = self.pos_weight
        gx = gt = None
        if self.needs_input_grad(0):
            lw = 1 if pw is None else 1 + (pw - 1) * t
            gx = D.sum_to(g * ((1 - t) - lw * _sigmoid(-x)), self.x_shape)
        if self.needs_input_grad(1):
            dt = -x if pw is None else (pw - 1) * _softplus(-x) - x
            gt = D.sum_to(g * dt, self.t_shape)
        return gx, gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(
            f"Target size ({target.shape}) must be the same as input size ({input.shape})"
        )
    return apply(BinaryCrossEntropyWithLogitsBackward0, input, target, reduction=reduction,
                 weight=None if weight is None else _like(weight, input),
                 pos_weight=None if pos_weight is None else _like(pos_weight, input))


# --- KL divergence --------------------------------------------------------------------------


class KlDivBackward0(_PairLoss):
    """t (log t - x) (0 where t = 0), or exp(t) (t - x) with log_target."""

    __slots__ = ("log_target", "denom")

    def forward(self, x, t, reduction, log_target, denom):
        xp = xp_of(x)
        self._start(x, t, reduction)
        self.log_target, self.denom = log_target, denom
        if log_target:
            loss = xp.exp(t) * (t - x)
        else:
            pos = t > 0
            loss = xp.where(pos, t * xp.log(xp.where(pos, t, 1)), 0) - t * x
        return _reduce(loss, reduction, denom)

    def backward(self, gy):
        x, t = self.saved()
        g = _scale(gy, self.reduction, self.denom)
        gx = gt = None
        if self.needs_input_grad(0):
            gx = D.sum_to(-g * (D.exp(t) if self.log_target else t), self.x_shape)
        if self.needs_input_grad(1):
            if self.log_target:
                dt = D.exp(t) * (t - x + 1)
            else:
                pos = _data(t) > 0
                dt = D.where(pos, D.log(D.where(pos, t, 1)) + 1, 0) - x
            gt = D.sum_to(g * dt, self.t_shape)
        return gx, gt


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if reduction != "batchmean":
        reduction = _reduction(reduction, size_average, reduce)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.", UserWarning, stacklevel=2,
        )
    if reduction == "batchmean":  # the sum over the batch size (the KL divergence's definition)
        denom = input.shape[0] if input.ndim else 1
    else:
        denom = math.prod(np.broadcast_shapes(tuple(input.shape), tuple(target.shape)))
    return apply(KlDivBackward0, input, target, log_target=log_target, denom=denom,
                 reduction="mean" if reduction == "batchmean" else reduction)


# --- nll_loss and cross_entropy -------------------------------------------------------------


def _class_axis(x):
    return 1 if x.ndim >= 2 else 0


def _unsqueeze(g, axis):
    """Per-sample gradients (N, d1, ...) broadcast along the class axis."""
    if getattr(g, "ndim", 0) == 0:
        return g
    return xp_of(g).expand_dims(g, axis) if D.is_array(g) else g.unsqueeze(axis)


def _like(t, input):
    """t's array in input's dtype (weights of another float dtype are cast, not an error)."""
    return t._data.astype(input._data.dtype, copy=False)


def _check_index_target(input, target, name):
    x, t = input._data, target._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {target.dtype} (class-index "
            "targets must be integer tensors; convert with .long())"
        )
    if x.ndim == 1:
        if t.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return
    if t.ndim == 0 or x.shape[0] != t.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
            f"({t.shape[0] if t.ndim else 0})."
        )
    if x.ndim == 2 and t.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.shape[:1] + x.shape[2:] != t.shape:
        raise RuntimeError(
            f"Expected target size {list(x.shape[:1] + x.shape[2:])}, got {list(t.shape)}"
        )


def _check_weight(input, weight):
    C = input.shape[_class_axis(input._data)]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != C):
        raise RuntimeError(
            f"weight tensor should be defined either for all {C} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )
    return None if weight is None else _like(weight, input)


class _IndexTarget:
    """What nll_loss and cross_entropy read from class-index targets."""

    __slots__ = ("tc", "valid", "wt", "axis", "index")

    def __init__(self, x, t, weight, ignore_index):
        xp = xp_of(x)
        self.axis = _class_axis(x)
        C = x.shape[self.axis]
        lo, hi = (int(t.min()), int(t.max())) if t.size else (0, 0)
        if 0 <= lo and hi < C and not 0 <= ignore_index < C and weight is None:
            # the common case, in three small ops: every target in range, none ignored
            self.tc = t
            self.wt = self.valid = xp.ones(t.shape, dtype=x.dtype)  # valid is only multiplied
        else:
            valid = t != ignore_index
            tc = xp.where(valid, t, 0)
            bad = (tc < 0) | (tc >= C)
            if bool(bad.any()):
                raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
            self.tc, self.valid = tc, valid
            wt = valid.astype(x.dtype) if weight is None else weight[tc] * valid
            self.wt = wt.astype(x.dtype, copy=False)
        tc = self.tc
        # x[index] are the entries at the target classes: (n, t_n, d1, ...) over an open mesh
        if x.ndim == 1:
            self.index = (tc,)
        elif x.ndim == 2:  # the common (N, C) case, without building a mesh
            self.index = (xp.arange(tc.shape[0]), tc)
        else:
            mesh = xp.ix_(*[xp.arange(n) for n in tc.shape])
            self.index = (mesh[0], tc) + tuple(mesh[1:])

    def pick(self, a):
        """a[n, t_n, d...] for every sample: the entries at the target classes."""
        return a[self.index]


class NllLossBackward0(Node):
    """-w[t] x[n, t] over samples not ignored; 'mean' divides by the sum of those weights."""

    __slots__ = ("reduction", "denom", "target", "x_shape")
    inputs = ("self", "target")

    def forward(self, x, t, weight, ignore_index, reduction):
        target = self.target = _IndexTarget(x, t, weight, ignore_index)
        self.reduction, self.x_shape = reduction, x.shape
        self.denom = target.wt.sum()
        return _reduce(-target.wt * target.pick(x), reduction, self.denom)

    def backward(self, gy):
        target = self.target
        g = _unsqueeze(_scale(gy, self.reduction, self.denom), target.axis)
        # a constant pattern (-w[t] at the target classes) times the incoming gradient
        pattern = xp_of(target.wt).zeros(self.x_shape, dtype=target.wt.dtype)
        _put(pattern, target, -target.wt)
        return pattern * g, None


def _put(a, target, values):
    """a[n, t_n, d...] = values (the target classes' entries; all distinct)."""
    a[target.index] = values


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """input: log-probabilities (N, C, d1...) or (C,); target: class indices (N, d1...) or ()."""
    reduction = _reduction(reduction, size_average, reduce)
    _check_index_target(input, target, "nll_loss")
    w = _check_weight(input, weight)
    return apply(NllLossBackward0, input, target, weight=w, ignore_index=ignore_index,
                 reduction=reduction)


class CrossEntropyLossBackward0(Node):
    """log_softmax + nll (or a soft-target loss) fused: the loss is -sum_c A[n, c] logp[n, c]
    for a constant coefficient array A, so d/dx = (softmax(x) * sum_c A - A) * gy.

    Class-index targets: A = (1 - eps) w[t] onehot(t) + eps/C w (0 for ignored samples),
    'mean' divides by sum_n w[t_n]. Probability targets q: A = w ((1 - eps) q + eps/C),
    'mean' divides by the number of samples.
    """

    __slots__ = ("reduction", "denom", "target", "p", "logp", "weight", "smoothing", "axis",
                 "ndim")
    inputs = ("self", "target")
    saves = ("self", "target")

    def forward(self, x, t, weight, ignore_index, reduction, label_smoothing):
        self.reduction, self.weight, self.smoothing = reduction, weight, label_smoothing
        axis = self.axis = _class_axis(x)
        self.ndim = x.ndim
        C = x.shape[axis]
        xp = xp_of(x)
        shifted = x - x.max(axis=axis, keepdims=True)  # log-sum-exp with the max taken out
        e = xp.exp(shifted)
        total = e.sum(axis=axis, keepdims=True)
        self.p = e / total  # softmax: all the first-order backward needs
        log_total = xp.log(total)
        self.logp = None
        if t.dtype.kind in "iu":
            target = self.target = _IndexTarget(x, t, weight, ignore_index)
            self.denom = target.wt.sum()
            picked = target.pick(shifted) - log_total.squeeze(axis)  # logp at the targets
            loss = -target.wt * picked
            if label_smoothing > 0:
                logp = shifted - log_total
                smooth = -(logp if weight is None else logp * self._w(weight)).sum(axis=axis)
                loss = (1 - label_smoothing) * loss + (label_smoothing / C) * smooth * target.valid
            return _reduce(loss, reduction, self.denom)
        self.target = None
        logp = self.logp = shifted - log_total  # kept for the targets' own gradient
        self.denom = logp.size // C
        return _reduce(-(self._soft_coef(t, C) * logp).sum(axis=axis), reduction, self.denom)

    def _w(self, weight):
        """The class weights shaped to broadcast along the class axis."""
        shape = [1] * self.ndim
        shape[self.axis] = weight.shape[0]
        return weight.reshape(shape)

    def _soft_coef(self, t, C):
        q = t if self.smoothing == 0 else t * (1 - self.smoothing) + self.smoothing / C
        return q if self.weight is None else q * self._w(self.weight)

    def backward(self, gy):
        x, t = self.saved()
        target, axis = self.target, self.axis
        g = _unsqueeze(_scale(gy, self.reduction, self.denom), axis)
        first_order = D.is_array(x)
        gx = gt = None
        if self.needs_input_grad(0):
            p = self.p if first_order else softmax(x, axis)
            if target is not None and self.smoothing == 0 and first_order:
                # the hot path (classifiers): w[t] p, minus w[t] at the targets
                wt = target.wt * (g.squeeze(axis) if g.ndim else g)
                gx = p * xp_of(p).expand_dims(wt, axis)
                gx[target.index] -= wt
            else:
                A = self._index_coef(x.shape) if target is not None else self._soft_coef(t, x.shape[axis])
                gx = (p * D.sum_over(A, axis, keepdim=True) - A) * g  # A: a constant array
        if self.needs_input_grad(1):  # probability targets only (indices are integers)
            logp = self.logp if first_order else log_softmax(x, axis)
            w = 1 if self.weight is None else self._w(self.weight)
            gt = -(1 - self.smoothing) * logp * w * g
        return gx, gt

    def _index_coef(self, shape):
        target, eps = self.target, self.smoothing
        xp = xp_of(target.wt)
        A = xp.zeros(shape, dtype=target.wt.dtype)
        _put(A, target, (1 - eps) * target.wt)
        if eps > 0:
            w = 1 if self.weight is None else self._w(self.weight)
            A = A + (eps / shape[self.axis]) * w * _unsqueeze(target.valid, self.axis)
        return A


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """input: logits (N, C, d1...) or (C,); target: class indices (N, d1...) / () or class
    probabilities shaped like input."""
    reduction = _reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    w = _check_weight(input, weight)
    if not (target._data.dtype.kind == "f" and target.shape == input.shape):  # else probabilities
        _check_index_target(input, target, "cross_entropy")
    return apply(CrossEntropyLossBackward0, input, target, weight=w,
                 ignore_index=ignore_index, reduction=reduction,
                 label_smoothing=label_smoothing)
