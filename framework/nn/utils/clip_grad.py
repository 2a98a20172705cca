"""Gradient clipping: clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_
(torch.nn.utils' functions and arguments). They change `.grad` arrays in place, record no
graph, and treat parameters whose .grad is None as absent."""

from __future__ import annotations

import math
import types
import warnings

import numpy as np

from ..._backend import device_of, to_device, xp_of
from ..._tensor import Tensor, wrap

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters):
    return [g for g in (getattr(p, "_grad", None) for p in parameters) if g is not None]


def _vector_norm(a, p):
    """The p-norm of all elements of array `a` (a 0-dim array of a's dtype)."""
    xp = xp_of(a)
    return xp.asarray(_norm(xp, a, p))


def _norm(xp, a, p):
    if p == 2.0:
        flat = a.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat))
    if p == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if p == -math.inf:
        return xp.abs(a).min() if a.size else xp.asarray(math.inf, a.dtype)
    if p == 0:
        return xp.asarray(xp.count_nonzero(a), a.dtype)
    if p == 1.0:
        return xp.abs(a).sum()
    return (xp.abs(a) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None) -> Tensor:
    """The norm of the norms of `tensors` (as if all were concatenated into one vector)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return wrap(np.asarray(0.0, np.float32))
    first = tensors[0]._data
    norms = [to_device(_vector_norm(t._data, norm_type), device_of(first)) for t in tensors]
    xp = xp_of(first)
    dtype = np.result_type(*[n.dtype for n in norms])
    total = _vector_norm(xp.stack([n.astype(dtype, copy=False) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None) -> None:
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(_as_list(parameters))
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    xp = xp_of(total)
    coef = xp.asarray(xp.minimum(float(max_norm) / (total + 1e-6), 1.0))  # on device: no sync
    with np.errstate(invalid="ignore"):  # inf * 0 -> nan for a non-finite norm, as PyTorch
        for g in grads:
            a = g._data
            a *= to_device(coef, device_of(a)).astype(a.dtype, copy=False)
            g._bump_version()


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None) -> Tensor:
    """Rescale the gradients so their total `norm_type`-norm is at most max_norm; returns the
    total norm before clipping (a tensor)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn(
                "`parameters` is an empty generator, no gradient clipping will occur.",
                stacklevel=2,
            )
    total_norm = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated: use clip_grad_norm_."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
        "`torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for g in _grads(_as_list(parameters)):
        a = g._data
        xp_of(a).clip(a, -clip_value, clip_value, out=a)
        g._bump_version()
