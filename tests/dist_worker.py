"""The multi-process half of tests/test_distributed.py: `mpiexec -n 2 python tests/dist_worker.py
OUT.json`. Every rank runs every check; rank 0 writes what both ranks saw to OUT.json and the
pytest side asserts on it (one test per check, with readable failures).

Also a small data-parallel training script: the reference for each DDP check is a single
process that trains a copy of the model on the same global batches.
"""

from __future__ import annotations

import json
import sys
import traceback

import numpy as np

import framework as fw
import framework.distributed as dist
import framework.nn as nn
import framework.optim as optim
from framework.data import DataLoader, DistributedSampler, TensorDataset
from framework.nn.parallel import DistributedDataParallel as DDP

CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def gather(obj):
    """[rank 0's obj, rank 1's obj, ...] on every rank."""
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def make_mlp(seed, bias_frozen=False):
    fw.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 3))
    if bias_frozen:
        model[0].bias.requires_grad_(False)
    return model


def params_of(model):
    return {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


def max_diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# --- collectives ---------------------------------------------------------------------------


@check
def collectives():
    r = dist.get_rank()
    out = {"rank": r, "world_size": dist.get_world_size(), "backend": dist.get_backend()}
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN,
               dist.ReduceOp.PRODUCT, "sum", "mean", "max"):
        t = fw.tensor([1.0, -2.0, 3.0]) * (r + 1)
        dist.all_reduce(t, op=op)
        out[f"float32 {op}"] = t.tolist()
    t = fw.tensor([1, 7]) * (r + 2)
    dist.all_reduce(t, op="max")
    out["int64 max"] = t.tolist()
    t = fw.tensor([r == 0, False])
    dist.all_reduce(t)
    out["bool sum"] = t.tolist()
    t = (fw.arange(6.0).reshape(2, 3) * (r + 1)).t()  # not contiguous
    dist.all_reduce(t)
    out["non-contiguous sum"] = t.tolist()
    t = fw.tensor([10.0 * r, 1.0 + r], dtype=fw.float64)
    dist.broadcast(t, src=1)
    out["broadcast from 1"] = t.tolist()
    parts = [fw.zeros(2, dtype=fw.int32) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, fw.tensor([r, 10 * r], dtype=fw.int32))
    out["all_gather"] = [p.tolist() for p in parts]
    t = fw.ones(3) * r
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    out["async sum"] = t.tolist()
    objs = [{"r": r}, f"from rank {r}"]
    dist.broadcast_object_list(objs, src=0)
    out["broadcast_object_list"] = objs
    dist.barrier()
    return gather(out)


# --- DistributedDataParallel -------------------------------------------------------------------


def global_batches(n_steps, n=64, per_rank=8, seed=0):
    """The dataset, and for each step the global batch (rank 0's shard batch, then rank 1's),
    as the DistributedSampler and DataLoader give them to each rank."""
    g = np.random.default_rng(123)
    X = fw.tensor(g.standard_normal((n, 6)).astype(np.float32))
    Y = fw.tensor(g.standard_normal((n, 3)).astype(np.float32))
    data = TensorDataset(X, Y)
    world = dist.get_world_size()
    loaders = [DataLoader(data, batch_size=per_rank,
                          sampler=DistributedSampler(data, world, r, shuffle=True, seed=seed))
               for r in range(world)]
    batches = []
    epoch = 0
    while len(batches) < n_steps:
        for ld in loaders:
            ld.sampler.set_epoch(epoch)
        for parts in zip(*loaders):
            batches.append(parts)
        epoch += 1
    return batches[:n_steps]


def train_both(n_steps=6, bucket_cap_mb=0.001, bias_frozen=False, momentum=0.9):
    """Train a DDP replica on this rank's shards, and a single-process reference on the whole
    global batches; return (ddp model, reference model)."""
    r = dist.get_rank()
    ref = make_mlp(0, bias_frozen)
    local = make_mlp(100 + r, bias_frozen)  # different init: DDP must copy rank 0's ...
    if r == 0:
        local.load_state_dict(ref.state_dict())  # ... which is the reference's
    model = DDP(local, bucket_cap_mb=bucket_cap_mb)
    loss_fn = nn.MSELoss()
    opt = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05,
                    momentum=momentum)
    ref_opt = optim.SGD([p for p in ref.parameters() if p.requires_grad], lr=0.05,
                        momentum=momentum)
    for parts in global_batches(n_steps):
        x, y = parts[r]
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        X = fw.cat([p[0] for p in parts])
        Y = fw.cat([p[1] for p in parts])
        ref_opt.zero_grad()
        loss_fn(ref(X), Y).backward()
        ref_opt.step()
    return model, ref


@check
def ddp_matches_single_process():
    model, ref = train_both()
    mine = params_of(model.module)
    return {"diff_to_reference": gather(max_diff(mine, params_of(ref))),
            "diff_between_ranks": max_diff(*gather(mine)),
            "bucket_sizes": model._bucket_sizes,
            "n_params": len(list(model.parameters())),
            "state_dict_keys": list(model.state_dict())}


@check
def ddp_one_bucket_and_plain_sgd():
    model, ref = train_both(n_steps=3, bucket_cap_mb=25, momentum=0.0)
    return {"diff_to_reference": gather(max_diff(params_of(model.module), params_of(ref))),
            "bucket_sizes": model._bucket_sizes}


@check
def ddp_frozen_parameter():
    model, ref = train_both(n_steps=3, bias_frozen=True)
    frozen = model.module[0].bias
    init = make_mlp(0)[0].bias.detach().numpy()
    return {"diff_to_reference": gather(max_diff(params_of(model.module), params_of(ref))),
            "frozen_grad_is_none": gather(frozen.grad is None),
            "frozen_diff_to_rank0_init": gather(float(np.abs(frozen.detach().numpy() - init).max())),
            "n_synced_params": sum(model._bucket_sizes)}


@check
def ddp_init_broadcast():
    r = dist.get_rank()
    local = make_mlp(7 + r)
    bn = nn.BatchNorm1d(3)
    local.append(bn)
    with fw.no_grad():
        bn.running_mean.fill_(float(r))  # a buffer that differs across ranks
    before = params_of(local)
    model = DDP(local)
    after = params_of(model.module)
    rank0_before = gather(before)[0]
    model.eval()
    with fw.no_grad():
        bn.running_var.fill_(float(r + 2))
        model(fw.zeros(2, 6))  # buffers are broadcast from rank 0 before each forward
    return {"diff_to_rank0_init": gather(max_diff(after, rank0_before)),
            "running_mean_after_init": gather(bn.running_mean.tolist()),
            "running_var_after_forward": gather(bn.running_var.tolist())}


@check
def ddp_no_sync():
    """Two micro-batches per step, the first under no_sync: the same update as one process
    summing the two global micro-batches' gradients."""
    r = dist.get_rank()
    ref = make_mlp(0)
    model = DDP(make_mlp(0))
    loss_fn = nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=0.05)
    ref_opt = optim.SGD(ref.parameters(), lr=0.05)
    unsynced = []
    batches = global_batches(6)
    for micro1, micro2 in zip(batches[0::2], batches[1::2]):
        opt.zero_grad()
        with model.no_sync():
            x, y = micro1[r]
            loss_fn(model(x), y).backward()
        unsynced.append(max_diff(*gather({"g": model.module[0].weight.grad.numpy()})))
        x, y = micro2[r]
        loss_fn(model(x), y).backward()
        opt.step()
        ref_opt.zero_grad()
        for parts in (micro1, micro2):
            X, Y = fw.cat([p[0] for p in parts]), fw.cat([p[1] for p in parts])
            loss_fn(ref(X), Y).backward()
        ref_opt.step()
    return {"diff_to_reference": gather(max_diff(params_of(model.module), params_of(ref))),
            "grad_diff_between_ranks_under_no_sync": unsynced}


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 8)
        self.head_a = nn.Linear(8, 3)
        self.head_b = nn.Linear(8, 3)

    def forward(self, x, use_b=False):
        h = self.body(x).tanh()
        return self.head_b(h) if use_b else self.head_a(h)


@check
def ddp_unused_parameters():
    r = dist.get_rank()
    loss_fn = nn.MSELoss()
    x, y = fw.ones(4, 6) * (r + 1), fw.zeros(4, 3)
    out = {}
    fw.manual_seed(0)
    model = DDP(TwoHeads(), bucket_cap_mb=0.0001)
    loss_fn(model(x), y).backward()  # head_b gets no gradient: the reduction cannot finish
    try:
        model(x)
        out["error"] = None
    except RuntimeError as e:
        out["error"] = str(e)
    fw.manual_seed(0)
    model = DDP(TwoHeads(), find_unused_parameters=True, bucket_cap_mb=0.0001)
    # rank 1 uses head_b, rank 0 does not: head_b's gradient is averaged with rank 0's zeros
    loss_fn(model(x, use_b=(r == 1)), y).backward()
    grads = {n: (None if p.grad is None else p.grad.numpy().tolist())
             for n, p in model.module.named_parameters()}
    out["grads"] = gather(grads)
    model.module.zero_grad()
    loss_fn(model(x), y).backward()  # head_b unused on every rank: its .grad stays None
    out["head_b_grad_none_when_unused_everywhere"] = gather(model.module.head_b.weight.grad is None)
    # the reference: each rank's local gradients, averaged here
    fw.manual_seed(0)
    plain = TwoHeads()
    loss_fn(plain(x, use_b=(r == 1)), y).backward()
    local = {n: (np.zeros(p.shape) if p.grad is None else p.grad.numpy()).tolist()
             for n, p in plain.named_parameters()}
    out["local_grads"] = gather(local)
    return out


@check
def ddp_model_mismatch():
    r = dist.get_rank()
    model = nn.Linear(4, 3 + r)
    try:
        DDP(model)
    except RuntimeError as e:
        return gather(str(e))
    return gather(None)


@check
def errors():
    """What each misuse raises (type and message), and that a dropped wrapper unhooks."""
    import gc

    def error_of(fn):
        try:
            fn()
        except Exception as e:
            return [type(e).__name__, str(e)]
        return None

    frozen = nn.Linear(2, 2).requires_grad_(False)
    model = nn.Linear(3, 2)
    wrapper = DDP(model)
    hooks_while_wrapped = len(model.weight._hooks)
    del wrapper
    gc.collect()
    return {
        "avg int": error_of(lambda: dist.all_reduce(fw.tensor([1, 2]), op=dist.ReduceOp.AVG)),
        "unknown op": error_of(lambda: dist.all_reduce(fw.ones(2), op="median")),
        "gather list length": error_of(lambda: dist.all_gather([fw.zeros(2)], fw.ones(2))),
        "gather shape": error_of(lambda: dist.all_gather([fw.zeros(3), fw.zeros(3)], fw.ones(2))),
        "broadcast src": error_of(lambda: dist.broadcast(fw.ones(2), src=2)),
        "not a tensor": error_of(lambda: dist.all_reduce([1.0, 2.0])),
        "init twice": error_of(lambda: dist.init_process_group("mpi")),
        "other group": error_of(lambda: dist.get_rank(group=object())),
        "ddp frozen": error_of(lambda: DDP(frozen)),
        "ddp device_ids on cpu": error_of(lambda: DDP(nn.Linear(2, 2), device_ids=[0])),
        "ddp not a module": error_of(lambda: DDP(lambda x: x)),
        "hooks while wrapped": hooks_while_wrapped,
        "hooks after the wrapper is gone": len(model.weight._hooks),
        "mpi available": dist.is_mpi_available(),
    }


def main(path):
    dist.init_process_group("mpi")
    results = {}
    for name, fn in CHECKS.items():
        if len(sys.argv) > 2 and name not in sys.argv[2:]:
            continue
        try:
            results[name] = {"ok": True, "value": fn()}
        except Exception:
            results[name] = {"ok": False, "error": traceback.format_exc()}
            # (a check that failed on one rank only would leave the other waiting in a
            # collective: the ranks run the same code, so they fail together)
    if dist.get_rank() == 0:
        with open(path, "w") as f:
            json.dump(results, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
