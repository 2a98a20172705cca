"""GPU training-step benchmark: framework on CUDA (through CuPy) against PyTorch CUDA, one run.

Three workloads, each a full training step (forward, cross-entropy, backward, AdamW step,
zero_grad) at GPU-sized batches, float32:

    mlp  MLP 784-1024-1024-10 (ReLU), batch 1024
    cnn  models.ResNet (ResNet-8, CIFAR-10 layout, BatchNorm in train mode), batch 256, 3x32x32
    gpt  models.GPT (char level: vocab 65, 2 layers, 4 heads, 64 channels), batch 64, block 128

The PyTorch models are the same architectures written in torch below, with the same parameter
names; they load the framework model's initial state_dict (strict), so both start from the
same weights and see the same data; their first-step losses are checked to agree. TF32 is
turned off in PyTorch (the framework computes in plain float32).

Timing: after warm-up, each step is bracketed by device synchronisation and timed with
perf_counter (what a user waits for, Python overhead included); framework and PyTorch steps
alternate, and the median of --steps is reported with the ratio framework / PyTorch (goal:
at most 1.3x). "pipelined" is --steps steps launched back to back with one sync at the end,
divided by --steps (the host's launch cost can hide behind the GPU's work there).

Memory: one extra (untimed) step per framework measures framework.cuda.max_memory_allocated()
(sampled after the loss and after backward: CuPy's pool keeps no true peak, so this is a lower
bound; the pool's size, memory_reserved(), is printed beside it) and
torch.cuda.max_memory_allocated() (a true peak).

    python bench/gpu.py                              # CUDA; all three models
    python bench/gpu.py --models mlp,gpt --steps 100
    python bench/gpu.py --device cpu --quick         # smoke test of this script, no GPU needed

--quick takes tiny batches and few steps. Exit status: 0 all ran and agreed, 1 a model failed
or its loss disagreed with PyTorch, 2 CUDA was asked for and is not available.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import traceback
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _timing import try_import_torch  # noqa: E402

import framework as fw  # noqa: E402
import framework.nn as nn  # noqa: E402
import framework.nn.functional as F  # noqa: E402
from framework import _backend  # noqa: E402
from models import GPT, ResNet  # noqa: E402

MODELS = ("mlp", "cnn", "gpt")
VOCAB = 65
BLOCK = 128
LR = 1e-3
GOAL = 1.3  # framework / PyTorch, ms per step
LOSS_RTOL = 2e-3  # first-step loss agreement (float32, different reduction orders)
MiB = 2**20


@dataclass
class Workload:
    """One benchmark: the framework model, numpy data, and how to build PyTorch's twin."""

    name: str
    title: str
    model: nn.Module
    x: np.ndarray
    y: np.ndarray  # class ids, already flat: (N,) or (B*T,)
    torch_model: str  # the key into torch_models()


def make_workload(name: str, quick: bool) -> Workload:
    rng = np.random.default_rng(0)
    fw.manual_seed(0)
    if name == "mlp":
        batch = 32 if quick else 1024
        model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                              nn.Linear(1024, 10))
        x = rng.standard_normal((batch, 784), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        title = f"MLP 784-1024-1024-10, batch {batch}"
    elif name == "cnn":
        batch = 8 if quick else 256
        model = ResNet()
        x = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
        y = rng.integers(0, 10, batch)
        title = f"ResNet-8 (CIFAR), batch {batch}, 3x32x32"
    elif name == "gpt":
        batch, T = (4, 32) if quick else (64, BLOCK)
        model = GPT(VOCAB, block_size=BLOCK)
        x = rng.integers(0, VOCAB, (batch, T))
        y = rng.integers(0, VOCAB, batch * T)
        title = f"GPT 2x4x64 (vocab {VOCAB}), batch {batch}, T {T}"
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    n_params = sum(p.numel() for p in model.parameters())
    return Workload(name, f"{title}, {n_params:,} params", model, x, y, name)


def make_step(model, opt, x, y, cross_entropy):
    """The training step, written once: framework and PyTorch take the same calls.
    probe() (memory sampling) runs after the loss and after backward, only when given."""

    def step(probe=None):
        out = model(x)
        loss = cross_entropy(out.reshape(-1, out.shape[-1]), y)
        if probe is not None:
            probe()
        loss.backward()
        if probe is not None:
            probe()
        opt.step()
        opt.zero_grad()
        return loss

    return step


# --- PyTorch twins (torch is imported only when the bench runs) ---------------------------------


def torch_models(torch):
    """The three architectures in torch, with the framework models' parameter names."""
    tnn, TF = torch.nn, torch.nn.functional

    def mlp():
        return tnn.Sequential(tnn.Linear(784, 1024), tnn.ReLU(), tnn.Linear(1024, 1024),
                              tnn.ReLU(), tnn.Linear(1024, 10))

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.shortcut = tnn.Sequential()
            if stride != 1 or cin != cout:
                self.shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False),
                                               tnn.BatchNorm2d(cout))

        def forward(self, x):
            h = self.bn1(self.conv1(x)).relu()
            h = self.bn2(self.conv2(h))
            return (h + self.shortcut(x)).relu()

    class TorchResNet(tnn.Module):
        def __init__(self, blocks=(1, 1, 1), widths=(16, 32, 64), num_classes=10):
            super().__init__()
            self.conv = tnn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
            self.bn = tnn.BatchNorm2d(widths[0])
            layers, c = [], widths[0]
            for i, (n, w) in enumerate(zip(blocks, widths)):
                for j in range(n):
                    layers.append(BasicBlock(c, w, 2 if i > 0 and j == 0 else 1))
                    c = w
            self.layers = tnn.Sequential(*layers)
            self.pool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(c, num_classes)

        def forward(self, x):
            h = self.bn(self.conv(x)).relu()
            return self.fc(self.pool(self.layers(h)).flatten(1))

    class Attention(tnn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            self.n_head = n_head
            self.qkv = tnn.Linear(n_embd, 3 * n_embd)
            self.proj = tnn.Linear(n_embd, n_embd)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).reshape(B, T, 3, self.n_head, C // self.n_head).permute(
                2, 0, 3, 1, 4).unbind(0)
            y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(tnn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            self.ln1 = tnn.LayerNorm(n_embd)
            self.attn = Attention(n_embd, n_head)
            self.ln2 = tnn.LayerNorm(n_embd)
            self.mlp = tnn.Sequential(tnn.Linear(n_embd, 4 * n_embd), tnn.GELU(),
                                      tnn.Linear(4 * n_embd, n_embd), tnn.Dropout(0.0))

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class TorchGPT(tnn.Module):
        def __init__(self, vocab=VOCAB, block_size=BLOCK, n_layer=2, n_head=4, n_embd=64):
            super().__init__()
            self.tok_emb = tnn.Embedding(vocab, n_embd)
            self.pos_emb = tnn.Embedding(block_size, n_embd)
            self.drop = tnn.Dropout(0.0)
            self.blocks = tnn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
            self.ln_f = tnn.LayerNorm(n_embd)
            self.head = tnn.Linear(n_embd, vocab)

        def forward(self, idx):
            pos = torch.arange(idx.shape[1], device=idx.device)
            h = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
            return self.head(self.ln_f(self.blocks(h)))

    return {"mlp": mlp, "cnn": TorchResNet, "gpt": TorchGPT}


# --- running one side ---------------------------------------------------------------------------


class Side:
    """One contender (framework or PyTorch) on one workload: its step, sync and memory probes."""

    def __init__(self, label, step, sync, first_loss, first_s, mem_fn):
        self.label, self.step, self.sync = label, step, sync
        self.first_loss, self.first_s, self.mem_fn = first_loss, first_s, mem_fn
        self.times: list[float] = []
        self.pipelined = float("nan")
        self.mem: tuple[float, float] | None = None  # (peak MiB, reserved MiB)

    def timed_step(self):
        self.sync()
        t0 = time.perf_counter()
        self.step()
        self.sync()
        self.times.append(time.perf_counter() - t0)

    def time_pipelined(self, n):
        self.sync()
        t0 = time.perf_counter()
        for _ in range(n):
            self.step()
        self.sync()
        self.pipelined = (time.perf_counter() - t0) / n

    @property
    def median(self):
        return statistics.median(self.times)


def first_step(step, sync):
    """Run the first step (CuPy compiles its kernels here), returning (loss, seconds)."""
    sync()
    t0 = time.perf_counter()
    loss = step().item()
    sync()
    return loss, time.perf_counter() - t0


def framework_side(w: Workload, dev) -> Side:
    model = w.model.to(dev)
    x, y = fw.from_numpy(w.x).to(dev), fw.from_numpy(w.y).to(dev)
    opt = fw.optim.AdamW(model.parameters(), lr=LR)
    step = make_step(model, opt, x, y, F.cross_entropy)
    sync = fw.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    loss, secs = first_step(step, sync)

    def mem():
        if dev.type != "cuda":
            return None
        fw.cuda.reset_peak_memory_stats()
        step(probe=fw.cuda.max_memory_allocated)
        sync()
        return fw.cuda.max_memory_allocated() / MiB, fw.cuda.memory_reserved() / MiB

    return Side("framework", step, sync, loss, secs, mem)


def torch_side(torch, w: Workload, state: dict, dev) -> Side:
    model = torch_models(torch)[w.torch_model]()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    tdev = torch.device(str(dev))
    model = model.to(tdev)
    x, y = torch.from_numpy(w.x).to(tdev), torch.from_numpy(w.y).to(tdev)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    step = make_step(model, opt, x, y, torch.nn.functional.cross_entropy)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    loss, secs = first_step(step, sync)

    def mem():
        if dev.type != "cuda":
            return None
        torch.cuda.reset_peak_memory_stats()
        step()
        sync()
        return torch.cuda.max_memory_allocated() / MiB, torch.cuda.max_memory_reserved() / MiB

    return Side(f"pytorch {torch.__version__}", step, sync, loss, secs, mem)


def run_workload(w: Workload, dev, torch, steps: int, warmup: int) -> dict:
    # The initial weights, read before the first step changes them, for PyTorch to load.
    state = {k: v.detach().numpy().copy() for k, v in w.model.state_dict().items()}
    sides = [framework_side(w, dev)]
    if torch is not None:
        sides.append(torch_side(torch, w, state, dev))
    for side in sides:
        for _ in range(max(0, warmup - 1)):
            side.step()
        side.sync()
    for _ in range(steps):  # alternate, so drift in clocks or load hits both alike
        for side in sides:
            side.timed_step()
    for side in sides:
        side.time_pipelined(steps)
        side.mem = side.mem_fn()

    fwk = sides[0]
    print(f"\n{w.name}: {w.title}")
    for side in sides:
        mem = ("" if side.mem is None else
               f"   peak {side.mem[0]:8.1f} MiB (reserved {side.mem[1]:.1f})")
        print(f"  {side.label:20s} {side.median * 1e3:9.3f} ms/step  "
              f"(pipelined {side.pipelined * 1e3:8.3f}; first step {side.first_s:6.2f} s, "
              f"loss {side.first_loss:.4f}){mem}")
    result = {"name": w.name, "framework": fwk.median, "pytorch": None, "ratio": None,
              "agree": True}
    if len(sides) == 2:
        pt = sides[1]
        ratio = fwk.median / pt.median
        agree = abs(fwk.first_loss - pt.first_loss) <= LOSS_RTOL * max(1.0, abs(pt.first_loss))
        verdict = "ok" if ratio <= GOAL else "over goal"
        print(f"  framework / pytorch = {ratio:.2f}x per step, "
              f"{fwk.pipelined / pt.pipelined:.2f}x pipelined (goal <= {GOAL}x: {verdict})")
        if not agree:
            print(f"  WARNING: first-step losses disagree (framework {fwk.first_loss:.6f}, "
                  f"pytorch {pt.first_loss:.6f}): the timings compare different computations")
        result.update(pytorch=pt.median, ratio=ratio, agree=agree)
    return result


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per contender (default 50; 3 with --quick)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps first, the first included (default 5; 1 with --quick)")
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated subset of {','.join(MODELS)} (default all)")
    p.add_argument("--quick", action="store_true", help="tiny batches and few steps (smoke test)")
    p.add_argument("--no-torch", action="store_true", help="time the framework only")
    args = p.parse_args(argv)
    args.steps = args.steps if args.steps is not None else (3 if args.quick else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    if args.steps < 1:
        p.error(f"--steps must be at least 1, got {args.steps}")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown or not args.models:
        p.error(f"--models: unknown {', '.join(unknown) or '(empty)'}; choose from "
                f"{','.join(MODELS)}")
    try:
        args.device = fw.device(args.device)
    except RuntimeError as e:
        p.error(f"--device: {e}")
    return args


def setup_torch(args):
    """PyTorch on the same device with the same arithmetic, or None (and why) to skip it."""
    if args.no_torch:
        return None, "skipped (--no-torch)"
    torch = try_import_torch()
    if torch is None:
        return None, "not installed: framework only"
    if args.device.type == "cuda":
        if not torch.cuda.is_available():
            return None, f"{torch.__version__} has no CUDA here: framework only"
        torch.cuda.set_device(args.device.index or 0)
        torch.backends.cuda.matmul.allow_tf32 = False  # the framework computes in full float32
        torch.backends.cudnn.allow_tf32 = False
        note = f"{torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, TF32 off"
    else:
        # try_import_torch sets 1 thread; give it what NumPy's BLAS uses (all cores by default)
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(threads)
        note = f"{torch.__version__}, CPU, {threads} threads"
    return torch, note


def describe_device(dev) -> str:
    if dev.type == "cpu":
        return "cpu (NumPy)"
    cp = _backend.require_cupy()
    props = cp.cuda.runtime.getDeviceProperties(dev.index or 0)
    name = props["name"]
    name = name.decode() if isinstance(name, bytes) else name
    return f"{dev} ({name}, {props['totalGlobalMem'] / 2**30:.0f} GiB; CuPy {cp.__version__})"


def main(argv=None) -> int:
    args = parse_args(argv)
    dev = args.device
    if dev.type == "cuda":
        try:
            _backend.require_cupy()  # says whether CuPy is missing or sees no GPU
            if (dev.index or 0) >= fw.cuda.device_count():
                raise RuntimeError(f"{dev} asked for, but only {fw.cuda.device_count()} "
                                   "CUDA device(s) are visible")
        except RuntimeError as e:
            print(f"bench/gpu.py: {e}\n(for a CPU smoke test of this script: "
                  "python bench/gpu.py --device cpu --quick)", file=sys.stderr)
            return 2
        fw.cuda.set_device(dev)
    torch, torch_note = setup_torch(args)
    print(f"framework {getattr(fw, '__version__', '?')} on {describe_device(dev)}; "
          f"pytorch: {torch_note}")
    print(f"training step = forward, cross-entropy, backward, AdamW(lr={LR}), zero_grad; "
          f"float32; {args.warmup} warm-up step(s), then median of {args.steps} "
          f"{'synchronised ' if dev.type == 'cuda' else ''}steps"
          f"{' (--quick: tiny batches)' if args.quick else ''}")

    results, failed = [], []
    for name in args.models:
        try:
            results.append(run_workload(make_workload(name, args.quick), dev, torch,
                                        args.steps, args.warmup))
        except Exception:  # one model's failure should not hide the others' numbers
            print(f"\n{name}: FAILED")
            traceback.print_exc(file=sys.stdout)
            failed.append(name)

    print("\nsummary (ms/step, median)")
    print(f"  {'model':6s} {'framework':>10s} {'pytorch':>10s} {'ratio':>7s}")
    for r in results:
        pt = "-" if r["pytorch"] is None else f"{r['pytorch'] * 1e3:10.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:6.2f}x"
        flag = "" if r["agree"] else "  (losses disagree)"
        print(f"  {r['name']:6s} {r['framework'] * 1e3:10.3f} {pt:>10s} {ratio:>7s}{flag}")
    for name in failed:
        print(f"  {name:6s} FAILED (traceback above)")
    if dev.type == "cuda":
        print(f"framework.cuda.max_memory_allocated() at exit: "
              f"{fw.cuda.max_memory_allocated() / MiB:.1f} MiB (sampled peak; see per-model lines)")
    return 1 if failed or not all(r["agree"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
