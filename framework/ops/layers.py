"""Ops behind the nn layers that belong to no other family: linear (one fused node), bilinear,
dropout, embedding, one_hot, normalize, cosine_similarity, nearest interpolate; pad is join's.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .._backend import xp_of
from .._tensor import apply, wrap
from ..autograd.node import Node
from ..random import default_generator
from . import _dual as D
from .join import pad  # noqa: F401 - re-exported as nn.functional.pad
from .reduce import norm
from .reduce import sum as _sum

# --- linear ---------------------------------------------------------------------------------


class AddmmBackward0(Node):
    """x @ W.T + b for x: (*, in), W: (out, in), b: (out,) or None -> (*, out), one node."""

    __slots__ = ("b_shape",)
    inputs = ("input", "weight", "bias")
    saves = ("input", "weight")

    def forward(self, x, W, b):
        y = x @ W.T
        self.b_shape = None
        if b is not None:
            self.b_shape = b.shape
            y += b  # y is our own fresh array
        return y

    def backward(self, gy):
        x, W = self.saved()
        gx = gW = gb = None
        if self.needs_input_grad(0):
            gx = gy @ W
        if self.needs_input_grad(1):
            n_out, n_in = W.shape
            gW = D.mT(gy.reshape(-1, n_out)) @ x.reshape(-1, n_in)
        if self.needs_input_grad(2):
            gb = D.sum_to(gy, self.b_shape)
        return gx, gW, gb


def linear(input, weight, bias=None):
    """input (*, in_features), weight (out_features, in_features), bias (out_features,)."""
    x, W = input._data, weight._data
    if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[1]:
        lead = math.prod(x.shape[:-1]) if x.ndim else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({lead}x{x.shape[-1] if x.ndim else 1} "
            f"and {'x'.join(map(str, W.shape[::-1]))}); input {list(input.shape)} and weight "
            f"{list(weight.shape)} need input.shape[-1] == weight.shape[1]"
        )
    if x.dtype != W.dtype or (bias is not None and bias._data.dtype != x.dtype):
        raise RuntimeError(
            f"linear: expected input, weight and bias of one dtype, but got input {input.dtype}, "
            f"weight {weight.dtype}" + (f", bias {bias.dtype}" if bias is not None else "")
            + "; convert with .to(dtype) (e.g. model.double() or x.float())"
        )
    if bias is not None and bias._data.shape not in ((W.shape[0],), ()):
        raise RuntimeError(
            f"linear: bias of shape {list(bias.shape)} doesn't match weight {list(weight.shape)}"
        )
    return apply(AddmmBackward0, input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[n, o] = input1[n] @ weight[o] @ input2[n] + bias[o]; inputs (*, in1), (*, in2)."""
    out_f, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # (N, in1) @ (in1, out*in2) -> (N, out, in2), then contract in2 with x2
    t = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = _sum(t * x2.unsqueeze(1), -1)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out_f)


# --- dropout --------------------------------------------------------------------------------


class NativeDropoutBackward0(Node):
    __slots__ = ("mask",)

    def forward(self, x, mask):
        self.mask = mask  # 0 or 1/(1-p), broadcast against x
        return x * mask

    def backward(self, gy):
        return gy * self.mask


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0:
        return input
    x = input._data
    keep = 1.0 - p
    rng = default_generator.for_device(input.device)
    u = rng.random(mask_shape, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    # kept elements are scaled by 1/(1-p) so the expectation is unchanged (p = 1: all zero)
    mask = ((u < keep) * (1.0 / keep if keep > 0 else 0.0)).astype(x.dtype, copy=False)
    if inplace:
        from .indexing import inplace as write_back

        return write_back(input, lambda src: apply(NativeDropoutBackward0, src, mask=mask))
    return apply(NativeDropoutBackward0, input, mask=mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p (training), scaling the rest by 1/(1-p)."""
    return _dropout(input, p, training, inplace, input.shape)


def _channel_dropout(input, p, training, inplace, name, dims):
    _check_p(p)
    n = input.ndim
    if n not in dims:
        raise RuntimeError(
            f"{name}: Expected {dims[0]}D or {dims[1]}D input, but received a {n}D input. Note "
            f"that {name} exists to provide channel-wise dropout on inputs with "
            f"{dims[0] - 1} spatial dimension(s), a channel dimension, and an optional batch "
            f"dimension (i.e. {dims[0]}D or {dims[1]}D inputs)."
        )
    if name == "dropout2d" and n == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=3,
        )
        batched = True
    else:
        batched = n == dims[1]
    lead = 2 if batched else 1  # (N, C) or (C,): one draw per channel, broadcast over space
    mask_shape = tuple(input.shape[:lead]) + (1,) * (n - lead)
    return _dropout(input, p, training, inplace, mask_shape)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""
    return _channel_dropout(input, p, training, inplace, "dropout1d", (2, 3))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs (3-D: see the warning)."""
    return _channel_dropout(input, p, training, inplace, "dropout2d", (3, 4))


# --- embedding ------------------------------------------------------------------------------


class EmbeddingBackward0(Node):
    """weight[indices]; backward adds each row's gradient into the rows looked up (not into
    padding_idx's row), so rows never looked up get zero."""

    __slots__ = ("indices", "w_shape", "padding_idx", "scale_grad_by_freq")
    inputs = ("weight", "indices")

    def forward(self, W, idx, padding_idx, scale_grad_by_freq):
        self.indices, self.w_shape = idx, W.shape
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq
        return W[idx]

    def backward(self, gy):
        idx = self.indices
        keep = None
        if self.padding_idx is not None:
            keep = idx != self.padding_idx
        if self.scale_grad_by_freq:
            xp = xp_of(idx)
            counts = xp.bincount(idx.reshape(-1), minlength=self.w_shape[0])
            keep = (1.0 if keep is None else keep) / counts[idx]
        if keep is not None:
            gy = gy * xp_of(idx).expand_dims(keep, -1).astype(_dtype_of(gy), copy=False)
        return D.index_add(self.w_shape, idx, gy), None


def _dtype_of(g):
    return g.dtype if D.is_array(g) else g._data.dtype


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """input: indices (*) into weight (num_embeddings, dim) -> (*, dim)."""
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead (while checking arguments for "
            "embedding)"
        )
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % n
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError(
            f"index out of range in self (indices must be in [0, {n}) for an embedding of "
            f"{n} rows)"
        )
    if sparse:
        raise NotImplementedError("sparse gradients are not supported; use sparse=False")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    return apply(EmbeddingBackward0, weight, input, padding_idx=padding_idx,
                 scale_grad_by_freq=scale_grad_by_freq)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """Rescale (in place, untracked, as PyTorch) the looked-up rows whose norm exceeds max_norm."""
    W = weight._data
    xp = xp_of(W)
    rows = xp.unique(idx.reshape(-1))
    r = W[rows]
    norms = (xp.abs(r) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(W.dtype)
    W[rows] = r * scale[:, None]
    weight._bump_version()


# --- one_hot, normalize, cosine_similarity, interpolate -------------------------------------


def one_hot(tensor, num_classes=-1):
    """Class indices (*) -> int64 (*, num_classes) with a 1 at each index."""
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = xp_of(t)
    if t.size and int(t.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    elif t.size and int(t.max()) >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return wrap((t[..., None] == xp.arange(num_classes)).astype(np.int64))


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    denom = norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / denom


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2, dim) / (max(||x1||, eps) * max(||x2||, eps)), broadcasting x1 and x2."""
    n1 = norm(x1, 2, dim, keepdim=True).clamp(min=eps)
    n2 = norm(x2, 2, dim, keepdim=True).clamp(min=eps)
    return _sum((x1 / n1) * (x2 / n2), dim)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) input; modes 'nearest' and 'nearest-exact'."""
    if mode not in ("nearest", "nearest-exact"):
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not implemented; use 'nearest' or 'nearest-exact'"
        )
    if align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | "
            "bilinear | bicubic | trilinear"
        )
    k = input.ndim - 2
    if k < 1:
        raise ValueError(
            f"interpolate expects a batched input (N, C, *spatial), got {list(input.shape)}"
        )
    if (size is None) == (scale_factor is None):
        raise ValueError(
            "only one of size or scale_factor should be defined" if size is not None
            else "either size or scale_factor should be defined"
        )
    in_sizes = input.shape[2:]
    if size is not None:
        out_sizes = _per_dim(size, k, "size")
        scales = [i / o for i, o in zip(in_sizes, out_sizes)]
    else:
        factors = _per_dim(scale_factor, k, "scale_factor")
        out_sizes = [int(math.floor(i * f)) for i, f in zip(in_sizes, factors)]
        scales = ([i / o for i, o in zip(in_sizes, out_sizes)] if recompute_scale_factor
                  else [1.0 / f for f in factors])
    xp = xp_of(input._data)
    index = [slice(None), slice(None)]
    for d, (n_in, n_out, s) in enumerate(zip(in_sizes, out_sizes, scales)):
        pos = xp.arange(n_out, dtype=np.float64)
        src = xp.floor((pos + 0.5) * s if mode == "nearest-exact" else pos * s).astype(np.int64)
        shape = [1] * k
        shape[d] = n_out
        index.append(xp.minimum(src, n_in - 1).reshape(shape))  # an open mesh over the dims
    return input[tuple(index)]


def _per_dim(value, k, name):
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ValueError(
                f"Input and {name} must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {k} and {name} of {list(value)}."
            )
        return list(value)
    return [value] * k
