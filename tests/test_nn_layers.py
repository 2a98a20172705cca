"""nn layers and their functional forms: activations, softmax, linear, norms, dropout, embedding,
and the small functional helpers.

The functional ops are rows of the op table (tests/optable.py: forward vs NumPy in float32 and
float64, gradcheck, gradgradcheck, float32 gradients, on every backend). Below the table: the
layer classes (train/eval behaviour, running statistics, initialisation), erf's accuracy, and
errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from optable import Given, check_row, ints, row

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from framework.autograd import gradgradcheck
from framework.ops.activation import erf, erf_array, erfc, erfc_array

_erf = np.vectorize(math.erf)
_erfc = np.vectorize(math.erfc)


# --- NumPy references -----------------------------------------------------------------------


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_softplus(x, beta=1.0, threshold=20.0):
    z = beta * x
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def np_norm_over(x, axes, eps):
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps)


def np_batch_norm(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return np_norm_over(x, axes, eps) * w.reshape(shape) + b.reshape(shape)


def np_group_norm(x, groups, w, b, eps=1e-5):
    N, C = x.shape[:2]
    y = np_norm_over(x.reshape(N, groups, -1), (2,), eps).reshape(x.shape)
    shape = (1, C) + (1,) * (x.ndim - 2)
    return y * w.reshape(shape) + b.reshape(shape)


def np_nearest(x, out_sizes):
    """PyTorch's 'nearest': source index floor(dst * in / out) along each spatial dim."""
    for d, n_out in enumerate(out_sizes):
        n_in = x.shape[2 + d]
        idx = np.minimum(np.floor(np.arange(n_out) * (n_in / n_out)).astype(int), n_in - 1)
        x = np.take(x, idx, axis=2 + d)
    return x


RM, RV = np.array([0.5, -1.0, 0.25]), np.array([2.0, 0.5, 1.5])  # running stats for eval rows
EMB_IDX = ints([[1, 3, 0], [3, 3, 2]])

LAYERS = [
    # activations
    row("gelu", F.gelu, lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))), (3, 4)),
    row("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), np_gelu_tanh, (3, 4)),
    row("gelu-tails", F.gelu, lambda x: x * 0.5 * _erfc(-x / math.sqrt(2)),
        Given([-30.0, -8.0, -3.0, 3.0, 8.0, 30.0]), check_kw=dict(atol=1e-6)),
    row("elu", lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), (3, 4)),
    row("selu", F.selu, lambda x: 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(x)), (3, 4)),
    row("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), (3, 4)),
    row("relu", F.relu, lambda x: np.maximum(x, 0), (3, 4)),
    row("silu", F.silu, lambda x: x * np_sigmoid(x), (3, 4)),
    row("mish", F.mish, lambda x: x * np.tanh(np.logaddexp(0, x)), (3, 4)),
    row("softplus", F.softplus, np_softplus, (3, 4)),
    row("softplus-beta-threshold", lambda x: F.softplus(x, 2.0, 1.5),
        lambda x: np_softplus(x, 2.0, 1.5), Given([[-2.0, -0.5, 0.3], [0.6, 0.9, 2.0]])),
    row("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.0),
        lambda x: np.clip(x, -0.5, 1.0), (3, 4)),
    row("relu6", F.relu6, lambda x: np.clip(x, 0, 6), Given([-1.5, 0.5, 5.5, 7.0])),
    row("logsigmoid", F.logsigmoid, lambda x: -np.logaddexp(0, -x), (3, 4)),
    row("sigmoid", F.sigmoid, np_sigmoid, (3, 4)),
    row("tanh", F.tanh, np.tanh, (3, 4)),
    row("glu", F.glu, lambda x: x[:, :2] * np_sigmoid(x[:, 2:]), (3, 4)),
    row("glu-dim0", lambda x: F.glu(x, 0), lambda x: x[:2] * np_sigmoid(x[2:]), (4, 3)),
    row("erf", erf, _erf, (3, 4)),
    row("erfc", erfc, _erfc, (3, 4)),
    row("softmax", lambda x: F.softmax(x, 1), lambda x: np_softmax(x, 1), (3, 4)),
    row("softmax-dim0-3d", lambda x: F.softmax(x, 0), lambda x: np_softmax(x, 0), (3, 2, 2)),
    row("softmin", lambda x: F.softmin(x, -1), lambda x: np_softmax(-x, -1), (3, 4)),
    row("log_softmax", lambda x: F.log_softmax(x, -1), lambda x: np_log_softmax(x, -1), (3, 4)),
    row("log_softmax-huge", lambda x: F.log_softmax(x, 1), lambda x: np_log_softmax(x, 1),
        Given([[1e4, -1e4, 0.0], [3.0, 1e4, 1e4]]), smooth=False),
    # linear
    row("linear", F.linear, lambda x, w, b: x @ w.T + b, (4, 3), (2, 3), (2,)),
    row("linear-nobias-3d", F.linear, lambda x, w: x @ w.T, (2, 2, 3), (4, 3)),
    row("linear-1d", F.linear, lambda x, w, b: x @ w.T + b, (3,), (2, 3), (2,)),
    row("bilinear", F.bilinear, lambda a, c, w, b: np.einsum("ni,oij,nj->no", a, w, c) + b,
        (3, 2), (3, 4), (5, 2, 4), (5,)),
    # normalization
    row("batch_norm-train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        np_batch_norm, (4, 3, 2), (3,), (3,)),
    row("batch_norm-train-2d", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        np_batch_norm, (5, 3), (3,), (3,)),
    row("batch_norm-eval", lambda x, w, b: F.batch_norm(
        x, fw.tensor(RM, device=x.device), fw.tensor(RV, device=x.device), w, b),
        lambda x, w, b: (x - RM[:, None]) / np.sqrt(RV[:, None] + 1e-5) * w[:, None] + b[:, None],
        (2, 3, 2), (3,), (3,)),
    row("layer_norm", lambda x, w, b: F.layer_norm(x, (3, 2), w, b),
        lambda x, w, b: np_norm_over(x, (1, 2), 1e-5) * w + b, (2, 3, 2), (3, 2), (3, 2)),
    row("layer_norm-noaffine", lambda x: F.layer_norm(x, 4, eps=1e-3),
        lambda x: np_norm_over(x, (1,), 1e-3), (3, 4)),
    row("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda x, w, b: np_group_norm(x, 2, w, b), (2, 4, 3), (4,), (4,)),
    row("rms_norm", lambda x, w: F.rms_norm(x, (4,), w, eps=1e-6),
        lambda x, w: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * w, (3, 4), (4,)),
    # small helpers
    row("normalize", F.normalize, lambda x: x / np.linalg.norm(x, axis=1, keepdims=True), (3, 4)),
    row("cosine_similarity", F.cosine_similarity, lambda a, b: (a * b).sum(1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)), (3, 4), (3, 4)),
    row("interpolate-scale2", lambda x: F.interpolate(x, scale_factor=2),
        lambda x: np_nearest(x, (6, 4)), (1, 2, 3, 2)),
    row("interpolate-size", lambda x: F.interpolate(x, size=(5, 3)),
        lambda x: np_nearest(x, (5, 3)), (1, 2, 3, 2)),
    row("interpolate-1d", lambda x: F.interpolate(x, size=7), lambda x: np_nearest(x, (7,)),
        (2, 1, 3)),
    row("embedding", lambda w, i: F.embedding(i, w), lambda w, i: w[i], (4, 2), EMB_IDX),
]


@pytest.mark.parametrize("r", LAYERS, ids=lambda r: r.name)
def test_layer_op(r, backend):
    check_row(r, backend)


def test_table_names_are_unique():
    names = [r.name for r in LAYERS]
    assert len(names) == len(set(names))


# --- erf ------------------------------------------------------------------------------------


def test_erf_is_float64_accurate():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-12, 1.4, 300),
                        -np.logspace(-12, 1.4, 300)])
    np.testing.assert_allclose(erf_array(x), _erf(x), rtol=1e-15, atol=3e-16, err_msg="erf")
    # erfc keeps relative precision far into the tail, where 1 - erf(x) is all rounding error
    y = np.linspace(-5, 26, 3001)
    np.testing.assert_allclose(erfc_array(y), _erfc(y), rtol=2e-15, atol=0, err_msg="erfc")


def test_erf_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e300])
    got = erf_array(x)
    np.testing.assert_array_equal(got[:4], [0.0, -0.0, 1.0, -1.0])
    assert np.isnan(got[4]) and got[5] == 1.0
    np.testing.assert_array_equal(erfc_array(np.array([np.inf, -np.inf])), [0.0, 2.0])
    assert erf_array(np.float32([0.5])).dtype == np.float32


# --- activations: behaviour a row can't express ------------------------------------------------


def test_gelu_matches_its_derivative_far_out():
    """Huge |x| give finite values and exact limits: gelu(x) = x for x >> 0, 0 for x << 0."""
    x = fw.tensor([-1e4, -50.0, 50.0, 1e4], dtype=fw.float64, requires_grad=True)
    y = F.gelu(x)
    np.testing.assert_array_equal(y.detach().numpy(), [-0.0, -0.0, 50.0, 1e4])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("fn", [F.softplus, F.logsigmoid, F.silu, F.mish, F.elu, F.sigmoid,
                                lambda x: F.softmax(x, 0), lambda x: F.log_softmax(x, 0)])
def test_activations_finite_for_huge_inputs(fn):
    import warnings

    x = fw.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        y = fn(x)
        y.sum().backward()
    assert np.isfinite(y.detach().numpy()).all(), y
    assert np.isfinite(x.grad.numpy()).all(), x.grad


def test_softmax_without_dim_warns_and_picks_pytorch_dim():
    x = fw.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.numpy().sum(1), 1, rtol=1e-6)  # dim 1 for 2-D inputs
    with pytest.warns(UserWarning, match="log_softmax"):
        nn.LogSoftmax()(fw.randn(3))


def test_softmax_dtype_argument():
    y = F.softmax(fw.tensor([1.0, 2.0]), 0, dtype=fw.float64)
    assert y.dtype == fw.float64


def test_activation_errors():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(fw.ones(2), approximate="fast")
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(fw.ones(2, 3))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.softmax(fw.ones(2, 3), 2)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(1.0, -1.0)


def test_inplace_activations_write_into_the_input():
    for m, want in ((nn.ReLU(inplace=True), [0.0, 2.0]), (nn.LeakyReLU(0.5, inplace=True), [-0.5, 2.0]),
                    (nn.ELU(inplace=True), [math.expm1(-1), 2.0]), (nn.SiLU(inplace=True), None)):
        x = fw.tensor([-1.0, 2.0])
        assert m(x) is x, type(m).__name__
        if want is not None:
            np.testing.assert_allclose(x.numpy(), want, rtol=1e-6, err_msg=type(m).__name__)
    a = fw.tensor([-1.0, 2.0], requires_grad=True)
    b = a * 1
    F.relu(b, inplace=True).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0])


@pytest.mark.parametrize("cls, kw, fn", [
    (nn.ReLU, {}, lambda x: np.maximum(x, 0)),
    (nn.GELU, {}, lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2)))),
    (nn.Tanh, {}, np.tanh),
    (nn.Sigmoid, {}, np_sigmoid),
    (nn.SiLU, {}, lambda x: x * np_sigmoid(x)),
    (nn.Softplus, {"beta": 2.0}, lambda x: np_softplus(x, 2.0)),
    (nn.Softmax, {"dim": 1}, lambda x: np_softmax(x, 1)),
    (nn.LogSoftmax, {"dim": 0}, lambda x: np_log_softmax(x, 0)),
    (nn.ELU, {"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    (nn.ReLU6, {}, lambda x: np.clip(x, 0, 6)),
    (nn.Mish, {}, lambda x: x * np.tanh(np.logaddexp(0, x))),
])
def test_activation_modules_call_their_function(cls, kw, fn, backend):
    x = np.linspace(-3, 7, 12).reshape(3, 4)
    y = cls(**kw)(backend.tensor(x))
    np.testing.assert_allclose(backend.asnumpy(y), fn(x), rtol=1e-6, atol=1e-7, err_msg=cls.__name__)


# --- Linear, Bilinear, Identity, Flatten ---------------------------------------------------------


def test_linear_init_bounds_and_shapes():
    m = nn.Linear(50, 30)
    assert m.weight.shape == (30, 50) and m.bias.shape == (30,)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) and the bias both give 1/sqrt(fan_in)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=fw.float64).weight.dtype == fw.float64


def test_linear_reproducible_under_manual_seed():
    fw.manual_seed(7)
    a = nn.Linear(4, 3).weight.detach().numpy().copy()
    fw.manual_seed(7)
    b = nn.Linear(4, 3).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_linear_is_one_node_and_errors():
    m = nn.Linear(3, 2)
    y = m(fw.randn(4, 3))
    assert y.grad_fn.name() == "AddmmBackward0"
    nodes = {fn for fn, _ in y.grad_fn.next_functions if fn is not None}
    assert {type(n).__name__ for n in nodes} == {"AccumulateGrad"}
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x5 and 3x2\)"):
        m(fw.randn(4, 5))
    with pytest.raises(RuntimeError, match="expected input, weight and bias of one dtype"):
        m(fw.randn(4, 3, dtype=fw.float64))


def test_bilinear_identity_flatten_unflatten():
    m = nn.Bilinear(2, 3, 4)
    x1, x2 = fw.randn(5, 2), fw.randn(5, 3)
    ref = np.einsum("ni,oij,nj->no", x1.numpy(), m.weight.detach().numpy(), x2.numpy())
    np.testing.assert_allclose(m(x1, x2).detach().numpy(), ref + m.bias.detach().numpy(), rtol=1e-5)
    x = fw.randn(2, 3, 4, 5)
    assert nn.Identity(54, unused=True)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, 3)


# --- normalization layers ----------------------------------------------------------------------


def test_batchnorm_training_updates_running_stats_with_unbiased_var(backend):
    bn = nn.BatchNorm1d(3, momentum=0.25).to(backend.device)
    x = np.random.default_rng(0).standard_normal((8, 3, 5))
    y = bn(backend.tensor(x, dtype=fw.float32))
    np.testing.assert_allclose(backend.asnumpy(y), np_batch_norm(x, np.ones(3), np.zeros(3)),
                               rtol=1e-4, atol=1e-5)
    mean, var = x.mean(axis=(0, 2)), x.var(axis=(0, 2), ddof=1)  # unbiased, as PyTorch
    np.testing.assert_allclose(backend.asnumpy(bn.running_mean), 0.25 * mean, rtol=1e-5)
    np.testing.assert_allclose(backend.asnumpy(bn.running_var), 0.75 + 0.25 * var, rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()  # eval normalizes with the running statistics and leaves them alone
    y = bn(backend.tensor(x, dtype=fw.float32))
    rm, rv = 0.25 * mean, 0.75 + 0.25 * var
    np.testing.assert_allclose(backend.asnumpy(y), (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5),
                               rtol=1e-4, atol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm2d(2, momentum=None)
    batches = [fw.randn(4, 2, 3, 3) * (i + 1) + i for i in range(3)]
    for b in batches:
        bn(b)
    means = [b.numpy().mean(axis=(0, 2, 3)) for b in batches]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, axis=0), rtol=1e-5)


def test_batchnorm_without_running_stats_and_errors():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert bn.running_mean is None and bn.weight is None and list(bn.state_dict()) == []
    x = fw.randn(6, 3)
    bn.eval()  # no running stats: batch statistics even in eval
    np.testing.assert_allclose(bn(x).numpy(), np_batch_norm(x.numpy(), np.ones(3), np.zeros(3)),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(fw.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(fw.randn(2, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(fw.randn(1, 3))
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements"):
        nn.BatchNorm1d(3).eval()(fw.randn(2, 4))


def test_batchnorm_frozen_in_eval_gets_input_grad_only():
    bn = nn.BatchNorm1d(3).eval()
    x = fw.randn(4, 3, requires_grad=True)
    bn(x).sum().backward()
    expected = np.ones((4, 3)) / np.sqrt(1 + 1e-5)  # the running var is 1 after init
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(bn.bias.grad.numpy(), [4, 4, 4])


def test_layer_group_rms_norm_modules():
    x = fw.randn(2, 4, 3)
    np.testing.assert_allclose(nn.LayerNorm(3)(x).detach().numpy(),
                               np_norm_over(x.numpy(), (2,), 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nn.GroupNorm(2, 4)(x).detach().numpy(),
                               np_group_norm(x.numpy(), 2, np.ones(4), np.zeros(4)),
                               rtol=1e-4, atol=1e-5)
    eps = float(np.finfo(np.float32).eps)  # RMSNorm's default eps
    ref = x.numpy() / np.sqrt((x.numpy() ** 2).mean(-1, keepdims=True) + eps)
    np.testing.assert_allclose(nn.RMSNorm(3)(x).detach().numpy(), ref, rtol=1e-5)
    assert nn.LayerNorm((4, 3), bias=False).bias is None
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                                           r"shape \[\*, 4\], but got input of size\[2, 4, 3\]"):
        nn.LayerNorm(4)(x)
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(x, 3)


# --- dropout ---------------------------------------------------------------------------------


def test_dropout_scales_in_training_and_is_identity_in_eval(backend):
    m = nn.Dropout(0.3)
    x = backend.tensor(np.ones((200, 50), dtype=np.float32), requires_grad=True)
    y = m(x)
    got = backend.asnumpy(y)
    kept = got != 0
    np.testing.assert_allclose(got[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(backend.asnumpy(x.grad), got)  # the same mask scales the gradient
    m.eval()
    assert m(x) is x
    assert F.dropout(x, 0.3, training=False) is x


def test_dropout_reproducible_and_edge_probabilities():
    x = fw.ones(10, 10)
    fw.manual_seed(3)
    a = F.dropout(x, 0.5).numpy().copy()
    fw.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), np.zeros((10, 10)))
    assert F.dropout(x, 0.0) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(x, -0.1)


def test_channel_dropout_zeroes_whole_channels():
    x = fw.ones(8, 16, 5, 5)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # each channel all kept or all 0
    assert set(np.unique(y)) <= {0.0, 2.0}
    y1 = nn.Dropout1d(0.5)(fw.ones(4, 6, 7)).numpy()
    assert (y1.min(-1) == y1.max(-1)).all()
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D"):
        F.dropout1d(x)


# --- embedding ---------------------------------------------------------------------------------


def test_embedding_padding_row_is_zero_and_gets_no_grad():
    m = nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(m.weight.detach().numpy()[1], 0)
    idx = fw.tensor([[0, 1, 4], [4, 4, 1]])
    m(idx).sum().backward()
    g = m.weight.grad.numpy()
    np.testing.assert_array_equal(g[:, 0], [1, 0, 0, 0, 3])  # only looked-up rows, repeats add up
    assert m.weight.grad.shape == (5, 3)


def test_embedding_from_pretrained_and_max_norm():
    w = fw.tensor([[1.0, 2.0], [3.0, 4.0], [0.1, 0.0]])
    m = nn.Embedding.from_pretrained(w)
    assert not m.weight.requires_grad and m.weight._data is w._data  # frozen, shared
    np.testing.assert_array_equal(m(fw.tensor([1, 0])).numpy(), [[3, 4], [1, 2]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    m = nn.Embedding.from_pretrained(fw.tensor([[3.0, 4.0], [0.3, 0.4]]), max_norm=1.0)
    m(fw.tensor([0, 1]))  # rows looked up are renormalised in place to norm <= max_norm
    np.testing.assert_allclose(np.linalg.norm(m.weight.numpy(), axis=1), [1.0, 0.5], rtol=1e-5)


def test_embedding_errors():
    m = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        m(fw.tensor([4]))
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types"):
        m(fw.tensor([1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    assert nn.Embedding(4, 2, padding_idx=-1).padding_idx == 3


def test_embedding_scale_grad_by_freq():
    """Not the true derivative (so no gradcheck): each row's gradient divided by its count."""
    w = fw.randn(5, 2, requires_grad=True)
    idx = fw.tensor([[0, 2, 2], [4, 0, 2]])
    F.embedding(idx, w, padding_idx=4, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [1, 0, 1, 0, 0], rtol=1e-6)


def test_embedding_double_backward():
    w = fw.randn(4, 2, dtype=fw.float64, requires_grad=True)
    idx = fw.tensor([[0, 2, 2], [3, 0, 1]])
    assert gradgradcheck(lambda w: F.embedding(idx, w, padding_idx=1) ** 2, (w,))


# --- small functional helpers --------------------------------------------------------------


def test_one_hot():
    y = F.one_hot(fw.tensor([0, 3, 1]))
    assert y.dtype == fw.int64 and y.shape == (3, 4)
    np.testing.assert_array_equal(y.numpy(), np.eye(4, dtype=np.int64)[[0, 3, 1]])
    assert F.one_hot(fw.tensor([[1]]), 3).shape == (1, 1, 3)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(fw.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(fw.tensor([-1]))
    with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
        F.one_hot(fw.tensor([1.0]))


def test_interpolate_errors_and_pad_reexport():
    x = fw.randn(1, 1, 2, 2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(NotImplementedError, match="mode 'bicubic' is not implemented"):
        F.interpolate(x, size=3, mode="bicubic")
    assert F.pad(x, (1, 1)).shape == (1, 1, 2, 4)


def test_normalize_zero_vector_has_finite_gradient():
    x = fw.zeros(2, 3, requires_grad=True)
    y = F.normalize(x, dim=1)
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_array_equal(y.detach().numpy(), 0)
