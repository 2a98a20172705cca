"""Convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d (one node for all four,
ConvolutionBackward0, as PyTorch), computed as im2col + one matrix product.

How it runs (every conv is 2-D inside; a 1-D one has H = 1):
- A `_Geometry` fixes one conv's sizes: input (H, W) -> output (Ho, Wo) for a kernel, stride,
  dilation and top/left padding. A transposed conv is the same geometry run backwards (the
  adjoint), so conv's gradient w.r.t. its input is a transposed conv and vice versa.
- The input is copied once into a zero-padded, channel-major buffer (C, N, Hp*Wp + slack);
  im2col is one strided view of it, copied to `cols` (C*kh*kw, N*Ho*Wq); the whole batch is
  then ONE GEMM, W (O, C*kh*kw) @ cols. Channel-major costs one transposing copy in and out,
  which padding and cropping need anyway.
- With stride 1 along W each output row is computed over the full padded width (Wq = Wp; the
  last Wp - Wo columns are garbage, cropped). Then a kernel offset's window rows are contiguous
  in the buffer, and the im2col copy and the col2im adds run over spans of Ho*Wp elements
  instead of rows of Wo (several times faster for small images).
- col2im (im2col's adjoint, conv's input gradient) loops over the kh*kw kernel offsets and adds
  one strided slice each: no loop over pixels or batch items, no scatter-add.

Double backward: with create_graph=True the backward calls the public-level `_convolution` on
Tensors (input grad = transposed conv of gy; weight grad = a conv of the input with gy, batch
and channels swapping roles), so gradients of gradients are convolutions again.
"""

from __future__ import annotations

from .._backend import as_strided, xp_of
from .._tensor import apply as _apply
from ..autograd.node import Node
from . import _dual as D
from ._scratch import scratch


class _Geometry:
    """Sizes of one 2-D conv: input hw -> output out, kernel k, stride s, dilation d, padding lo
    (top, left); the bottom/right padding is whatever the output size needs."""

    __slots__ = ("hw", "out", "k", "s", "d", "lo", "Hp", "Wp", "Wq", "F")

    def __init__(self, hw, out, k, s, d, lo):
        self.hw, self.out, self.k, self.s, self.d, self.lo = hw, out, k, s, d, lo
        (Ho, Wo), (kh, kw), (sh, sw), (dh, dw) = out, k, s, d
        self.Hp = (Ho - 1) * sh + dh * (kh - 1) + 1  # padded rows the windows span
        self.Wp = (Wo - 1) * sw + dw * (kw - 1) + 1
        self.Wq = self.Wp if sw == 1 else Wo  # columns computed per output row (see module doc)
        # per-image length of the buffer: the window view of the last kernel offset (Ho rows of
        # sh*Wp elements, see _windows) runs (sh-1)*Wp + dw*(kw-1) elements past the image
        self.F = self.Hp * self.Wp + (sh - 1) * self.Wp + dw * (kw - 1)

    def swapped(self):
        """The geometry of the weight gradient as a conv: kernel <-> output, stride <-> dilation."""
        return _Geometry(self.hw, self.k, self.out, self.d, self.s, self.lo)


# --- array kernels (first-order path) -----------------------------------------------------------


def _image_view(buf, g):
    """The (C, N, Hp, Wp) padded image inside a (C, N, F) buffer (a view: the split axis is
    contiguous)."""
    C, N, _ = buf.shape
    return buf[:, :, :g.Hp * g.Wp].reshape(C, N, g.Hp, g.Wp)


def _to_buffer(x, g):
    """x: (N, C, H, W) -> zero-padded channel-major buffer (C, N, F)."""
    N, C, H, W = x.shape
    buf = scratch("conv.buffer", (C, N, g.F), x.dtype, x, zero=True)  # consumed by im2col
    top, left = g.lo
    h, w = min(H, g.Hp - top), min(W, g.Wp - left)  # rows/cols past the last window are unused
    _image_view(buf, g)[:, :, top:top + h, left:left + w] = x[:, :, :h, :w].transpose(1, 0, 2, 3)
    return buf


def _from_buffer(buf, g):
    """The adjoint of _to_buffer: (C, N, F) -> (N, C, H, W), cropping the padding."""
    C, N, _ = buf.shape
    H, W = g.hw
    top, left = g.lo
    h, w = min(H, g.Hp - top), min(W, g.Wp - left)
    img = _image_view(buf, g)[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3)
    xp = xp_of(buf)
    if (h, w) == (H, W):
        out = xp.empty((N, C, H, W), dtype=buf.dtype)  # always a copy: buf is scratch
        out[...] = img
        return out
    out = xp.zeros((N, C, H, W), dtype=buf.dtype)
    out[:, :, :h, :w] = img
    return out


def _windows(buf, g, i, j):
    """The (C, N, Ho, Wq) view of buf that kernel offset (i, j) reads: Ho rows of sh*Wp
    elements from the offset, of which every sw-th of the first Wq*sw is used (basic slicing,
    cheaper than as_strided in this loop)."""
    C, N, _ = buf.shape
    (Ho, _), (sh, sw), Wp = g.out, g.s, g.Wp
    off = i * g.d[0] * Wp + j * g.d[1]
    rows = buf[:, :, off:off + Ho * sh * Wp].reshape(C, N, Ho, sh * Wp)
    return rows[..., :(g.Wq - 1) * sw + 1:sw]


def _im2col(x, g):
    """x: (N, C, H, W) -> cols (C*kh*kw, N*Ho*Wq), in scratch memory (valid until the next
    _im2col; backward recomputes it rather than keeping up to kh*kw copies of the input)."""
    buf = _to_buffer(x, g)
    C, N, F = buf.shape
    (kh, kw), (dh, dw), (sh, sw), e = g.k, g.d, g.s, buf.itemsize
    view = as_strided(buf, (C, kh, kw, N, g.out[0], g.Wq),
                      (N * F * e, dh * g.Wp * e, dw * e, F * e, sh * g.Wp * e, sw * e))
    cols = scratch("conv.cols", view.shape, x.dtype, x)
    cols[...] = view
    return cols.reshape(C * kh * kw, -1)


def _col2im(cols, g, N, C):
    """The adjoint of _im2col: cols (C*kh*kw, N*Ho*Wq) -> (N, C, H, W), summing overlaps."""
    buf = scratch("conv.buffer", (C, N, g.F), cols.dtype, cols, zero=True)
    kh, kw = g.k
    cols = cols.reshape(C, kh, kw, N, g.out[0], g.Wq)
    for i in range(kh):
        for j in range(kw):
            dst = _windows(buf, g, i, j)
            dst += cols[:, i, j]
    return _from_buffer(buf, g)


def _to_q(y, g, temporary=False):
    """(N, O, Ho, Wo) -> (O, N*Ho*Wq), garbage columns zero (the GEMM layout of outputs).
    temporary: the result is used only inside the caller (scratch memory)."""
    N, C_out, Ho, Wo = y.shape
    shape = (C_out, N, Ho, g.Wq)
    if temporary:
        q = scratch("conv.q", shape, y.dtype, y, zero=g.Wq != Wo)
    else:
        q = xp_of(y).zeros(shape, dtype=y.dtype)
    q[..., :Wo] = y.transpose(1, 0, 2, 3)
    return q.reshape(C_out, -1)


def _from_q(q, g, N):
    """(O, N*Ho*Wq) -> the (N, O, Ho, Wo) view (not contiguous)."""
    Ho, Wo = g.out
    return q.reshape(q.shape[0], N, Ho, g.Wq)[..., :Wo].transpose(1, 0, 2, 3)


def _gemm(a, b, groups, ta=False, tb=False, temporary=False):
    """Block-diagonal product: a (groups*m, k) @ b (groups*k, n) -> (groups*m, n), each group's
    blocks multiplied on their own (ta/tb: use a's/b's blocks transposed). temporary: the
    result is used only inside the caller (scratch memory)."""
    xp = xp_of(a)
    a = a.reshape(groups, -1, a.shape[1])
    b = b.reshape(groups, -1, b.shape[1])
    a = a.transpose(0, 2, 1) if ta else a
    b = b.transpose(0, 2, 1) if tb else b
    shape = (groups, a.shape[1], b.shape[2])
    out = scratch("conv.gemm", shape, a.dtype, a) if temporary else None
    if groups == 1:
        y = xp.matmul(a[0], b[0], out=None if out is None else out[0])
    else:
        y = xp.matmul(a, b, out=out)
    return y.reshape(-1, shape[2])


def _nchw(q, g, N, bias=None):
    """The conv output (N, O, Ho, Wo), C-contiguous, from its GEMM layout, plus the bias."""
    view = _from_q(q, g, N)
    out = xp_of(q).empty(view.shape, dtype=q.dtype)
    if bias is None:
        out[...] = view
    else:
        xp_of(q).add(view, bias.reshape(-1, 1, 1), out=out)
    return out


# --- the node -----------------------------------------------------------------------------------


class ConvolutionBackward0(Node):
    """conv (transposed=False): x (N, C, H, W), W (O, C/groups, kh, kw) -> (N, O, Ho, Wo);
    transposed: x (N, O, Ho, Wo), W (O, C/groups, kh, kw) -> (N, C, H, W), the adjoint."""

    __slots__ = ("geom", "groups", "transposed", "one_d", "x_shape", "w_shape",
                 "stride", "padding", "dilation", "output_padding")
    inputs = ("input", "weight", "bias")
    saves = ("input", "weight")

    def forward(self, x, w, b, geom, groups, transposed, padding, output_padding):
        g = geom
        self.geom, self.groups, self.transposed = g, groups, transposed
        self.stride, self.dilation = g.s, g.d
        self.padding, self.output_padding = padding, output_padding
        self.x_shape, self.w_shape = x.shape, w.shape
        self.one_d = x.ndim == 3
        x, w = (_as_2d(a) for a in (x, w)) if self.one_d else (x, w)
        N = x.shape[0]
        w2 = w.reshape(w.shape[0], -1)
        if not transposed:
            y = _nchw(_gemm(w2, _im2col(x, g), groups, temporary=True), g, N, b)
        else:
            xq = _to_q(x, g, temporary=True)
            y = _col2im(_gemm(w2, xq, groups, ta=True, temporary=True), g, N, w.shape[1] * groups)
            if b is not None:
                y += b.reshape(-1, 1, 1)
        return y.reshape(y.shape[:2] + y.shape[3:]) if self.one_d else y

    def backward(self, gy):
        x, w = self.saved()
        if not D.is_array(gy):
            return self._backward_tensors(x, w, gy)
        g, groups, N = self.geom, self.groups, self.x_shape[0]
        if self.one_d:
            x, w, gy = _as_2d(x), _as_2d(w), _as_2d(gy)
        w2 = w.reshape(w.shape[0], -1)
        need_x, need_w, need_b = (self.needs_input_grad(i) for i in range(3))
        gx = gw = gb = None
        if not self.transposed:
            gq = _to_q(gy, g, temporary=True)  # (O, N*Ho*Wq)
            if need_w:
                gw = _gemm(gq, _im2col(x, g), groups, tb=True)
            if need_x:
                gcols = _gemm(w2, gq, groups, ta=True, temporary=True)
                gx = _col2im(gcols, g, N, w.shape[1] * groups)
            if need_b:
                gb = gq.sum(1)  # garbage columns are zero
        else:
            if need_x or need_w:
                cols = _im2col(gy, g)  # the conv of gy with W is the input gradient
                if need_w:
                    gw = _gemm(_to_q(x, g, temporary=True), cols, groups, tb=True)
                if need_x:
                    gx = _nchw(_gemm(w2, cols, groups, temporary=True), g, N)
            if need_b:
                gb = gy.sum((0, 2, 3))
        if gx is not None:
            gx = gx.reshape(self.x_shape)
        if gw is not None:
            gw = gw.reshape(self.w_shape)
        return gx, gw, gb

    def _backward_tensors(self, x, w, gy):
        """create_graph=True: the same gradients built from differentiable convolutions."""
        g, groups = self.geom, self.groups
        if self.one_d:
            x, w, gy = (t.unsqueeze(2) for t in (x, w, gy))
        gx = gw = gb = None
        if self.needs_input_grad(0):
            gx = _convolution(gy, w, None, g, groups, not self.transposed)
        if self.needs_input_grad(1):
            gw = _weight_grad(x, gy, g, groups) if not self.transposed else _weight_grad(gy, x, g, groups)
        if self.needs_input_grad(2):
            gb = gy.sum((0, 2, 3))
        if self.one_d:
            gx = gx.squeeze(2) if gx is not None else None
            gw = gw.squeeze(2) if gw is not None else None
        return gx, gw, gb


def _as_2d(a):
    """A 1-D conv's (N, C, L) array as (N, C, 1, L)."""
    return a.reshape(a.shape[:2] + (1,) + a.shape[2:])


def _convolution(x, w, b, geom, groups, transposed, padding=None, output_padding=None):
    return _apply(ConvolutionBackward0, x, w, b, geom=geom, groups=groups,
                    transposed=transposed, padding=padding, output_padding=output_padding)


def _weight_grad(x, gy, g, groups):
    """d conv / d weight on Tensors: a conv of x (batch and channels swapped) with gy as the
    kernel, stride and dilation swapped. x (N, C, H, W), gy (N, O, Ho, Wo) -> (O, C/groups, kh, kw)."""
    N, C, H, W = x.shape
    Cg = C // groups
    xs = x.reshape(N, groups, Cg, H, W).permute(2, 1, 0, 3, 4).reshape(Cg, groups * N, H, W)
    gw = _convolution(xs, gy.transpose(0, 1), None, g.swapped(), groups, False)
    return gw.transpose(0, 1)  # (Cg, O, kh, kw) -> (O, Cg, kh, kw)


# --- argument checks (PyTorch's messages) -------------------------------------------------------


def _tuple(value, n, name):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values to match the "
            f"convolution dimensions, but got {name}={list(value)}"
        )
    return value


def _batched(input, n, name):
    """input with a batch dim (unbatched inputs get one), and whether it was added."""
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(
            f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {name}, but got input "
            f"of size: {list(input.shape)}"
        )
    if input.dim() == n + 1:
        return input.unsqueeze(0), True
    return input, False


def _check_common(input, weight, bias, n, name, stride, dilation, groups):
    if weight.dim() != n + 2:
        raise RuntimeError(
            f"{name}: expected weight to be {n + 2}-dimensional (out_channels, in_channels/groups, "
            f"*kernel_size), but got weight of size {list(weight.shape)}"
        )
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
            f"but got weight of size {list(weight.shape)} instead"
        )
    if input.dtype != weight.dtype:
        raise RuntimeError(
            f"Input type ({input.dtype}) and weight type ({weight.dtype}) should be the same; "
            "convert one of them with .to(dtype)"
        )
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(
            f"Input type ({input.dtype}) and bias type ({bias.dtype}) should be the same; "
            "convert one of them with .to(dtype)"
        )


def _check_bias(bias, weight, channels):
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != channels):
        raise RuntimeError(
            f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
            f"{channels} elements, but got bias of size {list(bias.shape)} instead"
        )


def _size_str(sizes):
    return " x ".join(str(s) for s in sizes)


def _conv(input, weight, bias, stride, padding, dilation, groups, n, name):
    x, unbatched = _batched(input, n, name)
    stride, dilation = _tuple(stride, n, "stride"), _tuple(dilation, n, "dilation")
    _check_common(x, weight, bias, n, name, stride, dilation, groups)
    k = tuple(weight.shape[2:])
    span = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k))  # dilated kernel size
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            lo = tuple((sp - 1) // 2 for sp in span)  # an even kernel pads one more at the end
            hi = tuple(sp - 1 - a for sp, a in zip(span, lo))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _tuple(padding, n, "padding")
        if any(p < 0 for p in lo):
            raise RuntimeError("negative padding is not supported")
    C = x.shape[1]
    if C != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {weight.shape[1] * groups} channels, but got {C} channels "
            "instead"
        )
    _check_bias(bias, weight, weight.shape[0])
    sizes = tuple(x.shape[2:])
    padded = tuple(s + a + b for s, a, b in zip(sizes, lo, hi))
    if any(p < sp for p, sp in zip(padded, span)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({_size_str(padded)}). Kernel size: "
            f"({_size_str(span)}). Kernel size can't be greater than actual input size"
        )
    out = tuple((p - sp) // s + 1 for p, sp, s in zip(padded, span, stride))
    geom = _geometry(sizes, out, k, stride, dilation, lo)
    y = _convolution(x, weight, bias, geom, groups, False, padding=lo)
    return y.squeeze(0) if unbatched else y


def _geometry(sizes, out, k, stride, dilation, lo):
    if len(sizes) == 1:  # 1-D: a 2-D geometry with H = 1
        return _Geometry((1,) + sizes, (1,) + out, (1,) + k, (1,) + stride, (1,) + dilation,
                         (0,) + lo)
    return _Geometry(sizes, out, k, stride, dilation, lo)


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, n,
                    name):
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be tuple of ints, not str")
    x, unbatched = _batched(input, n, name)
    stride, dilation = _tuple(stride, n, "stride"), _tuple(dilation, n, "dilation")
    padding = _tuple(padding, n, "padding")
    output_padding = _tuple(output_padding, n, "output_padding")
    _check_common(x, weight, bias, n, name, stride, dilation, groups)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(op >= max(s, d) or op < 0 for op, s, d in zip(output_padding, stride, dilation)):
        names = ("height", "width") if n == 2 else ("width",)
        parts = [f"output_padding_{a}: {v}" for a, v in zip(names, output_padding)]
        parts += [f"stride_{a}: {v}" for a, v in zip(names, stride)]
        parts += [f"dilation_{a}: {v}" for a, v in zip(names, dilation)]
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(parts)
        )
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {weight.shape[0]} channels, but got {x.shape[1]} channels "
            "instead"
        )
    _check_bias(bias, weight, weight.shape[1] * groups)
    k = tuple(weight.shape[2:])
    sizes = tuple(x.shape[2:])
    out = tuple((i - 1) * s - 2 * p + d * (kk - 1) + 1 + op for i, s, p, d, kk, op in
                zip(sizes, stride, padding, dilation, k, output_padding))
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"Given input size per channel: ({_size_str(sizes)}). Calculated output size per "
            f"channel: ({_size_str(out)}). Output size is too small"
        )
    # the conv this is the adjoint of maps `out` back to `sizes`
    geom = _geometry(out, sizes, k, stride, dilation, padding)
    y = _convolution(x, weight, bias, geom, groups, True, padding=padding,
                     output_padding=output_padding)
    return y.squeeze(0) if unbatched else y


# --- public functions ---------------------------------------------------------------------------


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, L), weight (O, C/groups, k) -> (N, O, Lo). padding: int, 'valid' or 'same'."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """input (N, C, H, W), weight (O, C/groups, kh, kw) -> (N, O, Ho, Wo)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """input (N, Cin, L), weight (Cin, Cout/groups, k) -> (N, Cout, Lout)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1, "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw) -> (N, Cout, Hout, Wout)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2, "conv_transpose2d")
