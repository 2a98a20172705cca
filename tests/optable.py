"""The op table's harness: a row per op case, and `check_row`, which checks a row on a backend.

A row names the case ("sum-dim1-keepdim": the op name, then the variant), calls the op on
framework tensors (`fn`), says what NumPy computes (`ref`, on float64 arrays) and what the
inputs are:
- a shape tuple: a random float input (requires grad). All float elements of a row are
  distinct and at least 1/n away from 0 (n = their count), so kinks (abs, max, relu) and ties
  stay far from the finite-difference steps;
- `Given(array)`: a float input with these values (zeros, ties, huge values on purpose);
- a NumPy array: a constant tensor (indices, masks), no gradient;
- anything else (a Python number): passed to fn and ref as is.

`check_row` runs, on one backend:
1. forward vs the reference for float32 and float64 inputs: values, shapes and dtypes (a float
   result keeps its input's dtype unless the row says `out_dtype`);
2. gradcheck in float64 (which also checks each gradient's shape and dtype);
3. gradgradcheck (second order through create_graph), unless the row says smooth=False;
4. float32 backward: every gradient float32, with its input's shape, equal to the float64 one.
Rows with grad=False check instead that the outputs do not require grad.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import framework as fw
from framework.autograd import gradcheck, gradgradcheck

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-7, atol=1e-9)}


@dataclass(frozen=True)
class Given:
    """A float input with exactly these values."""

    values: Any


@dataclass(frozen=True)
class Row:
    name: str
    fn: Callable
    ref: Callable
    inputs: tuple
    grad: bool = True  # outputs are differentiable
    smooth: bool = True  # also run gradgradcheck
    domain: str = "real"  # of the random float inputs: real, positive (0.5..2.5), unit (|x| < 0.8)
    out_dtype: Any = None  # the result's dtype when it is not the input's
    tol: dict = field(default_factory=dict)  # rtol/atol overrides for the forward check
    check_kw: dict = field(default_factory=dict)  # eps/atol/rtol overrides for gradcheck

    def __repr__(self):
        return self.name

    @property
    def op(self) -> str:
        return self.name.split("-")[0]


def row(name, fn, ref, *inputs, **flags) -> Row:
    return Row(name, fn, ref, inputs, **flags)


def ints(*data):
    """A constant int64 input (indices)."""
    return np.array(data[0] if len(data) == 1 else data, dtype=np.int64)


def bools(*data):
    return np.array(data[0] if len(data) == 1 else data, dtype=bool)


def _is_float_spec(spec):
    return isinstance(spec, (tuple, Given))


def _float_values(r: Row):
    """float64 arrays for the row's float inputs (see the module docstring)."""
    shapes = [s for s in r.inputs if isinstance(s, tuple)]
    n = sum(math.prod(s) for s in shapes)
    rng = np.random.default_rng(zlib.crc32(r.name.encode()))
    pool = (rng.permutation(n) + 0.25) * (4.0 / max(n, 1)) - 2.0  # distinct, never 0
    if r.domain == "positive":
        pool = np.abs(pool) + 0.5
    elif r.domain == "unit":
        pool = pool * 0.4
    out, start = [], 0
    for spec in r.inputs:
        if isinstance(spec, tuple):
            k = math.prod(spec)
            out.append(pool[start : start + k].reshape(spec))
            start += k
        elif isinstance(spec, Given):
            out.append(np.array(spec.values, dtype=np.float64))
        else:
            out.append(None)
    return out


def make_inputs(r: Row, backend, dtype, requires_grad=True):
    """(framework inputs, NumPy inputs for the reference) for `dtype` (float32 or float64)."""
    fw_in, np_in = [], []
    for spec, values in zip(r.inputs, _float_values(r)):
        if values is not None:
            v = values.astype(dtype)
            fw_in.append(backend.tensor(v, requires_grad=requires_grad))
            np_in.append(v.astype(np.float64))
        elif isinstance(spec, np.ndarray):
            fw_in.append(backend.tensor(spec))
            np_in.append(spec)
        else:
            fw_in.append(spec)
            np_in.append(spec)
    return fw_in, np_in


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _float_outputs(fn):
    def f(*args):
        return tuple(o for o in _as_list(fn(*args)) if o.is_floating_point())

    return f


def check_forward(r: Row, backend, dtype):
    fw_in, np_in = make_inputs(r, backend, dtype, requires_grad=False)
    outs, refs = _as_list(r.fn(*fw_in)), _as_list(r.ref(*np_in))
    where = f"{r.name} [{backend}, {np.dtype(dtype).name}]"
    assert len(outs) == len(refs), f"{where}: {len(outs)} outputs, reference has {len(refs)}"
    for k, (o, e) in enumerate(zip(outs, refs)):
        assert isinstance(o, fw.Tensor), f"{where}: output {k} is a {type(o).__name__}"
        e = np.asarray(e)
        got = backend.asnumpy(o)
        assert got.shape == e.shape, f"{where}: output {k} shape {got.shape}, expected {e.shape}"
        if r.out_dtype is not None:
            want = np.dtype(r.out_dtype)
        elif e.dtype.kind == "f":
            want = np.dtype(dtype)
        else:
            want = e.dtype
        assert got.dtype == want, f"{where}: output {k} dtype {got.dtype}, expected {want}"
        tol = {**TOL[dtype], **r.tol} if e.dtype.kind == "f" else dict(rtol=0, atol=0)
        np.testing.assert_allclose(got, e, err_msg=f"{where}: output {k}", **tol)


def _wrt(inputs):
    return [x for x in inputs if isinstance(x, fw.Tensor) and x.requires_grad]


def check_gradients(r: Row, backend):
    x64, _ = make_inputs(r, backend, np.float64)
    where = f"{r.name} [{backend}]"
    if not r.grad:
        for k, o in enumerate(_as_list(r.fn(*x64))):
            assert not o.requires_grad, f"{where}: output {k} requires grad; expected none"
        return
    fn = _float_outputs(r.fn)
    assert gradcheck(fn, x64, **r.check_kw), where
    if r.smooth:
        assert gradgradcheck(fn, x64, **r.check_kw), where

    # float32 backward: gradients keep float32 and the input's shape, and match float64
    x32, _ = make_inputs(r, backend, np.float32)
    grads = {}
    for xs, dtype in ((x64, np.float64), (x32, np.float32)):
        for x in _wrt(xs):
            x.grad = None
        outs = fn(*xs)
        rng = np.random.default_rng(1)
        loss = sum((o * backend.tensor(rng.standard_normal(o.shape).astype(dtype))).sum() for o in outs)
        loss.backward()
        grads[dtype] = [x.grad for x in _wrt(xs)]
    for k, (x, g32, g64) in enumerate(zip(_wrt(x32), grads[np.float32], grads[np.float64])):
        assert (g32 is None) == (g64 is None), f"{where}: input {k} got a gradient in one dtype only"
        if g64 is None:
            continue  # an input the result doesn't depend on (a shape donor)
        assert g32.shape == x.shape, f"{where}: grad {k} shape {g32.shape} != input {x.shape}"
        assert g32.dtype == fw.float32, f"{where}: grad {k} dtype {g32.dtype}, expected float32"
        np.testing.assert_allclose(
            backend.asnumpy(g32), backend.asnumpy(g64), rtol=1e-3, atol=1e-4,
            err_msg=f"{where}: float32 gradient {k} vs float64",
        )


def check_row(r: Row, backend):
    check_forward(r, backend, np.float64)
    check_forward(r, backend, np.float32)
    check_gradients(r, backend)
