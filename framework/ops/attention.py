"""Attention: scaled_dot_product_attention and the multi-head attention forward, composed of
framework ops (matmul, softmax, dropout), so gradients and double backward come from them.

Masks become one additive constant (0 where attending, -inf where not), built once as an array;
a float mask is added as a tensor (it may carry gradients). SDPA follows PyTorch's "safe"
softmax: a query whose every key is masked gets zero weights (not NaN).
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import xp_of
from .._tensor import wrap
from . import activation as A
from . import layers as L
from .arith import where


def _mask_dtype_error(mask, query):
    return RuntimeError(
        "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
        f"attn_mask.dtype: {mask.dtype} and query.dtype: {query.dtype} instead."
    )


def _additive(keep, like):
    """A bool 'attend here' array -> the additive mask array (0 / -inf) in like's dtype."""
    xp = xp_of(keep)
    return xp.where(keep, like.dtype.type(0), like.dtype.type(-np.inf))


def _softmax_rows(scores):
    """softmax over the last dim, where rows that are all -inf give zeros, not NaN."""
    dead = xp_of(scores._data).isneginf(scores._data).all(axis=-1, keepdims=True)
    if bool(dead.any()):
        keep = wrap((~dead).astype(scores._data.dtype))
        return A.softmax(where(wrap(dead), 0.0, scores), -1) * keep
    return A.softmax(scores, -1)


def _attention(q, k, v, mask_array, mask_tensor, dropout_p, scale, safe):
    """softmax(q k^T * scale + masks) (dropout) @ v; returns (output, weights)."""
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask_array is not None:
        scores = scores + wrap(mask_array)
    if mask_tensor is not None:
        scores = scores + mask_tensor
    masked = mask_array is not None or mask_tensor is not None
    attn = _softmax_rows(scores) if safe and masked else A.softmax(scores, -1)
    if dropout_p > 0:
        attn = L.dropout(attn, dropout_p, True)
    return attn @ v, attn


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T / sqrt(E) + mask) V. query (..., L, E), key (..., S, E), value (..., S, Ev)
    -> (..., L, Ev). A bool attn_mask marks with True the pairs that take part (as PyTorch's
    SDPA); a float one is added to the scores. is_causal: query i attends keys j <= i."""
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least 2-D")
    E, S, Lq = query.shape[-1], key.shape[-2], query.shape[-2]
    if key.shape[-1] != E:
        raise RuntimeError(
            f"scaled_dot_product_attention: query and key must have the same embedding size, but "
            f"got query {list(query.shape)} and key {list(key.shape)}"
        )
    if value.shape[-2] != S:
        raise RuntimeError(
            f"scaled_dot_product_attention: key and value must have the same sequence length, "
            f"but got key {list(key.shape)} and value {list(value.shape)}"
        )
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = (_repeat_heads(t, query.shape[-3]) for t in (key, value))
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    mask_array = mask_tensor = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                "is_causal=True"
            )
        xp = xp_of(query._data)
        mask_array = _additive(xp.tril(xp.ones((Lq, S), dtype=bool)), query._data)
    elif attn_mask is not None:
        if attn_mask._data.dtype.kind == "f":
            mask_tensor = attn_mask
        elif attn_mask._data.dtype == np.bool_:
            mask_array = _additive(attn_mask._data, query._data)
        else:
            raise _mask_dtype_error(attn_mask, query)
    out, _ = _attention(query, key, value, mask_array, mask_tensor, dropout_p, scale, safe=True)
    return out


def _repeat_heads(t, heads):
    """(..., Hk, S, E) -> (..., heads, S, E), each of the Hk heads repeated heads/Hk times."""
    hk = t.shape[-3]
    if heads % hk:
        raise RuntimeError(
            f"scaled_dot_product_attention: number of heads in key/value ({hk}) must divide the "
            f"number of heads in query ({heads})"
        )
    lead = tuple(t.shape[:-3])
    g = heads // hk
    expanded = t.unsqueeze(-3).expand(*lead, hk, g, *t.shape[-2:])
    return expanded.reshape(*lead, heads, *t.shape[-2:])


# --- multi-head attention ------------------------------------------------------------------------


def _check_mha_mask(attn_mask, L_, S, N, heads):
    if attn_mask.dim() == 2:
        if tuple(attn_mask.shape) != (L_, S):
            raise RuntimeError(
                f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be {(L_, S)}."
            )
        return attn_mask
    if attn_mask.dim() == 3:
        if tuple(attn_mask.shape) != (N * heads, L_, S):
            raise RuntimeError(
                f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                f"{(N * heads, L_, S)}."
            )
        return attn_mask.reshape(N, heads, L_, S)
    raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")


def _mask_parts(mask, like, masked_is_true):
    """A bool mask -> (additive array, None); a float mask -> (None, the tensor)."""
    kind = mask._data.dtype.kind
    if kind == "b":
        keep = ~mask._data if masked_is_true else mask._data
        return _additive(keep, like), None
    if kind == "f":
        return None, mask
    raise AssertionError("only bool and floating types of attn_mask are supported")


def multi_head_attention(query, key, value, num_heads, w_q, w_k, w_v, b_q, b_k, b_v,
                         out_weight, out_bias, bias_k=None, bias_v=None, add_zero_attn=False,
                         dropout_p=0.0, key_padding_mask=None, need_weights=True, attn_mask=None,
                         average_attn_weights=True):
    """query (L, N, E), key (S, N, kdim), value (S, N, vdim) -> ((L, N, E), weights or None).
    Masks: attn_mask (L, S) or (N*heads, L, S), key_padding_mask (N, S); True = NOT attended."""
    from .join import cat
    from .join import pad as _pad

    L_, N, E = query.shape
    hd = E // num_heads
    q = L.linear(query, w_q, b_q)
    k = L.linear(key, w_k, b_k)
    v = L.linear(value, w_v, b_v)
    if bias_k is not None:
        k = cat([k, bias_k.expand(1, N, E)], 0)
        v = cat([v, bias_v.expand(1, N, E)], 0)
        attn_mask = _pad(attn_mask, (0, 1)) if attn_mask is not None else None
        key_padding_mask = _pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None

    def heads(t):  # (T, N, E) -> (N, heads, T, hd)
        return t.reshape(t.shape[0], N, num_heads, hd).permute(1, 2, 0, 3)

    q, k, v = heads(q), heads(k), heads(v)
    if add_zero_attn:
        zeros = k.new_zeros((N, num_heads, 1, hd))
        k, v = cat([k, zeros], 2), cat([v, zeros], 2)
        attn_mask = _pad(attn_mask, (0, 1)) if attn_mask is not None else None
        key_padding_mask = _pad(key_padding_mask, (0, 1)) if key_padding_mask is not None else None
    S = k.shape[2]
    arrays, tensors = [], []
    if attn_mask is not None:
        a, t = _mask_parts(_check_mha_mask(attn_mask, L_, S, N, num_heads), query._data, True)
        arrays.append(a)
        tensors.append(t)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise AssertionError(
                f"expected key_padding_mask of shape {(N, S)}, but got {tuple(key_padding_mask.shape)}"
            )
        a, t = _mask_parts(key_padding_mask.reshape(N, 1, 1, S), query._data, True)
        arrays.append(a)
        tensors.append(t)
    mask_array = mask_tensor = None
    for a in arrays:
        if a is not None:
            mask_array = a if mask_array is None else mask_array + a
    for t in tensors:
        if t is not None:
            mask_tensor = t if mask_tensor is None else mask_tensor + t
    # PyTorch: weights requested -> plain softmax (an all-masked row is NaN); else SDPA's safe one
    out, attn = _attention(q, k, v, mask_array, mask_tensor, dropout_p, 1.0 / math.sqrt(hd),
                           safe=not need_weights)
    out = out.permute(2, 0, 1, 3).reshape(L_, N, E)
    out = L.linear(out, out_weight, out_bias)
    if not need_weights:
        return out, None
    return out, (attn.mean(1) if average_attn_weights else attn)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """PyTorch's functional multi-head attention (the arguments of nn.MultiheadAttention's
    parameters); query (L, N, E) or unbatched (L, E)."""
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v are not supported")
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
            "method `generate_square_subsequent_mask` to create this mask."
        )
    if query.shape[-1] != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {query.shape[-1]}"
        )
    E = embed_dim_to_check
    if use_separate_proj_weight:
        ws = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        ws = (in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:])
    bs = (None,) * 3 if in_proj_bias is None else (
        in_proj_bias[:E], in_proj_bias[E:2 * E], in_proj_bias[2 * E:])
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    out, weights = multi_head_attention(
        query, key, value, num_heads, *ws, *bs, out_proj_weight, out_proj_bias, bias_k, bias_v,
        add_zero_attn, dropout_p if training else 0.0, key_padding_mask, need_weights, attn_mask,
        average_attn_weights)
    if not batched:
        out = out.squeeze(1)
        weights = weights.squeeze(0) if weights is not None else None
    return out, weights
