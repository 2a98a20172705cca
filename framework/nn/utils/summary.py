"""summary(model, input): a table of every module's type, output shape and parameters.

    >>> summary(model, (64, 1, 28, 28))      # an input size: a random batch is made
    >>> summary(model, x)                    # or example input(s)

Output shapes come from forward hooks during one forward pass run under no_grad and in eval
mode (so BatchNorm's running statistics and dropout are untouched); every module's training
flag is restored afterwards.
"""

from __future__ import annotations

import sys

from ... import creation
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad


def _is_size(x):
    return isinstance(x, (tuple, list)) and all(isinstance(s, int) for s in x)


def _make_inputs(input, dtype, device):
    """The positional arguments for model(...) from a size, sizes, a tensor or tensors."""
    if isinstance(input, Tensor):
        return (input,)
    if _is_size(input):
        return (creation.randn(*input, dtype=dtype, device=device),)
    if isinstance(input, (tuple, list)):
        return tuple(_make_inputs(x, dtype, device)[0] if (_is_size(x) or isinstance(x, Tensor))
                     else x for x in input)
    raise TypeError(
        f"summary() expects an input size (a tuple of ints, batch first), a Tensor, or a "
        f"tuple of those; got {type(input).__name__}"
    )


def _shape_str(out):
    if isinstance(out, Tensor):
        return str(list(out.shape))
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_str(o) for o in out)
    if isinstance(out, dict):
        return ", ".join(f"{k}: {_shape_str(v)}" for k, v in out.items())
    return "--" if out is None else type(out).__name__


def summary(model, input, *, dtype=None, device=None, file=None):
    """Print a per-module table and return the totals:
    {'total_params', 'trainable_params', 'frozen_params', 'buffer_elements', 'layers'}."""
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else None
    args = _make_inputs(input, dtype, device)
    shapes, handles = {}, []
    modules = list(model.named_modules())
    for name, m in modules:
        def hook(module, inputs, output, name=name):
            shapes[name] = _shape_str(output)

        handles.append(m.register_forward_hook(hook))
    modes = [(m, m.training) for _, m in modules]
    try:
        model.eval()
        with no_grad():
            model(*args)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode

    rows = []
    for name, m in modules:
        own = list(m.parameters(recurse=False))
        rows.append({
            "name": name or type(model).__name__,
            "depth": 0 if not name else name.count(".") + 1,
            "type": type(m).__name__,
            "output_shape": shapes.get(name, "--"),
            "params": sum(p.numel() for p in own),
            "trainable": sum(p.numel() for p in own if p.requires_grad),
            "buffers": sum(b.numel() for b in m.buffers(recurse=False)),
        })
    params = list(model.parameters())
    totals = {
        "total_params": sum(p.numel() for p in params),
        "trainable_params": sum(p.numel() for p in params if p.requires_grad),
        "buffer_elements": sum(b.numel() for b in model.buffers()),
    }
    totals["frozen_params"] = totals["total_params"] - totals["trainable_params"]
    _print_table(rows, totals, file or sys.stdout)
    totals["layers"] = rows
    return totals


def _print_table(rows, totals, file):
    header = ("Layer", "Type", "Output Shape", "Params", "Trainable", "Buffers")
    table = [(("  " * r["depth"]) + r["name"], r["type"], r["output_shape"], f"{r['params']:,}",
              f"{r['trainable']:,}", f"{r['buffers']:,}") for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]

    def line(cells):
        left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
        right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
        return "  ".join(left + right)

    rule = "=" * len(line(header))
    print(rule, file=file)
    print(line(header), file=file)
    print(rule, file=file)
    for t in table:
        print(line(t), file=file)
    print(rule, file=file)
    print(f"Total params: {totals['total_params']:,}", file=file)
    print(f"Trainable params: {totals['trainable_params']:,}", file=file)
    print(f"Frozen params: {totals['frozen_params']:,}", file=file)
    print(f"Buffer elements: {totals['buffer_elements']:,}", file=file)
    print(rule, file=file)
