"""models/: every model's output shape, parameter count (the MNIST-1D paper's sizes) and that
a backward pass reaches every parameter."""

from __future__ import annotations

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
import framework.nn.functional as F
from models import CNN, GPT, GRU, MLP, MODELS, LeNet5, Logistic, ResNet, build_model

# (name, constructor, input shape, output shape, parameters). The MNIST-1D counts are the
# paper's (Greydanus & Kobak 2020, table of baselines); the others follow from the layouts
# in the docstrings.
CASES = [
    ("logistic", lambda: Logistic(), (5, 40), (5, 10), 410),
    ("mlp", lambda: MLP(), (5, 40), (5, 10), 15_210),
    ("cnn", lambda: CNN(), (5, 40), (5, 10), 5_210),
    ("gru", lambda: GRU(), (5, 40), (5, 10), 5_134),
    ("lenet5", lambda: LeNet5(), (4, 1, 28, 28), (4, 10), 61_706),
    ("resnet", lambda: ResNet(), (2, 3, 32, 32), (2, 10), 78_042),
    ("resnet20", lambda: ResNet(blocks=(3, 3, 3)), (2, 3, 32, 32), (2, 10), 272_474),
    ("logistic-images", lambda: Logistic(784), (3, 1, 28, 28), (3, 10), 7_850),
]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, make, in_shape, out_shape, count", CASES, ids=[c[0] for c in CASES])
def test_shape_count_and_gradients(name, make, in_shape, out_shape, count):
    model = make()
    assert isinstance(model, nn.Module)
    assert n_params(model) == count, f"{name}: {n_params(model)} parameters, expected {count}"
    out = model(fw.randn(*in_shape))
    assert tuple(out.shape) == out_shape, f"{name}: output {tuple(out.shape)}"
    assert out.dtype == fw.float32
    F.cross_entropy(out, fw.randint(0, out_shape[1], (out_shape[0],))).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient reached {missing}"
    assert all(np.isfinite(p.grad.numpy()).all() for p in model.parameters()), name


def test_mnist1d_models_accept_a_channel_dimension():
    """(N, 40) and (N, 1, 40) give the same logits (the paper's code reshapes the same way)."""
    x = fw.randn(3, 40)
    for cls in (Logistic, MLP, CNN, GRU):
        model = cls()
        np.testing.assert_allclose(model(x).detach().numpy(), model(x.reshape(3, 1, 40)).detach().numpy(),
                                   rtol=1e-6, err_msg=cls.__name__)


def test_lenet5_reads_a_batch_without_channel_as_one_channel():
    model = LeNet5()
    x = fw.randn(2, 28, 28)
    np.testing.assert_allclose(model(x).detach().numpy(), model(x.unsqueeze(1)).detach().numpy(), rtol=1e-6)


def test_gpt_shape_count_causality_and_generate():
    model = GPT(vocab_size=65, block_size=16)
    # tok 65*64 + pos 16*64 + 2 blocks * 49,984 + ln_f 128 + head 64*65+65
    assert n_params(model) == 4_160 + 1_024 + 2 * 49_984 + 128 + 4_225
    idx = fw.randint(0, 65, (2, 16))
    logits = model(idx)
    assert tuple(logits.shape) == (2, 16, 65)
    # Causal: changing the last token changes no earlier position's logits.
    idx2 = idx.clone()
    idx2[:, -1] = (idx[:, -1] + 1) % 65
    np.testing.assert_allclose(model(idx2)[:, :-1].detach().numpy(), logits[:, :-1].detach().numpy(), rtol=1e-5,
                               atol=1e-6, err_msg="GPT attends to future positions")
    F.cross_entropy(logits.flatten(0, 1), idx.flatten()).backward()
    assert all(p.grad is not None for p in model.parameters())
    out = model.generate(idx[:, :3], 20, generator=fw.Generator().manual_seed(0))
    assert tuple(out.shape) == (2, 23) and out.dtype == fw.int64
    assert int(out.max()) < 65 and int(out.min()) >= 0
    with pytest.raises(ValueError, match="sequence length 17 exceeds block_size 16"):
        model(fw.zeros(1, 17, dtype=fw.int64))


def test_registry_builds_every_model_and_names_the_choices():
    assert set(MODELS) == {"logistic", "mlp", "cnn", "gru", "lenet5", "resnet", "gpt"}
    assert isinstance(build_model("cnn"), CNN)
    assert isinstance(build_model("gpt", vocab_size=10), GPT)
    with pytest.raises(ValueError, match="unknown model 'vgg'; choose one of logistic, mlp"):
        build_model("vgg")


def test_models_are_deterministic_under_a_seed():
    fw.manual_seed(3)
    a = CNN().state_dict()
    fw.manual_seed(3)
    b = CNN().state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k].numpy(), b[k].numpy(), err_msg=k)
