"""Copies between dtypes and devices (`to`, `clone`, `contiguous`), differentiable."""

from __future__ import annotations

import numpy as np

from .. import _backend, dtypes
from .. import _tensor as _t
from ..autograd.node import Node


class ToCopyBackward0(Node):
    __slots__ = ("x_dtype", "x_device")

    def forward(self, x, np_dtype, device, copy):
        self.x_dtype, self.x_device = x.dtype, _backend.device_of(x)
        if np_dtype is not None and np_dtype != x.dtype:
            x = x.astype(np_dtype)
            copy = False  # astype already copied
        if device is not None and device != self.x_device:
            return _backend.to_device(x, device)
        return x.copy() if copy else x

    def backward(self, gy):
        if hasattr(gy, "grad_fn"):
            return gy.to(device=self.x_device, dtype=dtypes.from_numpy_dtype(self.x_dtype))
        return _backend.to_device(gy, self.x_device).astype(self.x_dtype, copy=False)


class CloneBackward0(Node):
    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def _parse_to_args(args, kwargs):
    """to(dtype), to(device), to(device, dtype), to(other_tensor), with keywords too."""
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _t.Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dtypes.dtype) or (isinstance(a, type) and a in (float, int, bool)):
            dtype = a
        elif isinstance(a, (str, _backend.device, int)) and not isinstance(a, bool):
            device = a
        elif isinstance(a, np.dtype):
            dtype = a
        else:
            raise TypeError(f"to() received an invalid argument {a!r}")
    return (
        None if device is None else _backend.as_device(device),
        None if dtype is None else dtypes.as_dtype(dtype),
        copy,
    )


def to(input, *args, **kwargs):
    device, dtype, copy = _parse_to_args(args, dict(kwargs))
    np_dtype = None if dtype is None else dtype.np_dtype
    same_dtype = np_dtype is None or np_dtype == input._data.dtype
    same_device = device is None or device == input.device
    if same_dtype and same_device and not copy:
        return input  # PyTorch returns self when nothing changes
    out = _t.apply(ToCopyBackward0, input, np_dtype=np_dtype, device=device, copy=copy)
    if out._requires_grad and not out.is_floating_point():
        out.grad_fn, out._requires_grad = None, False  # integer results can't carry gradients
    return out


def clone(input, *, memory_format=None):
    return _t.apply(CloneBackward0, input)


def contiguous(input, memory_format=None):
    if input._data.flags.c_contiguous:
        return input
    return _t.apply(CloneBackward0, input)
