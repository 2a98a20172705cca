"""framework: a small, readable deep-learning framework with PyTorch's names and semantics.

    import framework as fw
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])
"""

from . import autograd, cuda, dtypes
from ._backend import device
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.anomaly import is_anomaly_enabled, set_detect_anomaly
from .autograd.grad_mode import is_grad_enabled, is_inference_mode_enabled
from .creation import (
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like, linspace,
    multinomial, normal, ones, ones_like, rand, rand_like, randint, randint_like, randn,
    randn_like, randperm, tensor, zeros, zeros_like,
)
from .dtypes import (
    bool, double, float, float16, float32, float64, get_default_dtype, half, int, int8, int16,
    int32, int64, long, set_default_dtype, short, uint8,
)
from .dtypes import dtype, promote_types
from .ops.arith import (
    abs, add, ceil, clamp, clip, cos, div, eq, exp, expm1, floor, floor_divide, ge, gt, isfinite,
    isinf, isnan, le, log, log1p, logical_and, logical_not, logical_or, logical_xor, lt, maximum,
    minimum, mul, ne, neg, pow, reciprocal, relu, remainder, round, rsqrt, sigmoid, sign, sin,
    sqrt, square, sub, tanh, trunc, where,
)
from .ops.convert import clone
from .ops.linalg import bmm, dot, matmul, mm, mv, outer
from .ops.indexing import (
    gather, index_select, masked_fill, masked_select, nonzero, scatter, scatter_add,
    take_along_dim,
)
from .ops.join import (
    cat, chunk, concat, concatenate, flip, hstack, roll, split, stack, tile, tril, triu, unbind,
    vstack,
)
from .ops.reduce import (
    all, amax, amin, any, argmax, argmin, count_nonzero, cumsum, logsumexp, max, mean, min, norm,
    prod, std, std_mean, sum, var, var_mean,
)
from .ops.shape import (
    broadcast_to, flatten, moveaxis, movedim, narrow, permute, reshape, select, squeeze, swapaxes,
    swapdims, t, transpose, unflatten, unsqueeze,
)
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from ._tensor import Size, Tensor
from .serialization import load, save
from . import nn
from . import optim, data, utils

multiply, subtract, divide, true_divide, negative = mul, sub, div, div, neg


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input) -> int:
    return input.numel()


def is_floating_point(input) -> bool:
    return input.is_floating_point()


def equal(input, other) -> bool:
    return input.equal(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return input.allclose(other, rtol, atol, equal_nan)


__version__ = "0.1.0"
