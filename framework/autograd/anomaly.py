"""detect_anomaly: find where a NaN in backward came from.

While enabled, every graph node remembers the stack of the forward call that created it, and
the engine checks each gradient a node returns: a NaN raises RuntimeError naming the node and
printing the forward stack. Costs a traceback per op, so it is for debugging only.
"""

from __future__ import annotations

import os
import traceback
import warnings


class _State:
    """Process-wide, as PyTorch's anomaly mode is (and cheap to read on every op)."""

    enabled = False
    check_nan = True


state = _State


def is_anomaly_enabled() -> bool:
    return state.enabled


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../framework


def capture_stack():
    """The current stack up to the user's call into the framework (its own frames dropped)."""
    frames = traceback.extract_stack()
    while frames and os.path.abspath(frames[-1].filename).startswith(_PACKAGE + os.sep):
        frames.pop()
    return "".join(traceback.format_list(frames))


class detect_anomaly:
    """Context manager (and decorator) enabling anomaly detection, as torch.autograd.detect_anomaly."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime "
            "and should only be enabled for debugging.",
            stacklevel=2,
        )
        self._prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = True, self.check_nan

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self._prev

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly:
    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (state.enabled, state.check_nan)
        state.enabled, state.check_nan = bool(mode), check_nan

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        state.enabled, state.check_nan = self._prev
