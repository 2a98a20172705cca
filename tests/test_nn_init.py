"""nn.init: each scheme's distribution (bounds, moments), fans and gains, reproducibility under
manual_seed, structured inits (eye, dirac, orthogonal) and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
from framework.nn import init


def values(t):
    return t.detach().cpu().numpy().astype(np.float64)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans():
    assert init._calculate_fan_in_and_fan_out(fw.empty(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(fw.empty(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with "
                                         "fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(fw.empty(3))
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(fw.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("name, fn, low, high, std", [
    ("uniform_", lambda t: init.uniform_(t, -2.0, 3.0), -2.0, 3.0, 5 / math.sqrt(12)),
    ("xavier_uniform_", lambda t: init.xavier_uniform_(t, gain=2.0),
     -2 * math.sqrt(6 / 700), 2 * math.sqrt(6 / 700), 2 * math.sqrt(2 / 700)),
    ("kaiming_uniform_", lambda t: init.kaiming_uniform_(t, nonlinearity="relu"),
     -math.sqrt(6 / 300), math.sqrt(6 / 300), math.sqrt(2 / 300)),
    ("kaiming_uniform_-fan_out", lambda t: init.kaiming_uniform_(t, a=1.0, mode="fan_out"),
     -math.sqrt(3 / 400), math.sqrt(3 / 400), math.sqrt(1 / 400)),
    ("trunc_normal_", lambda t: init.trunc_normal_(t, mean=0.5, std=1.0, a=0.0, b=1.5),
     0.0, 1.5, None),
])
def test_bounded_inits(name, fn, low, high, std, backend):
    t = fw.empty(400, 300, device=backend.device)  # fan_in 300, fan_out 400
    assert fn(t) is t
    v = values(t)
    assert v.min() >= low and v.max() <= high, name
    assert v.min() < low + 0.02 * (high - low) and v.max() > high - 0.02 * (high - low), name
    if std is not None:
        assert v.std() == pytest.approx(std, rel=0.02), name
        assert abs(v.mean() - (low + high) / 2) < 0.01 * (high - low), name


@pytest.mark.parametrize("name, fn, mean, std", [
    ("normal_", lambda t: init.normal_(t, 1.5, 0.5), 1.5, 0.5),
    ("xavier_normal_", lambda t: init.xavier_normal_(t), 0.0, math.sqrt(2 / 700)),
    ("kaiming_normal_", lambda t: init.kaiming_normal_(t, nonlinearity="relu"), 0.0,
     math.sqrt(2 / 300)),
    ("kaiming_normal_-fan_out", lambda t: init.kaiming_normal_(t, mode="fan_out",
                                                                nonlinearity="tanh"),
     0.0, 5 / 3 / math.sqrt(400)),
])
def test_normal_inits(name, fn, mean, std, backend):
    t = fw.empty(400, 300, device=backend.device)
    v = values(fn(t))
    assert v.std() == pytest.approx(std, rel=0.02), name
    assert abs(v.mean() - mean) < 0.02 * std + 1e-12, name


def test_trunc_normal_moments():
    v = values(init.trunc_normal_(fw.empty(200, 200)))  # N(0, 1) cut at +-2
    assert v.min() >= -2 and v.max() <= 2
    assert v.std() == pytest.approx(0.8796, rel=0.02)  # the std of N(0,1) truncated to [-2, 2]
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(fw.empty(3), mean=10.0)


def test_constant_inits():
    t = fw.empty(2, 3)
    np.testing.assert_array_equal(values(init.constant_(t, 0.25)), 0.25)
    np.testing.assert_array_equal(values(init.ones_(t)), 1)
    np.testing.assert_array_equal(values(init.zeros_(t)), 0)
    np.testing.assert_array_equal(values(init.eye_(fw.empty(2, 3))), np.eye(2, 3))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(fw.empty(2, 2, 2))


def test_dirac():
    w = init.dirac_(fw.empty(4, 2, 3, 3), groups=2)
    v = values(w)
    x = np.random.default_rng(0).standard_normal((2, 5, 5))
    # as a convolution (padding 1): output channel g*2 + d copies input channel d
    for g in range(2):
        for d in range(2):
            k = v[g * 2 + d]
            assert k[d, 1, 1] == 1 and k.sum() == 1
    assert x.shape == (2, 5, 5)
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(fw.empty(2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(fw.empty(3, 2, 3), groups=2)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)])
def test_orthogonal(shape, backend):
    w = values(init.orthogonal_(fw.empty(*shape, device=backend.device), gain=2.0))
    m = w.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-5, err_msg=str(shape))
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(fw.empty(3))


def test_init_is_untracked_and_bumps_version():
    p = nn.Parameter(fw.empty(3, 3))
    v = p._version
    init.normal_(p)  # no "leaf variable ... in-place" error: init runs outside autograd
    assert p.grad_fn is None and p.requires_grad and p._version > v


def test_draws_reproducible_with_manual_seed_and_generator():
    fw.manual_seed(123)
    a = values(init.normal_(fw.empty(5)))
    b = values(init.kaiming_uniform_(fw.empty(3, 4)))
    fw.manual_seed(123)
    np.testing.assert_array_equal(values(init.normal_(fw.empty(5))), a)
    np.testing.assert_array_equal(values(init.kaiming_uniform_(fw.empty(3, 4))), b)
    g = fw.Generator().manual_seed(5)
    c = values(init.uniform_(fw.empty(4), generator=g))
    np.testing.assert_array_equal(values(init.uniform_(fw.empty(4), generator=fw.Generator().manual_seed(5))), c)


def test_zero_element_kaiming_warns():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(fw.empty(0, 3))


def test_layers_initialise_as_pytorch():
    emb = nn.Embedding(2000, 10)
    assert values(emb.weight).std() == pytest.approx(1.0, rel=0.03)  # N(0, 1)
    bl = nn.Bilinear(20, 5, 30)
    assert np.abs(values(bl.weight)).max() <= 1 / math.sqrt(20)
    bn = nn.BatchNorm1d(3)
    np.testing.assert_array_equal(values(bn.weight), 1)
    np.testing.assert_array_equal(values(bn.bias), 0)
    np.testing.assert_array_equal(values(bn.running_var), 1)
    ln = nn.LayerNorm(4)
    np.testing.assert_array_equal(values(ln.weight), 1)
