"""Parameter: a Tensor that a Module registers as a learnable weight; Buffer: one it registers
as state (saved in the state dict, never trained)."""

from __future__ import annotations

from .. import dtypes
from .._tensor import Tensor, wrap


def _leaf_over(t, data):
    """Make `t` a leaf over data's array, sharing its version counter (as detach() does)."""
    if data is None:
        import numpy as np

        array = np.empty(0, dtype=dtypes.get_default_dtype().np_dtype)
        data = wrap(array)
    elif not isinstance(data, Tensor):
        raise TypeError(
            f"{type(t).__name__}(): argument 'data' must be Tensor, not {type(data).__name__}"
        )
    if data._vc is None:
        data._vc = [0]
    t._data = data._data
    t._vc = data._vc
    t.grad_fn = None
    t._output_nr = 0
    t._inference = data._inference
    t._requires_grad = False


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, joins `module.parameters()`.

    Parameter(data=None, requires_grad=True) shares data's array: a leaf even if `data` is not.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        _leaf_over(self, data)
        if requires_grad:
            self.requires_grad_(True)  # (even under no_grad, as PyTorch)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(wrap(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        from .._backend import to_numpy

        return (_rebuild_parameter, (to_numpy(self._data), str(self.device), self._requires_grad))


def _rebuild_parameter(array, device, requires_grad):
    t = wrap(array)
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad)


class Buffer(Tensor):
    """A Tensor that, assigned as a Module attribute, joins `module.buffers()`:
    `self.running = nn.Buffer(framework.zeros(3), persistent=True)`."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        _leaf_over(self, data)
        if data is not None and data._requires_grad:
            self.requires_grad_(True)
        self.persistent = persistent
