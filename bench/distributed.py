"""Data-parallel scaling: training throughput of a matmul-heavy MLP with 1 and 2 MPI processes.

    python bench/distributed.py            # launches the runs below through mpiexec, prints a table
    python bench/distributed.py --batch 256 --hidden 512     # less compute per step

The global batch is fixed (strong scaling): 1 process trains on all of it, 2 processes on half
each, averaging gradients with DistributedDataParallel. On a 2-core machine 2x is the ceiling
only when each process runs ONE thread (OMP/OPENBLAS/MKL_NUM_THREADS=1): otherwise the
processes' BLAS thread pools fight over the same cores. For reference, one process with a
2-thread BLAS is measured too (threads inside matmul vs processes over the batch).

What does not split: every rank runs the optimizer step on all parameters and all-reduces
all gradients (10 MB here), so the larger the batch (compute per step), the closer to 2x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(args):
    import numpy as np

    import framework as fw
    import framework.distributed as dist
    import framework.nn as nn
    import framework.optim as optim

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    fw.manual_seed(0)
    model = nn.Sequential(nn.Linear(args.inputs, args.hidden), nn.ReLU(),
                          nn.Linear(args.hidden, args.hidden), nn.ReLU(),
                          nn.Linear(args.hidden, args.hidden), nn.ReLU(),
                          nn.Linear(args.hidden, 10))
    model = nn.parallel.DistributedDataParallel(model)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    per_rank = args.batch // world
    g = np.random.default_rng(rank)
    x = fw.tensor(g.standard_normal((per_rank, args.inputs)).astype(np.float32))
    y = fw.tensor(g.integers(0, 10, per_rank))

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    rounds, cpu_rounds = [], []
    for _ in range(args.rounds):
        dist.barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.steps):
            step()
        cpu_rounds.append(time.process_time() - c0)
        dist.barrier()
        rounds.append(time.perf_counter() - t0)
    # CPU seconds of the busiest rank (MPI's waits spin, so they count): close to the wall
    # time on an idle machine with one thread per process, and much less disturbed by other
    # programs competing for the cores.
    cpus = [None] * world
    dist.all_gather_object(cpus, min(cpu_rounds))
    if rank == 0:
        best = min(rounds)
        n_params = sum(p.numel() for p in model.parameters())
        print(json.dumps({"world": world, "seconds_per_step": best / args.steps,
                          "samples_per_s": args.batch * args.steps / best,
                          "cpu_seconds_per_step": max(cpus) / args.steps,
                          "grad_mb": 4 * n_params / 2**20}))
    dist.destroy_process_group()


def launch(args, n_procs, threads):
    mpiexec = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else "mpiexec"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    cmd = [mpiexec, "-n", str(n_procs), sys.executable, __file__, "--worker",
           "--steps", str(args.steps), "--rounds", str(args.rounds), "--hidden",
           str(args.hidden), "--inputs", str(args.inputs), "--batch", str(args.batch)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        sys.exit("needs an MPI launcher: pip install mpi4py mpich (or pip install -e .[mpi])")
    except subprocess.CalledProcessError as e:
        sys.exit(f"{' '.join(cmd)} failed:\n{e.stdout}\n{e.stderr}")
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=5, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=3, help="best of this many timed rounds")
    p.add_argument("--repeat", type=int, default=2, help="launches per configuration")
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--inputs", type=int, default=512)
    p.add_argument("--batch", type=int, default=1024, help="global batch (split across ranks)")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    print(f"MLP {args.inputs}-{args.hidden}x3-10, global batch {args.batch}, SGD momentum, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews this)")
    configs = {"1 process x 1 thread": (1, 1), "1 process x 2 threads": (1, 2),
               "2 processes x 1 thread": (2, 1), "2 processes x 2 threads": (2, 2)}
    best = {}
    for _ in range(args.repeat):  # interleaved, best of each: load from other work drifts
        for name, (n_procs, threads) in configs.items():
            r = launch(args, n_procs, threads)
            if name not in best or r["samples_per_s"] > best[name]["samples_per_s"]:
                best[name] = r
    base = best["1 process x 1 thread"]
    print(f"gradients: {base['grad_mb']:.1f} MB per step all-reduced")
    print(f"{'':26s}{'ms/step':>9s}{'samples/s':>11s}{'vs 1x1':>8s}  {'CPU ms/step':>12s}")
    for name, r in best.items():
        cpu = (f"{1e3 * r['cpu_seconds_per_step']:12.1f}" if name.endswith("1 thread") else
               f"{'(threads)':>12s}")
        print(f"{name:26s}{1e3 * r['seconds_per_step']:9.1f}{r['samples_per_s']:11.0f}"
              f"{r['samples_per_s'] / base['samples_per_s']:7.2f}x  {cpu}")
    two = best["2 processes x 1 thread"]
    wall = base["seconds_per_step"] / two["seconds_per_step"]
    cpu = base["cpu_seconds_per_step"] / two["cpu_seconds_per_step"]
    print(f"scaling 1 -> 2 processes (1 thread each): {wall:.2f}x by wall clock, {cpu:.2f}x by "
          "CPU time per step of the busiest rank (about what an idle machine shows)")


if __name__ == "__main__":
    main()
