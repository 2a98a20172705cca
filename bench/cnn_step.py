"""One training step of a LeNet-like CNN on 28x28 inputs, batch 64, float32:
conv 1->8 3x3, ReLU, max-pool 2, conv 8->16 3x3, ReLU, max-pool 2, linear 400->10,
cross-entropy, backward, SGD update (with zero_grad).

Times framework, a hand-written NumPy im2col version (forward + backward + update), and
PyTorch eager when installed, in one run (this machine's speed drifts between runs), in
interleaved rounds, and prints wall and CPU ms per step (medians) and the ratios. All three
start from the same weights; the first step's losses are compared as a correctness check.

BLAS threads: --threads N (default 1) is set for NumPy's BLAS (OPENBLAS_NUM_THREADS etc.,
before NumPy loads) and for PyTorch (torch.set_num_threads), so both use the same count.

    python bench/cnn_step.py [--threads 1] [--batch 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
_parser.add_argument("--threads", type=int, default=1, help="BLAS/intra-op threads (default 1)")
_parser.add_argument("--batch", type=int, default=64)
_parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
_parser.add_argument("--profile", action="store_true", help="cProfile the framework step")
ARGS = _parser.parse_args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)  # must happen before NumPy loads its BLAS

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import per_call_seconds, try_import_torch  # noqa: E402

import framework as fw  # noqa: E402
import framework.nn as nn  # noqa: E402
import framework.nn.functional as F  # noqa: E402

LR = 0.05


def make_data(batch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return x, y


# --- framework ----------------------------------------------------------------------------------


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.fc = nn.Linear(16 * 5 * 5, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def framework_setup(x, y):
    fw.manual_seed(0)
    model = LeNet()
    opt = fw.optim.SGD(model.parameters(), lr=LR)
    xt, yt = fw.tensor(x), fw.tensor(y)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return step, weights


# --- hand-written NumPy -------------------------------------------------------------------------


def np_im2col(x, k):
    """x (N, C, H, W) -> cols (N*Ho*Wo, C*k*k), valid conv, stride 1."""
    N, C, H, W = x.shape
    Ho, Wo = H - k + 1, W - k + 1
    s = x.strides
    win = as_strided(x, (N, Ho, Wo, C, k, k), (s[0], s[2], s[3], s[1], s[2], s[3]))
    return win.reshape(N * Ho * Wo, C * k * k), (N, C, H, W, Ho, Wo)


def np_col2im(gcols, meta, k):
    N, C, H, W, Ho, Wo = meta
    g = gcols.reshape(N, Ho, Wo, C, k, k)
    gx = np.zeros((N, C, H, W), dtype=gcols.dtype)
    for i in range(k):
        for j in range(k):
            gx[:, :, i:i + Ho, j:j + Wo] += g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return gx


def np_conv(x, W, b):
    cols, meta = np_im2col(x, W.shape[2])
    N, _, _, _, Ho, Wo = meta
    y = cols @ W.reshape(W.shape[0], -1).T + b
    return y.reshape(N, Ho, Wo, -1).transpose(0, 3, 1, 2), (cols, meta)


def np_conv_backward(gy, W, cache, need_gx):
    cols, meta = cache
    O = W.shape[0]  # noqa: E741
    g2 = gy.transpose(0, 2, 3, 1).reshape(-1, O)
    gW = (g2.T @ cols).reshape(W.shape)
    gb = g2.sum(0)
    gx = np_col2im(g2 @ W.reshape(O, -1), meta, W.shape[2]) if need_gx else None
    return gx, gW, gb


def np_maxpool2(x):
    N, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    xc = x[:, :, :2 * Ho, :2 * Wo]
    win = xc.reshape(N, C, Ho, 2, Wo, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, Ho, Wo, 4)
    arg = win.argmax(-1)
    y = np.take_along_axis(win, arg[..., None], -1)[..., 0]
    return y, (arg, x.shape)


def np_maxpool2_backward(gy, cache):
    arg, shape = cache
    N, C, H, W = shape
    Ho, Wo = gy.shape[2:]
    g = np.zeros((N, C, Ho, Wo, 4), dtype=gy.dtype)
    np.put_along_axis(g, arg[..., None], gy[..., None], -1)
    gx = np.zeros(shape, dtype=gy.dtype)
    gx[:, :, :2 * Ho, :2 * Wo] = g.reshape(N, C, Ho, Wo, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        N, C, 2 * Ho, 2 * Wo)
    return gx


def numpy_setup(x, y, weights):
    p = {k: v.copy() for k, v in weights.items()}
    onehot = np.eye(10, dtype=np.float32)[y]

    def step():
        # forward
        a1, c1 = np_conv(x, p["conv1.weight"], p["conv1.bias"])
        r1 = np.maximum(a1, 0)
        h1, m1 = np_maxpool2(r1)
        a2, c2 = np_conv(h1, p["conv2.weight"], p["conv2.bias"])
        r2 = np.maximum(a2, 0)
        h2, m2 = np_maxpool2(r2)
        f = h2.reshape(len(x), -1)
        logits = f @ p["fc.weight"].T + p["fc.bias"]
        z = logits - logits.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        loss = -(logp * onehot).sum() / len(x)
        # backward
        gl = (np.exp(logp) - onehot) / len(x)
        g = {"fc.weight": gl.T @ f, "fc.bias": gl.sum(0)}
        gh2 = (gl @ p["fc.weight"]).reshape(h2.shape)
        ga2 = np_maxpool2_backward(gh2, m2) * (a2 > 0)
        gh1, g["conv2.weight"], g["conv2.bias"] = np_conv_backward(ga2, p["conv2.weight"], c2, True)
        ga1 = np_maxpool2_backward(gh1, m1) * (a1 > 0)
        _, g["conv1.weight"], g["conv1.bias"] = np_conv_backward(ga1, p["conv1.weight"], c1, False)
        # SGD
        for k in p:
            p[k] -= LR * g[k]
        return float(loss)

    return step


# --- PyTorch ------------------------------------------------------------------------------------


def torch_setup(torch, x, y, weights):
    tnn, TF = torch.nn, torch.nn.functional

    class TorchLeNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 8, 3)
            self.conv2 = tnn.Conv2d(8, 16, 3)
            self.fc = tnn.Linear(16 * 5 * 5, 10)

        def forward(self, x):
            x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
            x = TF.max_pool2d(TF.relu(self.conv2(x)), 2)
            return self.fc(x.flatten(1))

    model = TorchLeNet()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = TF.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def cpu_seconds(fn, n=10, repeat=3):
    """Best CPU seconds (process_time) per call of fn() over `repeat` rounds of n calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time() - t0) / n)
    return best


def main():
    x, y = make_data(ARGS.batch)
    fw_step, weights = framework_setup(x, y)
    np_step = numpy_setup(x, y, weights)
    torch = try_import_torch()
    t_step = None
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
        t_step = torch_setup(torch, x, y, weights)

    losses = {"framework": fw_step(), "numpy": np_step()}
    if t_step is not None:
        losses["pytorch"] = t_step()
    ref = losses["numpy"]
    for v in losses.values():
        assert abs(v - ref) < 1e-4 * max(1.0, abs(ref)), f"first-step loss differs: {losses}"

    # interleaved rounds, so load from other processes hits all three alike; medians. Wall time
    # (perf_counter) is what a user waits; CPU time (process_time) is steadier on a loaded machine.
    steps = {"framework": fw_step, "numpy": np_step}
    if t_step is not None:
        steps["pytorch"] = t_step
    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    for _ in range(ARGS.rounds):
        for name, fn in steps.items():
            wall[name].append(per_call_seconds(fn, repeat=3, min_time=0.1))
            cpu[name].append(cpu_seconds(fn))
    print(f"LeNet-like CNN training step, batch {ARGS.batch}, 28x28, float32, "
          f"{ARGS.threads} BLAS/torch thread(s); first-step loss {ref:.4f} (all agree)")
    print(f"  {'':10s} {'wall ms':>8s} {'cpu ms':>8s}")
    med = {k: {n: float(np.median(v)) for n, v in d.items()} for k, d in (("wall", wall), ("cpu", cpu))}
    for name in steps:
        print(f"  {name:10s} {med['wall'][name] * 1e3:8.2f} {med['cpu'][name] * 1e3:8.2f}")
    for other in ("numpy", "pytorch"):
        if other in steps:
            w = med["wall"]["framework"] / med["wall"][other]
            c = med["cpu"]["framework"] / med["cpu"][other]
            goal = "  (goal <= 1.5x)" if other == "pytorch" else ""
            print(f"  framework / {other:8s} {w:6.2f}x {c:7.2f}x{goal}")
    if ARGS.profile:
        import cProfile
        import pstats

        cProfile.runctx("for _ in range(200): f()", {"f": fw_step}, {}, "/tmp/cnn_step.prof")
        pstats.Stats("/tmp/cnn_step.prof").sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    main()
