"""Losses: every functional loss and reduction as op-table rows (forward vs NumPy in float32 and
float64, gradcheck, gradgradcheck, on every backend); then the modules, numerical stability at
+-1e4, the fused cross entropy's graph, and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from optable import Given, check_row, ints, row

import framework as fw
import framework.nn as nn
import framework.nn.functional as F

# --- NumPy references -----------------------------------------------------------------------


def reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (loss.size if denom is None else denom)


def np_log_softmax(x, axis=1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_nll(logp, t, reduction="mean", weight=None, ignore_index=-100):
    """logp (N, C, *), t (N, *): -w[t] logp[n, t] over non-ignored samples."""
    C = logp.shape[1]
    w = np.ones(C) if weight is None else weight
    valid = t != ignore_index
    tc = np.where(valid, t, 0)
    picked = np.take_along_axis(logp, tc[:, None], 1)[:, 0]
    wt = w[tc] * valid
    return reduce(-wt * picked, reduction, wt.sum())


def np_ce(x, t, reduction="mean", weight=None, ignore_index=-100, smoothing=0.0):
    logp = np_log_softmax(x)
    C = x.shape[1]
    w = np.ones(C) if weight is None else weight
    if t.dtype.kind == "f":  # probabilities
        q = t * (1 - smoothing) + smoothing / C
        wb = w.reshape((1, C) + (1,) * (x.ndim - 2))
        return reduce(-(q * wb * logp).sum(1), reduction, logp.size // C)
    nll = np_nll(logp, t, "none", weight, ignore_index)
    if smoothing == 0:
        return np_nll(logp, t, reduction, weight, ignore_index)
    valid = t != ignore_index
    wb = w.reshape((1, C) + (1,) * (x.ndim - 2))
    smooth = -(logp * wb).sum(1) * valid
    denom = (w[np.where(valid, t, 0)] * valid).sum()
    return reduce((1 - smoothing) * nll + smoothing / C * smooth, reduction, denom)


def np_bce(p, t, w=1.0):
    return -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


def np_bce_logits(x, t, w=1.0, pw=None):
    lw = 1 if pw is None else 1 + (pw - 1) * t
    return w * ((1 - t) * x + lw * np.logaddexp(0, -x))


def np_smooth_l1(d, beta):
    a = np.abs(d)
    return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def np_huber(d, delta):
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def np_kl(x, t, log_target=False):
    if log_target:
        return np.exp(t) * (t - x)
    return np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x


T = ints([0, 2, 1, 2])  # class targets for 4 samples of 3 classes
T_IGN = ints([0, -100, 1, 2])
T4 = ints([[[0, 2], [1, 1]], [[2, 0], [-100, 1]]])  # (N=2, d1=2, d2=2)
W3 = np.array([0.5, 2.0, 1.25])
P = Given(np.array([[0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]]))
PROBS = Given([[0.1, 0.9], [0.35, 0.7], [0.5, 0.2]])
TGT = Given([[0.0, 1.0], [0.3, 0.8], [1.0, 0.25]])
KL_TGT = Given([[0.05, 1.0], [0.3, 0.8], [0.9, 0.25]])  # > 0: d/dt of t log t is -inf at 0
CE = lambda **kw: lambda x, t: F.cross_entropy(x, t, **kw)  # noqa: E731
RED = ("mean", "sum", "none")

LOSSES = [
    *[row(f"cross_entropy-{r}", CE(reduction=r), lambda x, t, r=r: np_ce(x, t, r), (4, 3), T)
      for r in RED],
    row("cross_entropy-ignore", CE(), lambda x, t: np_ce(x, t), (4, 3), T_IGN),
    row("cross_entropy-weight", CE(weight=fw.tensor(W3)), lambda x, t: np_ce(x, t, weight=W3),
        (4, 3), T_IGN),
    *[row(f"cross_entropy-smoothing-weight-{r}", CE(weight=fw.tensor(W3), label_smoothing=0.2,
                                                    reduction=r),
          lambda x, t, r=r: np_ce(x, t, r, W3, smoothing=0.2), (4, 3), T_IGN) for r in RED],
    row("cross_entropy-4d", CE(), lambda x, t: np_ce(x, t), (2, 3, 2, 2), T4),
    row("cross_entropy-4d-weight-smoothing-none", CE(weight=fw.tensor(W3), label_smoothing=0.1,
                                                     reduction="none"),
        lambda x, t: np_ce(x, t, "none", W3, smoothing=0.1), (2, 3, 2, 2), T4),
    *[row(f"cross_entropy-probs-{r}", CE(reduction=r), lambda x, t, r=r: np_ce(x, t, r),
          (4, 3), P) for r in RED],
    row("cross_entropy-probs-weight-smoothing", CE(weight=fw.tensor(W3), label_smoothing=0.3),
        lambda x, t: np_ce(x, t, weight=W3, smoothing=0.3), (4, 3), P),
    row("cross_entropy-1d", CE(), lambda x, t: np_ce(x[None], t[None]), (5,), ints(3)),
    *[row(f"nll_loss-{r}", lambda x, t, r=r: F.nll_loss(x, t, reduction=r),
          lambda x, t, r=r: np_nll(x, t, r), (4, 3), T_IGN) for r in RED],
    row("nll_loss-weight", lambda x, t: F.nll_loss(x, t, weight=fw.tensor(W3)),
        lambda x, t: np_nll(x, t, weight=W3), (4, 3), T),
    row("nll_loss-4d", lambda x, t: F.nll_loss(x, t, reduction="sum"),
        lambda x, t: np_nll(x, t, "sum"), (2, 3, 2, 2), T4),
    *[row(f"mse_loss-{r}", lambda x, y, r=r: F.mse_loss(x, y, reduction=r),
          lambda x, y, r=r: reduce((x - y) ** 2, r), (3, 4), (3, 4)) for r in RED],
    *[row(f"l1_loss-{r}", lambda x, y, r=r: F.l1_loss(x, y, reduction=r),
          lambda x, y, r=r: reduce(np.abs(x - y), r), (3, 4), (3, 4), smooth=False) for r in RED],
    *[row(f"smooth_l1_loss-{r}", lambda x, y, r=r: F.smooth_l1_loss(x, y, reduction=r, beta=0.5),
          lambda x, y, r=r: reduce(np_smooth_l1(x - y, 0.5), r), (3, 4), (3, 4), smooth=False)
      for r in RED],
    *[row(f"huber_loss-{r}", lambda x, y, r=r: F.huber_loss(x, y, reduction=r, delta=0.5),
          lambda x, y, r=r: reduce(np_huber(x - y, 0.5), r), (3, 4), (3, 4), smooth=False)
      for r in RED],
    *[row(f"binary_cross_entropy-{r}", lambda p, t, r=r: F.binary_cross_entropy(p, t, reduction=r),
          lambda p, t, r=r: reduce(np_bce(p, t), r), PROBS, TGT) for r in RED],
    row("binary_cross_entropy-weight", lambda p, t: F.binary_cross_entropy(
        p, t, weight=fw.tensor([2.0, 0.5], device=p.device)),
        lambda p, t: np_bce(p, t, np.array([2.0, 0.5])).mean(), PROBS, TGT),
    *[row(f"binary_cross_entropy_with_logits-{r}",
          lambda x, t, r=r: F.binary_cross_entropy_with_logits(x, t, reduction=r),
          lambda x, t, r=r: reduce(np_bce_logits(x, t), r), (3, 2), TGT) for r in RED],
    row("binary_cross_entropy_with_logits-pos_weight", lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, weight=fw.tensor([1.5, 0.5], device=x.device),
        pos_weight=fw.tensor([3.0, 0.25], device=x.device)),
        lambda x, t: np_bce_logits(x, t, np.array([1.5, 0.5]), np.array([3.0, 0.25])).mean(),
        (3, 2), TGT),
    *[row(f"kl_div-{r}", lambda x, t, r=r: F.kl_div(x, t, reduction=r),
          lambda x, t, r=r: reduce(np_kl(x, t), r), (3, 2), KL_TGT) for r in ("sum", "none")],
    row("kl_div-batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
        lambda x, t: np_kl(x, t).sum() / 3, (3, 2), KL_TGT),
    row("kl_div-log_target", lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
        lambda x, t: np_kl(x, t, True).sum(), (3, 2), (3, 2)),
]


@pytest.mark.parametrize("r", LOSSES, ids=lambda r: r.name)
def test_loss_op(r, backend):
    check_row(r, backend)


def test_table_names_are_unique():
    names = [r.name for r in LOSSES]
    assert len(names) == len(set(names))


# --- modules -------------------------------------------------------------------------------


@pytest.mark.parametrize("module, fn", [
    (nn.CrossEntropyLoss(label_smoothing=0.1), lambda x, t: np_ce(x, t, smoothing=0.1)),
    (nn.CrossEntropyLoss(weight=fw.tensor(W3), ignore_index=2, reduction="sum"),
     lambda x, t: np_ce(x, t, "sum", W3, ignore_index=2)),
    (nn.NLLLoss(reduction="none"), lambda x, t: np_nll(x, t, "none")),
])
def test_class_loss_modules(module, fn):
    x = np.random.default_rng(0).standard_normal((4, 3))
    got = module(fw.tensor(x), fw.tensor(T))
    np.testing.assert_allclose(got.numpy(), fn(x, T), rtol=1e-7, err_msg=repr(module))


def test_pairwise_loss_modules():
    rng = np.random.default_rng(1)
    x, y = rng.random((3, 4)) * 0.9 + 0.05, rng.random((3, 4))
    a, b = fw.tensor(x), fw.tensor(y)
    cases = [
        (nn.MSELoss(), ((x - y) ** 2).mean()),
        (nn.L1Loss(reduction="sum"), np.abs(x - y).sum()),
        (nn.SmoothL1Loss(beta=0.3), np_smooth_l1(x - y, 0.3).mean()),
        (nn.HuberLoss(delta=0.3), np_huber(x - y, 0.3).mean()),
        (nn.BCELoss(), np_bce(x, y).mean()),
        (nn.BCEWithLogitsLoss(pos_weight=fw.tensor([2.0] * 4, dtype=fw.float64)),
         np_bce_logits(x, y, pw=2.0).mean()),
        (nn.KLDivLoss(reduction="batchmean"), np_kl(x, y).sum() / 3),
    ]
    for m, want in cases:
        np.testing.assert_allclose(m(a, b).numpy(), want, rtol=1e-7, err_msg=repr(m))


def test_loss_modules_hold_weights_as_buffers():
    m = nn.CrossEntropyLoss(weight=fw.ones(3))
    assert list(m.state_dict()) == ["weight"] and list(m.parameters()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=fw.ones(2)).state_dict()) == ["pos_weight"]
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


# --- numerical stability -------------------------------------------------------------------


def _finite_loss_and_grad(fn, x, *args):
    x = fw.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / divide warnings either
        loss = fn(x, *args)
        loss.sum().backward()
    assert np.isfinite(loss.detach().numpy()).all(), loss
    assert np.isfinite(x.grad.numpy()).all(), x.grad
    return loss, x.grad


def test_cross_entropy_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4, -1e4]])
    loss, g = _finite_loss_and_grad(F.cross_entropy, x, fw.tensor([1, 2, 0]))
    # exact: sample 0 loses 2e4, sample 1 log 2, sample 2 log 2
    np.testing.assert_allclose(loss.item(), (2e4 + 2 * np.log(2)) / 3, rtol=1e-6)
    np.testing.assert_allclose(g.numpy()[0], np.array([1, -1, 0]) / 3, atol=1e-7)
    _finite_loss_and_grad(lambda x: F.log_softmax(x, 1).sum(), x)


def test_bce_with_logits_stable_for_huge_logits():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    t = fw.tensor([1.0, 0.0, 0.0, 1.0, 0.5])
    loss, g = _finite_loss_and_grad(
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"), x, t)
    np.testing.assert_allclose(loss.detach().numpy(), [0, 0, 1e4, 1e4, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), [0, 0, 1, -1, 0], atol=1e-7)
    _finite_loss_and_grad(lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=fw.tensor([2.0] * 5)), x, t)


def test_bce_clamps_log_at_minus_100():
    p = fw.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    t = fw.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(loss.detach().numpy(), [100, 100, 0, 0])
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()  # (x - t) / max(x (1 - x), 1e-12), as PyTorch


# --- the fused cross entropy ----------------------------------------------------------------


def test_cross_entropy_is_one_fused_node():
    x = fw.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, fw.tensor(T))
    assert loss.grad_fn.name() == "CrossEntropyLossBackward0"
    ((acc, _),) = [e for e in loss.grad_fn.next_functions if e[0] is not None]
    assert acc.name() == "AccumulateGrad"
    # its gradient is softmax - onehot, averaged over the batch
    loss.backward()
    p = np.exp(np_log_softmax(x.detach().numpy().astype(np.float64)))
    p[np.arange(4), T] -= 1
    np.testing.assert_allclose(x.grad.numpy(), p / 4, rtol=1e-5, atol=1e-7)


def test_cross_entropy_soft_targets_get_gradient():
    x = fw.randn(2, 3, dtype=fw.float64)
    q = fw.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], dtype=fw.float64, requires_grad=True)
    F.cross_entropy(x, q, reduction="sum").backward()
    np.testing.assert_allclose(q.grad.numpy(), -np_log_softmax(x.numpy()), rtol=1e-12)


def test_kl_div_zero_target_contributes_zero():
    x = fw.tensor([[-1.0, -2.0]], requires_grad=True)
    loss = F.kl_div(x, fw.tensor([[0.0, 1.0]]), reduction="sum")
    assert loss.item() == pytest.approx(2.0)  # 0 * (log 0 - x) = 0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, -1.0]])


def test_cross_entropy_all_ignored_is_nan_as_pytorch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = F.cross_entropy(fw.randn(2, 3), fw.tensor([-100, -100]))
    assert np.isnan(loss.item())


# --- errors --------------------------------------------------------------------------------


def test_loss_errors():
    x = fw.randn(3, 4)
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(x, x, reduction="foo")
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(x, fw.tensor([0, 1]))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.nll_loss(x, fw.tensor([0, 1, 7]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got framework.float32"):
        F.cross_entropy(x, fw.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 5\], got \[2, 4\]"):
        F.nll_loss(fw.randn(2, 3, 5), fw.zeros(2, 4, dtype=fw.int64))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        F.cross_entropy(x, fw.tensor([0, 1, 2]), weight=fw.ones(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x, x)
    with pytest.raises(ValueError, match="that is different to the input size"):
        F.binary_cross_entropy(x.sigmoid(), fw.rand(3, 2))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, fw.rand(3, 2))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(x, x, delta=0)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, fw.tensor([0, 1, 2]), label_smoothing=1.5)


def test_loss_warnings():
    with pytest.warns(UserWarning, match="Using a target size .* different to the input size"):
        F.mse_loss(fw.randn(3, 4), fw.randn(3, 1))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(fw.randn(2, 2), fw.rand(2, 2))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss = F.mse_loss(fw.ones(2), fw.zeros(2), size_average=False)
    assert loss.item() == 2.0
