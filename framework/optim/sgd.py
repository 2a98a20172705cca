"""SGD: stochastic gradient descent with optional momentum, Nesterov, weight decay, maximize.

For each parameter p with gradient g (PyTorch's formulas, `_single_tensor_sgd`):

    g = -g if maximize;  g = g + weight_decay * p
    buf = g (first step)  or  buf = momentum * buf + (1 - dampening) * g
    g = g + momentum * buf (nesterov)  or  g = buf
    p = p - lr * g
"""

from __future__ import annotations

from .._tensor import Tensor, wrap
from .optimizer import Optimizer, _check_unsupported, _params_with_grads, _to_scalar

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported(differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            momentum, weight_decay = group["momentum"], group["weight_decay"]
            maximize = group["maximize"]
            if momentum == 0 and weight_decay == 0:
                # The common case: one in-place update per parameter, no state (inlined: the
                # MLP benchmark counts every microsecond of this loop).
                for p in group["params"]:
                    g = getattr(p, "_grad", None)
                    if g is None:
                        continue
                    x = p._data
                    if maximize:
                        x += lr * g._data
                    else:
                        x -= lr * g._data
                    vc = p._vc  # p._bump_version(), inlined
                    if vc is None:
                        p._vc = [1]
                    else:
                        vc[0] += 1
                continue
            dampening, nesterov = group["dampening"], group["nesterov"]
            for p, g, x, _xp in _params_with_grads(group):
                if maximize:
                    g = -g
                if weight_decay != 0:
                    g = g + weight_decay * x
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = g.copy()
                        state["momentum_buffer"] = wrap(buf)
                    else:
                        buf = buf._data
                        buf *= momentum
                        buf += g if dampening == 0 else (1 - dampening) * g
                    g = g + momentum * buf if nesterov else buf
                x -= lr * g
                p._bump_version()
        return loss

