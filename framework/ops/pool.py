"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d, adaptive_max_pool1d/2d.

Every pool is 2-D inside (a 1-D one is a 2-D pool over (1, L), wrapped in unsqueeze/squeeze as
PyTorch does). A pooling window's kernel offsets (i, j) each read one strided slice of the
(padded) input, so forward and backward loop over the kh*kw offsets with whole-tensor
operations: no loop over pixels, no scatter-add.

Max pooling keeps, per output, which offset won (`idx`, ties to the first as PyTorch's CPU
kernel, NaN wins); the gradient goes to that input element only. Its create_graph backward
scatters gy at the winners' flat indices. Average pooling is linear: its backward and its
double backward are the node pair AvgPool2DBackward0 / AvgPool2DBackwardBackward0.
"""

from __future__ import annotations

import numpy as np

from .._backend import as_strided, xp_of
from .._tensor import apply as _apply
from .._tensor import wrap
from ..autograd.node import Node
from . import _dual as D
from ._scratch import scratch


class _Pool:
    """Sizes of one 2-D pool: input hw -> output out, kernel k, stride s, padding p, dilation d."""

    __slots__ = ("hw", "out", "k", "s", "p", "d", "Hp", "Wp")

    def __init__(self, hw, out, k, s, p, d):
        self.hw, self.out, self.k, self.s, self.p, self.d = hw, out, k, s, p, d
        self.Hp = (out[0] - 1) * s[0] + d[0] * (k[0] - 1) + 1  # padded extent the windows read
        self.Wp = (out[1] - 1) * s[1] + d[1] * (k[1] - 1) + 1

    @property
    def disjoint(self):
        """Windows never share an element (then backward writes instead of adding)."""
        return all(s >= d * (k - 1) + 1 for s, d, k in zip(self.s, self.d, self.k))

    def needs_pad(self):
        (H, W), (p, q) = self.hw, self.p
        return p > 0 or q > 0 or self.Hp > H or self.Wp > W

    def padded(self, x, fill):
        """x (N, C, H, W) as the (N, C, >=Hp, >=Wp) array the windows read (x itself if it can)."""
        if not self.needs_pad():
            return x
        N, C, H, W = x.shape
        (p, q) = self.p
        buf = xp_of(x).full((N, C, self.Hp, self.Wp), fill, dtype=x.dtype)
        h, w = min(H, self.Hp - p), min(W, self.Wp - q)
        buf[:, :, p:p + h, q:q + w] = x[:, :, :h, :w]
        return buf

    def cropped(self, buf):
        """The adjoint of `padded` for gradients: the input-sized part of buf (zeros past it)."""
        if not self.needs_pad():
            return buf
        (H, W), (p, q) = self.hw, self.p
        h, w = min(H, self.Hp - p), min(W, self.Wp - q)
        out = xp_of(buf).zeros(buf.shape[:2] + (H, W), dtype=buf.dtype)
        out[:, :, :h, :w] = buf[:, :, p:p + h, q:q + w]
        return out

    def window(self, a, i, j):
        """The (N, C, Ho, Wo) slice of the padded array that kernel offset (i, j) reads."""
        (Ho, Wo), (sh, sw), (dh, dw) = self.out, self.s, self.d
        return a[:, :, i * dh:i * dh + (Ho - 1) * sh + 1:sh, j * dw:j * dw + (Wo - 1) * sw + 1:sw]

    def windows(self, a):
        """Every kernel offset's slice of the padded array, copied into one contiguous
        (kh*kw, N, C, Ho, Wo) array: one strided pass, after which the per-offset arithmetic
        runs on contiguous memory (several times faster than on strided slices)."""
        (kh, kw), (Ho, Wo), (sh, sw), (dh, dw) = self.k, self.out, self.s, self.d
        sN, sC, sH, sW = a.strides
        view = as_strided(a, (kh, kw) + a.shape[:2] + (Ho, Wo),
                          (dh * sH, dw * sW, sN, sC, sh * sH, sw * sW))
        win = scratch("pool.windows", view.shape, a.dtype, a)  # callers only read it
        win[...] = view
        return win.reshape((kh * kw,) + a.shape[:2] + (Ho, Wo))

    def offsets(self):
        kh, kw = self.k
        return [(i, j) for i in range(kh) for j in range(kw)]

    def grad_buffer(self, like):
        shape = like.shape[:2] + ((self.Hp, self.Wp) if self.needs_pad() else self.hw)
        return xp_of(like).zeros(shape, dtype=like.dtype)


# --- max pooling --------------------------------------------------------------------------------


def _max_pool_raw(x, g):
    """y (N, C, Ho, Wo) and idx, the winning kernel offset (i*kw + j) per output."""
    xp = xp_of(x)
    a = g.padded(x, -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min)
    win = g.windows(a)
    y = win[0].copy()
    small = len(win) <= 256
    idx = xp.zeros(y.shape, dtype=np.uint8 if small else np.int32)
    for o in range(1, len(win)):
        won = win[o] > y  # strict: ties keep the first offset
        xp.maximum(y, win[o], out=y)
        # idx < o everywhere, so "idx = o where won" is a maximum (np.where is slow on masks)
        won = won.view(np.uint8) if small else won.astype(np.int32)
        xp.maximum(idx, won * idx.dtype.type(o), out=idx)
    if x.dtype.kind == "f" and len(win) > 1 and bool(xp.isnan(y).any()):
        for o in range(len(win)):  # PyTorch: a NaN wins (the last one in its window)
            idx[xp.isnan(win[o])] = o
    return y, idx


def _flat_indices(idx, g):
    """idx (offsets) -> PyTorch's indices: positions h*W + w in the unpadded input (int64)."""
    xp = xp_of(idx)
    (Ho, Wo), (sh, sw), (p, q), (dh, dw), W = g.out, g.s, g.p, g.d, g.hw[1]
    rows = xp.arange(Ho) * sh - p
    cols = xp.arange(Wo) * sw - q
    base = rows[:, None] * W + cols[None, :]
    table = xp.asarray([i * dh * W + j * dw for i, j in g.offsets()], dtype=np.int64)
    return base + table[idx]


class MaxPool2DWithIndicesBackward0(Node):
    """x (N, C, H, W) -> max over each window (N, C, Ho, Wo)."""

    __slots__ = ("geom", "idx", "x_shape")
    inputs = ("self",)

    def forward(self, x, geom, pooled):
        # `pooled` = _max_pool_raw(x, geom), computed by the caller, which also returns indices
        self.geom, self.x_shape = geom, x.shape
        y, self.idx = pooled
        return y

    def backward(self, gy):
        g = self.geom
        if not D.is_array(gy):  # create_graph: scatter gy to the winners (differentiable)
            N, C, H, W = self.x_shape
            flat = _flat_indices(self.idx, g).reshape(N, C, -1)
            xp = xp_of(flat)
            index = (xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], flat)
            return D.index_add((N, C, H * W), index, gy.reshape(N, C, -1)).reshape(self.x_shape)
        buf = g.grad_buffer(gy)
        write = g.disjoint
        for o, (i, j) in enumerate(g.offsets()):
            dst = g.window(buf, i, j)
            if write:
                xp_of(gy).multiply(gy, self.idx == o, out=dst)
            else:
                dst += gy * (self.idx == o)
        return g.cropped(buf)


# --- average pooling ----------------------------------------------------------------------------


def _avg_pool_raw(x, g, divisor):
    y = g.windows(g.padded(x, 0)).sum(axis=0)
    return y / divisor if x.dtype.kind == "f" else (y // divisor).astype(x.dtype)


def _avg_pool_adjoint(gy, g, divisor):
    gy = gy / divisor
    buf = g.grad_buffer(gy)
    for i, j in g.offsets():
        dst = g.window(buf, i, j)
        if g.disjoint:
            dst[...] = gy
        else:
            dst += gy
    return g.cropped(buf)


class AvgPool2DBackward0(Node):
    """x (N, C, H, W) -> mean over each window (N, C, Ho, Wo)."""

    __slots__ = ("geom", "divisor")
    inputs = ("self",)

    def forward(self, x, geom, divisor):
        self.geom, self.divisor = geom, divisor
        return _avg_pool_raw(x, geom, divisor)

    def backward(self, gy):
        if D.is_array(gy):
            return _avg_pool_adjoint(gy, self.geom, self.divisor)
        return _apply(AvgPool2DBackwardBackward0, gy, geom=self.geom, divisor=self.divisor)


class AvgPool2DBackwardBackward0(Node):
    """avg_pool2d's backward as an op (its adjoint), so create_graph gradients are differentiable."""

    __slots__ = ("geom", "divisor")
    inputs = ("grad_output",)

    def forward(self, gy, geom, divisor):
        self.geom, self.divisor = geom, divisor
        return _avg_pool_adjoint(gy, geom, divisor)

    def backward(self, ggx):
        if D.is_array(ggx):
            return _avg_pool_raw(ggx, self.geom, self.divisor)
        return _apply(AvgPool2DBackward0, ggx, geom=self.geom, divisor=self.divisor)


def _avg_divisor(g, count_include_pad, divisor_override, xp):
    """What each output is divided by: a number, or an (Ho, Wo) array (PyTorch's CPU rule)."""
    if divisor_override is not None:
        return divisor_override
    counts = []
    for size, out, k, s, p in zip(g.hw, g.out, g.k, g.s, g.p):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)  # windows are clipped to the padded input ...
        if not count_include_pad:
            end = np.minimum(end, size)  # ... or to the input itself
            start = np.maximum(start, 0)
        counts.append(end - start)
    div = counts[0][:, None] * counts[1][None, :]
    if (div == div.flat[0]).all():
        return int(div.flat[0])
    return xp.asarray(div)


# --- adaptive pooling ---------------------------------------------------------------------------


def _adaptive_bounds(size, out):
    """PyTorch's adaptive windows: [floor(i*size/out), ceil((i+1)*size/out))."""
    start = [(i * size) // out for i in range(out)]
    end = [-((-(i + 1) * size) // out) for i in range(out)]
    return start, end


def _adaptive_matrix(size, out, dtype, xp):
    """(out, size) averaging matrix: row i holds 1/len over window i."""
    a = np.zeros((out, size), dtype=dtype)
    for i, (s, e) in enumerate(zip(*_adaptive_bounds(size, out))):
        a[i, s:e] = 1.0 / (e - s)
    return xp.asarray(a)


class AdaptiveAvgPool2DBackward0(Node):
    """x (N, C, H, W) -> (N, C, Ho, Wo). Three ways: a mean (output 1x1); an average pool with
    kernel = stride = H/Ho, W/Wo (sizes divide); else y = A_h @ x @ A_w^T with constant
    averaging matrices (windows of different lengths)."""

    __slots__ = ("x_shape", "geom", "ah", "aw")
    inputs = ("self",)

    def forward(self, x, output_size):
        N, C, H, W = x.shape
        Ho, Wo = output_size
        self.x_shape, self.geom, self.ah = x.shape, None, None
        if (Ho, Wo) == (1, 1):
            return x.mean(axis=(2, 3), keepdims=True)
        if H % Ho == 0 and W % Wo == 0:
            k = (H // Ho, W // Wo)
            self.geom = _Pool((H, W), (Ho, Wo), k, k, (0, 0), (1, 1))
            return _avg_pool_raw(x, self.geom, k[0] * k[1])
        xp = xp_of(x)
        self.ah = _adaptive_matrix(H, Ho, x.dtype, xp)
        self.aw = _adaptive_matrix(W, Wo, x.dtype, xp)
        return self.ah @ x @ self.aw.T

    def backward(self, gy):
        N, C, H, W = self.x_shape
        g = self.geom
        if g is not None:
            divisor = g.k[0] * g.k[1]
            if D.is_array(gy):
                return _avg_pool_adjoint(gy, g, divisor)
            return _apply(AvgPool2DBackwardBackward0, gy, geom=g, divisor=divisor)
        if self.ah is None:
            return D.broadcast_to(gy / (H * W), self.x_shape)
        if D.is_array(gy):
            return self.ah.T @ gy @ self.aw
        return wrap(self.ah.T) @ gy @ wrap(self.aw)


class AdaptiveMaxPool2DBackward0(Node):
    """x (N, C, H, W) -> max over PyTorch's adaptive windows (N, C, Ho, Wo)."""

    __slots__ = ("x_shape", "flat")
    inputs = ("self",)

    def forward(self, x, pooled):
        self.x_shape = x.shape
        y, self.flat = pooled  # computed by the caller, which may also return the indices
        return y

    def backward(self, gy):
        N, C, H, W = self.x_shape
        xp = xp_of(self.flat)
        index = (xp.arange(N)[:, None, None], xp.arange(C)[None, :, None], self.flat.reshape(N, C, -1))
        return D.index_add((N, C, H * W), index, gy.reshape(N, C, -1)).reshape(self.x_shape)


def _adaptive_max_raw(x, output_size):
    """Gather every window, padded to the largest by repeating its last element (which changes
    neither the max nor, ties going to the first, the argmax)."""
    xp = xp_of(x)
    N, C, H, W = x.shape
    pos = []
    for size, out in zip((H, W), output_size):
        start, end = _adaptive_bounds(size, out)
        k = max(e - s for s, e in zip(start, end))
        p = np.minimum(np.asarray(start)[:, None] + np.arange(k), np.asarray(end)[:, None] - 1)
        pos.append(xp.asarray(p))
    rows, cols = pos  # (Ho, kh), (Wo, kw)
    Ho, kh = rows.shape
    Wo, kw = cols.shape
    win = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # (N, C, Ho, Wo, kh, kw)
    win = win.reshape(N, C, Ho, Wo, kh * kw)
    arg = win.argmax(axis=-1)
    y = xp.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
    flat = rows[xp.arange(Ho)[:, None], arg // kw] * W + cols[xp.arange(Wo)[None, :], arg % kw]
    return y, flat


# --- argument handling (PyTorch's messages) -----------------------------------------------------


def _pair(v, n, name):
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
    return tuple(int(a) for a in v)


def _out_size(size, k, s, p, d, ceil_mode):
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def _rank_error(name, n, input):
    """PyTorch's message for an input of the wrong rank (each pool words it its own way)."""
    shape, dims = list(input.shape), input.dim()
    if name == "max_pool1d":
        return (f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch "
                f"size for input, but got:{shape}")
    if name.startswith("adaptive") and n == 2:
        return f"{name}(): Expected 3D or 4D tensor, but got {shape}"
    if n == 1:
        return (f"Expected 2 to 3 dimensions, but got {dims}-dimensional tensor for argument #1 "
                f"'self' (while checking arguments for {name})")
    return f"non-empty 3D or 4D (batch mode) tensor expected for input, but got input of size {shape}"


def _as_4d(input, n, name):
    """input as (N, C, H, W) and a function giving outputs back input's rank."""
    dims = input.dim()
    if dims not in (n + 1, n + 2):
        raise RuntimeError(_rank_error(name, n, input))
    x = input.unsqueeze(0) if dims == n + 1 else input
    if n == 1:
        x = x.unsqueeze(2)

    def back(t):
        if n == 1:
            t = t.squeeze(2)
        return t.squeeze(0) if dims == n + 1 else t

    return x, back


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, n):
    k = _pair(kernel_size, n, "kernel_size")
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else _pair(
        stride, n, "stride")
    p, d = _pair(padding, n, "padding"), _pair(dilation, n, "dilation")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel_size should be greater than zero, but got {list(k)}")
    if any(v <= 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(d)}")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0 or pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={pp}, "
                f"kernel_size={kk} and dilation={dd}"
            )
    if n == 1:
        k, s, p, d = (1,) + k, (1,) + s, (0,) + p, (1,) + d
    hw = tuple(x.shape[2:])
    out = tuple(_out_size(*a, ceil_mode) for a in zip(hw, k, s, p, d))
    if any(o <= 0 for o in out):
        shown = hw[1:] if n == 1 else hw
        raise RuntimeError(
            f"Given input size: ({x.shape[1]}x{'x'.join(map(str, shown))}). Calculated output "
            f"size: ({x.shape[1]}x{'x'.join(map(str, out[2 - n:]))}). Output size is too small"
        )
    return _Pool(hw, out, k, s, p, d)


def _adaptive_size(name, output_size, x, n):
    sizes = (output_size,) * n if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != n:
        raise RuntimeError(f"{name}: output_size must be {n} (got {list(sizes)})")
    sizes = tuple(x.shape[4 - n + i] if v is None else int(v) for i, v in enumerate(sizes))
    if any(v <= 0 for v in sizes):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 1, "
                           f"but got {list(sizes)}")
    return (1,) + sizes if n == 1 else sizes


def _check_nonempty(name, input, n):
    batched = input.dim() == n + 2
    for i in range(1 if batched else 0, input.dim()):
        if input.shape[i] == 0:
            s = input.shape
            raise RuntimeError(
                f"{name}(): Expected input to have non-zero size for non-batch dimensions, but "
                f"input has sizes {list(s)} with dimension {i} being empty"
            )


# --- public functions ---------------------------------------------------------------------------


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, n, name):
    x, back = _as_4d(input, n, name)
    g = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, n)
    pooled = _max_pool_raw(x._data, g)
    y = back(_apply(MaxPool2DWithIndicesBackward0, x, geom=g, pooled=pooled))
    if not return_indices:
        return y
    return y, back(wrap(_flat_indices(pooled[1], g)))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """input (N, C, L) -> (N, C, Lo); with return_indices also the argmax positions."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1,
                     "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """input (N, C, H, W) -> (N, C, Ho, Wo); with return_indices also the flat argmax h*W + w."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2,
                     "max_pool2d")


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
              n, name):
    x, back = _as_4d(input, n, name)
    g = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, n)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    divisor = _avg_divisor(g, count_include_pad, divisor_override, xp_of(x._data))
    if not isinstance(divisor, (int, float)) and x._data.dtype.kind == "f":
        divisor = divisor.astype(x._data.dtype)  # (an int64 array would promote float32 to float64)
    return back(_apply(AvgPool2DBackward0, x, geom=g, divisor=divisor))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """input (N, C, L) -> (N, C, Lo)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1,
                     "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """input (N, C, H, W) -> (N, C, Ho, Wo)."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def _adaptive(input, output_size, n, name):
    x, back = _as_4d(input, n, name)
    _check_nonempty(name, input, n)
    return x, back, _adaptive_size(name, output_size, x, n)


def adaptive_avg_pool1d(input, output_size):
    """input (N, C, L) -> (N, C, output_size)."""
    x, back, size = _adaptive(input, output_size, 1, "adaptive_avg_pool1d")
    return back(_apply(AdaptiveAvgPool2DBackward0, x, output_size=size))


def adaptive_avg_pool2d(input, output_size):
    """input (N, C, H, W) -> (N, C, *output_size); None in output_size keeps that size."""
    x, back, size = _adaptive(input, output_size, 2, "adaptive_avg_pool2d")
    return back(_apply(AdaptiveAvgPool2DBackward0, x, output_size=size))


def _adaptive_max(input, output_size, return_indices, n, name):
    x, back, size = _adaptive(input, output_size, n, name)
    y, flat = _adaptive_max_raw(x._data, size)
    out = back(_apply(AdaptiveMaxPool2DBackward0, x, pooled=(y, flat)))
    return (out, back(wrap(flat))) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")

