"""Optimizer: the base of every optimizer (param groups, per-parameter state, checkpoints).

The interface is torch.optim.Optimizer's:
- `param_groups`: a list of dicts, each holding its `params` and that group's hyperparameters
  (the constructor's `defaults` fill whatever a group leaves out);
- `state`: per-parameter buffers, keyed by the parameter Tensor itself (never by id());
- `state_dict()` / `load_state_dict()`: state saved by the parameter's position in the groups
  ({'state': {0: {...}}, 'param_groups': [{..., 'params': [0, 1]}]}), so a checkpoint loads
  into the optimizer of a freshly built model;
- `zero_grad(set_to_none=True)`, `step(closure=None)`, `add_param_group`, step hooks.

Subclasses write `step()` on the parameters' arrays (`p._data`) in place: no graph is recorded,
no per-element Python loop runs, and one formula serves NumPy and CuPy (the array's own
methods and `out=` arguments). They follow PyTorch's single-tensor (foreach=False) formulas,
so a training loop follows the same parameter trajectory as under torch.optim.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from .. import _backend
from .._tensor import Tensor, wrap, zero_grads
from ..autograd.grad_mode import enable_grad
from ..autograd.node import RemovableHandle
from ..dtypes import float64, get_default_dtype

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter every param group must give (no default)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    t = type(obj)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _to_scalar(x):
    """A hyperparameter as a Python float (a 1-element Tensor lr is allowed, as in PyTorch; a
    NumPy float64 would make `lr * grad` a float64 array under NumPy 2's promotion rules)."""
    return float(x.item() if isinstance(x, Tensor) else x)


def _new_step(value=0.0):
    """A fresh `state['step']`: a 0-dim CPU tensor of float32 (float64 under a float64 default
    dtype), as PyTorch keeps it."""
    dtype = np.float64 if get_default_dtype() == float64 else np.float32
    return wrap(np.array(value, dtype))


def _params_with_grads(group):
    """(p, its gradient array, its array, their array module) for each parameter of `group`
    that has a gradient: parameters whose .grad is None are skipped, so frozen ones stay
    bit-identical. (The grad is read from its slot: `p.grad` is a property.)"""
    for p in group["params"]:
        g = getattr(p, "_grad", None)
        if g is not None:
            x = p._data
            yield p, g._data, x, _backend.xp_of(x)


def _check_unsupported(differentiable):
    if differentiable:
        raise NotImplementedError(
            "differentiable=True is not supported: framework optimizers update parameters in "
            "place outside autograd. Write the update with framework ops if you need its gradient."
        )


class Optimizer:
    """Base class: holds the param groups and state; subclasses implement `step`."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._step_pre_hooks: dict = {}
        self._step_post_hooks: dict = {}
        self._opt_called = False
        self._in_hooked_step = False

        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {_typename(params)}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs):
        # Wrap each subclass's own step once: it records that step ran (the LR schedulers warn
        # when they are stepped first) and runs step hooks. One Python call per step.
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is None or getattr(step, "_hooked", False):
            return

        def hooked_step(self, *args, **kwargs):
            self._opt_called = True
            if not (self._step_pre_hooks or self._step_post_hooks) or self._in_hooked_step:
                return step(self, *args, **kwargs)  # (also a subclass's step calling super's)
            self._in_hooked_step = True
            try:
                return _run_hooked(self, step, args, kwargs)
            finally:
                self._in_hooked_step = False

        hooked_step._hooked = True
        hooked_step.__name__, hooked_step.__qualname__ = step.__name__, step.__qualname__
        hooked_step.__doc__ = step.__doc__
        cls.step = hooked_step

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", {})
        self.__dict__.setdefault("_step_post_hooks", {})
        self.__dict__.setdefault("_opt_called", False)
        self.__dict__.setdefault("_in_hooked_step", False)

    # --- param groups ---------------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Add a group (a dict with 'params' and optional per-group hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):  # (name, param) pairs from named_parameters()
                names.append(p[0])
                p = p[1]
            tensors.append(p)
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names
        param_group["params"] = tensors

        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(p)
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization parameter "
                    + name
                )
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):  # a set of Tensors hashes by identity
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error; see github.com/pytorch/pytorch/issues/40967 for more "
                "information",
                stacklevel=3,
            )
        seen = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not seen.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # --- gradients and steps --------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        zero_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure=None):
        """Update the parameters once; `closure` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """hook(optimizer, args, kwargs) before each step; may return (new_args, new_kwargs)."""
        return _register(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """hook(optimizer, args, kwargs) after each step."""
        return _register(self._step_post_hooks, hook)

    # --- checkpoints ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """{'state': {position: {name: value}}, 'param_groups': [{..., 'params': [positions]}]}.

        As in PyTorch the state tensors are the live ones (no copy): save the dict (or deepcopy
        it) to keep a snapshot while training goes on.
        """
        positions: dict = {}  # parameter -> its position, counting through the groups in order
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                positions.setdefault(p, i)
            packed["params"] = [positions[p] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {
            (positions[k] if isinstance(k, Tensor) else k): v for k, v in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a `state_dict()`: state goes to the parameter at the same position, copied onto
        its device (floating-point buffers in its dtype); hyperparameters come from the dict."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        by_position = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in by_position:
                p = by_position[k]
                state[p] = _cast(p, v)
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            for k, default in self.defaults.items():  # checkpoints from older versions
                saved.setdefault(k, default)
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})


def _run_hooked(opt, step, args, kwargs):
    """step with the optimizer's pre-hooks (which may replace args/kwargs) and post-hooks."""
    for hook in list(opt._step_pre_hooks.values()):
        result = hook(opt, args, kwargs)
        if result is not None:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(
                    f"{hook} must return None or a tuple of (new_args, new_kwargs), but got "
                    f"{result}."
                )
            args, kwargs = result
    out = step(opt, *args, **kwargs)
    for hook in list(opt._step_post_hooks.values()):
        hook(opt, args, kwargs)
    return out


class _HookHandle(RemovableHandle):
    """Removes a hook from a {key: hook} dict (so a hook registered twice runs twice)."""

    __slots__ = ()

    def remove(self):
        if self._hooks is not None:
            self._hooks.pop(self._fn, None)
            self._hooks = None


def _register(hooks: dict, hook) -> RemovableHandle:
    key = object()
    hooks[key] = hook
    return _HookHandle(hooks, key)


def _cast(param, value, key=None):
    """A copy of a saved state value for `param`: arrays on its device (floating ones in its
    dtype), except `step`, which stays on the CPU; containers are copied recursively."""
    if isinstance(value, Tensor) or isinstance(value, np.ndarray) or _backend.is_cupy_array(value):
        a = value._data if isinstance(value, Tensor) else value
        if type(a) not in _backend.ARRAY_TYPES:
            a = np.asarray(a)  # a NumPy scalar
        if key == "step":
            return wrap(np.array(_backend.to_numpy(a)))  # a copy
        p = param._data
        if a.dtype.kind == "f" and p.dtype.kind == "f" and a.dtype != p.dtype:
            a = a.astype(p.dtype)
        return wrap(_backend.to_device(a, _backend.device_of(p), copy=True))
    if key == "step" and isinstance(value, (int, float)):
        return _new_step(value)  # a plain number, from an older checkpoint
    if isinstance(value, dict):
        return {k: _cast(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value
