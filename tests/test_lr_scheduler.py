"""framework.optim.lr_scheduler: lr sequences against their closed forms (the schedulers use
PyTorch's recursive forms, so agreement is to round-off), state dicts, errors and warnings."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import framework as fw
from framework import optim
from framework.optim import lr_scheduler as S

BASES = (0.1, 0.2)  # two param groups with different lrs
N = 40


def _opt(kind="SGD", **kw):
    ps = [fw.zeros(1, requires_grad=True) for _ in BASES]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(ps, BASES)]
    return getattr(optim, kind)(groups, **kw)


def _lrs(opt, make, n=N):
    """lrs of every group at epochs 0..n (stepping the optimizer first, as one should)."""
    sched = make(opt)
    out = [[g["lr"] for g in opt.param_groups]]
    for _ in range(n):
        opt.step()
        sched.step()
        out.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == out[-1]
    return np.array(out)


def _cos(base, eta, e, T):
    return eta + (base - eta) * (1 + math.cos(math.pi * e / T)) / 2


CLOSED_FORMS = {
    "StepLR": (lambda o: S.StepLR(o, step_size=3, gamma=0.5),
               lambda b, e: b * 0.5 ** (e // 3)),
    "MultiStepLR": (lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
                    lambda b, e: b * 0.3 ** sum(m <= e for m in (2, 5, 5, 9))),
    "ExponentialLR": (lambda o: S.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9**e),
    "CosineAnnealingLR": (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
                          lambda b, e: _cos(b, 0.001, e, 10)),
    "CosineAnnealingLR-odd": (lambda o: S.CosineAnnealingLR(o, T_max=7),
                              lambda b, e: _cos(b, 0.0, e, 7)),
    "LinearLR": (lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=7),
                 lambda b, e: b * (0.25 + 0.65 * min(e, 7) / 7)),
    "LinearLR-defaults": (lambda o: S.LinearLR(o),
                          lambda b, e: b * (1 / 3 + (2 / 3) * min(e, 5) / 5)),
    "ConstantLR": (lambda o: S.ConstantLR(o, factor=0.5, total_iters=4),
                   lambda b, e: b * (0.5 if e < 4 else 1.0)),
    "LambdaLR": (lambda o: S.LambdaLR(o, lambda e: 1 / (1 + e)), lambda b, e: b / (1 + e)),
    "MultiplicativeLR": (lambda o: S.MultiplicativeLR(o, lambda e: 0.9), lambda b, e: b * 0.9**e),
    "PolynomialLR": (lambda o: S.PolynomialLR(o, total_iters=10, power=2.0),
                     lambda b, e: b * (1 - min(e, 10) / 10) ** 2),
    "SequentialLR": (
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                     S.CosineAnnealingLR(o, T_max=20),
                                     S.ExponentialLR(o, gamma=0.9)], milestones=[5, 25]),
        lambda b, e: (b * (0.1 + 0.9 * e / 5) if e < 5
                      else _cos(b, 0.0, e - 5, 20) if e < 25 else b * 0.9 ** (e - 25))),
    "ChainedScheduler": (
        lambda o: S.ChainedScheduler([S.ConstantLR(o, factor=0.1, total_iters=4),
                                      S.ExponentialLR(o, gamma=0.9)]),
        lambda b, e: b * 0.9**e * (0.1 if e < 4 else 1.0)),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_sequence_matches_closed_form(name):
    make, closed = CLOSED_FORMS[name]
    got = _lrs(_opt(), make)
    want = np.array([[closed(b, e) for b in BASES] for e in range(N + 1)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)


def test_step_lr_exact_numbers():
    got = _lrs(_opt(), lambda o: S.StepLR(o, step_size=2, gamma=0.5), n=6)[:, 0]
    assert got.tolist() == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125]


def _one_cycle_closed(base_max, e, total, pct, div, final_div, three_phase, anneal):
    initial = base_max / div
    min_lr = initial / final_div
    f = ((lambda a, b, t: b + (a - b) / 2 * (math.cos(math.pi * t) + 1)) if anneal == "cos"
         else (lambda a, b, t: (b - a) * t + a))
    up = pct * total - 1
    if three_phase:
        phases = [(up, initial, base_max), (2 * pct * total - 2, base_max, initial),
                  (total - 1, initial, min_lr)]
    else:
        phases = [(up, initial, base_max), (total - 1, base_max, min_lr)]
    start = 0.0
    for i, (end, a, b) in enumerate(phases):
        if e <= end or i == len(phases) - 1:
            return f(a, b, (e - start) / (end - start))
        start = end


@pytest.mark.parametrize("three_phase,anneal", [(False, "cos"), (True, "linear"), (False, "linear")])
def test_one_cycle_closed_form(three_phase, anneal):
    total = 40
    opt = _opt(momentum=0.9)
    got = _lrs(opt, lambda o: S.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=total,
                                           pct_start=0.25, div_factor=10.0,
                                           final_div_factor=100.0, three_phase=three_phase,
                                           anneal_strategy=anneal), n=total - 1)
    want = [[_one_cycle_closed(m, e, total, 0.25, 10.0, 100.0, three_phase, anneal)
             for m in (1.0, 2.0)] for e in range(total)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and opt.param_groups[1]["max_lr"] == 2.0


def test_one_cycle_cycles_momentum_and_beta1():
    sgd = _opt(momentum=0.9)
    sched = S.OneCycleLR(sgd, max_lr=1.0, total_steps=10)
    assert sgd.param_groups[0]["momentum"] == 0.95  # starts at max_momentum
    for _ in range(2):
        sgd.step()
        sched.step()
    # step 2 of the 3-step warm-up (pct_start 0.3 of 10 -> ends at step 2): at base_momentum
    assert sgd.param_groups[0]["momentum"] == pytest.approx(0.85)
    adam = _opt("Adam", betas=(0.5, 0.99))
    sched = S.OneCycleLR(adam, max_lr=1.0, total_steps=10)
    assert adam.param_groups[0]["betas"] == (0.95, 0.99)
    adam.step()
    sched.step()
    want = 0.85 + (0.95 - 0.85) / 2 * (math.cos(math.pi * 0.5) + 1)
    assert adam.param_groups[0]["betas"][0] == pytest.approx(want)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total"):
        for _ in range(10):
            sched.step()


def test_one_cycle_errors():
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps, but got 0"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        S.OneCycleLR(_opt("Adagrad"), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear'"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length as optimizer"):
        S.OneCycleLR(_opt(momentum=0.9), max_lr=[1.0], total_steps=5)


def _plateau(metrics, **kw):
    opt = _opt()
    sched = S.ReduceLROnPlateau(opt, **kw)
    out = []
    for m in metrics:
        opt.step()
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def test_reduce_lr_on_plateau():
    flat = [1.0] + [1.0] * 8
    # patience 2: the 3rd epoch without improvement cuts the lr, then counting restarts
    assert _plateau(flat, patience=2) == pytest.approx([0.1] * 3 + [0.01] * 3 + [0.001] * 3)
    # cooldown 2: two epochs after a cut are not counted; min_lr floors the cut
    got = _plateau(flat, patience=1, cooldown=2, factor=0.5, min_lr=0.03)
    assert got == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.03, 0.03, 0.03])
    # mode max with an absolute threshold: +0.005 is not an improvement, +0.02 is
    got = _plateau([1.0, 1.005, 1.025, 1.03, 1.03], mode="max", threshold_mode="abs",
                   threshold=0.01, patience=0)
    assert got == pytest.approx([0.1, 0.01, 0.01, 0.001, 0.0001])
    # eps: a cut smaller than eps is skipped
    assert _plateau([1.0, 1.0, 1.0], patience=0, eps=0.5) == [0.1, 0.1, 0.1]


def test_reduce_lr_on_plateau_errors_and_state():
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        S.ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode median is unknown!"):
        S.ReduceLROnPlateau(_opt(), mode="median")
    with pytest.raises(ValueError, match="threshold mode pct is unknown!"):
        S.ReduceLROnPlateau(_opt(), threshold_mode="pct")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        S.ReduceLROnPlateau(_opt(), min_lr=[0.1])
    opt = _opt()
    sched = S.ReduceLROnPlateau(opt, patience=1)
    for m in (1.0, 2.0):
        sched.step(m)
    state = sched.state_dict()
    assert "optimizer" not in state and state["num_bad_epochs"] == 1 and state["best"] == 1.0
    other = S.ReduceLROnPlateau(_opt())
    other.load_state_dict(state)
    other.step(3.0)
    assert other.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "SequentialLR",
                                  "ChainedScheduler", "LinearLR"])
def test_state_dict_round_trip(name):
    make, _ = CLOSED_FORMS[name]
    opt_a = _opt()
    a = make(opt_a)
    for _ in range(7):
        opt_a.step()
        a.step()
    saved_sched = copy.deepcopy(a.state_dict())
    saved_opt = copy.deepcopy(opt_a.state_dict())
    opt_b = _opt()
    b = make(opt_b)
    b.load_state_dict(saved_sched)
    opt_b.load_state_dict(saved_opt)
    assert getattr(b, "last_epoch", None) == getattr(a, "last_epoch", None)
    assert b.get_last_lr() == a.get_last_lr()
    for _ in range(20):
        for o, s in ((opt_a, a), (opt_b, b)):
            o.step()
            s.step()
        assert [g["lr"] for g in opt_a.param_groups] == [g["lr"] for g in opt_b.param_groups]


def test_base_lrs_initial_lr_and_resume():
    opt = _opt()
    sched = S.ExponentialLR(opt, gamma=0.5)
    assert sched.base_lrs == list(BASES) and sched.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == list(BASES)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.1]
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        S.StepLR(_opt(), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([], step_size=2)


def test_lambda_lr_state_dict_keeps_callable_objects():
    class Warmup:
        def __init__(self):
            self.scale = 2.0

        def __call__(self, e):
            return self.scale * e

    fn = Warmup()
    sched = S.LambdaLR(_opt(), [fn, lambda e: 1.0])
    fn.scale = 3.0
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"scale": 3.0}, None]
    other_fn = Warmup()
    S.LambdaLR(_opt(), [other_fn, lambda e: 1.0]).load_state_dict(state)
    assert other_fn.scale == 3.0
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        S.LambdaLR(_opt(), [fn])


def test_warnings():
    opt = _opt()
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before"):
        sched.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched.get_lr()
    opt = _opt()
    sched = S.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
    with pytest.warns(UserWarning, match="epoch parameter in `scheduler.step\\(\\)`"):
        sched.step(4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.1**2)  # closed form at epoch 4


def test_container_errors():
    opt = _opt()
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        S.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="number of schedulers 2 and the number of milestones"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        S.ChainedScheduler([S.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(_opt(), 2)], milestones=[3])


def test_tensor_lr_is_updated_in_place():
    p = fw.zeros(1, requires_grad=True)
    lr = fw.tensor(0.1, dtype=fw.float64)
    opt = optim.SGD([p], lr=lr)
    sched = S.ExponentialLR(opt, gamma=0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and float(lr) == 0.05


def test_matches_pytorch_exactly():
    """Optional: bit-identical lr sequences to torch.optim.lr_scheduler (skips without torch)."""
    torch = pytest.importorskip("torch")
    TS = torch.optim.lr_scheduler
    pairs = {
        "Cosine": (lambda o: S.CosineAnnealingLR(o, 10, 0.001), lambda o: TS.CosineAnnealingLR(o, 10, 0.001)),
        "Linear": (lambda o: S.LinearLR(o, 0.25, 0.9, 7), lambda o: TS.LinearLR(o, 0.25, 0.9, 7)),
        "OneCycle": (lambda o: S.OneCycleLR(o, 1.0, total_steps=41, three_phase=True),
                     lambda o: TS.OneCycleLR(o, 1.0, total_steps=41, three_phase=True)),
        "Sequential": (lambda o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5), S.CosineAnnealingLR(o, 20)], [5]),
                       lambda o: TS.SequentialLR(o, [TS.LinearLR(o, 0.1, total_iters=5), TS.CosineAnnealingLR(o, 20)], [5])),
        "Poly": (lambda o: S.PolynomialLR(o, 10, 0.9), lambda o: TS.PolynomialLR(o, 10, 0.9)),
    }
    for name, (ours, theirs) in pairs.items():
        tps = [torch.zeros(1, requires_grad=True) for _ in BASES]
        topt = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(tps, BASES)],
                               momentum=0.9)
        got = _lrs(_opt(momentum=0.9), ours).tolist()
        tsched = theirs(topt)
        want = [[g["lr"] for g in topt.param_groups]]
        for _ in range(N):
            topt.step()
            tsched.step()
            want.append([g["lr"] for g in topt.param_groups])
        assert got == want, name
