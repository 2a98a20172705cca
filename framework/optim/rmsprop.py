"""RMSprop (Hinton), with optional momentum, centering, weight decay and maximize.

For each parameter p with gradient g (PyTorch's `_single_tensor_rmsprop`):

    g = -g if maximize;  g = g + weight_decay * p
    s = alpha * s + (1 - alpha) * g * g
    avg = sqrt(s - ga * ga) + eps, with ga = lerp(ga, g, 1 - alpha)  (centered)
        or sqrt(s) + eps
    buf = momentum * buf + g / avg;  p = p - lr * buf   (momentum > 0)
    or p = p - lr * g / avg
"""

from __future__ import annotations

from .._tensor import Tensor, wrap
from .adam import lerp_
from .optimizer import Optimizer, _check_unsupported, _new_step, _params_with_grads, _to_scalar

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_unsupported(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            alpha, eps, weight_decay = group["alpha"], group["eps"], group["weight_decay"]
            momentum, centered, maximize = group["momentum"], group["centered"], group["maximize"]
            for p, g, x, xp in _params_with_grads(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["square_avg"] = wrap(xp.zeros_like(x))
                    if momentum > 0:
                        state["momentum_buffer"] = wrap(xp.zeros_like(x))
                    if centered:
                        state["grad_avg"] = wrap(xp.zeros_like(x))
                state["step"]._data += 1
                if maximize:
                    g = -g
                if weight_decay != 0:
                    g = g + weight_decay * x
                s = state["square_avg"]._data
                tmp = xp.empty_like(x)
                s *= alpha
                xp.multiply(g, 1 - alpha, out=tmp)  # addcmul: s + ((1 - alpha) * g) * g
                tmp *= g
                s += tmp
                if centered:
                    ga = state["grad_avg"]._data
                    lerp_(ga, g, 1 - alpha, tmp)
                    xp.multiply(ga, ga, out=tmp)
                    xp.subtract(s, tmp, out=tmp)
                    avg = xp.sqrt(tmp, out=tmp)
                else:
                    avg = xp.sqrt(s, out=tmp)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += g / avg  # addcdiv with value 1
                    x -= lr * buf
                else:
                    update = xp.multiply(g, -lr)  # addcdiv: x + (-lr * g) / avg
                    update /= avg
                    x += update
                p._bump_version()
        return loss
