"""DistributedDataParallel: one model replica per process, gradients averaged in buckets.

    dist.init_process_group("mpi")                 # under `mpiexec -n 2 python train.py`
    model = DistributedDataParallel(model)         # rank 0's weights are copied to every rank
    loss_fn(model(x_shard), y_shard).backward()    # .grad is now the mean over all ranks

How the gradients are averaged (PyTorch's Reducer, in small):
- At construction, the trainable parameters are laid out in buckets of about bucket_cap_mb
  (one flat array per bucket, one dtype and device each; the first bucket 1 MiB, as
  PyTorch's), in reverse order of `parameters()`, which is about the order backward produces
  their gradients.
- A hook on each parameter copies its local gradient into its bucket's slice when backward
  reaches it. When a bucket is full it starts one all-reduce (non-blocking over MPI, so it
  proceeds while backward goes on); buckets start in index order on every rank, so the ranks'
  collectives always match.
- The hook of the last parameter waits for every bucket and writes the averages into every
  `.grad`. (The engine has no end-of-backward callback: the last hook is where we know it.)
- The hooks only act after a forward through this wrapper with grad enabled and outside
  `no_sync()`, so gradients accumulate locally under no_sync and the next synced backward
  averages the sum.
"""

from __future__ import annotations

import weakref
from contextlib import contextmanager

import numpy as np

from ..._tensor import Tensor, wrap
from ...autograd.grad_mode import is_grad_enabled
from ...autograd.node import AccumulateGrad
from ..module import Module

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES

_UNUSED_HELP = (
    "Expected to have finished reduction in the prior iteration before starting a new one. "
    "This error indicates that your module has parameters that were not used in producing "
    "loss. You can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `framework.nn.parallel.DistributedDataParallel`, and by "
    "making sure all `forward` function outputs participate in calculating loss. Parameters "
    "that did not receive a gradient on this rank: {names}"
)


class DistributedDataParallel(Module):
    """Data parallelism over framework.distributed's process group.

    module: the replica (already on its device). broadcast_buffers: copy rank 0's buffers
    (e.g. BatchNorm's running stats) to all ranks before each forward. bucket_cap_mb: bucket
    size (25, as PyTorch). find_unused_parameters: after each forward, mark parameters the
    output does not depend on as ready (else such parameters make backward wait forever;
    PyTorch's error is raised at the next forward). Frozen parameters are skipped.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False):
        super().__init__()
        from ...distributed.process_group import _group

        group = _group(process_group)  # ValueError before init_process_group, as PyTorch
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel expects a Module, got {type(module).__name__}")
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(
                "DistributedDataParallel is not needed when a module doesn't have any parameter "
                "that requires a gradient."
            )
        devices = {p.device for _, p in module.named_parameters()}
        if device_ids is not None or output_device is not None:
            wanted = {_as_device(d) for d in (device_ids or [])} | (
                {_as_device(output_device)} if output_device is not None else set())
            if any(d.type == "cpu" for d in devices) or not wanted <= devices:
                raise ValueError(
                    "DistributedDataParallel device_ids and output_device arguments only work "
                    "with single-device GPU modules (pass the module's own device, or leave "
                    f"them out), but got device_ids {device_ids}, output_device "
                    f"{output_device}, and module parameters {devices}."
                )
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self.process_group = group
        self._world_size = group.size()
        self._buffers_to_sync = [b for b in module.buffers()]
        if self._world_size > 1:
            _verify_same_model(group, named)
            if init_sync:
                _broadcast_coalesced(group, [p for p in module.parameters()] + self._buffers_to_sync)
        # one process: nothing to average, so no hooks (the model trains exactly as unwrapped)
        self._reducer = (_Reducer(named, self.bucket_bytes_cap, group, find_unused_parameters)
                         if self._world_size > 1 else None)

    def forward(self, *inputs, **kwargs):
        reducer = self._reducer
        sync = reducer is not None and self.require_backward_grad_sync and is_grad_enabled()
        if sync:
            reducer.check_prior_reduction_finished()
        if self.broadcast_buffers and self._buffers_to_sync and self._world_size > 1:
            _broadcast_coalesced(self.process_group, self._buffers_to_sync)
        output = self.module(*inputs, **kwargs)
        if sync:
            reducer.prepare_for_backward(output if self.find_unused_parameters else None)
        return output

    @contextmanager
    def no_sync(self):
        """Backward inside this context only accumulates local gradients; the first backward
        after it averages the accumulated sums (gradient accumulation without extra traffic)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @property
    def _bucket_sizes(self):
        """Number of parameters per bucket (for tests and for the curious)."""
        return [] if self._reducer is None else [len(b.params) for b in self._reducer.buckets]


def _as_device(d):
    from ..._backend import as_device

    return as_device(d)


def _verify_same_model(group, named):
    """Every rank must hold the same parameters, else the buckets would not line up."""
    mine = [f"{tuple(p.shape)} {str(p.dtype).replace('framework.', '')}" for _, p in named]
    everyone = group.backend.all_gather_object(mine)
    for r, theirs in enumerate(everyone):
        if theirs != everyone[0]:
            diff = next((i for i, (a, b) in enumerate(zip(everyone[0], theirs)) if a != b), None)
            if diff is None:
                what = f"{len(theirs)} trainable parameters, while rank 0 has {len(everyone[0])}"
            else:
                what = (f"parameter {diff} ({named[diff][0]}) of shape and dtype {theirs[diff]}, "
                        f"while rank 0 has {everyone[0][diff]}")
            raise RuntimeError(
                f"DistributedDataParallel expects the same model on every rank, but rank {r} has "
                f"{what}. Build the same model on every process."
            )


def _broadcast_coalesced(group, tensors, src=0):
    """Copy rank src's tensors to every rank: one broadcast per (dtype, device) group."""
    groups = {}
    for t in tensors:
        groups.setdefault((t._data.dtype, t.device), []).append(t)
    for ts in groups.values():
        flat = _concat([t._data for t in ts])
        group.backend.broadcast(flat, src).wait()
        offset = 0
        for t in ts:
            n = t._data.size
            t._data[...] = flat[offset:offset + n].reshape(t._data.shape)
            offset += n
            t._bump_version()


def _concat(arrays):
    from ..._backend import xp_of

    xp = xp_of(arrays[0])
    return xp.concatenate([a.reshape(-1) for a in arrays])


class _Bucket:
    __slots__ = ("indices", "slices", "buffer", "pending", "handle", "params")

    def __init__(self, indices, params):
        from ..._backend import xp_of

        self.indices, self.params = indices, [params[i] for i in indices]
        sizes = [p._data.size for p in self.params]
        ends = np.cumsum(sizes).tolist()
        self.slices = [slice(e - s, e) for s, e in zip(sizes, ends)]
        first = self.params[0]._data
        self.buffer = xp_of(first).zeros(ends[-1], dtype=first.dtype)
        self.pending, self.handle = 0, None


class _Reducer:
    """Buckets, per-iteration readiness counts, and the gradient hooks (see module docstring)."""

    def __init__(self, named, cap_bytes, group, find_unused):
        self.names = [n for n, _ in named]
        self.params = [p for _, p in named]
        self.backend = group.backend
        self.find_unused = find_unused
        self.buckets = _assign_buckets(self.params, cap_bytes, min(cap_bytes, _FIRST_BUCKET_BYTES))
        self.where = {}  # param index -> (bucket, slice)
        for b in self.buckets:
            for i, sl in zip(b.indices, b.slices):
                self.where[i] = (b, sl)
        self.expecting = False  # a synced forward ran: the next backward reduces
        self.started = False  # a hook fired in this reduction
        self.ready = [False] * len(self.params)
        self.hooked = [False] * len(self.params)  # which got a gradient from backward
        self.n_ready = self.next_bucket = 0
        self.unused = []  # find_unused_parameters: what the last forward's output ignores
        ref = weakref.ref(self)  # params -> hooks -> reducer must not keep the reducer alive
        handles = [p.register_hook(_make_hook(ref, i)) for i, p in enumerate(self.params)]
        weakref.finalize(self, _remove_all, handles)  # the wrapper is gone: unhook

    def check_prior_reduction_finished(self):
        if self.started:
            names = [n for n, r in zip(self.names, self.ready) if not r]
            self.started = self.expecting = False  # let the user recover after the error
            raise RuntimeError(_UNUSED_HELP.format(names=", ".join(names)))

    def prepare_for_backward(self, output):
        self.expecting, self.started = True, False
        self.ready = [False] * len(self.params)
        self.n_ready = self.next_bucket = 0
        for b in self.buckets:
            b.pending, b.handle = len(b.params), None
        self.hooked = [False] * len(self.params)
        if output is not None:  # find_unused_parameters: marked ready by backward's first hook
            reached = _params_reached(output)
            self.unused = [i for i, p in enumerate(self.params) if id(p) not in reached]

    def hook(self, i, grad):
        """The hook on parameter i, called with its gradient just before it is accumulated
        into .grad. Returns what should be accumulated (None: the gradient as is)."""
        if not self.expecting or self.ready[i]:
            return None
        if grad.grad_fn is not None:
            raise RuntimeError(
                "DistributedDataParallel does not support backward(create_graph=True); use "
                "the wrapped model (.module) for higher-order gradients"
            )
        if not self.started:
            self.started = True
            for j in self.unused:  # zeros, or what accumulated under no_sync
                g = getattr(self.params[j], "_grad", None)
                self._mark_ready(j, None if g is None else g._data)
        self.hooked[i] = True
        local = grad._data
        old = getattr(self.params[i], "_grad", None)
        if old is not None:  # accumulated under no_sync: the sum is what gets averaged
            local = old._data + local
        return self._finish(i) if self._mark_ready(i, local) else None

    def _mark_ready(self, i, local) -> bool:
        """Copy parameter i's local gradient (None: zeros) into its bucket; start the buckets
        that can start. True once every parameter is ready."""
        bucket, sl = self.where[i]
        if local is None:
            bucket.buffer[sl] = 0
        else:
            bucket.buffer[sl] = local.reshape(-1)
        self.ready[i] = True
        self.n_ready += 1
        bucket.pending -= 1
        # start every bucket that is full and has all earlier buckets started (same order
        # on every rank, whatever order this rank's hooks fire in)
        buckets = self.buckets
        while self.next_bucket < len(buckets) and buckets[self.next_bucket].pending == 0:
            b = buckets[self.next_bucket]
            b.handle = self.backend.all_reduce(b.buffer, "avg")
            self.next_bucket += 1
        if self.n_ready == len(self.params):
            return True
        for b in buckets[:self.next_bucket]:
            b.handle.test()  # let MPI progress the started reductions during backward
        return False

    def _finish(self, current):
        """Wait for every bucket, then write the averages into .grad. Parameter `current`,
        whose hook is running, gets its average through the hook's return value (the engine
        accumulates that next), so its .grad is cleared first."""
        for b in self.buckets:
            b.handle.wait()
        used = None
        if self.find_unused:  # parameters no rank used keep their .grad untouched
            used = np.array(self.hooked, dtype=np.int32)
            self.backend.all_reduce(used, "max").wait()
        result = None
        for b in self.buckets:
            for i, p, sl in zip(b.indices, b.params, b.slices):
                if used is not None and not used[i]:
                    continue
                avg = b.buffer[sl].reshape(p._data.shape)
                if i == current:
                    p._grad = None
                    result = wrap(avg)  # a view: the engine stores a copy
                elif getattr(p, "_grad", None) is None:
                    p._grad = wrap(avg.copy())
                else:
                    p._grad._data[...] = avg
        self.expecting = self.started = False
        return result


def _remove_all(handles):
    for h in handles:
        h.remove()


def _make_hook(reducer_ref, i):
    def ddp_grad_hook(grad):
        reducer = reducer_ref()
        return None if reducer is None else reducer.hook(i, grad)

    return ddp_grad_hook


def _assign_buckets(params, cap_bytes, first_cap_bytes=_FIRST_BUCKET_BYTES):
    """Buckets of parameter indices, in reverse parameter order, one dtype and device each.
    A bucket closes when it reaches its cap: first_cap_bytes for the first of its dtype and
    device (small, as PyTorch's, so the first reduction starts early in backward and overlaps
    the rest of it), cap_bytes after. A parameter larger than the cap gets its own bucket."""
    open_, n_closed, done = {}, {}, []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p._data.dtype, p.device)
        indices, nbytes = open_.get(key, ([], 0))
        indices.append(i)
        nbytes += p._data.nbytes
        if nbytes >= (first_cap_bytes if n_closed.get(key, 0) == 0 else cap_bytes):
            done.append(indices)
            open_.pop(key, None)
            n_closed[key] = n_closed.get(key, 0) + 1
        else:
            open_[key] = (indices, nbytes)
    done.extend(indices for indices, _ in open_.values())
    done.sort(key=lambda indices: -indices[0])  # the order backward fills them in
    return [_Bucket(indices, params) for indices in done]


def _params_reached(output):
    """ids of the leaf tensors the output's graph leads to."""
    roots, stack = [], [output]
    while stack:  # the tensors in (nested) tuples, lists and dicts
        x = stack.pop()
        if isinstance(x, Tensor):
            roots.append(x)
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    reached = {id(t) for t in roots if t.grad_fn is None}
    nodes = [t.grad_fn for t in roots if t.grad_fn is not None]
    seen = set(nodes)
    while nodes:
        node = nodes.pop()
        if type(node) is AccumulateGrad:
            reached.add(id(node.variable))
            continue
        for child, _ in node.next_functions:
            if child is not None and child not in seen:
                seen.add(child)
                nodes.append(child)
    return reached

