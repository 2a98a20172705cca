"""Per-op overhead: a chain of 200 elementwise ops (add, mul, tanh in turn) on shape (8,),
then sum().backward(). Prints µs per op for framework, a hand-written NumPy forward+backward,
and PyTorch eager when installed, all in one run (this machine's speed drifts between runs).

    python bench/op_overhead.py
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import per_call_seconds, try_import_torch  # noqa: E402

import framework as fw  # noqa: E402

N_OPS = 200
SHAPE = (8,)


def chain(x, c):
    h = x
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h + c
        elif k == 1:
            h = h * c
        else:
            h = h.tanh()
    return h


def framework_step(x, c):
    x.grad = None
    chain(x, c).sum().backward()


def numpy_step(x, c):
    # forward, keeping what backward needs, then backward by hand
    saved = []
    h = x
    for i in range(N_OPS):
        k = i % 3
        if k == 0:
            h = h + c
        elif k == 1:
            saved.append(h)
            h = h * c
        else:
            h = np.tanh(h)
            saved.append(h)
    g = np.ones_like(h)
    for i in reversed(range(N_OPS)):
        k = i % 3
        if k == 1:
            saved.pop()
            g = g * c
        elif k == 2:
            y = saved.pop()
            g = g * (1 - y * y)
    return g


def main():
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(SHAPE).astype(np.float32)
    ca = rng.standard_normal(SHAPE).astype(np.float32) * 0.5

    x = fw.tensor(xa, requires_grad=True)
    c = fw.tensor(ca)
    t_fw = per_call_seconds(lambda: framework_step(x, c)) / N_OPS
    t_np = per_call_seconds(lambda: numpy_step(xa, ca)) / N_OPS
    print(f"framework      {t_fw * 1e6:7.2f} us/op")
    print(f"numpy by hand  {t_np * 1e6:7.2f} us/op   (framework / numpy = {t_fw / t_np:.2f}x)")

    torch = try_import_torch()
    if torch is not None:
        xt = torch.tensor(xa, requires_grad=True)
        ct = torch.tensor(ca)

        def torch_step():
            xt.grad = None
            chain(xt, ct).sum().backward()

        t_pt = per_call_seconds(torch_step) / N_OPS
        print(f"pytorch {torch.__version__:8s}{t_pt * 1e6:6.2f} us/op   (framework / pytorch = {t_fw / t_pt:.2f}x)")
    else:
        print("pytorch not installed: no comparison")


if __name__ == "__main__":
    main()
