"""Recurrent layers: RNN (tanh/relu), LSTM, GRU and their single-step cells.

Parameter names, shapes, gate order and initialisation are PyTorch's, so state dicts map 1:1:
weight_ih_l{k}[_reverse] (G, input), weight_hh_l{k}[_reverse] (G, H), bias_ih_l{k}, bias_hh_l{k}
with G = H (RNN), 4H (LSTM: gates i, f, g, o), 3H (GRU: r, z, n).

How it runs: per layer and direction, the input projection x @ W_ih^T + b for ALL time steps is
one matmul; then a Python loop over time does the recurrent part (h @ W_hh^T and the gate
arithmetic) with framework ops, so autograd (and double backward) come for free. The per-step
rows of the projection are taken apart by one node (`_Unbind`) whose backward stacks their
gradients: L separate slices would each scatter into a zero array of the whole projection's
size, a cost quadratic in the sequence length.
"""

from __future__ import annotations

import math
import warnings

from ... import creation
from ..._tensor import wrap
from ...autograd.function import Function
from ...ops import activation as A
from ...ops import layers as L
from ...ops.join import cat, stack
from ...ops.recurrent import gru_cell, lstm_cell
from .. import init
from ..module import Module
from ..parameter import Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _Unbind(Function):
    """x (T, ...) -> the T tensors x[0], ..., x[T-1]; backward stacks their gradients."""

    @staticmethod
    def forward(ctx, x):
        return tuple(wrap(row) for row in x._data)

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, 0)


def _steps(x):
    """The time steps of x (T, N, F) as a list of (N, F) tensors."""
    if x._requires_grad:
        return list(_Unbind.apply(x))
    return [wrap(row) for row in x._data]  # nothing to differentiate: plain views


def _cell(mode, x_proj, h, c, w_hh_t, b_hh):
    """One time step. x_proj = x_t @ W_ih^T + b_ih (plus b_hh except for GRU) -> (h, c)."""
    if mode == "LSTM":  # one fused node per step (ops/recurrent.py), as GRU below
        return lstm_cell(x_proj, h, c, w_hh_t)
    if mode == "GRU":  # one fused node per step (ops/recurrent.py): a dozen ops' overhead saved
        return gru_cell(x_proj, h, w_hh_t, b_hh), None
    pre = x_proj + h @ w_hh_t
    return (A.tanh(pre) if mode == "RNN_TANH" else A.relu(pre)), None


class RNNBase(Module):
    """The multi-layer, optionally bidirectional recurrence shared by RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an "
                "element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}", stacklevel=3,
            )
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for d in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + sfx,
                            Parameter(creation.empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op (PyTorch compacts cuDNN weights here)."""

    @property
    def all_weights(self):
        n = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        flat = [getattr(self, name) for name in self._flat_weights_names]
        return [flat[i:i + n] for i in range(0, len(flat), n)]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout:g}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- forward ---------------------------------------------------------------------------

    def _name(self):
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def _check_input(self, input):
        if input.dim() not in (2, 3):
            tensor = " tensor" if self._name() == "RNN" else ""
            raise ValueError(
                f"{self._name()}: Expected input to be 2D or 3D, got {input.dim()}D{tensor} instead"
            )
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                f"{input.shape[-1]}"
            )
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise ValueError(
                f"{self._name()} input dtype ({input.dtype}) does not match weight dtype "
                f"({w.dtype}). Convert input: input.to({w.dtype}), or convert model: "
                f"model.to({input.dtype})"
            )

    def _initial_states(self, input, hx, batched, N):
        """(h0, c0) as (layers*directions, N, size) tensors (c0 None except for LSTM)."""
        D = 2 if self.bidirectional else 1
        h_size = (self.num_layers * D, N, self.proj_size or self.hidden_size)
        c_size = (self.num_layers * D, N, self.hidden_size)
        if hx is None:
            h0 = input.new_zeros(h_size)
            return h0, (input.new_zeros(c_size) if self.mode == "LSTM" else None)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0, c0 = hx
            want = 3 if batched else 2
            if h0.dim() != want or c0.dim() != want:
                raise RuntimeError(
                    f"For {'batched 3' if batched else 'unbatched 2'}-D input, hx and cx should "
                    f"also be {want}-D but got ({h0.dim()}-D, {c0.dim()}-D) tensors"
                )
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
            for i, (t, size) in enumerate(((h0, h_size), (c0, c_size))):
                if tuple(t.shape) != size:
                    raise RuntimeError(f"Expected hidden[{i}] size {size}, got {list(t.shape)}")
            return h0, c0
        want = 3 if batched else 2
        if hx.dim() != want:
            raise RuntimeError(
                f"For {'batched 3' if batched else 'unbatched 2'}-D input, hx should also be "
                f"{want}-D but got {hx.dim()}-D tensor"
            )
        h0 = hx if batched else hx.unsqueeze(1)
        if tuple(h0.shape) != h_size:
            raise RuntimeError(f"Expected hidden size {h_size}, got {list(h0.shape)}")
        return h0, None

    def _direction(self, x, layer, reverse, h, c):
        """Run one layer in one direction over x (T, N, F): the per-step outputs (time order)."""
        sfx = f"_l{layer}" + ("_reverse" if reverse else "")
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
        b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
        w_hr = getattr(self, "weight_hr" + sfx) if self.proj_size else None
        x_proj = L.linear(x, w_ih, b_ih)  # all time steps in one matmul
        if b_hh is not None and self.mode != "GRU":  # GRU keeps b_hn inside r * (...)
            x_proj = x_proj + b_hh
        steps = _steps(x_proj)
        w_hh_t = w_hh.t()
        outs = [None] * len(steps)
        for t in (reversed(range(len(steps))) if reverse else range(len(steps))):
            h, c = _cell(self.mode, steps[t], h, c, w_hh_t, b_hh)
            if w_hr is not None:
                h = h @ w_hr.t()
            outs[t] = h
        return outs, h, c

    def forward(self, input, hx=None):
        self._check_input(input)
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        T, N = x.shape[0], x.shape[1]
        h0, c0 = self._initial_states(x, hx, batched, N)
        D = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                i = layer * D + d
                outs, h, c = self._direction(x, layer, d == 1, h0[i], None if c0 is None else c0[i])
                outputs.append(stack(outs, 0) if T else x.new_zeros((0, N, h.shape[-1])))
                h_n.append(h)
                c_n.append(c)
            x = outputs[0] if D == 1 else cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = L.dropout(x, self.dropout, True)
        h_n = stack(h_n, 0)
        c_n = stack(c_n, 0) if self.mode == "LSTM" else None
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        if not batched:
            x, h_n = x.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return (x, (h_n, c_n)) if self.mode == "LSTM" else (x, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).
    input (L, N, H_in) (batch_first: (N, L, H_in)) -> (output (L, N, D*H), h_n (D*layers, N, H))."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; gates i, f, g, o. Returns (output, (h_n, c_n)).
    proj_size > 0 projects h_t with weight_hr (LSTMs with projections, as PyTorch)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit; gates r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)


# --- cells ---------------------------------------------------------------------------------------


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(G, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(G, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(G, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(G, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, hx, n_states):
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}"
            )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        states = (hx,) if n_states == 1 and hx is not None else hx
        if states is None:
            states = tuple(x.new_zeros((x.shape[0], self.hidden_size)) for _ in range(n_states))
        else:
            states = tuple(s if batched else s.unsqueeze(0) for s in states)
            for i, s in enumerate(states):
                if s.shape[0] != x.shape[0]:
                    raise RuntimeError(
                        f"Input batch size {x.shape[0]} doesn't match hidden{i} batch size {s.shape[0]}"
                    )
                if s.shape[1] != self.hidden_size:
                    raise RuntimeError(
                        f"hidden{i} has inconsistent hidden_size: got {s.shape[1]}, expected "
                        f"{self.hidden_size}"
                    )
        return x, states, batched

    def _step(self, mode, input, hx, n_states):
        x, states, batched = self._prepare(input, hx, n_states)
        x_proj = L.linear(x, self.weight_ih, self.bias_ih)
        if self.bias_hh is not None and mode != "GRU":
            x_proj = x_proj + self.bias_hh
        h, c = _cell(mode, x_proj, states[0], states[1] if n_states == 2 else None,
                     self.weight_hh.t(), self.bias_hh)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return (h, c) if n_states == 2 else h


class RNNCell(RNNCellBase):
    """One Elman step: (N, input) , h (N, H) -> h' (N, H)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        return self._step(mode, input, hx, 1)


class LSTMCell(RNNCellBase):
    """One LSTM step: (N, input), (h, c) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        return self._step("LSTM", input, hx, 2)


class GRUCell(RNNCellBase):
    """One GRU step: (N, input), h -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        return self._step("GRU", input, hx, 1)
