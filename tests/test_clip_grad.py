"""framework.nn.utils: clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
vector_to_parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

import framework as fw
from framework.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)


def _params(backend, grads=True, dtype="float64"):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (4,), (2,)]]
    ps = [backend.tensor(a, requires_grad=True) for a in arrays]
    if grads:
        for p in ps:
            p.grad = backend.tensor(rng.standard_normal(p.shape).astype(dtype) * 3)
    return ps


def _np_grads(backend, ps):
    return [backend.asnumpy(p.grad).copy() for p in ps]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.5])
def test_clip_grad_norm(norm_type, backend):
    ps = _params(backend)
    g = _np_grads(backend, ps)
    flat = np.concatenate([a.ravel() for a in g])
    want = (np.abs(flat).max() if norm_type == math.inf
            else (np.abs(flat) ** norm_type).sum() ** (1 / norm_type))
    total = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    assert isinstance(total, fw.Tensor) and total.shape == ()
    np.testing.assert_allclose(float(total), want, rtol=1e-12, err_msg=f"norm {norm_type}")
    coef = min(1.0, 1.0 / (want + 1e-6))
    for p, a in zip(ps, g):
        np.testing.assert_allclose(backend.asnumpy(p.grad), a * coef, rtol=1e-12,
                                   err_msg=f"clipped grad, norm {norm_type}")


def test_clip_grad_norm_below_max_leaves_grads(backend):
    ps = _params(backend)
    g = _np_grads(backend, ps)
    held = ps[0].grad
    total = clip_grad_norm_(iter(ps), max_norm=1e6)
    assert float(total) > 1 and ps[0].grad is held  # in place
    for p, a in zip(ps, g):
        np.testing.assert_array_equal(backend.asnumpy(p.grad), a)


def test_clip_grad_norm_float32_single_tensor_and_missing_grads():
    p = fw.tensor([3.0, 4.0], requires_grad=True)
    p.grad = fw.tensor([3.0, 4.0])
    q = fw.zeros(2, requires_grad=True)  # no grad: ignored
    total = clip_grad_norm_([p, q], 1.0)
    assert total.dtype == fw.float32 and float(total) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert q.grad is None
    only = fw.tensor([1.0, 0.0], requires_grad=True)
    only.grad = fw.tensor([0.0, 2.0])
    assert float(clip_grad_norm_(only, 1.0)) == 2.0  # a single tensor is accepted
    assert float(clip_grad_norm_([q], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        clip_grad_norm_((x for x in []), 1.0)


def test_clip_grad_norm_nonfinite():
    p = fw.tensor([1.0, 2.0], requires_grad=True)
    p.grad = fw.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(float(clip_grad_norm_([p], 1.0)))


def test_get_total_norm():
    a, b = fw.tensor([3.0]), fw.tensor([4.0])
    assert float(get_total_norm([a, b])) == 5.0
    assert float(get_total_norm([a, b], norm_type=math.inf)) == 4.0


def test_clip_grad_value(backend):
    ps = _params(backend)
    g = _np_grads(backend, ps)
    assert clip_grad_value_(ps, 0.5) is None
    for p, a in zip(ps, g):
        np.testing.assert_array_equal(backend.asnumpy(p.grad), np.clip(a, -0.5, 0.5))


def test_parameters_to_vector_and_back(backend):
    ps = _params(backend, grads=False)
    vec = parameters_to_vector(ps)
    want = np.concatenate([backend.asnumpy(p).ravel() for p in ps])
    np.testing.assert_array_equal(backend.asnumpy(vec), want)
    (vec * vec).sum().backward()  # differentiable, like torch.cat of views
    np.testing.assert_allclose(backend.asnumpy(ps[0].grad), 2 * backend.asnumpy(ps[0]))
    new = backend.tensor(np.arange(vec.numel(), dtype=np.float64))
    vector_to_parameters(new, ps)
    assert ps[0].shape == (3, 4) and backend.asnumpy(ps[1]).tolist() == [12.0, 13.0, 14.0, 15.0]
    with pytest.raises(TypeError, match="expected Tensor, but got: list"):
        vector_to_parameters([1.0], ps)


def test_matches_pytorch():
    """Optional: the same numbers as torch.nn.utils (skips without torch)."""
    torch = pytest.importorskip("torch")

    class B:
        device = "cpu"

        def tensor(self, a, **kw):
            return fw.tensor(a, **kw)

        def asnumpy(self, t):
            return t.detach().numpy()

    for norm_type in (2.0, 1.0, math.inf, 3.0):
        ps = _params(B())
        ts = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in ps]
        for p, t in zip(ps, ts):
            t.grad = torch.tensor(p.grad.numpy())
        ours = clip_grad_norm_(ps, 0.7, norm_type)
        theirs = torch.nn.utils.clip_grad_norm_(ts, 0.7, norm_type)
        np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-12)
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-12)
