"""Convolution and pooling: forward against naive NumPy loops, gradients by finite differences
(float64), double backward for convolutions, PyTorch's error messages, and the layer classes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


# --- naive references (loops over output positions: slow, obviously right) ---------------------


def ref_conv2d(x, w, b=None, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    x = np.pad(x, ((0, 0), (0, 0)) + tuple(pad))
    N, C, H, W = x.shape
    C_out, Cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    Ho, Wo = (H - dh * (kh - 1) - 1) // sh + 1, (W - dw * (kw - 1) - 1) // sw + 1
    Og = C_out // groups
    y = np.zeros((N, C_out, Ho, Wo))
    for o in range(C_out):
        grp = o // Og
        for p in range(Ho):
            for q in range(Wo):
                patch = x[:, grp * Cg:(grp + 1) * Cg, p * sh:p * sh + dh * (kh - 1) + 1:dh,
                          q * sw:q * sw + dw * (kw - 1) + 1:dw]
                y[:, o, p, q] = (patch * w[o]).sum(axis=(1, 2, 3))
    return y if b is None else y + b[:, None, None]


def ref_conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                         groups=1, dilation=(1, 1)):
    N, Cin, H, W = x.shape
    _, Og, kh, kw = w.shape
    (sh, sw), (dh, dw), (ph, pw), (oh, ow) = stride, dilation, padding, output_padding
    full = np.zeros((N, Og * groups, (H - 1) * sh + dh * (kh - 1) + 1 + oh,
                     (W - 1) * sw + dw * (kw - 1) + 1 + ow))
    Cg = Cin // groups
    for c in range(Cin):
        grp = c // Cg
        for p in range(H):
            for q in range(W):
                full[:, grp * Og:(grp + 1) * Og, p * sh:p * sh + dh * (kh - 1) + 1:dh,
                     q * sw:q * sw + dw * (kw - 1) + 1:dw] += x[:, c, p, q][:, None, None, None] * w[c]
    Ho, Wo = full.shape[2] - 2 * ph, full.shape[3] - 2 * pw
    y = full[:, :, ph:ph + Ho, pw:pw + Wo]
    return y if b is None else y + b[:, None, None]


def ref_pool2d(x, k, s, p, reduce, fill, d=(1, 1)):
    """Pooling without ceil_mode; reduce(window (N, C, kh, kw)) -> (N, C)."""
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    N, C, H, W = x.shape
    Ho = (H - d[0] * (k[0] - 1) - 1) // s[0] + 1
    Wo = (W - d[1] * (k[1] - 1) - 1) // s[1] + 1
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = x[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                    j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            y[:, :, i, j] = reduce(win)
    return y


def close(t, expected, what, rtol=1e-10, atol=1e-10):
    np.testing.assert_allclose(t.detach().cpu().numpy(), expected, rtol=rtol, atol=atol, err_msg=what)


# --- convolution forward ------------------------------------------------------------------------

CONV2D_CASES = [  # (N, C, H, W), (O, C/groups, kh, kw), kwargs
    ((2, 3, 7, 6), (4, 3, 3, 2), {}),
    ((2, 4, 9, 8), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2)),
    ((1, 2, 8, 8), (4, 1, 2, 3), dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
    ((3, 2, 10, 7), (4, 2, 3, 3), dict(stride=3, padding=2, dilation=2)),
    ((2, 3, 5, 5), (3, 1, 1, 1), dict(groups=3)),
    ((2, 2, 6, 7), (2, 2, 3, 4), dict(padding="same", dilation=(2, 1))),
    ((2, 2, 6, 6), (2, 2, 3, 4), dict(padding="valid")),
]


def _same_pad(k, d):
    total = d * (k - 1)
    return (total // 2, total - total // 2)


def _ref_kwargs(wshape, kw):
    stride = kw.get("stride", 1)
    stride = (stride, stride) if isinstance(stride, int) else stride
    dil = kw.get("dilation", 1)
    dil = (dil, dil) if isinstance(dil, int) else dil
    pad = kw.get("padding", 0)
    if pad == "same":
        pad = tuple(_same_pad(k, d) for k, d in zip(wshape[2:], dil))
    elif pad == "valid":
        pad = ((0, 0), (0, 0))
    else:
        pad = (pad, pad) if isinstance(pad, int) else pad
        pad = tuple((p, p) for p in pad)
    return dict(stride=stride, pad=pad, dilation=dil, groups=kw.get("groups", 1))


@pytest.mark.parametrize("xshape,wshape,kw", CONV2D_CASES)
def test_conv2d_forward(backend, xshape, wshape, kw):
    x, w, b = randn(*xshape), randn(*wshape), randn(wshape[0])
    y = F.conv2d(backend.tensor(x), backend.tensor(w), backend.tensor(b), **kw)
    close(y, ref_conv2d(x, w, b, **_ref_kwargs(wshape, kw)), f"conv2d {kw} on {backend}")
    y = F.conv2d(backend.tensor(x[0]), backend.tensor(w), **kw)  # unbatched (C, H, W)
    close(y, ref_conv2d(x[:1], w, **_ref_kwargs(wshape, kw))[0], f"conv2d unbatched {kw}")


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(padding="same", dilation=2),
                                dict(groups=2, padding=2, stride=3)])
def test_conv1d_forward(backend, kw):
    x, w, b = randn(2, 4, 11), randn(6, 4 // kw.get("groups", 1), 3), randn(6)
    y = F.conv1d(backend.tensor(x), backend.tensor(w), backend.tensor(b), **kw)
    k2 = {k: ((1, v) if isinstance(v, int) else v) for k, v in kw.items() if k != "groups"}
    if isinstance(kw.get("padding"), int):
        k2["padding"] = (0, kw["padding"])
    if "groups" in kw:
        k2["groups"] = kw["groups"]
    expected = ref_conv2d(x[:, :, None], w[:, :, None], b, **_ref_kwargs((6, 4, 1, 3), k2))[:, :, 0]
    close(y, expected, f"conv1d {kw}")


@pytest.mark.parametrize("kw", [
    {}, dict(stride=2, padding=1, output_padding=1), dict(stride=(2, 3), padding=(0, 1), groups=2),
    dict(stride=1, dilation=2, padding=1, output_padding=1), dict(stride=3, padding=2, output_padding=(2, 0)),
])
def test_conv_transpose2d_forward(backend, kw):
    groups = kw.get("groups", 1)
    x, w, b = randn(2, 4, 5, 4), randn(4, 6 // groups, 3, 2), randn(6)
    y = F.conv_transpose2d(backend.tensor(x), backend.tensor(w), backend.tensor(b), **kw)
    ref = {k: ((v, v) if isinstance(v, int) else v) for k, v in kw.items() if k != "groups"}
    close(y, ref_conv_transpose2d(x, w, b, groups=groups, **ref), f"conv_transpose2d {kw}")


def test_conv_transpose1d_forward(backend):
    x, w = randn(2, 3, 6), randn(3, 2, 3)
    y = F.conv_transpose1d(backend.tensor(x), backend.tensor(w), stride=2, padding=1, output_padding=1)
    expected = ref_conv_transpose2d(x[:, :, None], w[:, :, None], stride=(1, 2), padding=(0, 1),
                                    output_padding=(0, 1))[:, :, 0]
    close(y, expected, "conv_transpose1d")


def test_conv_float32_and_grad_fn(backend):
    x = backend.tensor(randn(2, 3, 6, 6).astype(np.float32), requires_grad=True)
    w = backend.tensor(randn(4, 3, 3, 3).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.dtype == fw.float32 and y.shape == (2, 4, 6, 6)
    assert type(y.grad_fn).__name__ == "ConvolutionBackward0"
    assert y.grad_fn._saved_stride == (1, 1) and y.grad_fn._saved_groups == 1
    close(y, ref_conv2d(backend.asnumpy(x).astype(np.float64), backend.asnumpy(w).astype(np.float64),
                        pad=((1, 1), (1, 1))), "conv2d float32", rtol=1e-4, atol=1e-4)


# --- convolution gradients ----------------------------------------------------------------------

GRAD_CASES = [
    ("conv2d", (2, 2, 5, 4), (4, 1, 3, 2), dict(stride=(2, 1), padding=1, dilation=(1, 2), groups=2)),
    ("conv2d", (1, 2, 4, 4), (3, 2, 2, 2), dict(padding="same")),
    ("conv1d", (2, 2, 6), (3, 2, 3), dict(stride=2, padding=1)),
    ("conv1d", (1, 2, 5), (2, 1, 2), dict(padding="same", dilation=2, groups=2)),
    ("conv_transpose2d", (1, 2, 3, 3), (2, 3, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose1d", (2, 2, 4), (2, 1, 3), dict(stride=3, groups=2, dilation=2, output_padding=2)),
]


@pytest.mark.parametrize("name,xshape,wshape,kw", GRAD_CASES)
def test_conv_gradcheck(backend, name, xshape, wshape, kw):
    fn = getattr(F, name)
    out_ch = wshape[0] if "transpose" not in name else wshape[1] * kw.get("groups", 1)
    x = backend.tensor(randn(*xshape), requires_grad=True)
    w = backend.tensor(randn(*wshape), requires_grad=True)
    b = backend.tensor(randn(out_ch), requires_grad=True)
    assert gradcheck(lambda x, w, b: fn(x, w, b, **kw), (x, w, b)), f"{name} {kw}"


@pytest.mark.parametrize("name,xshape,wshape,kw", GRAD_CASES)
def test_conv_gradgradcheck(backend, name, xshape, wshape, kw):
    fn = getattr(F, name)
    out_ch = wshape[0] if "transpose" not in name else wshape[1] * kw.get("groups", 1)
    x = backend.tensor(randn(*xshape), requires_grad=True)
    w = backend.tensor(randn(*wshape), requires_grad=True)
    b = backend.tensor(randn(out_ch), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: fn(x, w, b, **kw), (x, w, b)), f"{name} {kw}"


def test_conv_weight_only_grad(backend):
    """The first layer of a network: the input needs no gradient, only weight and bias."""
    x = backend.tensor(randn(2, 1, 6, 6))
    w = backend.tensor(randn(3, 1, 3, 3), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    xa = backend.asnumpy(x)
    patch_sums = np.array([[xa[:, 0, i:i + 4, j:j + 4].sum() for j in range(3)] for i in range(3)])
    close(w.grad, np.broadcast_to(patch_sums, (3, 1, 3, 3)), "conv2d weight grad")


# --- convolution errors -------------------------------------------------------------------------

CONV_ERRORS = [
    (lambda: F.conv2d(fw.randn(3, 5), fw.randn(4, 3, 3, 3)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[3, 5\]"),
    (lambda: F.conv2d(fw.randn(2, 4, 5, 5), fw.randn(4, 3, 3, 3)),
     r"Given groups=1, weight of size \[4, 3, 3, 3\], expected input\[2, 4, 5, 5\] to have 3 "
     r"channels, but got 4 channels instead"),
    (lambda: F.conv2d(fw.randn(4, 5, 5), fw.randn(4, 3, 3, 3)),
     r"expected input\[1, 4, 5, 5\] to have 3 channels, but got 4 channels instead"),
    (lambda: F.conv1d(fw.randn(2, 3, 2, 2), fw.randn(4, 3, 3)),
     r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d, but got input of size: \[2, 3, 2, 2\]"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), padding="foo"),
     "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(fw.randn(2, 3, 2, 2), fw.randn(4, 3, 3, 3)),
     r"Calculated padded input size per channel: \(2 x 2\). Kernel size: \(3 x 3\). Kernel size "
     r"can't be greater than actual input size"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(3, 1, 3, 3), groups=2),
     r"Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of "
     r"size \[3, 1, 3, 3\] instead"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), fw.randn(3)),
     r"Given weight of size \[4, 3, 3, 3\], expected bias to be 1-dimensional with 4 elements, "
     r"but got bias of size \[3\] instead"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5).double(), fw.randn(4, 3, 3, 3)),
     r"Input type \(framework.float64\) and weight type \(framework.float32\) should be the same"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), padding=-1),
     "negative padding is not supported"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3, 3), stride=(1, 1, 1)),
     r"expected stride to be a single integer value or a list of 2 values to match the "
     r"convolution dimensions, but got stride=\[1, 1, 1\]"),
    (lambda: F.conv2d(fw.randn(2, 3, 5, 5), fw.randn(4, 3, 3)),
     r"conv2d: expected weight to be 4-dimensional"),
    (lambda: F.conv_transpose2d(fw.randn(2, 3, 5, 5), fw.randn(3, 4, 3, 3), output_padding=1),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 1 output_padding_width: 1 stride_height: 1 stride_width: 1 "
     "dilation_height: 1 dilation_width: 1"),
    (lambda: F.conv_transpose2d(fw.randn(2, 3, 5, 5), fw.randn(4, 4, 3, 3)),
     r"Given transposed=1, weight of size \[4, 4, 3, 3\], expected input\[2, 3, 5, 5\] to have 4 "
     r"channels, but got 3 channels instead"),
]


@pytest.mark.parametrize("call,message", CONV_ERRORS)
def test_conv_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


# --- pooling ------------------------------------------------------------------------------------

MAX_POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(2, 1)),
    dict(kernel_size=3, stride=1, dilation=2),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("kw", MAX_POOL_CASES)
def test_max_pool2d_forward_indices_grad(backend, kw):
    x = np.round(np.maximum(randn(2, 3, 9, 8), 0), 1)  # zeros: ties go to the first element
    k, p = _pair(kw["kernel_size"]), _pair(kw.get("padding", 0))
    s, d = _pair(kw.get("stride", k)), _pair(kw.get("dilation", 1))
    xt = backend.tensor(x, requires_grad=True)
    y, idx = F.max_pool2d(xt, return_indices=True, **kw)
    close(y, ref_pool2d(x, k, s, p, lambda w: w.max(axis=(2, 3)), -np.inf, d), f"max_pool2d {kw}")
    assert idx.dtype == fw.int64
    flat = backend.asnumpy(idx)
    np.testing.assert_array_equal(np.take_along_axis(x.reshape(2, 3, -1), flat.reshape(2, 3, -1), 2),
                                  backend.asnumpy(y).reshape(2, 3, -1), err_msg="indices hit the max")
    # ties: the index is the first maximal element in window scan order
    H, W = x.shape[2:]
    for n, c, i, j in [(0, 0, 0, 0), (1, 2, 1, 1)]:
        rows = [i * s[0] - p[0] + a * d[0] for a in range(k[0])]
        cols = [j * s[1] - p[1] + b * d[1] for b in range(k[1])]
        cand = [(r * W + q, x[n, c, r, q]) for r in rows for q in cols if 0 <= r < H and 0 <= q < W]
        best = max(v for _, v in cand)
        assert flat[n, c, i, j] == next(f for f, v in cand if v == best)
    gy = randn(*y.shape)
    y.backward(backend.tensor(gy))
    expected = np.zeros(x.size)
    np.add.at(expected, (np.arange(x.size).reshape(x.shape)[:, :, :1, :1] * 0
                         + np.arange(6).reshape(2, 3, 1, 1) * H * W + flat).ravel(), gy.ravel())
    close(xt.grad, expected.reshape(x.shape), f"max_pool2d grad {kw}")


def test_max_pool_ceil_mode_and_1d(backend):
    x = randn(1, 2, 7, 7)
    y = F.max_pool2d(backend.tensor(x), 2, ceil_mode=True)
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=-np.inf)
    close(y, ref_pool2d(xp, (2, 2), (2, 2), (0, 0), lambda w: w.max(axis=(2, 3)), 0), "ceil_mode")
    y1, i1 = F.max_pool1d(backend.tensor(x[0, :, 0]), 3, 2, 1, return_indices=True)
    expected = ref_pool2d(x[:, :, :1], (1, 3), (1, 2), (0, 1), lambda w: w.max(axis=(2, 3)), -np.inf)
    close(y1, expected[0, :, 0], "max_pool1d")
    assert y1.shape == (2, 4) and i1.shape == (2, 4)


def test_max_pool_nan_propagates(backend):
    x = randn(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan
    y = F.max_pool2d(backend.tensor(x), 2)
    assert np.isnan(backend.asnumpy(y)[0, 0, 0, 0]) and not np.isnan(backend.asnumpy(y)[0, 0, 1, 1])


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=1, divisor_override=5),
])
def test_avg_pool2d_forward(backend, kw):
    x = randn(2, 3, 9, 8)
    k, p = _pair(kw["kernel_size"]), _pair(kw.get("padding", 0))
    s = _pair(kw.get("stride", k))
    y = F.avg_pool2d(backend.tensor(x), **kw)
    sums = ref_pool2d(x, k, s, p, lambda w: w.sum(axis=(2, 3)), 0)
    if "divisor_override" in kw:
        div = kw["divisor_override"]
    elif kw.get("count_include_pad", True):
        div = k[0] * k[1]
    else:
        div = ref_pool2d(np.ones_like(x), k, s, p, lambda w: w.sum(axis=(2, 3)), 0)
    close(y, sums / div, f"avg_pool2d {kw}")


def test_avg_pool_ceil_mode_divisor(backend):
    """ceil_mode windows hanging past the padded input divide by the clipped size (PyTorch)."""
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    y = F.avg_pool2d(backend.tensor(x), 2, ceil_mode=True)
    close(y[0, 0, 2], [x[0, 0, 4, 0:2].mean(), x[0, 0, 4, 2:4].mean(), x[0, 0, 4, 4]], "avg ceil")
    y1 = F.avg_pool1d(backend.tensor(x[0]), 3, 2, 1)
    close(y1[0, 0], [(0 + 0 + 1) / 3, (1 + 2 + 3) / 3, 7 / 3], "avg_pool1d")


@pytest.mark.parametrize("size", [1, (3, 4), (2, None), (5, 3), (4, 7)])
def test_adaptive_pools(backend, size):
    x = randn(2, 3, 9, 8)
    ho, wo = (size, size) if isinstance(size, int) else (size[0], size[1] or 8)

    def windows(n, out):
        return [(i * n // out, -(-(i + 1) * n // out)) for i in range(out)]

    avg = np.zeros((2, 3, ho, wo))
    mx = np.zeros((2, 3, ho, wo))
    for i, (a, b) in enumerate(windows(9, ho)):
        for j, (c, d) in enumerate(windows(8, wo)):
            avg[:, :, i, j] = x[:, :, a:b, c:d].mean(axis=(2, 3))
            mx[:, :, i, j] = x[:, :, a:b, c:d].max(axis=(2, 3))
    close(F.adaptive_avg_pool2d(backend.tensor(x), size), avg, f"adaptive_avg_pool2d {size}")
    close(F.adaptive_max_pool2d(backend.tensor(x), size), mx, f"adaptive_max_pool2d {size}")
    x1 = backend.tensor(x[:, :, 0])  # (N, C, L) = (2, 3, 8)
    avg1 = np.stack([x[:, :, 0, a:b].mean(axis=2) for a, b in windows(8, wo)], axis=2)
    close(F.adaptive_avg_pool1d(x1, wo), avg1, f"adaptive_avg_pool1d {wo}")
    mx1 = np.stack([x[:, :, 0, a:b].max(axis=2) for a, b in windows(8, wo)], axis=2)
    close(F.adaptive_max_pool1d(x1, wo), mx1, f"adaptive_max_pool1d {wo}")


POOL_GRADS = [
    ("max_pool2d", lambda t: F.max_pool2d(t, 3, 2, 1)),
    ("max_pool2d dilated ceil", lambda t: F.max_pool2d(t, 2, 1, dilation=2, ceil_mode=True)),
    ("max_pool1d", lambda t: F.max_pool1d(t[0], 2)),
    ("avg_pool2d", lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool1d", lambda t: F.avg_pool1d(t[0], 3, 1, 1)),
    ("adaptive_avg_pool2d divisible", lambda t: F.adaptive_avg_pool2d(t, (5, 3))),
    ("adaptive_avg_pool2d uneven", lambda t: F.adaptive_avg_pool2d(t, (3, 4))),
    ("adaptive_avg_pool2d global", lambda t: F.adaptive_avg_pool2d(t, 1)),
    ("adaptive_max_pool2d", lambda t: F.adaptive_max_pool2d(t, (3, 4))),
]


@pytest.mark.parametrize("name,fn", POOL_GRADS)
def test_pool_gradcheck(backend, name, fn):
    x = backend.tensor(randn(2, 2, 5, 6), requires_grad=True)
    assert gradcheck(fn, (x,)), name
    assert gradgradcheck(fn, (x,)), name


POOL_ERRORS = [
    (lambda: F.max_pool2d(fw.randn(5, 5), 2), r"non-empty 3D or 4D \(batch mode\) tensor expected for input"),
    (lambda: F.max_pool1d(fw.randn(5), 2),
     r"max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim batch size for input, but got:\[5\]"),
    (lambda: F.avg_pool1d(fw.randn(5), 2),
     r"Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' \(while "
     r"checking arguments for avg_pool1d\)"),
    (lambda: F.max_pool2d(fw.randn(1, 1, 5, 5), 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    (lambda: F.max_pool2d(fw.randn(1, 1, 1, 1), 2),
     r"Given input size: \(1x1x1\). Calculated output size: \(1x0x0\). Output size is too small"),
    (lambda: F.max_pool2d(fw.randn(1, 1, 5, 5), 2, stride=0), "stride should not be zero"),
    (lambda: F.adaptive_avg_pool2d(fw.randn(5), 2), r"adaptive_avg_pool2d\(\): Expected 3D or 4D tensor, but got \[5\]"),
    (lambda: F.adaptive_avg_pool2d(fw.randn(1, 0, 5), 2),
     r"adaptive_avg_pool2d\(\): Expected input to have non-zero size for non-batch dimensions, but "
     r"input has sizes \[1, 0, 5\] with dimension 1 being empty"),
]


@pytest.mark.parametrize("call,message", POOL_ERRORS)
def test_pool_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


# --- layers -------------------------------------------------------------------------------------


def test_conv_modules_shapes_init_and_forward(backend):
    fw.manual_seed(0)
    m = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2, dtype=fw.float64).to(backend.device)
    assert m.weight.shape == (6, 2, 3, 3) and m.bias.shape == (6,)
    bound = 1 / math.sqrt(2 * 9)  # kaiming_uniform_(a=sqrt(5)) and the bias both give 1/sqrt(fan_in)
    assert np.abs(backend.asnumpy(m.weight)).max() <= bound and np.abs(backend.asnumpy(m.bias)).max() <= bound
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert repr(m) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2)"
    x = randn(2, 4, 7, 7)
    close(m(backend.tensor(x)), ref_conv2d(x, backend.asnumpy(m.weight), backend.asnumpy(m.bias),
                                          (2, 2), ((1, 1), (1, 1)), groups=2), "Conv2d module")
    c1 = nn.Conv1d(3, 5, 2, padding="same", bias=False)
    assert c1.bias is None and c1.weight.shape == (5, 3, 2) and c1.padding == "same"
    assert c1(fw.randn(2, 3, 8)).shape == (2, 5, 8)
    ct = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert ct.weight.shape == (4, 3, 3, 3)
    assert ct(fw.randn(1, 4, 5, 5)).shape == (1, 6, 10, 10)
    assert ct(fw.randn(1, 4, 5, 5), output_size=[9, 9]).shape == (1, 6, 9, 9)


def test_conv_module_padding_modes():
    fw.manual_seed(0)
    m = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular", bias=False, dtype=fw.float64)
    x = randn(1, 1, 5, 5)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="wrap")
    close(m(fw.tensor(x)), ref_conv2d(xp, m.weight.detach().numpy()), "circular padding")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(1, 1, 3, padding_mode="bogus")


def test_pool_modules(backend):
    x = backend.tensor(randn(2, 3, 8, 8))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4)
    y, i = nn.MaxPool2d(3, 2, 1, return_indices=True)(x)
    assert y.shape == i.shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(2, ceil_mode=True)(x[:, :, :7, :7]).shape == (2, 3, 4, 4)
    assert nn.AdaptiveAvgPool2d((2, 3))(x).shape == (2, 3, 2, 3)
    assert nn.AdaptiveMaxPool2d(1)(x).shape == (2, 3, 1, 1)
    x1 = x[:, :, 0]
    assert nn.MaxPool1d(2)(x1).shape == (2, 3, 4) and nn.AvgPool1d(3, 1, 1)(x1).shape == (2, 3, 8)
    assert nn.AdaptiveAvgPool1d(3)(x1).shape == (2, 3, 3)
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((2, 3))) == "AdaptiveAvgPool2d(output_size=(2, 3))"
