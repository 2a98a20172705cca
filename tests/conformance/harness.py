"""The conformance harness: run the same code on framework and on PyTorch, compare everything.

A case is written once against a library namespace `m` (the `framework` or the `torch`
module), so `lambda m, x: m.sort(x, dim=1)` or `lambda m, x: x.topk(2)` runs on both. Inputs
are described, not made: the harness makes identical NumPy values and hands each library its
own tensors. What is compared, per case and dtype:

- forward: the same output structure (tensors, tuples, named tuples, Python values), each
  tensor's shape, dtype and values;
- errors: if PyTorch raises, framework must raise the same exception type (a row may also
  ask for a message pattern); if PyTorch does not raise, framework must not;
- backward: gradients of every float input that requires grad, for one random cotangent
  per float output, compared with the same tolerance as the forward;
- double backward (rows with `second=True`): the gradient of <grads, v> w.r.t. the inputs;
- non-contiguous inputs (rows with `noncontig=True`): the same checks with every tensor input
  handed over as a transposed or strided view, on both sides.

Failures name the case, the dtype, the input shapes and the largest difference.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import framework as fw

# per dtype: (rtol, atol) of value comparisons
TOL = {
    "float64": (1e-7, 1e-9),
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-3),
}
NP_DTYPE = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


# --- describing inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """A float input with exactly these values (ties, zeros, infinities on purpose)."""

    values: Any


@dataclass(frozen=True)
class Const:
    """A constant tensor input of a fixed dtype (indices, masks, integer data): no gradient."""

    values: Any
    dtype: str = None  # a NumPy dtype name; None: NumPy's choice for `values`


@dataclass(frozen=True)
class Floats:
    """A random float input of `shape` that does not require grad (a mask value, a target)."""

    shape: tuple


def ints(*values, dtype="int64"):
    return Const(np.array(values[0] if len(values) == 1 else values), dtype)


def bools(*values):
    return Const(np.array(values[0] if len(values) == 1 else values, dtype=bool), "bool")


@dataclass(frozen=True)
class Case:
    """One conformance row. `fn(m, *inputs)` is run with m = framework and m = torch.

    inputs: a shape tuple (random float input that requires grad), Given(values), Floats(shape),
    Const(array, dtype), or any Python value (passed as is to both).
    """

    name: str
    fn: Callable
    inputs: tuple
    dtypes: tuple = ("float32", "float64")
    grad: bool = True  # compare gradients of float inputs
    second: bool = False  # also compare double backward
    noncontig: bool = True  # also run with non-contiguous views of the inputs
    domain: str = "real"  # random floats: real, positive (0.5..2.5), unit (|x| < 0.8)
    error: Any = None  # a regex the framework's message must match when both raise
    tol: dict = field(default_factory=dict)  # {"float32": (rtol, atol)} overrides

    def __repr__(self):
        return self.name


def case(name, fn, *inputs, **flags) -> Case:
    return Case(name, fn, inputs, **flags)


def _float_pool(name, n, domain):
    """n distinct values away from 0 (kinks and ties stay away from each other), seeded by name."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    pool = (rng.permutation(n) + 0.25) * (4.0 / max(n, 1)) - 2.0
    if domain == "positive":
        pool = np.abs(pool) + 0.5
    elif domain == "unit":
        pool = pool * 0.4
    return pool


def make_values(c: Case, dtype: str):
    """NumPy values for each input of `c`: (array or python value, kind) with kind in
    {"grad", "float", "const", "py"}."""
    shapes = [s for s in c.inputs if isinstance(s, tuple)] + [
        s.shape for s in c.inputs if isinstance(s, Floats)
    ]
    pool = _float_pool(c.name, sum(math.prod(s) for s in shapes), c.domain)
    out, start = [], 0
    for spec in c.inputs:
        if isinstance(spec, (tuple, Floats)):
            shape = spec if isinstance(spec, tuple) else spec.shape
            k = math.prod(shape)
            values = pool[start : start + k].reshape(shape).astype(NP_DTYPE[dtype])
            start += k
            out.append((values, "grad" if isinstance(spec, tuple) else "float"))
        elif isinstance(spec, Given):
            out.append((np.array(spec.values, dtype=NP_DTYPE[dtype]), "grad"))
        elif isinstance(spec, Const):
            a = np.asarray(spec.values)
            out.append((a.astype(spec.dtype) if spec.dtype else a, "const"))
        else:
            out.append((spec, "py"))
    return out


def _noncontiguous(a: np.ndarray) -> np.ndarray:
    """The same values as a non-contiguous view: a transposed copy transposed back (2-D and
    more) or every other element of a doubled array (1-D)."""
    if a.ndim == 0 or a.size <= 1:
        return a
    if a.ndim == 1:
        big = np.empty((2 * a.shape[0],), a.dtype)
        big[::2] = a
        return big[::2]
    return np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)


def _to_torch_view(a: np.ndarray, requires_grad: bool):
    """A torch tensor with a's values *and* a's layout (strides), as a view of a leaf when
    a is not contiguous, so that both libraries see the same memory layout."""
    if a.flags.c_contiguous or a.size <= 1:
        t = torch.from_numpy(np.ascontiguousarray(a).copy())
        return t.requires_grad_(requires_grad), t
    if a.ndim == 1:
        base = torch.zeros(2 * a.shape[0], dtype=_torch_dtype(a.dtype))
        base[::2] = torch.from_numpy(a.copy())
        base.requires_grad_(requires_grad)
        return base[::2], base
    base = torch.from_numpy(np.ascontiguousarray(a.swapaxes(-1, -2)).copy())
    base.requires_grad_(requires_grad)
    return base.transpose(-1, -2), base


def _to_fw_view(a: np.ndarray, requires_grad: bool):
    if a.flags.c_contiguous or a.size <= 1:
        t = fw.tensor(np.ascontiguousarray(a).copy())
        return t.requires_grad_(requires_grad), t
    if a.ndim == 1:
        base = fw.zeros(2 * a.shape[0], dtype=fw_dtype(a.dtype))
        base[::2] = fw.tensor(a.copy())
        base.requires_grad_(requires_grad)
        return base[::2], base
    base = fw.tensor(np.ascontiguousarray(a.swapaxes(-1, -2)).copy())
    base.requires_grad_(requires_grad)
    return base.transpose(-1, -2), base


def _torch_dtype(np_dtype):
    return getattr(torch, np.dtype(np_dtype).name if np.dtype(np_dtype) != bool else "bool")


def fw_dtype(np_dtype):
    return getattr(fw, np.dtype(np_dtype).name if np.dtype(np_dtype) != bool else "bool")


def build(values, lib, noncontig=False):
    """(inputs for fn, leaves whose gradients are compared) for lib 'fw' or 'torch'."""
    make = _to_fw_view if lib == "fw" else _to_torch_view
    inputs, leaves = [], []
    for v, kind in values:
        if kind == "py":
            inputs.append(v)
            continue
        a = _noncontiguous(v) if noncontig else v
        t, leaf = make(a, requires_grad=(kind == "grad"))
        inputs.append(t)
        if kind == "grad":
            leaves.append(leaf)
    return inputs, leaves


# --- comparing results ---------------------------------------------------------------------------


def to_numpy(x):
    """A framework or torch tensor as a NumPy array (other values unchanged)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy() if x.dtype != torch.bfloat16 else x.detach().float().numpy()
    if isinstance(x, fw.Tensor):
        return x.detach().cpu().numpy()
    return x


def assert_same(got, want, where, tol=None, path="output"):
    """Compare a framework result with PyTorch's, recursively through tuples and lists."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, fw.Tensor), f"{where}: {path} is a {type(got).__name__}, torch gives a Tensor"
        g, w = to_numpy(got), to_numpy(want)
        assert tuple(got.shape) == tuple(want.shape), (
            f"{where}: {path} shape {tuple(got.shape)}, torch {tuple(want.shape)}"
        )
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (
            f"{where}: {path} dtype {got.dtype}, torch {want.dtype}"
        )
        rtol, atol = tol if tol is not None else TOL.get(str(g.dtype), (0, 0))
        if g.dtype.kind in "fc":
            close = np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
            if not close.all():
                diff = np.abs(g.astype(np.float64) - w.astype(np.float64))
                diff = np.where(np.isnan(diff), np.inf, diff)
                i = np.unravel_index(np.argmax(diff), diff.shape) if diff.ndim else ()
                raise AssertionError(
                    f"{where}: {path} differs at {list(i)}: framework {g[i]!r}, torch {w[i]!r} "
                    f"(max |delta| {diff.max():.3g}, rtol {rtol}, atol {atol}; "
                    f"{int((~close).sum())} of {close.size} elements)"
                )
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{where}: {path}")
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)), f"{where}: {path} is a {type(got).__name__}, torch gives {type(want).__name__}"
        assert len(got) == len(want), f"{where}: {path} has {len(got)} items, torch {len(want)}"
        for k, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, where, tol, f"{path}[{k}]")
        for attr in getattr(want, "_fields", ()):  # named tuples (values, indices)
            assert_same(getattr(got, attr), getattr(want, attr), where, tol, f"{path}.{attr}")
    elif isinstance(want, torch.Size):
        assert tuple(got) == tuple(want), f"{where}: {path} {tuple(got)}, torch {tuple(want)}"
    elif isinstance(want, torch.dtype):
        assert str(got).split(".")[-1] == str(want).split(".")[-1], f"{where}: {path} {got}, torch {want}"
    elif isinstance(want, float) and isinstance(got, (float, int)):
        assert math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9) or (
            math.isnan(got) and math.isnan(want)
        ), f"{where}: {path} {got!r}, torch {want!r}"
    else:
        assert got == want, f"{where}: {path} {got!r}, torch {want!r}"


def _flat_tensors(out, lib_tensor):
    if isinstance(out, lib_tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat_tensors(o, lib_tensor)]
    return []


def run_both(fn, fw_inputs, torch_inputs, where, error=None):
    """fn on both libraries; PyTorch raising means framework must raise the same type.
    Returns (fw_out, torch_out), or None when both raised as they should."""
    try:
        want = fn(torch, *torch_inputs)
    except Exception as e:  # noqa: BLE001 - any PyTorch error is the expectation
        torch_error = e
    else:
        torch_error = None
    try:
        got = fn(fw, *fw_inputs)
    except Exception as e:  # noqa: BLE001
        if torch_error is None:
            raise AssertionError(f"{where}: framework raised {type(e).__name__}: {e}; torch did not") from e
        assert_same_error(e, torch_error, where, error)
        return None
    if torch_error is not None:
        raise AssertionError(
            f"{where}: torch raised {type(torch_error).__name__}: {torch_error}; framework "
            f"returned {got!r}"
        )
    return got, want


def assert_same_error(got: BaseException, want: BaseException, where, pattern=None):
    """framework's exception has PyTorch's type (or a subclass), and matches `pattern`."""
    import re

    if not isinstance(got, type(want)):
        raise AssertionError(
            f"{where}: framework raised {type(got).__name__}({got}), torch raised "
            f"{type(want).__name__}({want})"
        ) from got
    if pattern is not None:
        assert re.search(pattern, str(got)), f"{where}: message {str(got)!r} does not match {pattern!r}"


def check_case(c: Case, dtype: str, noncontig: bool = False):
    """Run case `c` on both libraries in `dtype` and compare forward, errors, gradients."""
    values = make_values(c, dtype)
    shapes = [tuple(np.shape(v)) for v, kind in values if kind != "py"]
    where = f"{c.name} [{dtype}{', non-contiguous' if noncontig else ''}; input shapes {shapes}]"
    fw_in, fw_leaves = build(values, "fw", noncontig)
    t_in, t_leaves = build(values, "torch", noncontig)
    result = run_both(c.fn, fw_in, t_in, where, c.error)
    if result is None:
        return
    got, want = result
    tol = c.tol.get(dtype)
    assert_same(got, want, where, tol)
    if not c.grad or not t_leaves:
        return
    t_outs = [t for t in _flat_tensors(want, torch.Tensor) if t.requires_grad]
    f_outs = [t for t in _flat_tensors(got, fw.Tensor) if t.requires_grad]
    f_all = _flat_tensors(got, fw.Tensor)
    t_all = _flat_tensors(want, torch.Tensor)
    assert [t.requires_grad for t in f_all] == [t.requires_grad for t in t_all], (
        f"{where}: requires_grad of outputs {[t.requires_grad for t in f_all]}, torch "
        f"{[t.requires_grad for t in t_all]}"
    )
    if not t_outs:
        return
    rng = np.random.default_rng(1)
    cots = [rng.standard_normal(tuple(t.shape)).astype(NP_DTYPE[dtype]) for t in t_outs]
    t_grads = torch.autograd.grad(
        [o for o in t_outs], t_leaves, [torch.from_numpy(v) for v in cots],
        create_graph=c.second, allow_unused=True,
    )
    f_grads = fw.autograd.grad(
        [o for o in f_outs], fw_leaves, [fw.tensor(v) for v in cots],
        create_graph=c.second, allow_unused=True,
    )
    for k, (fg, tg) in enumerate(zip(f_grads, t_grads)):
        if tg is None:
            if fg is not None:
                assert not np.any(to_numpy(fg)), f"{where}: grad of input {k}: torch has none"
            continue
        assert fg is not None, f"{where}: grad of input {k} is None, torch has one"
        assert_same(fg, tg, where, tol, f"grad of input {k}")
    if not c.second:
        return
    pairs = [(fg, tg) for fg, tg in zip(f_grads, t_grads) if tg is not None and tg.requires_grad]
    if not pairs:
        return
    vs = [rng.standard_normal(tuple(tg.shape)).astype(NP_DTYPE[dtype]) for _, tg in pairs]
    t_gg = torch.autograd.grad(
        [tg for _, tg in pairs], t_leaves, [torch.from_numpy(v) for v in vs], allow_unused=True
    )
    f_gg = fw.autograd.grad(
        [fg for fg, _ in pairs], fw_leaves, [fw.tensor(v) for v in vs], allow_unused=True
    )
    for k, (fg, tg) in enumerate(zip(f_gg, t_gg)):
        if tg is None:
            continue
        assert fg is not None, f"{where}: double-backward grad of input {k} is None, torch has one"
        assert_same(fg, tg, where, tol, f"double-backward grad of input {k}")


def case_params(cases):
    """pytest parameters: every case in each of its dtypes, and non-contiguous where asked."""
    import pytest

    params = []
    for c in cases:
        for dtype in c.dtypes:
            params.append(pytest.param(c, dtype, False, id=f"{c.name}-{dtype}"))
            has_arrays = any(isinstance(s, (tuple, Given, Floats, Const)) for s in c.inputs)
            if c.noncontig and has_arrays and dtype == c.dtypes[0]:
                params.append(pytest.param(c, dtype, True, id=f"{c.name}-{dtype}-noncontig"))
    return params


# --- modules from identical weights ---------------------------------------------------------------


def copy_weights(torch_module, fw_module):
    """Load torch_module's state_dict into fw_module (names must match: they are PyTorch's)."""
    state = {k: fw.tensor(v.detach().cpu().numpy().copy()) for k, v in torch_module.state_dict().items()}
    fw_module.load_state_dict(state)


def check_module(name, make, inputs, train=True, dtype="float32", tol=None, grad_inputs=True,
                 forward=None):
    """Build `make(m)` in both libraries from identical weights, run forward on identical
    inputs (specs as in Case), compare outputs, input gradients and parameter gradients.
    `forward(module, *inputs)` defaults to calling the module."""
    torch.manual_seed(0)
    t_mod = make(torch)
    f_mod = make(fw)
    if dtype == "float64":
        t_mod, f_mod = t_mod.double(), f_mod.double()
    copy_weights(t_mod, f_mod)
    t_mod.train(train)
    f_mod.train(train)
    c = Case(name, None, tuple(inputs))
    values = make_values(c, dtype)
    if not grad_inputs:
        values = [(v, "float" if k == "grad" else k) for v, k in values]
    f_in, f_leaves = build(values, "fw")
    t_in, t_leaves = build(values, "torch")
    call = forward or (lambda mod, *xs: mod(*xs))
    where = f"{name} [{dtype}, {'train' if train else 'eval'}]"
    result = run_both(lambda m, *xs: call(t_mod if m is torch else f_mod, *xs), f_in, t_in, where)
    if result is None:
        return
    got, want = result
    assert_same(got, want, where, tol)
    t_outs = [t for t in _flat_tensors(want, torch.Tensor) if t.requires_grad and t.is_floating_point()]
    f_outs = [t for t in _flat_tensors(got, fw.Tensor) if t.requires_grad and t.is_floating_point()]
    if not t_outs:
        return
    rng = np.random.default_rng(1)
    cots = [rng.standard_normal(tuple(t.shape)).astype(NP_DTYPE[dtype]) for t in t_outs]
    torch.autograd.backward(t_outs, [torch.from_numpy(v) for v in cots])
    fw.autograd.backward(f_outs, [fw.tensor(v) for v in cots])
    for k, (fl, tl) in enumerate(zip(f_leaves, t_leaves)):
        assert_same(fl.grad, tl.grad, where, tol, f"grad of input {k}")
    f_params = dict(f_mod.named_parameters())
    for pname, tp in t_mod.named_parameters():
        assert pname in f_params, f"{where}: framework has no parameter {pname!r}"
        fp = f_params[pname]
        if tp.grad is None:
            assert fp.grad is None or not np.any(to_numpy(fp.grad)), f"{where}: {pname}.grad: torch has none"
            continue
        assert fp.grad is not None, f"{where}: {pname}.grad is None, torch has one"
        assert_same(fp.grad, tp.grad, where, tol, f"{pname}.grad")
