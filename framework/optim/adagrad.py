"""Adagrad (Duchi et al.), with learning-rate decay, weight decay and maximize.

For each parameter p with gradient g, at step t (PyTorch's `_single_tensor_adagrad`):

    g = -g if maximize;  g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g            (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
"""

from __future__ import annotations

from .._backend import xp_of
from .._tensor import Tensor, wrap
from .optimizer import Optimizer, _check_unsupported, _new_step, _params_with_grads, _to_scalar

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_unsupported(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        state["step"] = _new_step()
        state["sum"] = wrap(xp_of(p._data).full_like(p._data, group["initial_accumulator_value"]))
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            lr_decay, eps = group["lr_decay"], group["eps"]
            weight_decay, maximize = group["weight_decay"], group["maximize"]
            for p, g, x, xp in _params_with_grads(group):
                state = self.state[p]
                if len(state) == 0:  # a group added after construction
                    state = self._init_state(p, group)
                step_t = state["step"]._data
                step_t += 1
                step = float(step_t)
                if maximize:
                    g = -g
                if weight_decay != 0:
                    g = g + weight_decay * x
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                tmp = xp.multiply(g, g)  # addcmul with value 1
                s += tmp
                std = xp.sqrt(s)
                std += eps
                xp.multiply(g, -clr, out=tmp)  # addcdiv: x + (-clr * g) / std
                tmp /= std
                x += tmp
                p._bump_version()
        return loss
