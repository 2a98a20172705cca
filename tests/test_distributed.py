"""framework.distributed, DistributedDataParallel and DistributedSampler.

The multi-process checks run once, in `mpiexec -n 2 python tests/dist_worker.py` (skipped
with the reason when MPI is not installed); each test below asserts one of its results. The
pytest process itself never starts MPI. The NCCL backend is checked on fakes of CuPy's
NCCL bindings (the real GPU path needs GPUs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import framework as fw
import framework.distributed as dist
import framework.nn as nn
from framework.data import DataLoader, DistributedSampler, TensorDataset

ROOT = Path(__file__).resolve().parent.parent
MPI_HINT = "pip install mpi4py mpich (or pip install -e .[mpi])"


# --- DistributedSampler (no processes needed) ------------------------------------------------


def shards(n, world, **kw):
    return [list(DistributedSampler(range(n), world, r, **kw)) for r in range(world)]


@pytest.mark.parametrize("n,world", [(12, 2), (10, 3), (7, 4), (2, 5), (64, 2)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_sampler_shards_are_disjoint_and_cover(n, world, shuffle):
    parts = shards(n, world, shuffle=shuffle, seed=3)
    per_rank = -(-n // world)
    assert [len(p) for p in parts] == [per_rank] * world, f"shard sizes n={n} world={world}"
    flat = [i for p in parts for i in p]
    assert sorted(set(flat)) == list(range(n)), f"coverage n={n} world={world}"
    padding = per_rank * world - n
    assert len(flat) - len(set(flat)) == padding, f"only the padding repeats n={n} world={world}"
    if padding == 0:
        assert len(set(flat)) == len(flat)


def test_sampler_pads_and_drops_as_pytorch():
    # PyTorch: [0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1] (padding repeats the order's start)
    assert shards(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    assert shards(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]
    assert shards(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert len(DistributedSampler(range(10), 3, 2, drop_last=True)) == 3
    assert len(DistributedSampler(range(10), 3, 2)) == 4


def test_sampler_epochs_reshuffle_identically_on_all_ranks():
    samplers = [DistributedSampler(range(20), 2, r, seed=5) for r in range(2)]
    first = [list(s) for s in samplers]
    assert [list(s) for s in samplers] == first, "same epoch: same order"
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first, "set_epoch changes the shuffle"
    assert sorted(second[0] + second[1]) == list(range(20)), "still disjoint after set_epoch"
    other_seed = DistributedSampler(range(20), 2, 0, seed=6)
    assert list(other_seed) != first[0]
    unshuffled = DistributedSampler(range(20), 2, 1, shuffle=False)
    assert list(unshuffled) == list(range(1, 20, 2))


def test_sampler_feeds_a_dataloader():
    data = TensorDataset(fw.arange(10.0))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    got = [b[0].tolist() for b in loader]
    assert got == [[1.0, 3.0], [5.0, 7.0], [9.0]]


def test_sampler_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))


# --- errors without a process group, or without MPI / NCCL -------------------------------------


def test_not_initialized_errors():
    assert dist.is_available() and not dist.is_initialized()
    msg = "Default process group has not been initialized, please make sure to call init_process_group"
    for fn in (dist.get_rank, dist.get_world_size, dist.barrier, dist.destroy_process_group,
               lambda: dist.all_reduce(fw.ones(2)), lambda: dist.broadcast(fw.ones(2), 0)):
        with pytest.raises(ValueError, match=msg):
            fn()
    with pytest.raises(ValueError, match=msg):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_invalid_backend_and_init_method():
    with pytest.raises(ValueError, match=r"Invalid backend: 'foo'.*'mpi'.*'nccl'"):
        dist.init_process_group("foo")
    with pytest.raises(ValueError, match="there is no gloo here: use 'mpi'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match=r"init_method='tcp://1.2.3.4:5' is not supported.*mpiexec"):
        dist.init_process_group("mpi", init_method="tcp://1.2.3.4:5")
    assert not dist.is_initialized()


def test_missing_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `import mpi4py` now fails
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(RuntimeError, match=r"mpi4py is not installed.*pip install mpi4py mpich.*\.\[mpi\]"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_missing_mpi_library_says_what_to_install(monkeypatch):
    fake = types.ModuleType("mpi4py")

    def __getattr__(name):  # mpi4py >= 4 raises this when it finds no libmpi
        raise RuntimeError("cannot load MPI library")

    fake.__getattr__ = __getattr__
    monkeypatch.setitem(sys.modules, "mpi4py", fake)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(RuntimeError, match=r"could not load an MPI library \(cannot load MPI library\).*pip install mpi4py mpich"):
        dist.init_process_group("mpi")


@pytest.mark.skipif(fw.cuda.is_available(), reason="checks the error raised without a GPU")
def test_nccl_without_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"CUDA was requested but (CuPy is not installed|no CUDA GPU)"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()
    assert not dist.is_nccl_available()


def test_nccl_missing_library_is_a_clear_error(monkeypatch):
    from framework import _backend

    fake_cupy = types.ModuleType("cupy")
    monkeypatch.setattr(_backend, "require_cupy", lambda: fake_cupy)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", types.ModuleType("cupy.cuda"))
    monkeypatch.setitem(sys.modules, "cupy.cuda.nccl", types.SimpleNamespace(available=False))
    with pytest.raises(RuntimeError, match=r"cupy.cuda.nccl is not available.*nvidia-nccl-cu12"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


# --- the NCCL backend on fakes (what can be checked without GPUs) ------------------------------


class FakeGPUArray:
    """Enough of cupy.ndarray for the NCCL backend: a NumPy array 'on' cuda:device."""

    def __init__(self, a, device=0):
        self.a, self.device = a, types.SimpleNamespace(id=device)
        self.data = types.SimpleNamespace(ptr=a.ctypes.data)

    dtype = property(lambda self: self.a.dtype)
    size = property(lambda self: self.a.size)

    def reshape(self, *shape):
        return FakeGPUArray(self.a.reshape(*shape), self.device.id)

    def view(self, dtype):
        return FakeGPUArray(self.a.view(dtype), self.device.id)

    def __itruediv__(self, k):
        self.a /= k
        return self


def fake_nccl_backend(monkeypatch, rank=1, size=2, has_avg=True, n_gpus=2):
    from framework.distributed import _nccl

    calls = []
    nccl = types.SimpleNamespace(
        available=True, get_unique_id=lambda: ("uid",), NCCL_SUM=0, NCCL_PROD=1, NCCL_MAX=2,
        NCCL_MIN=3, NCCL_INT8=10, NCCL_UINT8=11, NCCL_INT32=12, NCCL_UINT32=13, NCCL_INT64=14,
        NCCL_UINT64=15, NCCL_FLOAT16=16, NCCL_FLOAT32=17, NCCL_FLOAT64=18)
    if has_avg:
        nccl.NCCL_AVG = 4

    class Comm:
        def __init__(self, *args):
            calls.append(("init",) + args)

        def __getattr__(self, name):
            return lambda *args: calls.append((name,) + args)

    nccl.NcclCommunicator = Comm
    used = []
    cp = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: n_gpus),
        Device=lambda i: types.SimpleNamespace(use=lambda: used.append(i)),
        get_current_stream=lambda: types.SimpleNamespace(ptr=99, synchronize=lambda: None)))
    monkeypatch.setattr(_nccl, "import_nccl", lambda: (cp, nccl))
    mpi = types.SimpleNamespace(
        rank=rank, size=size, local_rank=rank, local_size=size,
        comm=types.SimpleNamespace(bcast=lambda obj, root: calls.append(("bcast", obj, root))
                                   or ("uid-from-rank-0",)))
    return _nccl.NCCLBackend(mpi), calls, used


def test_nccl_backend_bootstrap_and_calls(monkeypatch):
    backend, calls, used = fake_nccl_backend(monkeypatch)
    assert used == [1], "rank 1 of a node uses GPU 1"
    assert calls[0] == ("bcast", None, 0), "only rank 0 makes the ncclUniqueId; MPI broadcasts it"
    assert calls[1] == ("init", 2, ("uid-from-rank-0",), 1)
    x = FakeGPUArray(np.ones((2, 3), np.float32), device=1)
    backend.all_reduce(x, "avg").wait()
    assert calls[-1] == ("allReduce", x.data.ptr, x.data.ptr, 6, 17, 4, 99)
    b = FakeGPUArray(np.ones(5, np.bool_), device=1)
    backend.all_reduce(b, "sum")
    assert calls[-1][3:6] == (5, 11, 2), "bool sum = logical or = uint8 max"
    backend.broadcast(x, 0)
    assert calls[-1] == ("broadcast", x.data.ptr, x.data.ptr, 6, 17, 0, 99)
    out = FakeGPUArray(np.zeros((2, 2, 3), np.float32), device=1)
    backend.all_gather(x, out)
    assert calls[-1] == ("allGather", x.data.ptr, out.data.ptr, 6, 17, 99)
    with pytest.raises(RuntimeError, match=r"works on cuda:1, but got a tensor on cuda:0"):
        backend.all_reduce(FakeGPUArray(np.ones(2, np.float32), device=0), "sum")
    with pytest.raises(TypeError, match="NCCL has no int16"):
        backend.all_reduce(FakeGPUArray(np.ones(2, np.int16), device=1), "sum")


def test_nccl_backend_without_ncclavg_divides(monkeypatch):
    backend, calls, _ = fake_nccl_backend(monkeypatch, has_avg=False)
    x = FakeGPUArray(np.full(4, 6.0, np.float32), device=1)
    backend.all_reduce(x, "avg")
    assert calls[-1][5] == 0, "falls back to NCCL_SUM"
    np.testing.assert_allclose(x.a, 3.0, err_msg="then divides by the world size")


def test_nccl_backend_needs_a_gpu_per_process(monkeypatch):
    with pytest.raises(RuntimeError, match=r"one GPU per process, but 2 processes run on this node and it has 1 GPU"):
        fake_nccl_backend(monkeypatch, n_gpus=1)


# --- two processes through mpiexec -------------------------------------------------------------


def _mpiexec():
    for candidate in (Path(sys.executable).parent / "mpiexec", shutil.which("mpiexec")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    return None


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Run tests/dist_worker.py on 2 processes once; {check name: what rank 0 recorded}."""
    if not dist.is_mpi_available():
        pytest.skip(f"needs mpi4py and an MPI library: {MPI_HINT}")
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip(f"needs an MPI launcher (mpiexec): {MPI_HINT}")
    out = tmp_path_factory.mktemp("dist") / "results.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [mpiexec, "-n", "2", sys.executable, str(ROOT / "tests" / "dist_worker.py"), str(out)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    except subprocess.TimeoutExpired as e:  # a check failing on one rank only: a deadlock
        pytest.fail(f"mpiexec -n 2 dist_worker.py hung for 90 s:\n{e.stdout}\n{e.stderr}")
    if proc.returncode != 0 or not out.exists():
        pytest.fail(f"mpiexec -n 2 dist_worker.py failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def result(two_ranks, name):
    r = two_ranks[name]
    assert r["ok"], f"{name} raised on the workers:\n{r.get('error')}"
    return r["value"]


def test_collectives_two_ranks(two_ranks):
    seen = result(two_ranks, "collectives")
    assert [s["rank"] for s in seen] == [0, 1] and {s["world_size"] for s in seen} == {2}
    expected = {  # rank r holds [1, -2, 3] * (r + 1)
        "float32 ReduceOp.SUM": [3.0, -6.0, 9.0], "float32 ReduceOp.AVG": [1.5, -3.0, 4.5],
        "float32 ReduceOp.MAX": [2.0, -2.0, 6.0], "float32 ReduceOp.MIN": [1.0, -4.0, 3.0],
        "float32 ReduceOp.PRODUCT": [2.0, 8.0, 18.0], "float32 sum": [3.0, -6.0, 9.0],
        "float32 mean": [1.5, -3.0, 4.5], "float32 max": [2.0, -2.0, 6.0],
        "int64 max": [3, 21], "bool sum": [True, False],
        "non-contiguous sum": [[0.0, 9.0], [3.0, 12.0], [6.0, 15.0]],
        "broadcast from 1": [10.0, 2.0], "all_gather": [[0, 0], [1, 10]],
        "async sum": [1.0, 1.0, 1.0], "broadcast_object_list": [{"r": 0}, "from rank 0"],
    }
    for rank, s in enumerate(seen):
        for key, want in expected.items():
            assert s[key] == want, f"{key} on rank {rank}"


def test_ddp_matches_single_process_training(two_ranks):
    """6 SGD-momentum steps on 2 ranks = 6 steps of one process on the same global batches."""
    r = result(two_ranks, "ddp_matches_single_process")
    for rank, d in enumerate(r["diff_to_reference"]):
        assert d < 1e-6, f"rank {rank}'s parameters differ from the single process by {d}"
    assert r["diff_between_ranks"] == 0.0, "replicas must stay bit-identical"
    assert len(r["bucket_sizes"]) > 1 and sum(r["bucket_sizes"]) == r["n_params"], (
        f"small bucket_cap_mb gives several buckets covering every parameter: {r['bucket_sizes']}")
    assert r["state_dict_keys"][:2] == ["module.0.weight", "module.0.bias"]
    assert all(k.startswith("module.") for k in r["state_dict_keys"])


def test_ddp_single_bucket(two_ranks):
    r = result(two_ranks, "ddp_one_bucket_and_plain_sgd")
    assert r["bucket_sizes"] == [6], "25 MB holds the whole MLP in one bucket"
    assert max(r["diff_to_reference"]) < 1e-6


def test_ddp_skips_frozen_parameters(two_ranks):
    r = result(two_ranks, "ddp_frozen_parameter")
    assert r["n_synced_params"] == 5, "the frozen bias is in no bucket"
    assert r["frozen_grad_is_none"] == [True, True]
    assert r["frozen_diff_to_rank0_init"] == [0.0, 0.0], "frozen: rank 0's initial value"
    assert max(r["diff_to_reference"]) < 1e-6


def test_ddp_broadcasts_parameters_and_buffers_from_rank0(two_ranks):
    r = result(two_ranks, "ddp_init_broadcast")
    assert r["diff_to_rank0_init"] == [0.0, 0.0]
    assert r["running_mean_after_init"] == [[0.0] * 3, [0.0] * 3]
    assert r["running_var_after_forward"] == [[2.0] * 3, [2.0] * 3], "buffers re-sent each forward"


def test_ddp_no_sync_accumulates_locally_then_averages(two_ranks):
    r = result(two_ranks, "ddp_no_sync")
    assert min(r["grad_diff_between_ranks_under_no_sync"]) > 1e-3, "no_sync must not communicate"
    assert max(r["diff_to_reference"]) < 1e-6


def test_ddp_unused_parameters(two_ranks):
    r = result(two_ranks, "ddp_unused_parameters")
    assert r["error"] is not None and "find_unused_parameters=True" in r["error"]
    assert "head_b.weight, head_b.bias" in r["error"]
    local = r["local_grads"]
    for rank, grads in enumerate(r["grads"]):
        for name, g in grads.items():
            want = (np.array(local[0][name]) + np.array(local[1][name])) / 2
            np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7,
                                       err_msg=f"{name} on rank {rank} (find_unused_parameters)")
    assert r["head_b_grad_none_when_unused_everywhere"] == [True, True]


def test_ddp_different_models_is_a_clear_error(two_ranks):
    errors = result(two_ranks, "ddp_model_mismatch")
    for e in errors:
        assert e is not None and "expects the same model on every rank, but rank 1 has parameter 0" in e
        assert "(4, 4) float32" in e and "rank 0 has (3, 4) float32" in e


@pytest.mark.slow
def test_train_py_distributed_matches_one_process(tmp_path):
    """train.py --distributed on 2 processes = on 1 process (same global batches), and only
    rank 0 prints and writes."""
    if not dist.is_mpi_available() or _mpiexec() is None:
        pytest.skip(f"needs MPI: {MPI_HINT}")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    runs = {}
    for n in (1, 2):
        out_dir = tmp_path / f"n{n}"
        cmd = [_mpiexec(), "-n", str(n), sys.executable, str(ROOT / "train.py"), "--distributed",
               "--steps", "8", "--optimizer", "sgd", "--lr", "0.05", "--out-dir", str(out_dir),
               "--no-progress"]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout}\n{proc.stderr}"
        assert proc.stdout.count("done: final test acc") == 1, f"one log, rank 0's:\n{proc.stdout}"
        assert ("data-parallel over 2 processes" in proc.stdout) == (n == 2)
        runs[n] = fw.load(out_dir / "last.ckpt")
    assert sorted(p.name for p in (tmp_path / "n2").iterdir()) == [
        "best.ckpt", "config.json", "curves.png", "last.ckpt", "metrics.jsonl"]
    one, two = runs[1]["model"], runs[2]["model"]
    assert list(one) == list(two), "checkpoints hold the plain model's keys (no 'module.')"
    for k in one:
        np.testing.assert_allclose(two[k].numpy(), one[k].numpy(), rtol=0, atol=1e-6,
                                   err_msg=f"{k} after 8 steps on 2 processes vs 1")


def test_misuse_errors(two_ranks):
    r = result(two_ranks, "errors")
    expected = {
        "avg int": ("TypeError", "ReduceOp.AVG needs a floating-point tensor, got framework.int64"),
        "unknown op": ("ValueError", "Unknown reduce op 'median'"),
        "gather list length": ("ValueError", "tensor_list must be a list of world_size=2 tensors, got 1"),
        "gather shape": ("ValueError", "tensor_list[0] is (3,) framework.float32 on cpu, but tensor is (2,)"),
        "broadcast src": ("ValueError", "invalid src 2, the world size is 2"),
        "not a tensor": ("TypeError", "argument 'tensor' must be Tensor, not list"),
        "init twice": ("ValueError", "trying to initialize the default process group twice!"),
        "other group": ("ValueError", "has one process group (all ranks); pass group=None"),
        "ddp frozen": ("RuntimeError", "DistributedDataParallel is not needed when a module doesn't have any parameter that requires a gradient."),
        "ddp device_ids on cpu": ("ValueError", "device_ids and output_device arguments only work with single-device GPU modules"),
        "ddp not a module": ("TypeError", "DistributedDataParallel expects a Module, got function"),
    }
    for key, (kind, message) in expected.items():
        assert r[key] is not None, f"{key}: no error raised"
        assert r[key][0] == kind and message in r[key][1], f"{key}: got {r[key]}"
    assert r["hooks while wrapped"] == 1 and r["hooks after the wrapper is gone"] == 0
    assert r["mpi available"]
