"""Tensor semantics real PyTorch programs rely on (issue 11's list), on both libraries.

Each test runs one snippet written against `m` (framework or torch) and compares results,
gradients and error types with harness.run_both / assert_same.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from harness import Const, assert_same, case, case_params, check_case, ints, run_both

import framework as fw

# --- views of non-contiguous tensors: PyTorch's stride rule, with gradients -------------------

VIEW_CASES = [
    case("view-of-split", lambda m, x: x.split(4, dim=2)[2].view(2, 3, 2, 2), (2, 3, 12),
         noncontig=False, second=True),
    case("view-of-chunk", lambda m, x: x.chunk(3, dim=-1)[0].view(6, 4), (2, 3, 12),
         noncontig=False),
    case("view-of-narrow", lambda m, x: x.narrow(1, 1, 2).view(4, 2, 5), (4, 3, 2, 5),
         noncontig=False),
    case("view-of-slice-cols", lambda m, x: x[:, 2:].view(3, 2, 2, 3), (3, 16),
         noncontig=False),
    case("view-of-step-slice", lambda m, x: x[::2].view(2, 12), (4, 3, 4), noncontig=False),
    case("transpose-then-view-untouched", lambda m, x: x.transpose(1, 2).view(2, 4, 3, 2, 3),
         (2, 3, 4, 6), noncontig=False),
    case("permute-then-view-merge", lambda m, x: x.permute(1, 0, 2, 3).view(3, 2, 20),
         (2, 3, 4, 5), noncontig=False),
    case("transpose-then-view-illegal", lambda m, x: x.transpose(0, 1).view(12), (3, 4),
         noncontig=False, error="view size is not compatible"),
    case("expand-then-view", lambda m, x: x.expand(3, 4, 5).view(12, 5), (4, 5)),
    case("unflatten-of-split", lambda m, x: x.split(6, dim=1)[1].unflatten(1, (2, 3)), (4, 12),
         noncontig=False),
    case("view-split-then-transpose-heads",
         lambda m, x: x.split(8, dim=2)[0].view(2, 3, 2, 4).transpose(1, 2), (2, 3, 24),
         noncontig=False, second=True),
    case("view-dtype-size-1", lambda m, x: x[:, :1].view(-1), (3, 4), noncontig=False),
    case("as_strided", lambda m, x: x.as_strided((3, 3), (1, 2)), (12,), noncontig=False),
    case("as_strided-offset", lambda m, x: m.as_strided(x, (2, 2), (3, 1), 1), (3, 4),
         noncontig=False),
]


@pytest.mark.parametrize("c, dtype, noncontig", case_params(VIEW_CASES))
def test_views(c, dtype, noncontig):
    check_case(c, dtype, noncontig)


def test_view_shares_memory_and_version():
    for m in (fw, torch):
        x = m.arange(24.0).view(2, 3, 4)
        v = x.transpose(1, 2)[:, 1:].contiguous().split(1, dim=2)[0].view(2, 3)
        q = x.split(2, dim=2)[1].view(2, 3, 2)
        q[0, 0, 0] = -1.0
        assert float(x[0, 0, 2]) == -1.0, m.__name__
        assert v.shape == (2, 3)


# --- casts and moves of Modules and Parameters, then backward and a step -------------------------


def _cast_programs():
    def double(m):
        return m.nn.Linear(4, 3).double(), m.float64

    def half_then_float(m):
        return m.nn.Linear(4, 3).half().float(), m.float32

    def to_dtype(m):
        return m.nn.Linear(4, 3).to(m.float64), m.float64

    def to_cpu_dtype(m):
        return m.nn.Linear(4, 3).to("cpu", m.float64), m.float64

    def to_kw(m):
        return m.nn.Linear(4, 3).to(dtype=m.float64, device="cpu"), m.float64

    def type_cast(m):
        return m.nn.Linear(4, 3).type(m.float64), m.float64

    return [double, half_then_float, to_dtype, to_cpu_dtype, to_kw, type_cast]


@pytest.mark.parametrize("make", _cast_programs(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("opt_first", [False, True], ids=["cast-then-opt", "opt-then-cast"])
def test_module_cast_then_backward_and_step(make, opt_first):
    results = {}
    for m in (fw, torch):
        m.manual_seed(0)
        if opt_first:
            lin = m.nn.Linear(4, 3)
            opt = m.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
            made, dtype = make(m)
            lin.load_state_dict({k: v.float() for k, v in made.state_dict().items()})
            lin.to(dtype)
        else:
            lin, dtype = make(m)
            opt = m.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
        w0 = np.arange(12.0).reshape(3, 4) / 10
        with m.no_grad():
            lin.weight.copy_(m.tensor(w0))
            lin.bias.fill_(0.5)
        x = m.tensor(np.linspace(-1, 1, 8).reshape(2, 4), dtype=dtype)
        for _ in range(2):
            opt.zero_grad()
            loss = (lin(x) ** 2).sum()
            loss.backward()
            opt.step()
        results[m.__name__] = (loss.detach(), lin.weight.grad, lin.weight.detach(), lin.weight.dtype)
    got, want = results["framework"], results["torch"]
    assert_same(got[:3], want[:3], "cast program")
    assert str(got[3]).split(".")[-1] == str(want[3]).split(".")[-1]


def test_parameter_data_assigned_another_dtype_then_backward():
    out = {}
    for m in (fw, torch):
        p = m.nn.Parameter(m.ones(3))
        p.data = m.arange(3.0, dtype=m.float64)
        (p * p).sum().backward()
        out[m.__name__] = (p.grad, p.dtype)
    assert_same(out["framework"][0], out["torch"][0], "p.data = float64")


def test_tensor_cast_of_leaf_then_backward():
    out = {}
    for m in (fw, torch):
        w = m.ones(2, 2, requires_grad=True)
        y = (w.double() * 3).sum() + (w.half().float() * 2).sum()
        y.backward()
        out[m.__name__] = w.grad
    assert_same(out["framework"], out["torch"], "leaf.double() backward")


# --- Tensor.data is the escape hatch: in-place through it does not bump autograd's version -----


def test_data_escape_hatch():
    out = {}
    for m in (fw, torch):
        x = m.tensor([0.5, 1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.data.mul_(2)
        y.sum().backward()
        out[m.__name__] = (x.grad, y.detach())
    assert_same(out["framework"], out["torch"], "y.data.mul_(2) then backward")


def test_detach_still_shares_version():
    for m in (fw, torch):
        x = m.tensor([0.5, 1.0], requires_grad=True)
        y = x.exp()
        y.detach().mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


# --- ops generation loops and common code use ----------------------------------------------------

OP_CASES = [
    case("sort", lambda m, x: m.sort(x, dim=1), (3, 5)),
    case("sort-descending-stable", lambda m, x: x.sort(dim=0, descending=True, stable=True), (4, 3)),
    case("argsort", lambda m, x: m.argsort(x, dim=-1, descending=True), (3, 5)),
    case("topk", lambda m, x: m.topk(x, 2), (3, 5)),
    case("topk-smallest-dim0", lambda m, x: x.topk(2, dim=0, largest=False), (4, 3)),
    case("topk-too-many", lambda m, x: x.topk(9), (3, 5)),
    case("unique", lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
         ints([[3, 1, 3], [2, 1, 7]])),
    case("unique-dim-sorted", lambda m, x: x.unique(sorted=True), ints([4, 1, 4, 0])),
    case("einsum-bmm", lambda m, a, b: m.einsum("bij,bjk->bik", a, b), (2, 3, 4), (2, 4, 5),
         second=True),
    case("einsum-trace-outer", lambda m, a, b: m.einsum("ii,j->j", a, b), (3, 3), (4,)),
    case("einsum-list-operands", lambda m, a, b: m.einsum("i,i->", [a, b]), (4,), (4,)),
    case("index_add", lambda m, x, i, s: x.index_add(0, i, s), (4, 3), ints([0, 2, 0]), (3, 3)),
    case("index_add-alpha", lambda m, x, i, s: m.index_add(x, 1, i, s, alpha=2.0), (2, 4),
         ints([3, 1]), (2, 2)),
    case("index_add_", lambda m, x, i, s: x.clone().index_add_(0, i, s), (4, 3), ints([1, 1]),
         (2, 3)),
    case("range-index", lambda m, x: x[range(3), [0, 2, 1]], (3, 4)),
    case("tuple-list-index", lambda m, x: x[(0, 2), :], (3, 4)),
    case("float-index-error", lambda m, x: x[1.5], (3, 4), error="only integers, slices"),
]


@pytest.mark.parametrize("c, dtype, noncontig", case_params(OP_CASES))
def test_common_ops(c, dtype, noncontig):
    check_case(c, dtype, noncontig)


def test_range_setitem():
    out = {}
    for m in (fw, torch):
        x = m.zeros(3, 4)
        y = m.tensor([1, 3, 0])
        x[range(3), y] = 1.0
        out[m.__name__] = x
    assert_same(out["framework"], out["torch"], "x[range(n), y] = 1")


def test_finfo_iinfo():
    for name in ("float32", "float64", "float16"):
        f, t = fw.finfo(getattr(fw, name)), torch.finfo(getattr(torch, name))
        for attr in ("eps", "max", "min", "tiny", "resolution", "bits", "smallest_normal"):
            assert getattr(f, attr) == getattr(t, attr), (name, attr)
    for name in ("int64", "int32", "int16", "int8", "uint8"):
        f, t = fw.iinfo(getattr(fw, name)), torch.iinfo(getattr(torch, name))
        assert (f.max, f.min, f.bits) == (t.max, t.min, t.bits), name
    assert fw.finfo().eps == torch.finfo().eps  # the default dtype


def test_bfloat16_is_a_dtype_name():
    assert hasattr(fw, "bfloat16")
    assert str(fw.bfloat16) == "framework.bfloat16"


def test_device_properties():
    for m in (fw, torch):
        x = m.ones(2)
        assert (x.is_xpu, x.is_mps, x.is_meta, x.is_cuda) == (False, False, False, False)


# --- silent wrong answers where PyTorch raises ------------------------------------------------------

ERROR_CASES = [
    case("cross_entropy-int32-target",
         lambda m, x, y: m.nn.functional.cross_entropy(x, y), (3, 4), ints([1, 2, 3], dtype="int32"),
         error="Long"),
    case("nll_loss-int32-target",
         lambda m, x, y: m.nn.functional.nll_loss(x, y), (3, 4), ints([1, 2, 3], dtype="int32")),
    case("cross_entropy-uint8-target-ok",
         lambda m, x, y: m.nn.functional.cross_entropy(x, y), (3, 4), ints([1, 2, 3], dtype="uint8")),
    case("matmul-int64-float32", lambda m, a, b: a @ b, ints([[1, 2, 3], [4, 5, 6]]), (3, 2),
         error="same dtype"),
    case("mm-float64-float32", lambda m, a, b: m.mm(a.double(), b), (2, 3), (3, 2)),
    case("int-floordiv-zero", lambda m, a: a // 0, ints([3, 4]), error="ZeroDivisionError"),
    case("int-mod-zero", lambda m, a: a % 0, ints([3, 4]), error="ZeroDivisionError"),
    case("int-floordiv-zero-tensor", lambda m, a, b: a // b, ints([3, 4]), ints([1, 0]),
         error="ZeroDivisionError"),
    case("int-remainder-zero-tensor", lambda m, a, b: m.remainder(a, b), ints([3, 4]), ints([0, 1])),
    case("float-floordiv-zero-ok", lambda m, a: a // 0, (2,)),
    case("bool-sub", lambda m, a, b: a - b, Const([True, False]), Const([True, True]),
         error="Subtraction, the `-` operator, with two bool tensors is not supported"),
    case("bool-neg", lambda m, a: -a, Const([True, False]),
         error="Negation, the `-` operator, on a bool tensor is not supported"),
    case("index-out-of-range", lambda m, x: x[5], (3, 4),
         error="index 5 is out of bounds for dimension 0 with size 3"),
    case("index-out-of-range-dim1", lambda m, x: x[:, 7], (3, 4),
         error="index 7 is out of bounds for dimension 1 with size 4"),
    case("index_select-out-of-range", lambda m, x, i: x.index_select(0, i), (3, 4), ints([7]),
         error="out of range"),
    case("gather-out-of-range", lambda m, x, i: x.gather(1, i), (3, 4), ints([[9]]),
         error="index 9 is out of bounds for dimension 1 with size 4"),
    case("setitem-out-of-range", lambda m, x: x.clone().__setitem__(4, 0.0), (3, 4),
         error="out of bounds for dimension 0 with size 3"),
]


@pytest.mark.parametrize("c, dtype, noncontig", case_params(ERROR_CASES))
def test_errors_as_pytorch(c, dtype, noncontig):
    check_case(c, dtype, noncontig)


def test_errors_name_no_numpy():
    """No NumPy wording ('axis', 'arrays used as indices', 'ufunc') reaches the user."""
    snippets = [
        lambda m: m.ones(3, 4)[5],
        lambda m: m.ones(3, 4)[1.5],
        lambda m: m.tensor([True]) - m.tensor([True]),
        lambda m: -m.tensor([True]),
        lambda m: m.ones(3, 4)[m.tensor([0.5])],
        lambda m: m.ones(3).view(2, 2),
    ]
    for k, snippet in enumerate(snippets):
        result = run_both(snippet, [], [], f"snippet {k}")
        assert result is None, f"snippet {k}: torch raised nothing"
        try:
            snippet(fw)
        except Exception as e:  # noqa: BLE001
            msg = str(e)
            for word in ("axis", "arrays used as indices", "ufunc", "numpy"):
                assert word not in msg, f"snippet {k}: NumPy's words in {msg!r}"
