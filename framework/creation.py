"""Creating tensors: tensor/as_tensor/from_numpy, zeros/ones/full/empty/arange/linspace/eye,
rand/randn/randint/randperm/normal, and the *_like forms."""

from __future__ import annotations

import builtins

import numpy as np

from . import _backend, dtypes
from ._tensor import Tensor, wrap
from .random import default_generator


def _infer_np_dtype(data):
    """The dtype PyTorch infers for Python data: bool, int64, or the default float dtype.

    NumPy scalars and arrays keep their own dtype (np.float64(1.5) -> float64), also inside
    lists, where they are promoted with the Python numbers beside them as PyTorch does.
    """
    if isinstance(data, (np.ndarray, np.generic)):
        return data.dtype
    if isinstance(data, builtins.bool):
        return np.bool_
    if isinstance(data, int):
        return np.int64
    if isinstance(data, float):
        return dtypes.get_default_dtype().np_dtype
    a = np.asarray(data)
    if a.dtype.kind == "O" or a.dtype.kind in "USV":
        raise TypeError(f"can't convert {type(data).__name__} of {a.dtype} to a tensor")
    if isinstance(data, (list, tuple)):
        kinds = {type(x) for x in _flat(data)}
        if any(issubclass(k, np.generic) for k in kinds):
            d = None
            for k in kinds:
                if issubclass(k, np.generic):
                    kd = dtypes.from_numpy_dtype(k)
                elif k in (builtins.bool, int, float):
                    kd = dtypes.scalar_dtype(k())
                else:  # arrays mixed with scalars: NumPy's answer
                    return a.dtype
                d = kd if d is None else dtypes.promote_types(d, kd)
            return d.np_dtype
    if a.dtype.kind == "f" and a.dtype != np.float16:
        return dtypes.get_default_dtype().np_dtype  # Python floats in lists
    if a.dtype.kind in "iu":
        return np.int64
    return a.dtype


def _finish(array, device, requires_grad):
    dev = _backend.as_device(device)
    if dev.type != "cpu" or type(array) is not np.ndarray:
        array = _backend.to_device(array, dev)
    t = wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, numbers, arrays, tensors)."""
    if isinstance(data, Tensor):
        array = data._data.copy()
        if dtype is not None:
            array = array.astype(dtypes.to_np(dtype))
        return _finish(array, device if device is not None else data.device, requires_grad)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _nested_tensors_to_lists(data)
    if _backend.is_cupy_array(data):
        array = data.astype(dtypes.to_np(dtype)) if dtype is not None else data.copy()
        return _finish(array, device if device is not None else _backend.device_of(data), requires_grad)
    try:
        np_dtype = dtypes.to_np(dtype) if dtype is not None else _infer_np_dtype(data)
        array = np.array(data, dtype=np_dtype)
    except ValueError as e:  # ragged nested lists: say so instead of NumPy's wording
        if "sequence" not in str(e):
            raise
        raise ValueError(
            f"can't make a tensor from nested sequences of different lengths ({e})"
        ) from None
    dtypes.from_numpy_dtype(array.dtype)  # reject unsupported dtypes with a clear message
    return _finish(array, device, requires_grad)


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _nested_tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_nested_tensors_to_lists(x) for x in data]
    return data


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like `tensor`, but shares memory with an array or tensor when dtype and device match."""
    if isinstance(data, Tensor):
        if (dtype is None or dtypes.as_dtype(dtype) == data.dtype) and (
            device is None or _backend.as_device(device) == data.device
        ):
            return data
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) or _backend.is_cupy_array(data):
        a = data if dtype is None else data.astype(dtypes.to_np(dtype), copy=False)
        dev = _backend.device_of(a) if device is None else _backend.as_device(device)
        return wrap(_backend.to_device(a, dev))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy_dtype(array.dtype)
    return wrap(array)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _xp(device):
    return _backend.array_module_for(_backend.as_device(device))


def _float_dtype(dtype):
    return dtypes.to_np(dtype) if dtype is not None else dtypes.get_default_dtype().np_dtype


def _make(array, device, requires_grad):
    t = wrap(array)
    return t.requires_grad_(True) if requires_grad else t


def _filled(fill):
    def create(*size, dtype=None, device=None, requires_grad=False, out=None):
        xp = _xp(device)
        with _on(device):
            return _make(fill(xp, _size(size), _float_dtype(dtype)), device, requires_grad)

    return create


class _on:
    """Allocate on the right GPU when the device names one (a no-op on CPU)."""

    def __init__(self, device):
        dev = _backend.as_device(device)
        self.ctx = None
        if dev.type == "cuda":
            self.ctx = _backend.require_cupy().cuda.Device(dev.index or 0)

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


zeros = _filled(lambda xp, s, d: xp.zeros(s, dtype=d))
ones = _filled(lambda xp, s, d: xp.ones(s, dtype=d))
empty = _filled(lambda xp, s, d: xp.empty(s, dtype=d))


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    with _on(device):
        return _make(_xp(device).full(_size((size,)), fill_value, dtype=dtypes.to_np(dtype)), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = dtypes.get_default_dtype() if is_float else dtypes.int64
    with _on(device):
        a = _xp(device).arange(start, end, step, dtype=np.float64).astype(dtypes.to_np(dtype))
    return _make(a, device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    with _on(device):
        a = _xp(device).linspace(start, end, int(steps), dtype=np.float64).astype(_float_dtype(dtype))
    return _make(a, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    with _on(device):
        return _make(_xp(device).eye(n, m, dtype=_float_dtype(dtype)), device, requires_grad)


def _like(factory):
    def create(input, *, dtype=None, device=None, requires_grad=False, **kw):
        return factory(
            input.shape,
            dtype=dtype if dtype is not None else input.dtype,
            device=device if device is not None else input.device,
            requires_grad=requires_grad,
            **kw,
        )

    return create


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(
        input.shape,
        fill_value,
        dtype=dtype if dtype is not None else input.dtype,
        device=device if device is not None else input.device,
        requires_grad=requires_grad,
    )


# --- random ----------------------------------------------------------------------------------


def _rng(generator, device):
    return (generator or default_generator).for_device(_backend.as_device(device))


def _random_float_dtype(dtype, fn):
    d = _float_dtype(dtype)
    if d.kind != "f":
        raise NotImplementedError(
            f"{fn}() draws floating point numbers, not {dtypes.as_dtype(dtype)}; use "
            "randint() for integers"
        )
    return d


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    d = _random_float_dtype(dtype, "rand")
    a = _rng(generator, device).random(_size(size), dtype=np.float64).astype(d)
    return _make(a, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    d = _random_float_dtype(dtype, "randn")
    a = _rng(generator, device).standard_normal(_size(size), dtype=np.float64).astype(d)
    return _make(a, device, requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """randint(high, size) or randint(low, high, size): integers in [low, high)."""
    if size is None and isinstance(high, (tuple, list)):
        high, size = None, high  # the randint(high, size) form
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    a = _rng(generator, device).integers(low, high, size=_size((size,)))
    return _make(a.astype(dtypes.to_np(dtype) if dtype is not None else np.int64), device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    a = _rng(generator, device).permutation(int(n))
    return _make(a.astype(dtypes.to_np(dtype) if dtype is not None else np.int64), device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None):
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None):
    """Samples of N(mean, std): mean/std numbers (then `size` is needed) or tensors."""
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    if like is not None:
        shape = np.broadcast_shapes(tuple(getattr(mean, "shape", ())), tuple(getattr(std, "shape", ())))
        z = randn(shape, generator=generator, dtype=dtype or like.dtype, device=device or like.device)
        return z * std + mean
    if size is None:
        raise TypeError("normal() needs `size` when mean and std are numbers")
    return randn(size, generator=generator, dtype=dtype, device=device) * std + mean


def bernoulli(input, p=None, *, generator=None):
    probs = input._data if p is None else p
    dev = input.device
    u = _rng(generator, dev).random(input.shape, dtype=np.float64)
    return wrap((u < probs).astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    probs = _backend.to_numpy(input._data).astype(np.float64)
    rng = _rng(generator, _backend.CPU)
    rows = probs.reshape(-1, probs.shape[-1])
    out = np.stack([
        rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=r / r.sum()) for r in rows
    ])
    out = out.reshape(probs.shape[:-1] + (num_samples,)).astype(np.int64)
    return wrap(_backend.to_device(out, input.device))
