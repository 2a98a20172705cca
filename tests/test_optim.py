"""framework.optim: update formulas against plain NumPy references, state handling, checkpoints,
errors. The references below are written out of place from the published formulas (the same
ones torch.optim's single-tensor implementations use); trajectories must agree to float64
round-off over several steps, with a parameter skipped (grad None) on one step."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import framework as fw
from framework import optim

SHAPES = [(4, 3), (3,), (5,)]
STEPS = 6
SKIP = (2, 2)  # (step, parameter): that parameter has grad None on that step


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


# --- NumPy references: state is a dict per parameter, step(x, g, state, **hyper) -> new x ------


def ref_sgd(x, g, st, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * x
    if momentum:
        st["buf"] = g.copy() if "buf" not in st else momentum * st["buf"] + (1 - dampening) * g
        g = g + momentum * st["buf"] if nesterov else st["buf"]
    return x - lr * g


def ref_adam(x, g, st, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled_weight_decay=False):
    b1, b2 = betas
    g = -g if maximize else g
    if decoupled_weight_decay:
        x = x * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * x
    t = st["t"] = st.get("t", 0) + 1
    m = st["m"] = b1 * st.get("m", 0 * x) + (1 - b1) * g
    v = st["v"] = b2 * st.get("v", 0 * x) + (1 - b2) * g * g
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0 * x), v)
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(x, g, st, weight_decay=1e-2, **kw):
    return ref_adam(x, g, st, weight_decay=weight_decay, decoupled_weight_decay=True, **kw)


def ref_rmsprop(x, g, st, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * x
    s = st["s"] = alpha * st.get("s", 0 * x) + (1 - alpha) * g * g
    if centered:
        ga = st["ga"] = alpha * st.get("ga", 0 * x) + (1 - alpha) * g
        avg = np.sqrt(s - ga * ga) + eps
    else:
        avg = np.sqrt(s) + eps
    if momentum > 0:
        buf = st["buf"] = momentum * st.get("buf", 0 * x) + g / avg
        return x - lr * buf
    return x - lr * g / avg


def ref_adagrad(x, g, st, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * x
    t = st["t"] = st.get("t", 0) + 1
    s = st["s"] = st.get("s", np.full_like(x, initial_accumulator_value)) + g * g
    return x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


CASES = [
    ("SGD", ref_sgd, dict(lr=0.1)),
    ("SGD", ref_sgd, dict()),  # PyTorch 2's default lr 1e-3
    ("SGD", ref_sgd, dict(lr=0.1, maximize=True)),
    ("SGD", ref_sgd, dict(lr=0.1, weight_decay=0.1)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9, dampening=0.3, maximize=True)),
    ("SGD", ref_sgd, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("Adam", ref_adam, dict()),
    ("Adam", ref_adam, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adam", ref_adam, dict(lr=0.05, amsgrad=True, maximize=True)),
    ("Adam", ref_adam, dict(lr=0.05, betas=(0.3, 0.7), eps=1e-3)),  # lerp's large-weight form
    ("Adam", ref_adam, dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),
    ("AdamW", ref_adamw, dict()),
    ("AdamW", ref_adamw, dict(lr=0.05, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", ref_rmsprop, dict()),
    ("RMSprop", ref_rmsprop, dict(centered=True, alpha=0.9)),
    ("RMSprop", ref_rmsprop, dict(momentum=0.9, weight_decay=0.1)),
    ("RMSprop", ref_rmsprop, dict(momentum=0.5, centered=True, maximize=True, alpha=0.3)),
    ("Adagrad", ref_adagrad, dict()),
    ("Adagrad", ref_adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.1)),
    ("Adagrad", ref_adagrad, dict(initial_accumulator_value=0.5, maximize=True, eps=1e-3)),
]


def _run(name, kw, backend=None, dtype="float64", steps=STEPS, seed=0):
    init, grads = _problem(seed)
    make = (lambda a, **k: backend.tensor(a, **k)) if backend is not None else fw.tensor
    params = [make(a.astype(dtype), requires_grad=True) for a in init]
    opt = getattr(optim, name)(params, **kw)
    for k in range(steps):
        for i, p in enumerate(params):
            p.grad = None if (k, i) == SKIP else make(grads[k][i].astype(dtype))
        opt.step()
    return params, opt


def _run_ref(ref, kw, steps=STEPS):
    init, grads = _problem()
    xs, states = [a.copy() for a in init], [{} for _ in init]
    for k in range(steps):
        for i in range(len(xs)):
            if (k, i) != SKIP:
                xs[i] = ref(xs[i], grads[k][i], states[i], **kw)
    return xs


@pytest.mark.parametrize("name,ref,kw", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_trajectory_matches_reference(name, ref, kw, backend):
    params, _ = _run(name, kw, backend)
    for i, (p, want) in enumerate(zip(params, _run_ref(ref, kw))):
        np.testing.assert_allclose(backend.asnumpy(p), want, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name}({kw}) parameter {i} on {backend}")


@pytest.mark.parametrize("name,ref,kw", CASES[::3], ids=[f"{c[0]}-{c[2]}" for c in CASES[::3]])
def test_float32_trajectory_close(name, ref, kw):
    params, _ = _run(name, kw, dtype="float32")
    for p, want in zip(params, _run_ref(ref, kw)):
        assert p.dtype == fw.float32
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=2e-5, atol=2e-6,
                                   err_msg=f"{name}({kw}) float32")


def test_sgd_plain_step_is_one_update():
    p = fw.tensor([1.0, -2.0], dtype=fw.float64, requires_grad=True)
    p.grad = fw.tensor([0.5, 0.25], dtype=fw.float64)
    opt = optim.SGD([p], lr=0.1)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0 - 0.1 * 0.5, -2.0 - 0.1 * 0.25])
    assert opt.state_dict()["state"] == {}  # no state without momentum, as PyTorch


def test_state_contents_as_pytorch():
    params, opt = _run("Adam", dict(amsgrad=True))
    st = opt.state[params[0]]
    assert sorted(st) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert st["step"].dtype == fw.float32 and st["step"].shape == ()
    assert float(st["step"]) == STEPS
    assert float(opt.state[params[2]]["step"]) == STEPS - 1  # skipped once (grad None)
    _, sgd = _run("SGD", dict(momentum=0.9))
    assert list(sgd.state_dict()["state"][0]) == ["momentum_buffer"]
    _, rms = _run("RMSprop", dict(momentum=0.9, centered=True))
    assert sorted(rms.state_dict()["state"][1]) == ["grad_avg", "momentum_buffer", "square_avg",
                                                    "step"]
    p = fw.zeros(2, requires_grad=True)
    ada = optim.Adagrad([p], initial_accumulator_value=0.25)
    assert sorted(ada.state[p]) == ["step", "sum"]  # Adagrad's state exists before any step
    np.testing.assert_array_equal(ada.state[p]["sum"].numpy(), [0.25, 0.25])


def test_state_is_keyed_by_parameter_object():
    params, opt = _run("Adam", dict())
    assert all(any(k is p for p in params) for k in opt.state)


def test_state_on_parameter_device(backend):
    params, opt = _run("RMSprop", dict(momentum=0.9, centered=True), backend)
    for p in params:
        for k, v in opt.state[p].items():
            want = "cpu" if k == "step" else backend.device  # step lives on the CPU, as PyTorch
            assert v.device == fw.device(want), (k, v.device)


@pytest.mark.parametrize("name,ref,kw", CASES[::2], ids=[f"{c[0]}-{c[2]}" for c in CASES[::2]])
def test_frozen_and_gradless_parameters_untouched(name, ref, kw):
    live = fw.tensor(np.ones(3), requires_grad=True)
    frozen = fw.tensor(np.arange(3.0), requires_grad=False)
    gradless = fw.tensor(np.arange(3.0) + 0.5, requires_grad=True)
    before = [frozen.detach().numpy().copy(), gradless.detach().numpy().copy()]
    opt = getattr(optim, name)([live, frozen, gradless], **kw)
    for _ in range(3):
        live.grad = fw.tensor(np.full(3, 0.3))
        opt.step()
    assert frozen.detach().numpy().tobytes() == before[0].tobytes()
    assert gradless.detach().numpy().tobytes() == before[1].tobytes()
    assert not np.array_equal(live.detach().numpy(), np.ones(3)), "the live parameter moved"
    if name != "Adagrad":  # (Adagrad makes every parameter's state up front, as PyTorch)
        assert frozen not in opt.state and gradless not in opt.state


def _fresh(name, kw, init, groups=False):
    params = [fw.tensor(a.copy(), requires_grad=True) for a in init]
    spec = [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}] if groups else params
    return params, getattr(optim, name)(spec, **kw)


@pytest.mark.parametrize("name,ref,kw", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_state_dict_round_trip_continues_bitwise(name, ref, kw):
    init, grads = _problem()
    a_params, a = _fresh(name, kw, init, groups=True)

    def step(params, opt, k):
        for i, p in enumerate(params):
            p.grad = fw.tensor(grads[k][i])
        opt.step()

    for k in range(3):
        step(a_params, a, k)
    saved = copy.deepcopy(a.state_dict())
    assert saved["param_groups"][0]["params"] == [0, 1]
    assert saved["param_groups"][1]["params"] == [2]
    # a fresh model: same parameter values, a new optimizer built with other hyperparameters
    b_params = [fw.tensor(p.detach().numpy().copy(), requires_grad=True) for p in a_params]
    b = getattr(optim, name)([{"params": b_params[:2]}, {"params": b_params[2:]}], lr=123.0)
    b.load_state_dict(saved)
    assert b.param_groups[1]["lr"] == 0.02 and b.param_groups[1]["params"][0] is b_params[2]
    for k in range(3, STEPS):
        step(a_params, a, k)
        step(b_params, b, k)
    for pa, pb in zip(a_params, b_params):
        assert pa.detach().numpy().tobytes() == pb.detach().numpy().tobytes(), name


def test_load_state_dict_copies_and_casts_to_parameter():
    params, opt = _run("Adam", dict())
    sd = opt.state_dict()
    p32 = [fw.tensor(p.detach().numpy().astype(np.float32), requires_grad=True) for p in params]
    other = optim.Adam(p32)
    other.load_state_dict(sd)
    st = other.state[p32[0]]
    assert st["exp_avg"].dtype == fw.float32  # floating state follows the parameter's dtype
    assert st["step"].dtype == fw.float32
    assert st["exp_avg_sq"]._data is not opt.state[params[0]]["exp_avg_sq"]._data


def test_load_state_dict_errors():
    params, opt = _run("SGD", dict(momentum=0.9))
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [params[0]]}, {"params": params[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD(params[:2]).load_state_dict(sd)


def test_param_groups_and_defaults():
    a, b = fw.zeros(2, requires_grad=True), fw.zeros(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0, 0.9]
    assert opt.param_groups[1]["params"][0] is b
    assert opt.defaults["lr"] == 0.1 and opt.defaults["nesterov"] is False
    a.grad = fw.ones(2)
    b.grad = fw.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [-0.1, -0.1])
    np.testing.assert_allclose(b.detach().numpy(), [-0.5, -0.5])
    c = fw.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 2.0})
    assert opt.param_groups[2]["momentum"] == 0 and opt.param_groups[2]["lr"] == 2.0
    assert "Parameter Group 2" in repr(opt) and "lr: 2.0" in repr(opt)


def test_params_as_generator_and_named():
    ps = [fw.zeros(2, requires_grad=True) for _ in range(3)]
    opt = optim.Adam(p for p in ps)
    assert opt.param_groups[0]["params"] == ps or all(
        x is y for x, y in zip(opt.param_groups[0]["params"], ps))
    named = optim.SGD([("w", ps[0]), ("b", ps[1])])
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_zero_grad():
    p = fw.zeros(3, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = fw.ones(3)
    held = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is held and np.array_equal(held.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None
    (p * 2).sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [2, 2, 2])


def test_closure_reevaluated_under_enable_grad():
    w = fw.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        calls.append(fw.is_grad_enabled())
        return loss

    with fw.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and float(loss) == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert opt.step() is None


def test_step_bumps_version_so_stale_graphs_fail():
    w = fw.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()  # saves w for backward
    w.grad = fw.ones(2)
    v = w._version
    opt.step()
    assert w._version == v + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_step_hooks():
    w = fw.zeros(1, requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(("pre", float(w))))
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", float(w))))
    w.grad = fw.ones(1)
    opt.step()
    assert seen == [("pre", 0.0), ("post", -1.0)]
    h1.remove()
    opt.step()
    assert seen[-1] == ("post", -2.0) and len(seen) == 3

    class Logged(optim.SGD):  # a subclass's step calling super().step(): hooks run once
        def step(self, closure=None):
            return super().step(closure)

    sub = Logged([w], lr=1.0)
    calls = []
    sub.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    sub.step()
    assert calls == ["pre"] and float(w) == -3.0


def test_lr_as_tensor():
    w = fw.zeros(2, requires_grad=True)
    opt = optim.Adam([w], lr=fw.tensor(0.1))
    w.grad = fw.ones(2)
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [-0.1, -0.1], rtol=1e-6)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.SGD([w], lr=fw.tensor([0.1, 0.2]))


ERRORS = [
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: optim.SGD(p, momentum=-1), "Invalid momentum value: -1"),
    (lambda p: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum and zero"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam(p, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda p: optim.Adam(p, eps=-1.0), "Invalid epsilon value: -1.0"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "Invalid alpha value: -0.5"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value value: -1"),
]


@pytest.mark.parametrize("make,message", ERRORS, ids=[m for _, m in ERRORS])
def test_hyperparameter_errors(make, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        make([fw.zeros(1, requires_grad=True)])


def test_parameter_list_errors():
    w = fw.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.SGD([])
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.Adam(p for p in [])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got"):
        optim.SGD(w)
    with pytest.raises(ValueError, match="^can't optimize a non-leaf Tensor$"):
        optim.SGD([w * 2])
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(TypeError, match="ordering of tensors in sets will change between runs"):
        optim.SGD([{"params": {w}}])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter"):
        optim.SGD([{"params": [w]}, {"params": [w]}])
    opt = optim.SGD([w])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter"):
        opt.add_param_group({"params": w})
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([w, w])
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.Adam([w], differentiable=True)


def test_matches_pytorch_directly():
    """Optional: the same runs in torch.optim (skipped when PyTorch is not installed)."""
    torch = pytest.importorskip("torch")
    init, grads = _problem()
    for name, _, kw in CASES:
        params, _ = _run(name, kw)
        ts = [torch.tensor(a, requires_grad=True) for a in init]
        opt = getattr(torch.optim, name)(ts, foreach=False, **kw)
        for k in range(STEPS):
            for i, t in enumerate(ts):
                t.grad = None if (k, i) == SKIP else torch.tensor(grads[k][i])
            opt.step()
        for p, t in zip(params, ts):
            np.testing.assert_allclose(p.detach().numpy(), t.detach().numpy(), rtol=1e-13,
                                       atol=1e-15, err_msg=f"{name}({kw}) vs torch")
        assert math.isfinite(float(params[0].sum()))


def test_no_warnings_on_the_hot_path():
    params, opt = _run("SGD", dict(lr=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in params:
            p.grad = fw.ones(p.shape, dtype=p.dtype)
        opt.step()
        opt.zero_grad()
