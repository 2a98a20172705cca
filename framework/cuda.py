"""framework.cuda: what PyTorch's torch.cuda offers that applies to CuPy-backed tensors."""

from __future__ import annotations

from . import _backend


def is_available() -> bool:
    """True when CuPy imports and sees at least one CUDA GPU (False, never an error, otherwise)."""
    return _backend.cuda_is_available()


def device_count() -> int:
    return _backend.cuda_device_count()


def synchronize(device=None) -> None:
    _backend.synchronize()


def current_device() -> int:
    return _backend.require_cupy().cuda.Device().id


def set_device(device) -> None:
    dev = _backend.as_device(device)
    _backend.require_cupy().cuda.Device(dev.index or 0).use()


def manual_seed(seed) -> None:
    from .random import manual_seed as _seed

    _seed(seed)


manual_seed_all = manual_seed


def memory_allocated(device=None) -> int:
    """Bytes held by live arrays in CuPy's memory pool (0 without a GPU)."""
    if not is_available():
        return 0
    return _backend.require_cupy().get_default_memory_pool().used_bytes()


def memory_reserved(device=None) -> int:
    if not is_available():
        return 0
    return _backend.require_cupy().get_default_memory_pool().total_bytes()


_peak = 0


def max_memory_allocated(device=None) -> int:
    """The largest memory_allocated() seen at any call of this or reset_peak_memory_stats."""
    global _peak
    _peak = max(_peak, memory_allocated(device))
    return _peak


def reset_peak_memory_stats(device=None) -> None:
    global _peak
    _peak = memory_allocated(device)


def empty_cache() -> None:
    if is_available():
        cp = _backend.require_cupy()
        cp.get_default_memory_pool().free_all_blocks()
        cp.get_default_pinned_memory_pool().free_all_blocks()
