"""RNN, LSTM, GRU and their cells against hand-written NumPy step equations with the same
weights (PyTorch's gate order), gradients by finite differences, and PyTorch's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
from framework.autograd import gradcheck

RNG = np.random.default_rng(0)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def np_cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's equations; x (N, I), h (N, H)."""
    gi = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    gh = h @ w_hh.T + (b_hh if b_hh is not None else 0)
    H = w_hh.shape[1]
    if mode == "LSTM":
        g = gi + gh
        i, f, gg, o = (g[:, k * H:(k + 1) * H] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        return sigmoid(o) * np.tanh(c), c
    if mode == "GRU":
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, None
    pre = gi + gh
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0)), None


def np_rnn(mode, x, params, num_layers, bidirectional, h0=None, c0=None):
    """x (T, N, I) -> output (T, N, D*H), h_n, c_n, with weights from a state dict."""
    D = 2 if bidirectional else 1
    T, N, _ = x.shape
    H = params["weight_hh_l0"].shape[1]
    h0 = np.zeros((num_layers * D, N, H)) if h0 is None else h0
    c0 = np.zeros((num_layers * D, N, H)) if c0 is None else c0
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [params.get(n + sfx) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[layer * D + d], c0[layer * D + d]
            out = [None] * T
            for t in (reversed(range(T)) if d else range(T)):
                h, c = np_cell(mode, x[t], h, c, *w)
                out[t] = h
            outs.append(np.stack(out))
            hs.append(h)
            cs.append(c)
        x = np.concatenate(outs, axis=2)
    return x, np.stack(hs), (np.stack(cs) if mode == "LSTM" else None)


CASES = [
    ("RNN_TANH", dict()),
    ("RNN_RELU", dict(nonlinearity="relu", batch_first=True)),
    ("RNN_TANH", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(num_layers=2, bias=False)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("GRU", dict(batch_first=True, bias=False)),
]


def make(mode, kw, device="cpu"):
    cls = {"RNN_TANH": nn.RNN, "RNN_RELU": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[mode]
    m = cls(3, 4, dtype=fw.float64, **kw).to(device)
    # set every weight through the state dict: the names map 1:1 onto PyTorch's
    state = {k: fw.tensor(RNG.standard_normal(tuple(v.shape)) * 0.5) for k, v in m.state_dict().items()}
    m.load_state_dict(state)
    return m, {k: v.numpy() for k, v in state.items()}


@pytest.mark.parametrize("mode,kw", CASES)
def test_rnn_matches_numpy_step_equations(backend, mode, kw):
    m, params = make(mode, kw, backend.device)
    layers, bidir = kw.get("num_layers", 1), kw.get("bidirectional", False)
    D = 2 if bidir else 1
    x = RNG.standard_normal((5, 2, 3))  # (T, N, I)
    h0 = RNG.standard_normal((layers * D, 2, 4))
    c0 = RNG.standard_normal((layers * D, 2, 4))
    out_ref, h_ref, c_ref = np_rnn(mode, x, params, layers, bidir, h0, c0)
    xin = x.transpose(1, 0, 2) if kw.get("batch_first") else x
    hx = (backend.tensor(h0), backend.tensor(c0)) if mode == "LSTM" else backend.tensor(h0)
    out, hn = m(backend.tensor(xin), hx)
    expect = out_ref.transpose(1, 0, 2) if kw.get("batch_first") else out_ref
    what = f"{mode} {kw} on {backend}"
    assert out.shape == expect.shape, what
    np.testing.assert_allclose(backend.asnumpy(out), expect, rtol=1e-10, atol=1e-12, err_msg=what)
    if mode == "LSTM":
        hn, cn = hn
        np.testing.assert_allclose(backend.asnumpy(cn), c_ref, rtol=1e-10, atol=1e-12, err_msg=what)
    np.testing.assert_allclose(backend.asnumpy(hn), h_ref, rtol=1e-10, atol=1e-12, err_msg=what)
    # no h0: zeros
    out0, _ = m(backend.tensor(xin))
    ref0 = np_rnn(mode, x, params, layers, bidir)[0]
    np.testing.assert_allclose(backend.asnumpy(out0), ref0.transpose(1, 0, 2) if kw.get("batch_first")
                               else ref0, rtol=1e-10, atol=1e-12, err_msg=what + " (no hx)")


def test_unbatched_input():
    m, params = make("LSTM", dict(num_layers=2))
    x = RNG.standard_normal((4, 3))
    out, (h, c) = m(fw.tensor(x))
    ref, h_ref, c_ref = np_rnn("LSTM", x[:, None], params, 2, False)
    assert out.shape == (4, 4) and h.shape == (2, 4) and c.shape == (2, 4)
    np.testing.assert_allclose(out.detach().numpy(), ref[:, 0], rtol=1e-10, err_msg="unbatched LSTM")
    np.testing.assert_allclose(c.detach().numpy(), c_ref[:, 0], rtol=1e-10, err_msg="unbatched c_n")


@pytest.mark.parametrize("mode,kw", [("LSTM", dict(bidirectional=True)), ("GRU", dict(num_layers=2)),
                                     ("RNN_TANH", dict(batch_first=True))])
def test_rnn_gradcheck(mode, kw):
    m, _ = make(mode, kw)
    params = list(m.parameters())
    x = fw.tensor(RNG.standard_normal((3, 2, 3)), requires_grad=True)

    def f(x, *ps):
        out, h = m(x)
        h = h[0] if mode == "LSTM" else h
        return out.sum(dim=2), h

    assert gradcheck(f, (x, *params)), f"{mode} {kw}"


def test_parameter_names_shapes_and_init():
    fw.manual_seed(0)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    assert names == [f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse")
                     for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    assert m.weight_ih_l0.shape == (16, 3) and m.weight_ih_l1.shape == (16, 8)
    assert m.weight_hh_l1_reverse.shape == (16, 4) and m.bias_hh_l0.shape == (16,)
    assert nn.GRU(3, 4).weight_ih_l0.shape == (12, 3) and nn.RNN(3, 4).weight_hh_l0.shape == (4, 4)
    bound = 1 / math.sqrt(4)
    assert all(np.abs(p.detach().numpy()).max() <= bound for p in m.parameters())
    assert repr(m) == "LSTM(3, 4, num_layers=2, bidirectional=True)"
    assert repr(nn.GRU(3, 4, bias=False, batch_first=True)) == "GRU(3, 4, bias=False, batch_first=True)"
    p = nn.LSTM(3, 4, proj_size=2)
    assert p.weight_hr_l0.shape == (2, 4) and p.weight_hh_l0.shape == (16, 2)
    assert p(fw.randn(5, 1, 3))[0].shape == (5, 1, 2)


def test_dropout_between_layers():
    fw.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = fw.randn(6, 2, 3)
    m.eval()
    a, b = m(x)[0].detach(), m(x)[0].detach()
    np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg="eval: no dropout")
    m.train()
    assert not np.allclose(m(x)[0].detach().numpy(), a.numpy()), "train: dropout between layers"
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.5)


def test_backward_through_long_sequence_is_linear():
    """The per-step slices share one node: backward through 200 steps stays cheap."""
    m = nn.GRU(8, 8)
    x = fw.randn(200, 4, 8, requires_grad=True)
    out, h = m(x)
    (out.sum() + h.sum()).backward()
    assert x.grad.shape == (200, 4, 8) and m.weight_hh_l0.grad is not None


@pytest.mark.parametrize("cls,mode,n", [(nn.RNNCell, "RNN_TANH", 1), (nn.LSTMCell, "LSTM", 4),
                                        (nn.GRUCell, "GRU", 3)])
def test_cells(cls, mode, n):
    cell = cls(3, 4, dtype=fw.float64)
    p = {k: v.detach().numpy() for k, v in cell.state_dict().items()}
    assert p["weight_ih"].shape == (4 * n, 3) and p["bias_hh"].shape == (4 * n,)
    x, h, c = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4)), RNG.standard_normal((2, 4))
    ref_h, ref_c = np_cell(mode, x, h, c, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    if mode == "LSTM":
        out_h, out_c = cell(fw.tensor(x), (fw.tensor(h), fw.tensor(c)))
        np.testing.assert_allclose(out_c.detach().numpy(), ref_c, rtol=1e-10, err_msg="LSTMCell c")
    else:
        out_h = cell(fw.tensor(x), fw.tensor(h))
    np.testing.assert_allclose(out_h.detach().numpy(), ref_h, rtol=1e-10, err_msg=cls.__name__)
    unbatched = cell(fw.tensor(x[0]))
    assert (unbatched[0] if mode == "LSTM" else unbatched).shape == (4,)


ERRORS = [
    (lambda: nn.RNN(10, 20, 2)(fw.randn(5, 3, 10, 2)), ValueError,
     "RNN: Expected input to be 2D or 3D, got 4D tensor instead"),
    (lambda: nn.LSTM(10, 20)(fw.randn(5, 3, 10, 2)), ValueError,
     "LSTM: Expected input to be 2D or 3D, got 4D instead"),
    (lambda: nn.RNN(10, 20)(fw.randn(5, 3, 5)), RuntimeError,
     "input.size\\(-1\\) must be equal to input_size. Expected 10, got 5"),
    (lambda: nn.RNN(10, 20, 2)(fw.randn(5, 3, 10), fw.randn(1, 3, 20)), RuntimeError,
     r"Expected hidden size \(2, 3, 20\), got \[1, 3, 20\]"),
    (lambda: nn.LSTM(10, 20, 2, bidirectional=True)(fw.randn(5, 3, 10), (fw.randn(4, 3, 20), fw.randn(1, 3, 20))),
     RuntimeError, r"Expected hidden\[1\] size \(4, 3, 20\), got \[1, 3, 20\]"),
    (lambda: nn.RNN(10, 20)(fw.randn(5, 3, 10), fw.randn(2, 20)), RuntimeError,
     "For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
    (lambda: nn.RNN(10, 20)(fw.randn(5, 3, 10).double()), ValueError,
     r"RNN input dtype \(framework.float64\) does not match weight dtype \(framework.float32\)"),
    (lambda: nn.RNN(3, 4, nonlinearity="foo"), ValueError,
     "Unknown nonlinearity 'foo'. Select from 'tanh' or 'relu'."),
    (lambda: nn.GRU(3, 4, dropout=2), ValueError, "dropout should be a number in range \\[0, 1\\]"),
    (lambda: nn.LSTMCell(3, 4)(fw.randn(2, 5)), RuntimeError,
     "input has inconsistent input_size: got 5 expected 3"),
    (lambda: nn.RNNCell(3, 4)(fw.randn(2, 3), fw.randn(3, 4)), RuntimeError,
     "Input batch size 2 doesn't match hidden0 batch size 3"),
]


@pytest.mark.parametrize("call,exc,message", ERRORS)
def test_rnn_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_fused_gru_cell_matches_the_equations_and_gradchecks():
    from framework.ops.recurrent import gru_cell

    rng = np.random.default_rng(3)
    N, H = 3, 4
    xg, h = rng.standard_normal((N, 3 * H)), rng.standard_normal((N, H))
    w, b = rng.standard_normal((H, 3 * H)), rng.standard_normal(3 * H)
    gh = h @ w + b
    sig = lambda a: 1 / (1 + np.exp(-a))
    r, z = sig(xg[:, :H] + gh[:, :H]), sig(xg[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(xg[:, 2 * H:] + r * gh[:, 2 * H:])
    want = (1 - z) * n + z * h
    ts = [fw.tensor(a, requires_grad=True) for a in (xg, h, w, b)]
    np.testing.assert_allclose(gru_cell(*ts).detach().numpy(), want, rtol=1e-12,
                               err_msg="fused GRU cell vs PyTorch's GRU equations")
    assert fw.autograd.gradcheck(gru_cell, ts)
    assert fw.autograd.gradgradcheck(gru_cell, ts)
    assert fw.autograd.gradcheck(lambda a, c, d: gru_cell(a, c, d, None), ts[:3])
    # the gates kept for backward are freed after use; a retained graph recomputes them
    y = gru_cell(*ts).sum()
    y.backward(retain_graph=True)
    first = [t.grad.numpy().copy() for t in ts]
    y.backward()
    for t, g in zip(ts, first):
        np.testing.assert_allclose(t.grad.numpy(), 2 * g, rtol=1e-12, err_msg="second backward")


def test_fused_lstm_cell_matches_the_equations_and_gradchecks():
    from framework.ops.recurrent import lstm_cell

    rng = np.random.default_rng(4)
    N, H, P = 3, 4, 2  # P: a projected hidden size, as with proj_size
    xg, h = rng.standard_normal((N, 4 * H)), rng.standard_normal((N, P))
    c, w = rng.standard_normal((N, H)), rng.standard_normal((P, 4 * H))
    sig = lambda a: 1 / (1 + np.exp(-a))
    gates = xg + h @ w
    i, f = sig(gates[:, :H]), sig(gates[:, H:2 * H])
    g, o = np.tanh(gates[:, 2 * H:3 * H]), sig(gates[:, 3 * H:])
    c2 = f * c + i * g
    ts = [fw.tensor(a, requires_grad=True) for a in (xg, h, c, w)]
    h_new, c_new = lstm_cell(*ts)
    assert h_new.grad_fn is c_new.grad_fn and (h_new._output_nr, c_new._output_nr) == (0, 1)
    np.testing.assert_allclose(c_new.detach().numpy(), c2, rtol=1e-12, err_msg="c'")
    np.testing.assert_allclose(h_new.detach().numpy(), o * np.tanh(c2), rtol=1e-12, err_msg="h'")
    assert fw.autograd.gradcheck(lambda *a: lstm_cell(*a), ts)
    assert fw.autograd.gradgradcheck(lambda *a: lstm_cell(*a), ts)
    assert fw.autograd.gradcheck(lambda *a: lstm_cell(*a)[0], ts)  # c' unused: its grad is None
    assert fw.autograd.gradcheck(lambda *a: lstm_cell(*a)[1], ts)  # h' unused
