"""dtype objects (`framework.float32`, …), the default dtype, and PyTorch's promotion rules.

A `dtype` wraps a NumPy dtype. Promotion follows PyTorch, not NumPy, where they differ:
- categories rank bool < integer < floating; mixing categories gives the higher one
  (int64 tensor + float32 tensor -> float32, where NumPy says float64);
- a dimensioned tensor outranks a zero-dim tensor of the same category, which outranks a
  Python scalar (float32 tensor * 2.5 stays float32; float32 * 0-dim float64 tensor stays float32);
- a Python float meeting only integer/bool tensors gives the default float dtype (float32).
"""

from __future__ import annotations

import numpy as np


class dtype:
    __slots__ = ("name", "np_dtype", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name, np_dtype, category):
        self.name = name
        self.np_dtype = np.dtype(np_dtype)
        self._category = category  # 0 bool, 1 integer, 2 floating
        self.is_floating_point = category == 2
        self.is_signed = self.np_dtype.kind in "if"
        self.itemsize = self.np_dtype.itemsize

    def __repr__(self):
        return f"framework.{self.name}"

    def __reduce__(self):  # pickled by name, e.g. by DataLoader workers
        return (_by_name, (self.name,))


def _by_name(name):
    return globals()[name]


bool = dtype("bool", np.bool_, 0)  # noqa: A001 - PyTorch's public name
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

_ALL = (bool, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NP = {d.np_dtype: d for d in _ALL}

_default_float = float32


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d) -> None:
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype) -> dtype:
    d = _FROM_NP.get(np_dtype)
    if d is None:
        d = _FROM_NP.get(np.dtype(np_dtype))
        if d is None:
            raise TypeError(
                f"arrays of dtype {np.dtype(np_dtype)} are not supported; supported dtypes are "
                + ", ".join(x.name for x in _ALL)
            )
    return d


def as_dtype(d) -> dtype:
    """Accept framework dtypes, NumPy dtypes/types and Python types (float -> float64 as PyTorch)."""
    if isinstance(d, dtype):
        return d
    import builtins

    if d is builtins.float:
        return float64
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError:
        raise TypeError(f"{d!r} is not a dtype; use e.g. framework.float32") from None


def to_np(d):
    """NumPy dtype for anything `as_dtype` accepts (None stays None)."""
    return None if d is None else as_dtype(d).np_dtype


def scalar_dtype(value) -> dtype:
    """The dtype PyTorch gives a Python scalar: bool, int64, or the default float dtype."""
    import builtins

    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, builtins.int):
        return int64
    return _default_float


def promote_types(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    return from_numpy_dtype(np.promote_types(a.np_dtype, b.np_dtype))


def result_type_arrays(x, y):
    """NumPy dtype PyTorch gives `x op y` for two arrays (0-dim arrays rank below dimensioned)."""
    dx, dy = x.dtype, y.dtype
    if dx == dy:
        return dx
    cx, cy = _FROM_NP[dx]._category, _FROM_NP[dy]._category
    if cx != cy:
        return dx if cx > cy else dy
    zx, zy = x.ndim == 0, y.ndim == 0
    if zx != zy:  # same category: the dimensioned one decides
        return dy if zx else dx
    return np.promote_types(dx, dy)


def result_type_scalar(x, value):
    """NumPy dtype PyTorch gives `x op scalar`, or None when it is x's own dtype."""
    kind = x.dtype.kind
    if kind == "f":
        return None
    import builtins

    if isinstance(value, builtins.bool):
        return None
    if isinstance(value, builtins.int):
        return np.dtype(np.int64) if kind == "b" else None
    return _default_float.np_dtype  # a float meeting an integer or bool tensor
