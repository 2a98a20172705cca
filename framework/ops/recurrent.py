"""Fused recurrent cells: one graph node per time step instead of a dozen small ones.

A GRU or LSTM step on small hidden sizes is all per-op overhead, so their forward and
backward are written out here once, on whole gate arrays. Like every op, the backward formula runs on
arrays (first order: the gate values kept from forward are reused) and on Tensors under
create_graph (then the gates are recomputed from the saved inputs, so they carry a graph).
"""

from __future__ import annotations

from .._tensor import apply, apply_n
from ..autograd.node import Node
from . import _dual as D


def _gru_gates(xg, h, w, b):
    """r, z, n and the hidden part of n's pre-activation, for arrays or Tensors."""
    H = h.shape[-1]
    gh = h @ w
    if b is not None:
        gh = gh + b
    r = D.sigmoid(xg[:, :H] + gh[:, :H])
    z = D.sigmoid(xg[:, H:2 * H] + gh[:, H:2 * H])
    hn = gh[:, 2 * H:]
    n = D.tanh(xg[:, 2 * H:] + r * hn)
    return r, z, n, hn


class GruCellBackward0(Node):
    """h' = (1 - z) n + z h with r, z = sigmoid(x_r|z + (h W_hh^T + b_hh)_r|z) and
    n = tanh(x_n + r (h W_hh^T + b_hh)_n), PyTorch's GRU equations. Inputs: the input gates
    xg = x W_ih^T + b_ih (N, 3H), h (N, H), W_hh^T (H, 3H), b_hh (3H,) or None."""

    __slots__ = ("gates",)
    inputs = ("input_gates", "hx", "weight_hh_t", "bias_hh")
    saves = ("input_gates", "hx", "weight_hh_t", "bias_hh")

    def forward(self, xg, h, w, b):
        r, z, n, hn = self.gates = _gru_gates(xg, h, w, b)
        return n + z * (h - n)

    def backward(self, gy):
        xg, h, w, b = self.saved()
        gates, self.gates = self.gates, None  # used once: freed now (retain_graph recomputes)
        if gates is None or not D.is_array(gy):
            gates = _gru_gates(xg, h, w, b)
        r, z, n, hn = gates
        dz = gy * (h - n) * z * (1 - z)
        dn = gy * (1 - z) * (1 - n * n)
        dr = dn * hn * r * (1 - r)
        dgh = D.cat([dr, dz, dn * r], 1)  # gradient of h W_hh^T + b_hh
        dxg = D.cat([dr, dz, dn], 1) if self.needs_input_grad(0) else None
        dh = gy * z + dgh @ D.mT(w) if self.needs_input_grad(1) else None
        dw = D.mT(h) @ dgh if self.needs_input_grad(2) else None
        db = dgh.sum(0) if self.needs_input_grad(3) else None
        return dxg, dh, dw, db


def gru_cell(input_gates, hx, weight_hh_t, bias_hh=None):
    """One fused GRU step: (N, 3H), (N, H), (H, 3H), (3H,) or None -> (N, H)."""
    return apply(GruCellBackward0, input_gates, hx, weight_hh_t, bias_hh)



def _lstm_gates(xg, h, c, w):
    """i, f, g, o, the new cell state and its tanh, for arrays or Tensors."""
    H = c.shape[-1]
    gates = xg + h @ w
    i = D.sigmoid(gates[:, :H])
    f = D.sigmoid(gates[:, H:2 * H])
    g = D.tanh(gates[:, 2 * H:3 * H])
    o = D.sigmoid(gates[:, 3 * H:])
    c2 = f * c + i * g
    return i, f, g, o, c2, D.tanh(c2)


class LstmCellBackward0(Node):
    """(h', c') with c' = f c + i g, h' = o tanh(c'), gates [i, f, g, o] = xg + h W_hh^T
    (PyTorch's LSTM equations and gate order). Inputs: xg = x W_ih^T + b_ih + b_hh (N, 4H),
    h (N, P), c (N, H), W_hh^T (P, 4H). Two outputs: one node, output_nr 0 and 1."""

    __slots__ = ("n_outputs", "gates")
    inputs = ("input_gates", "hx", "cx", "weight_hh_t")
    saves = ("input_gates", "hx", "cx", "weight_hh_t")

    def forward(self, xg, h, c, w):
        i, f, g, o, c2, tc = self.gates = _lstm_gates(xg, h, c, w)
        return o * tc, c2

    def backward(self, gh, gc):
        xg, h, c, w = self.saved()
        like = gh if gh is not None else gc
        gates, self.gates = self.gates, None  # used once: freed now (retain_graph recomputes)
        if gates is None or not D.is_array(like):
            gates = _lstm_gates(xg, h, c, w)
        i, f, g, o, c2, tc = gates
        dc2 = gc if gc is not None else 0
        if gh is not None:
            do = gh * tc * o * (1 - o)
            dc2 = dc2 + gh * o * (1 - tc * tc)
        else:
            do = D.zeros(o.shape, like)
        dgates = D.cat([dc2 * g * i * (1 - i), dc2 * c * f * (1 - f),
                        dc2 * i * (1 - g * g), do], 1)
        dxg = dgates if self.needs_input_grad(0) else None
        dh = dgates @ D.mT(w) if self.needs_input_grad(1) else None
        dc = dc2 * f if self.needs_input_grad(2) else None
        dw = D.mT(h) @ dgates if self.needs_input_grad(3) else None
        return dxg, dh, dc, dw


def lstm_cell(input_gates, hx, cx, weight_hh_t):
    """One fused LSTM step: (N, 4H), (N, P), (N, H), (P, 4H) -> h' (N, H), c' (N, H)."""
    return apply_n(LstmCellBackward0, input_gates, hx, cx, weight_hh_t)
