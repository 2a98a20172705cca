"""framework.nn.init: fill tensors in place (untracked by autograd) with PyTorch's schemes.

Every draw comes from the framework's generator (`framework.manual_seed` reproduces it), on
the tensor's own device; pass `generator=` to use another.
"""

from __future__ import annotations

import math
import warnings

from .._backend import xp_of
from ..random import default_generator


def _rng(tensor, generator):
    return (generator or default_generator).for_device(tensor.device)


def _write(tensor, values):
    """tensor[...] = values, in place and outside autograd (as under no_grad)."""
    tensor._data[...] = values
    tensor._bump_version()
    return tensor


def _empty_warning(tensor):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: relu sqrt(2), tanh 5/3, leaky_relu
    sqrt(2 / (1 + slope^2)), selu 3/4, linear/conv/sigmoid 1."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight (out, in, *kernel): in * prod(kernel), out * prod(kernel)."""
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """U(a, b)."""
    rng = _rng(tensor, generator)
    return _write(tensor, rng.random(tensor.shape) * (b - a) + a)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """N(mean, std^2)."""
    rng = _rng(tensor, generator)
    return _write(tensor, rng.standard_normal(tensor.shape) * std + mean)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) restricted to [a, b] (draws outside are redrawn)."""
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of "
            "values may be incorrect.", stacklevel=2,
        )
    rng = _rng(tensor, generator)
    xp = xp_of(tensor._data)
    values = rng.standard_normal(tensor.shape) * std + mean
    for _ in range(100):  # each round redraws only the rejected entries
        bad = (values < a) | (values > b)
        n = int(bad.sum())
        if n == 0:
            break
        values[bad] = rng.standard_normal(n) * std + mean
    return _write(tensor, xp.clip(values, a, b))


def constant_(tensor, val):
    return _write(tensor, val)


def ones_(tensor):
    return _write(tensor, 1)


def zeros_(tensor):
    return _write(tensor, 0)


def eye_(tensor):
    """The identity matrix (2-D tensors only; ones on the main diagonal of a rectangle)."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    xp = xp_of(tensor._data)
    return _write(tensor, xp.eye(*tensor.shape, dtype=tensor._data.dtype))


def dirac_(tensor, groups=1):
    """Conv weights (out, in, *k) that pass each input channel through (the identity conv)."""
    dims = tensor.dim()
    if dims not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = sizes[0] // groups
    n = min(out_per_group, sizes[1])
    xp = xp_of(tensor._data)
    values = xp.zeros(sizes, dtype=tensor._data.dtype)
    d = xp.arange(n)
    rows = (xp.arange(groups)[:, None] * out_per_group + d).reshape(-1)
    cols = xp.tile(d, groups)
    centre = tuple(s // 2 for s in sizes[2:])
    values[(rows, cols) + centre] = 1
    return _write(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(-bound, bound), bound = gain * sqrt(3 / fan) (He et al., 2015)."""
    if _empty_warning(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std^2), std = gain / sqrt(fan)."""
    if _empty_warning(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix (trailing dims flattened), from the QR of a Gaussian one."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    xp = xp_of(tensor._data)
    flat = _rng(tensor, generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))  # makes the distribution uniform (Mezzadri, 2007)
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tensor.shape))
