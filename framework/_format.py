"""repr of tensors, formatted as PyTorch prints them: `tensor([1., 2.], requires_grad=True)`."""

from __future__ import annotations

import numpy as np

from . import _backend, dtypes

_PRECISION = 4
_THRESHOLD = 1000  # summarize with ... above this many elements, as PyTorch
_EDGE = 3


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.4f}"
    absf = np.abs(finite)
    nonzero = absf[absf > 0]
    if np.all(finite == np.round(finite)):
        big = absf.max() >= 1e8
        if not big:
            width = max(len(f"{v:.0f}.") for v in finite)
            return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    sci = nonzero.size > 0 and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() >= 1e8 or nonzero.min() < 1e-4)
    if sci:
        return lambda v: _special(v) or f"{v:.{_PRECISION}e}"
    width = max(len(f"{v:.{_PRECISION}f}") for v in finite)
    return lambda v: (_special(v) or f"{v:.{_PRECISION}f}").rjust(width)


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def format_tensor(t) -> str:
    a = _backend.to_numpy(t._data)
    prefix = "tensor("
    if a.size == 0:
        body = "[]"
    else:
        kwargs = {}
        if a.dtype.kind == "f":
            fmt = _float_formatter(a.astype(np.float64).ravel() if a.size <= _THRESHOLD else _edges(a))
            kwargs["formatter"] = {"float_kind": fmt}
        elif a.dtype.kind == "b":
            kwargs["formatter"] = {"bool": lambda v: "True" if v else "False"}
        body = np.array2string(
            a, separator=", ", prefix=prefix, threshold=_THRESHOLD, edgeitems=_EDGE,
            max_line_width=80, **kwargs,
        )
    extras = []
    if a.size == 0 and a.shape != (0,):
        extras.append(f"size={tuple(a.shape)}")
    dev = t.device
    if dev.type != "cpu":
        extras.append(f"device='{dev}'")
    d = dtypes.from_numpy_dtype(a.dtype)
    implicit = d in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool)
    if not implicit:
        extras.append(f"dtype={d}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    if extras:
        body += ", " + ", ".join(extras)
    return prefix + body + ")"


def _edges(a):
    flat = a.astype(np.float64).ravel()
    return np.concatenate([flat[:_EDGE * 10], flat[-_EDGE * 10:]])
