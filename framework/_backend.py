"""The only module that knows NumPy from CuPy.

Everything above it asks this module for the array module of an array (`xp`), for the device
an array lives on, and for moves between devices. Ops are written once against `xp` and never
branch on the device. CuPy is imported lazily, the first time CUDA is asked for, so
`import framework` needs NumPy only.

CuPy gaps we work around (one place, so they are easy to find):
- `xp.add.at` exists in CuPy as `cupyx.scatter_add`; see `scatter_add_at`.
- `numpy.lib.stride_tricks.as_strided` is `cupy.lib.stride_tricks.as_strided`; see `as_strided`.
"""

from __future__ import annotations

import numpy as np

_cupy = None  # the cupy module once imported; False if the import failed
_cupy_error = None

# The array classes a Tensor may hold (cupy.ndarray joins when CuPy is imported): checked on
# every op result, because NumPy returns scalars (np.float32) where we need 0-dim arrays.
ARRAY_TYPES = {np.ndarray}


def _import_cupy():
    global _cupy, _cupy_error
    if _cupy is None:
        try:
            import cupy

            _cupy = cupy
            ARRAY_TYPES.add(cupy.ndarray)
        except Exception as e:  # ImportError, or a CUDA library failing to load
            _cupy, _cupy_error = False, e
    return _cupy or None


def cuda_is_available() -> bool:
    cp = _import_cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def cuda_device_count() -> int:
    return _cupy.cuda.runtime.getDeviceCount() if cuda_is_available() else 0


def require_cupy():
    """The cupy module, or a RuntimeError saying how to get a working CUDA setup."""
    cp = _import_cupy()
    if cp is None:
        raise RuntimeError(
            "CUDA was requested but CuPy is not installed or failed to import "
            f"({_cupy_error!r}). Install it with `pip install -e .[cuda]` "
            "(CuPy for CUDA 12: cupy-cuda12x, for CUDA 13: cupy-cuda13x), or use device='cpu'."
        )
    if not cuda_is_available():
        raise RuntimeError(
            "CUDA was requested but no CUDA GPU is available (CuPy imported, but found no "
            "device). Check `nvidia-smi` and the driver, or use device='cpu'."
        )
    return cp


class device:
    """A device: `device('cpu')`, `device('cuda')`, `device('cuda:1')`, `device('cuda', 1)`."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string like 'cpu' or 'cuda:0', got {type!r}")
        if not type:
            raise RuntimeError("Device string must not be empty")
        if ":" in type:
            if index is not None:
                raise ValueError(f"device string {type!r} already has an index; got index={index}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        if index is not None and index < 0:
            raise RuntimeError("Device index must not be negative")
        if type == "cpu" and index not in (None, 0):
            raise RuntimeError(f"CPU device index must be 0 or None, got {index}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", None if type == "cpu" else index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):  # a convenience PyTorch lacks: x.device == "cpu"
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")
_cuda_devices: dict[int, device] = {}


def as_device(d) -> device:
    """Parse what users pass as a device (None, str, int, device) into a `device`."""
    if d is None:
        return CPU
    if isinstance(d, device):
        return d
    if isinstance(d, int):
        return device("cuda", d)
    return device(d)


def device_of(array) -> device:
    if type(array) is np.ndarray:
        return CPU
    idx = array.device.id
    dev = _cuda_devices.get(idx)
    if dev is None:
        dev = _cuda_devices[idx] = device("cuda", idx)
    return dev


def is_cupy_array(obj) -> bool:
    """True for a CuPy array (even one made before the framework imported CuPy)."""
    return type(obj).__module__.split(".")[0] == "cupy"


def xp_of(array):
    """The array module (numpy or cupy) that owns `array`."""
    if type(array) is np.ndarray:
        return np
    return _cupy if _cupy else np


def array_module_for(dev: device):
    return np if dev.type == "cpu" else require_cupy()


def to_device(array, dev: device, copy: bool = False):
    """`array` moved to `dev` (a no-op unless the device differs or `copy`)."""
    if dev.type == "cpu":
        if type(array) is np.ndarray:
            return array.copy() if copy else array
        return array.get()
    cp = require_cupy()
    index = cp.cuda.Device().id if dev.index is None else dev.index  # "cuda": the current GPU
    if type(array) is not np.ndarray and array.device.id == index:
        return array.copy() if copy else array
    with cp.cuda.Device(index):
        return cp.asarray(array)


def to_numpy(array) -> np.ndarray:
    return array if type(array) is np.ndarray else array.get()


def scatter_add_at(xp, target, index, values):
    """`target[index] += values` with repeated indices accumulated (np.add.at semantics)."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)


def as_strided(a, shape, strides):
    """A strided view of `a` (the sliding windows of conv and pooling). CuPy's version lives
    in `cupy.lib.stride_tricks` (imported explicitly here; there is no `xp.lib` to rely on)."""
    if type(a) is np.ndarray:
        return np.lib.stride_tricks.as_strided(a, shape, strides)
    from cupy.lib.stride_tricks import as_strided as cupy_as_strided

    return cupy_as_strided(a, shape, strides)


def synchronize():
    if _cupy:
        _cupy.cuda.Device().synchronize()
