"""The default process group and the collectives on Tensors (torch.distributed's names).

    mpiexec -n 2 python script.py          # every process runs the same script
    dist.init_process_group("mpi")         # rank and world size come from mpiexec
    dist.all_reduce(t, op=dist.ReduceOp.AVG)

Collectives work in place on the tensor's array, outside autograd (as PyTorch's do), on
either device: backend='mpi' reduces CPU arrays directly and CUDA arrays through host memory;
backend='nccl' reduces CUDA arrays on the GPUs and CPU arrays through MPI.
"""

from __future__ import annotations

import enum
import importlib.util

from .._backend import xp_of
from .._tensor import Tensor

__all__ = [
    "ReduceOp", "ProcessGroup", "Work", "init_process_group", "destroy_process_group",
    "is_available", "is_initialized", "is_mpi_available", "is_nccl_available", "get_rank",
    "get_world_size", "get_backend", "get_node_local_rank", "barrier", "all_reduce",
    "broadcast", "all_gather", "all_gather_object", "broadcast_object_list",
]


class ReduceOp(enum.Enum):
    """How all_reduce combines the ranks' tensors (also accepted as strings: 'sum', 'mean'
    or 'avg', 'max', 'min', 'product')."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"


_OP_NAMES = {"sum": "sum", "avg": "avg", "mean": "avg", "max": "max", "min": "min",
             "product": "product", "prod": "product"}


def _op_name(op) -> str:
    if isinstance(op, ReduceOp):
        return op.value
    name = _OP_NAMES.get(op.lower()) if isinstance(op, str) else None
    if name is None:
        raise ValueError(
            f"Unknown reduce op {op!r}: use a ReduceOp (SUM, AVG, MAX, MIN, PRODUCT) or one of "
            f"{sorted(_OP_NAMES)}"
        )
    return name


class ProcessGroup:
    """All processes of the launch; holds the backend that runs the collectives."""

    def __init__(self, backend):
        self.backend = backend

    def rank(self) -> int:
        return self.backend.rank

    def size(self) -> int:
        return self.backend.size

    def name(self) -> str:
        return self.backend.name

    def __repr__(self):
        return f"ProcessGroup(backend='{self.name()}', rank={self.rank()}, size={self.size()})"


class Work:
    """What `async_op=True` returns: `wait()` blocks until the collective is done."""

    def __init__(self, handle, finish):
        self._handle, self._finish = handle, finish

    def is_completed(self) -> bool:
        return self._finish is None or self._handle.test()

    def wait(self, timeout=None) -> bool:
        if self._finish is not None:
            self._handle.wait()
            finish, self._finish = self._finish, None
            finish()
        return True


_default: ProcessGroup | None = None
_BACKENDS = ("mpi", "nccl")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       device_id=None) -> None:
    """Join the processes started by the MPI launcher (`mpiexec -n N python script.py`).

    backend: 'mpi' (the default; CPU tensors, CUDA tensors through host memory) or 'nccl'
    (CUDA tensors between GPUs, one GPU per process). world_size and rank, if given, must
    match the launcher's. `timeout` is accepted for PyTorch compatibility and not used.
    """
    global _default
    if _default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in _BACKENDS:
        hint = " (there is no gloo here: use 'mpi' for CPU tensors)" if name == "gloo" else ""
        raise ValueError(
            f"Invalid backend: '{backend}'{hint}. framework.distributed supports 'mpi' (CPU, "
            "and CUDA tensors through host memory) and 'nccl' (CUDA tensors between GPUs)."
        )
    if init_method not in (None, "env://"):
        raise ValueError(
            f"init_method={init_method!r} is not supported: the processes find each other "
            "through MPI. Start them with `mpiexec -n N python script.py`."
        )
    if name == "nccl":  # fail fast (and before starting MPI) when CuPy, a GPU or NCCL is missing
        from ._nccl import NCCLBackend, import_nccl

        import_nccl()
    from ._mpi import MPIBackend

    mpi = MPIBackend()
    for what, given, actual in (("world_size", world_size, mpi.size), ("rank", rank, mpi.rank)):
        if given not in (-1, None) and given != actual:
            mpi.destroy()
            raise ValueError(
                f"init_process_group({what}={given}), but the MPI launcher started this process "
                f"with {what} {actual}. Leave {what} out (it comes from mpiexec), or launch "
                "with `mpiexec -n <world_size>`."
            )
    if name == "nccl":
        try:
            impl = NCCLBackend(mpi, device_id)
        except BaseException:
            mpi.destroy()
            raise
    else:
        impl = mpi
    _default = ProcessGroup(impl)


def destroy_process_group(group=None) -> None:
    """Leave the process group (MPI itself stays up until the process exits, so
    init_process_group may be called again)."""
    global _default
    pg = _group(group)
    pg.backend.destroy()
    _default = None


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return _default is not None


def is_mpi_available() -> bool:
    """mpi4py is installed (whether it finds an MPI library shows at init_process_group)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    """CuPy imports, sees a GPU, and has NCCL."""
    try:
        from ._nccl import import_nccl

        import_nccl()
    except RuntimeError:
        return False
    return True


def _group(group=None) -> ProcessGroup:
    if _default is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    if group is not None and group is not _default:
        raise ValueError(
            "framework.distributed has one process group (all ranks); pass group=None"
        )
    return _default


def _default_group() -> ProcessGroup:
    return _group(None)


def get_rank(group=None) -> int:
    return _group(group).rank()


def get_world_size(group=None) -> int:
    return _group(group).size()


def get_backend(group=None) -> str:
    return _group(group).name()


def get_node_local_rank(fallback_rank=None) -> int:
    """This process's rank among the processes on its machine (which GPU it should use)."""
    if _default is not None:
        return _default.backend.local_rank
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "get_node_local_rank() needs init_process_group() first (the local rank comes from "
        "MPI), or pass fallback_rank"
    )


def barrier(group=None, async_op=False, device_ids=None):
    _group(group).backend.barrier()
    return Work(None, None) if async_op else None


# --- collectives on tensors -----------------------------------------------------------------


def _check_tensor(tensor, fn, arg="tensor"):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' must be Tensor, not {type(tensor).__name__}")


def _run(tensor, start, async_op):
    """Run `start(buffer)` on a contiguous buffer of tensor's array, then copy back (if a copy
    was needed) and bump the tensor's version (it was written in place)."""
    data = tensor._data
    buf = data if data.flags.c_contiguous else data.copy(order="C")
    handle = start(buf)

    def finish():
        if buf is not data:
            data[...] = buf
        tensor._bump_version()

    if async_op:
        return Work(handle, finish)
    handle.wait()
    finish()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` across all ranks with `op`, in place: every rank gets the result."""
    pg = _group(group)
    _check_tensor(tensor, "all_reduce")
    op = _op_name(op)
    kind = tensor._data.dtype.kind
    if op == "avg" and kind not in "fc":
        raise TypeError(
            f"all_reduce with ReduceOp.AVG needs a floating-point tensor, got {tensor.dtype}; "
            "use ReduceOp.SUM and divide, or convert with .float()"
        )
    if kind == "c" and op in ("max", "min"):
        raise TypeError(f"all_reduce does not support {op.upper()} on complex tensors")
    return _run(tensor, lambda buf: pg.backend.all_reduce(buf, op), async_op)


def _check_src(pg, src, fn):
    if src is None:
        raise ValueError(f"{fn}(): src (the rank that sends) is required")
    if not 0 <= int(src) < pg.size():
        raise ValueError(f"{fn}(): invalid src {src}, the world size is {pg.size()}")
    return int(src)


def broadcast(tensor, src=None, group=None, async_op=False):
    """Overwrite `tensor` on every rank with rank `src`'s (same shape and dtype everywhere)."""
    pg = _group(group)
    _check_tensor(tensor, "broadcast")
    src = _check_src(pg, src, "broadcast")
    return _run(tensor, lambda buf: pg.backend.broadcast(buf, src), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[i] = rank i's `tensor`, on every rank (list of world_size tensors shaped,
    typed and placed like `tensor`)."""
    pg = _group(group)
    _check_tensor(tensor, "all_gather")
    n = pg.size()
    if not isinstance(tensor_list, list) or len(tensor_list) != n:
        got = len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__
        raise ValueError(
            f"all_gather(): tensor_list must be a list of world_size={n} tensors, got {got}"
        )
    for i, t in enumerate(tensor_list):
        _check_tensor(t, "all_gather", f"tensor_list[{i}]")
        if (t.shape, t.dtype, t.device) != (tensor.shape, tensor.dtype, tensor.device):
            raise ValueError(
                f"all_gather(): tensor_list[{i}] is {tuple(t.shape)} {t.dtype} on {t.device}, "
                f"but tensor is {tuple(tensor.shape)} {tensor.dtype} on {tensor.device}"
            )
    data = tensor._data
    xp = xp_of(data)
    x = xp.ascontiguousarray(data)
    out = xp.empty((n,) + data.shape, dtype=data.dtype)
    handle = pg.backend.all_gather(x, out)

    def finish():
        for i, t in enumerate(tensor_list):
            t._data[...] = out[i]
            t._bump_version()

    if async_op:
        return Work(handle, finish)
    handle.wait()
    finish()
    return None


def all_gather_object(object_list, obj, group=None) -> None:
    """object_list[i] = rank i's `obj` (any picklable object; the list has world_size slots)."""
    pg = _group(group)
    if len(object_list) != pg.size():
        raise ValueError(
            f"all_gather_object(): object_list must have world_size={pg.size()} slots, got "
            f"{len(object_list)}"
        )
    object_list[:] = pg.backend.all_gather_object(obj)


def broadcast_object_list(object_list, src=None, group=None, device=None) -> None:
    """Replace `object_list`'s items on every rank with rank `src`'s (picklable objects)."""
    pg = _group(group)
    src = _check_src(pg, src, "broadcast_object_list")
    received = pg.backend.broadcast_object(list(object_list), src)
    if len(received) != len(object_list):
        raise ValueError(
            f"broadcast_object_list(): rank {src} sent {len(received)} objects but this rank's "
            f"list has {len(object_list)} slots"
        )
    object_list[:] = received
