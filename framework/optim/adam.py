"""Adam (Kingma & Ba), with L2 or decoupled weight decay, AMSGrad and maximize.

For each parameter p with gradient g, at step t (PyTorch's `_single_tensor_adam`):

    g = -g if maximize
    p = p * (1 - lr * weight_decay)  (decoupled, AdamW)   or   g = g + weight_decay * p
    m = lerp(m, g, 1 - beta1);   v = beta2 * v + (1 - beta2) * g * g
    v_max = max(v_max, v)  (amsgrad; then used in place of v below)
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
"""

from __future__ import annotations

from .._backend import xp_of
from .._tensor import Tensor, wrap
from .optimizer import Optimizer, _check_unsupported, _new_step, _params_with_grads, _to_scalar

__all__ = ["Adam"]


def _check_adam_args(lr, betas, eps, weight_decay):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def lerp_(start, end, weight, tmp):
    """start += weight * (end - start) in place, as PyTorch's lerp evaluates it; `tmp` is a
    scratch array of start's shape (it ends up holding end - start, scaled)."""
    if abs(weight) < 0.5:
        xp_of(start).subtract(end, start, out=tmp)
        tmp *= weight
        start += tmp
    else:  # PyTorch's form for large weights: end - (end - start) * (1 - weight)
        xp_of(start).subtract(end, start, out=tmp)
        tmp *= 1 - weight
        xp_of(start).subtract(end, tmp, out=start)


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        _check_unsupported(differentiable)
        betas = tuple(_to_scalar(b) for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure()'s loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = _to_scalar(group["lr"])
            beta1, beta2 = (_to_scalar(b) for b in group["betas"])
            eps, weight_decay, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
            maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
            for p, g, x, xp in _params_with_grads(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _new_step()
                    state["exp_avg"] = wrap(xp.zeros_like(x))
                    state["exp_avg_sq"] = wrap(xp.zeros_like(x))
                    if amsgrad:
                        state["max_exp_avg_sq"] = wrap(xp.zeros_like(x))
                step_t = state["step"]._data
                step_t += 1
                step = float(step_t)
                if maximize:
                    g = -g
                if weight_decay != 0:
                    if decoupled:
                        x *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * x
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                tmp = xp.empty_like(x)
                lerp_(m, g, 1 - beta1, tmp)
                v *= beta2
                xp.multiply(g, 1 - beta2, out=tmp)  # addcmul: v + ((1 - beta2) * g) * g
                tmp *= g
                v += tmp

                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                if amsgrad:
                    v_max = state["max_exp_avg_sq"]._data
                    xp.maximum(v_max, v, out=v_max)
                    v = v_max
                denom = xp.sqrt(v)
                denom /= bias_correction2_sqrt
                denom += eps
                xp.multiply(m, -step_size, out=tmp)  # addcdiv: x + (-step_size * m) / denom
                tmp /= denom
                x += tmp
                p._bump_version()
        return loss
