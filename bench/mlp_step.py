"""One training step of an MLP 784-512-512-10 (ReLU, float32, batch 128, cross-entropy, SGD
lr=0.01 without momentum), zero_grad + forward + backward + update, timed for framework, a
hand-written NumPy forward/backward/update, and PyTorch eager when installed, in one run
(this machine's speed drifts between runs). All three start from the same weights and are
checked to agree before timing.

    python bench/mlp_step.py             # times (interleaved rounds, ratios within a round)
    python bench/mlp_step.py --profile   # plus where the time goes: cProfile of the step, and
                                         # the fixed per-step Python cost on a tiny MLP

PyTorch gets as many threads as NumPy's BLAS has (read from OpenBLAS; the line says which).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import per_call_seconds  # noqa: E402

import framework as fw  # noqa: E402
import framework.nn as nn  # noqa: E402
import framework.nn.functional as F  # noqa: E402

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01
TINY = ((8, 8, 8, 4), 4)  # sizes, batch: all Python overhead, next to no arithmetic


def numpy_blas_threads() -> int:
    """Threads NumPy's OpenBLAS uses (asked from the library; else the usual env vars)."""
    libs = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            fn = getattr(lib, name, None)
            if fn is not None:
                return int(fn())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


class Setup:
    """The same MLP, data and weights for framework, NumPy and (optionally) PyTorch."""

    def __init__(self, sizes=SIZES, batch=BATCH, seed=0):
        rng = np.random.default_rng(seed)
        self.xa = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        self.ya = rng.integers(0, sizes[-1], size=batch)
        fw.manual_seed(seed)
        layers = []
        for i in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers)
        self.weights = [p.detach().numpy().copy() for p in self.model.parameters()]
        self.opt = fw.optim.SGD(self.model.parameters(), lr=LR)
        self.x, self.y = fw.from_numpy(self.xa), fw.from_numpy(self.ya)
        self.ref = NumpyMLP(self.weights)

    def framework_step(self):
        self.opt.zero_grad()
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def numpy_step(self):
        return self.ref.step(self.xa, self.ya)

    def check_agree(self):
        for _ in range(3):
            l_fw, l_np = float(self.framework_step()), float(self.numpy_step())
            assert abs(l_fw - l_np) < 1e-4 * max(1.0, abs(l_np)), (l_fw, l_np)
        for p, q in zip(self.model.parameters(), self.ref.params):
            np.testing.assert_allclose(p.detach().numpy(), q, rtol=1e-4, atol=1e-5)


class NumpyMLP:
    """The same network written directly in NumPy: forward, backward and the SGD update."""

    def __init__(self, weights):
        self.params = [a.copy() for a in weights]  # W1, b1, W2, b2, W3, b3 (W: (out, in))

    def step(self, x, y):
        W1, b1, W2, b2, W3, b3 = self.params
        n = x.shape[0]
        h1 = x @ W1.T + b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ W2.T + b2
        a2 = np.maximum(h2, 0)
        z = a2 @ W3.T + b3
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = np.log(s[:, 0]).mean() - z[np.arange(n), y].mean()

        g = e / s  # d loss / d logits = (softmax - onehot) / n
        g[np.arange(n), y] -= 1
        g /= n
        gW3, gb3 = g.T @ a2, g.sum(axis=0)
        g = g @ W3
        g *= h2 > 0
        gW2, gb2 = g.T @ a1, g.sum(axis=0)
        g = g @ W2
        g *= h1 > 0
        gW1, gb1 = g.T @ x, g.sum(axis=0)
        for p, gp in zip(self.params, (gW1, gb1, gW2, gb2, gW3, gb3)):
            p -= LR * gp
        return loss


def torch_step(torch, setup):
    """A PyTorch step function on the same weights and data."""
    layers = []
    for i, lin in enumerate(m for m in setup.model if isinstance(m, nn.Linear)):
        t = torch.nn.Linear(lin.in_features, lin.out_features)
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(setup.weights[2 * i]))
            t.bias.copy_(torch.from_numpy(setup.weights[2 * i + 1]))
        layers += [t, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(setup.xa), torch.from_numpy(setup.ya)

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def cpu_seconds(fn, n, rounds=7):
    """Median CPU seconds per call (steadier than wall time on a shared machine)."""
    fn()
    out = []
    for _ in range(rounds):
        t = time.process_time()
        for _ in range(n):
            fn()
        out.append((time.process_time() - t) / n)
    return statistics.median(out)


def profile(setup, steps):
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        setup.framework_step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="where the framework's time goes")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    args = parser.parse_args()

    setup = Setup()
    setup.check_agree()  # the contenders must agree before their times mean anything
    threads = numpy_blas_threads()
    steps = {"framework": setup.framework_step, "numpy": setup.numpy_step}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
        steps["pytorch"] = torch_step(torch, setup)

    # Interleaved rounds: each round times every contender once; ratios are taken within a
    # round, so a machine whose speed drifts (shared cores) moves all of them together.
    times = {k: [] for k in steps}
    for _ in range(args.rounds):
        for k, fn in steps.items():
            times[k].append(per_call_seconds(fn, repeat=3, min_time=0.1))
    med = {k: statistics.median(v) for k, v in times.items()}

    def ratio(a, b):
        return statistics.median(x / y for x, y in zip(times[a], times[b]))

    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, SGD step "
          f"(NumPy BLAS threads: {threads}; median of {args.rounds} interleaved rounds)")
    print(f"framework       {med['framework'] * 1e3:7.3f} ms/step")
    print(f"numpy by hand   {med['numpy'] * 1e3:7.3f} ms/step   "
          f"(framework / numpy = {ratio('framework', 'numpy'):.3f}x)")
    if torch is not None:
        print(f"pytorch {torch.__version__:8s}{med['pytorch'] * 1e3:7.3f} ms/step   "
              f"(torch threads: {torch.get_num_threads()}; framework / pytorch = "
              f"{ratio('framework', 'pytorch'):.3f}x)")
    else:
        print("pytorch not installed: no comparison")

    if args.profile:
        tiny = Setup(*TINY)
        tiny.check_agree()
        t_fw, t_np = cpu_seconds(tiny.framework_step, 2000), cpu_seconds(tiny.numpy_step, 2000)
        opt_step = cpu_seconds(tiny.opt.step, 2000)
        print(f"\nfixed cost per step (tiny MLP {'-'.join(map(str, TINY[0]))}, batch {TINY[1]}, "
              f"CPU time): framework {t_fw * 1e6:.1f} us, numpy {t_np * 1e6:.1f} us, of which "
              f"optimizer.step {opt_step * 1e6:.1f} us")
        print("\n--- cProfile, full-size step (200 steps) ---")
        profile(setup, 200)
        print("--- cProfile, tiny MLP (Python overhead only; 3000 steps) ---")
        profile(tiny, 3000)


if __name__ == "__main__":
    main()
