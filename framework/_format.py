"""repr of tensors, laid out exactly as PyTorch prints them: `tensor([1., 2.], requires_grad=True)`.

The rules (PyTorch's `_tensor_str`): one formatter per tensor picks a mode from the nonzero
finite values (all integral -> `1.`; max/min > 1000, max > 1e8 or min < 1e-4 -> scientific;
else 4 decimals) and pads every element to the widest one; rows wrap at 80 columns; tensors
over 1000 elements show 3 items at each edge around `...`; dtype is printed unless it is the
default float dtype, int64 or bool; then device, grad_fn or requires_grad.
"""

from __future__ import annotations

import math

import numpy as np

from . import _backend, dtypes

_PRECISION = 4
_THRESHOLD = 1000  # summarize with ... above this many elements
_EDGE = 3
_LINEWIDTH = 80


class _Formatter:
    """Formats one element of a given tensor: the mode and width are fixed by all its values."""

    def __init__(self, a: np.ndarray):
        self.floating = a.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = a.reshape(-1)
        if not self.floating:
            self.width = max([len(str(v)) for v in flat.tolist()] + [1])
            return
        vals = flat.astype(np.float64)
        vals = vals[np.isfinite(vals) & (vals != 0)]
        if vals.size == 0:
            return
        absv = np.abs(vals)
        vmin, vmax = absv.min(), absv.max()
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = bool(vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4)
        values = flat[np.isfinite(flat) & (flat != 0)].tolist()  # Python floats, as torch's item()
        if self.sci_mode:
            self.width = max(len(f"{v:.{_PRECISION}e}") for v in values)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in values)
        else:
            self.width = max(len(f"{v:.{_PRECISION}f}") for v in values)

    def format(self, v) -> str:
        if not self.floating:
            s = str(v)
        elif self.sci_mode:
            s = f"{v:{self.width}.{_PRECISION}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{_PRECISION}f}"
        return s.rjust(self.width)


def _summarized(a):
    """The elements a summarized print shows (edges of every dim), for choosing the format."""
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * _EDGE:
        a = np.concatenate([a[:_EDGE], a[-_EDGE:]])
    if a.ndim == 1:
        return a
    return np.stack([_summarized(x) for x in a])


def _body(a, indent, summarize, fmt):
    if a.ndim == 0:
        return fmt.format(a.item())
    cut = summarize and a.shape[0] > 2 * _EDGE
    if a.ndim == 1:
        items = a.tolist()
        if cut:
            data = [fmt.format(v) for v in items[:_EDGE]] + [" ..."]
            data += [fmt.format(v) for v in items[-_EDGE:]]
        else:
            data = [fmt.format(v) for v in items]
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if cut:
        rows = list(range(_EDGE)) + [None] + list(range(a.shape[0] - _EDGE, a.shape[0]))
    parts = ["..." if i is None else _body(a[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _with_suffixes(text, suffixes, indent):
    """Append `, suffix` items, wrapping to a new line where one would pass 80 columns."""
    out = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _LINEWIDTH:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"


def format_tensor(t) -> str:
    a = _backend.to_numpy(t._data)
    prefix = "tensor("
    indent = len(prefix)
    d = dtypes.from_numpy_dtype(a.dtype)
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if d is not dtypes.get_default_dtype():  # no elements to tell ints from floats
            suffixes.append(f"dtype={d}")
    else:
        summarize = a.size > _THRESHOLD
        fmt = _Formatter(_summarized(a) if summarize else a)
        body = _body(a, indent, summarize, fmt)
        if d not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
            suffixes.append(f"dtype={d}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
