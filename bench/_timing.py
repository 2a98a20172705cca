"""Shared timing helper for the bench scripts: best-of-N medians, in one process."""

from __future__ import annotations

import statistics
import time


def per_call_seconds(fn, *, repeat=7, min_time=0.2):
    """Median seconds per call of fn() over `repeat` rounds, each lasting at least min_time."""
    fn()  # warm up
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time / 4:
            break
        n *= 2
    n = max(1, int(n * (min_time / max(dt, 1e-9))))
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t0) / n)
    return statistics.median(rounds)


def try_import_torch():
    try:
        import torch

        torch.set_num_threads(1)
        return torch
    except ImportError:
        return None
