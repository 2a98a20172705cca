"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoderLayer against NumPy
softmax(Q K^T / sqrt(d)) V with masks (bool, float, causal, key padding), gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def np_softmax(a):
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_attention(q, k, v, add=None, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if add is not None:
        s = s + add
    return np_softmax(s) @ v


def close(t, expected, what):
    np.testing.assert_allclose(t.detach().cpu().numpy(), expected, rtol=1e-10, atol=1e-12, err_msg=what)


# --- scaled_dot_product_attention ----------------------------------------------------------------


def _qkv():
    return RNG.standard_normal((2, 3, 5, 4)), RNG.standard_normal((2, 3, 6, 4)), RNG.standard_normal((2, 3, 6, 7))


def test_sdpa_plain_and_scale(backend):
    q, k, v = _qkv()
    T = backend.tensor
    close(F.scaled_dot_product_attention(T(q), T(k), T(v)), np_attention(q, k, v), "sdpa")
    close(F.scaled_dot_product_attention(T(q), T(k), T(v), scale=0.3), np_attention(q, k, v, scale=0.3),
          "sdpa scale")
    close(F.scaled_dot_product_attention(T(q[0, 0]), T(k[0, 0]), T(v[0, 0])),
          np_attention(q[0, 0], k[0, 0], v[0, 0]), "sdpa 2-D")


def test_sdpa_masks(backend):
    q, k, v = _qkv()
    T = backend.tensor
    keep = RNG.random((5, 6)) > 0.4
    keep[:, 0] = True
    close(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(keep)),
          np_attention(q, k, v, np.where(keep, 0.0, -np.inf)), "bool mask (True = attend)")
    add = RNG.standard_normal((2, 1, 5, 6))
    close(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(add)),
          np_attention(q, k, v, add), "float mask is added")
    causal = np.where(np.tril(np.ones((5, 6), dtype=bool)), 0.0, -np.inf)
    close(F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True),
          np_attention(q, k, v, causal), "is_causal")


def test_sdpa_fully_masked_row_is_zero(backend):
    q, k, v = _qkv()
    keep = np.ones((5, 6), dtype=bool)
    keep[2] = False
    qt = backend.tensor(q, requires_grad=True)
    out = F.scaled_dot_product_attention(qt, backend.tensor(k), backend.tensor(v),
                                         attn_mask=backend.tensor(keep))
    np.testing.assert_array_equal(backend.asnumpy(out)[:, :, 2], 0.0, err_msg="all keys masked")
    out.sum().backward()
    assert np.isfinite(backend.asnumpy(qt.grad)).all()


def test_sdpa_gradcheck():
    q, k, v = (fw.tensor(a[:1, :2, :3]).requires_grad_() for a in _qkv())
    keep = fw.tensor(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=bool))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=keep)  # noqa: E731
    assert gradcheck(fn, (q, k, v)) and gradgradcheck(fn, (q, k, v))
    fn = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # noqa: E731
    assert gradcheck(fn, (q, k, v))


def test_sdpa_dropout_train():
    fw.manual_seed(0)
    q, k, v = (fw.tensor(a) for a in _qkv())
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not np.allclose(out.numpy(), np_attention(*(a.numpy() for a in (q, k, v))))


def test_sdpa_errors():
    q, k, v = (fw.tensor(a) for a in _qkv())
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=fw.ones(5, 6, dtype=fw.bool), is_causal=True)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=fw.ones(5, 6, dtype=fw.int64))
    with pytest.raises(RuntimeError, match="query and key must have the same embedding size"):
        F.scaled_dot_product_attention(q, k[..., :3], v)


# --- MultiheadAttention ---------------------------------------------------------------------------


def np_mha(params, q_in, k_in, v_in, heads, mask_add=None):
    """(L, N, E) inputs; PyTorch's equations with in_proj_weight rows [q; k; v]."""
    E = q_in.shape[-1]
    W, b = params["in_proj_weight"], params["in_proj_bias"]
    q, k, v = (x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in enumerate((q_in, k_in, v_in)))
    L_, N = q.shape[:2]
    hd = E // heads

    def split(t):  # (T, N, E) -> (N, heads, T, hd)
        return t.reshape(t.shape[0], N, heads, hd).transpose(1, 2, 0, 3)

    s = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(hd)
    if mask_add is not None:
        s = s + mask_add
    w = np_softmax(s)
    out = (w @ split(v)).transpose(2, 0, 1, 3).reshape(L_, N, E)
    return out @ params["out_proj.weight"].T + params["out_proj.bias"], w


def _mha(**kw):
    m = nn.MultiheadAttention(8, 2, dtype=fw.float64, **kw)
    state = {k: fw.tensor(RNG.standard_normal(tuple(v.shape)) * 0.3) for k, v in m.state_dict().items()}
    m.load_state_dict(state)
    return m, {k: v.numpy() for k, v in state.items()}


def test_mha_parameters_and_init():
    fw.manual_seed(0)
    m = nn.MultiheadAttention(8, 2)
    assert [(n, tuple(p.shape)) for n, p in m.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)),
        ("out_proj.bias", (8,))]
    assert np.all(m.in_proj_bias.detach().numpy() == 0) and np.all(m.out_proj.bias.detach().numpy() == 0)
    bound = math.sqrt(6 / (24 + 8))  # xavier_uniform_ on (3E, E)
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound
    m2 = nn.MultiheadAttention(8, 2, kdim=5, vdim=3, bias=False)
    assert [n for n, _ in m2.named_parameters()] == ["q_proj_weight", "k_proj_weight",
                                                     "v_proj_weight", "out_proj.weight"]
    assert m2.in_proj_weight is None and m2.k_proj_weight.shape == (8, 5)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(8, 3)


@pytest.mark.parametrize("masks", ["none", "attn_bool", "attn_float", "padding", "both"])
def test_mha_matches_numpy(masks):
    m, p = _mha()
    x = RNG.standard_normal((5, 2, 8))
    kv = RNG.standard_normal((6, 2, 8))
    am = RNG.random((5, 6)) > 0.7  # True = masked out (MultiheadAttention's convention)
    am[:, 0] = False
    kpm = RNG.random((2, 6)) > 0.7
    kpm[:, 1] = False
    kw, add = {}, np.zeros((2, 1, 5, 6))
    if masks in ("attn_bool", "both"):
        kw["attn_mask"], add = fw.tensor(am), add + np.where(am, -np.inf, 0.0)
    if masks == "attn_float":
        fm = RNG.standard_normal((5, 6))
        kw["attn_mask"], add = fw.tensor(fm), add + fm
    if masks in ("padding", "both"):
        kw["key_padding_mask"] = fw.tensor(kpm)
        add = add + np.where(kpm, -np.inf, 0.0)[:, None, None, :]
    out, w = m(fw.tensor(x), fw.tensor(kv), fw.tensor(kv), **kw)
    ref, ref_w = np_mha(p, x, kv, kv, 2, add)
    close(out, ref, f"mha output ({masks})")
    close(w, ref_w.mean(axis=1), f"mha averaged weights ({masks})")
    _, w_all = m(fw.tensor(x), fw.tensor(kv), fw.tensor(kv), average_attn_weights=False, **kw)
    close(w_all, ref_w, f"mha per-head weights ({masks})")


def test_mha_batch_first_unbatched_and_need_weights():
    m, p = _mha(batch_first=True)
    x = RNG.standard_normal((2, 5, 8))  # (N, L, E)
    out, w = m(fw.tensor(x), fw.tensor(x), fw.tensor(x), need_weights=False)
    ref, _ = np_mha(p, x.transpose(1, 0, 2), x.transpose(1, 0, 2), x.transpose(1, 0, 2), 2)
    assert w is None
    close(out, ref.transpose(1, 0, 2), "mha batch_first")
    out1, w1 = m(fw.tensor(x[0]), fw.tensor(x[0]), fw.tensor(x[0]))
    assert out1.shape == (5, 8) and w1.shape == (5, 5)
    close(out1, ref[:, 0], "mha unbatched")


def test_mha_gradcheck():
    m, _ = _mha(kdim=3, vdim=4)
    q = fw.tensor(RNG.standard_normal((3, 1, 8)), requires_grad=True)
    k = fw.tensor(RNG.standard_normal((2, 1, 3)), requires_grad=True)
    v = fw.tensor(RNG.standard_normal((2, 1, 4)), requires_grad=True)
    assert gradcheck(lambda q, k, v: m(q, k, v)[0], (q, k, v))


def test_mha_errors():
    m, _ = _mha()
    x = fw.randn(5, 2, 8, dtype=fw.float64)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*\[4, 5\].*, but should be \(5, 5\)."):
        m(x, x, x, attn_mask=fw.ones(4, 5, dtype=fw.bool))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask are supported"):
        m(x, x, x, attn_mask=fw.ones(5, 5, dtype=fw.int32))
    with pytest.raises(AssertionError, match="does not match value shape"):
        m(x, x, x[:3])


# --- TransformerEncoderLayer ---------------------------------------------------------------------


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer(norm_first):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, norm_first=norm_first, dtype=fw.float64)
    p = {k: v.detach().numpy() for k, v in layer.state_dict().items()}
    assert list(p) == ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                       "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                       "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    x = RNG.standard_normal((5, 2, 8))
    attn = {k[len("self_attn."):]: v for k, v in p.items() if k.startswith("self_attn.")}

    def sa(h):
        return np_mha(attn, h, h, h, 2)[0]

    def ff(h):
        return np.maximum(h @ p["linear1.weight"].T + p["linear1.bias"], 0) @ p["linear2.weight"].T + p["linear2.bias"]

    def n1(h):
        return np_layer_norm(h, p["norm1.weight"], p["norm1.bias"])

    def n2(h):
        return np_layer_norm(h, p["norm2.weight"], p["norm2.bias"])

    if norm_first:
        h = x + sa(n1(x))
        ref = h + ff(n2(h))
    else:
        h = n1(x + sa(x))
        ref = n2(h + ff(h))
    close(layer(fw.tensor(x)), ref, f"TransformerEncoderLayer norm_first={norm_first}")
    enc = nn.TransformerEncoder(layer, 2)
    assert len(enc.layers) == 2 and enc(fw.tensor(x)).shape == (5, 2, 8)


def test_functional_multi_head_attention_forward_matches_module():
    m, _ = _mha()
    x = fw.tensor(RNG.standard_normal((4, 2, 8)))
    kpm = fw.tensor(np.array([[False, False, True, False], [False, True, False, False]]))
    out, w = F.multi_head_attention_forward(
        x, x, x, 8, 2, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
        m.out_proj.weight, m.out_proj.bias, key_padding_mask=kpm)
    ref, ref_w = m(x, x, x, key_padding_mask=kpm)
    close(out, ref.detach().numpy(), "F.multi_head_attention_forward")
    close(w, ref_w.detach().numpy(), "F.multi_head_attention_forward weights")
