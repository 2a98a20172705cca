"""Reusable memory for an op's temporaries (arrays that never leave the op: a zero-padded copy
of the input, a GEMM result that is immediately reshaped and copied, ...).

Why: a fresh NumPy array of a few MB comes from mmap (or from heap memory glibc has just handed
back to the OS), so every page faults on first touch. For conv/pool-sized arrays that costs as
much as the arithmetic (measured: the 2.6 MB GEMM output of a small conv's input gradient took
1.9 ms in a training step, 0.29 ms when its memory was reused). Each thread keeps one array per
slot name, grown to the largest size asked for; arrays over _MAX_BYTES are always fresh.

Rule for callers: a scratch array is valid until the next `scratch()` call with the same slot
in the same thread, so never return it, store it, or hand it to code that may ask for that slot.
"""

from __future__ import annotations

import threading

import numpy as np

from .._backend import device_of, xp_of

_MAX_BYTES = 32 << 20


class _PerThread(threading.local):
    def __init__(self):
        self.arrays = {}


_state = _PerThread()


def scratch(slot, shape, dtype, like, zero=False):
    """An uninitialised (or zeroed) array of `shape` and `dtype` on like's device."""
    xp = xp_of(like)
    dtype = np.dtype(dtype)
    n = 1
    for s in shape:
        n *= s
    if n * dtype.itemsize > _MAX_BYTES:
        return xp.zeros(shape, dtype) if zero else xp.empty(shape, dtype)
    key = (slot, dtype, device_of(like))
    arr = _state.arrays.get(key)
    if arr is None or arr.size < n:
        arr = _state.arrays[key] = xp.empty(n, dtype)
    out = arr[:n].reshape(shape)
    if zero:
        out.fill(0)
    return out
