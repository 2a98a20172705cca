"""The NCCL backend: collectives between GPUs through CuPy's NCCL bindings (cupy.cuda.nccl).

MPI starts the processes and carries the bootstrap: rank 0 makes an ncclUniqueId and
broadcasts it over MPI, then every rank joins one NCCL communicator on its own GPU (its rank
among the processes on its node, unless `device_id` says otherwise). NCCL calls are enqueued
on CuPy's current stream, so they run after the kernels that produced their inputs and before
the ones that read their results: no host synchronisation is needed, and `wait()` is a no-op.
CPU arrays go through MPI (PyTorch would need a second, gloo, group for them).

CuPy is imported here, lazily, only when backend='nccl' is asked for.

UNVERIFIED: written against CuPy's documented API (NcclCommunicator, allReduce, broadcast,
allGather), but never run on GPUs while it was written (the machine had none).
"""

from __future__ import annotations

import numpy as np

from .. import _backend
from ._mpi import Handle

_DONE = Handle()


def import_nccl():
    """(cupy, cupy.cuda.nccl), or a RuntimeError saying what is missing and how to get it."""
    cp = _backend.require_cupy()  # explains a missing CuPy or GPU
    try:
        from cupy.cuda import nccl
    except ImportError as e:
        nccl, error = None, e
    else:
        error = None
    if nccl is None or not getattr(nccl, "available", False):
        raise RuntimeError(
            "backend='nccl' needs CuPy with NCCL, but cupy.cuda.nccl is not available"
            + (f" ({error})" if error else "")
            + ". Install NCCL for your CUDA version (`pip install nvidia-nccl-cu12`, or "
            "`python -m cupyx.tools.install_library --library nccl --cuda 12.x`), or use "
            "backend='mpi'."
        )
    return cp, nccl


class NCCLBackend:
    name = "nccl"

    def __init__(self, mpi, device_id=None):
        cp, nccl = import_nccl()
        self.cp, self.nccl, self.mpi = cp, nccl, mpi
        self.rank, self.size = mpi.rank, mpi.size
        self.local_rank = mpi.local_rank
        n_gpus = cp.cuda.runtime.getDeviceCount()
        if device_id is None:
            if mpi.local_size > n_gpus:
                raise RuntimeError(
                    f"backend='nccl' needs one GPU per process, but {mpi.local_size} processes "
                    f"run on this node and it has {n_gpus} GPU(s). Launch with "
                    f"`mpiexec -n {n_gpus}`, or use backend='mpi'."
                )
            device_id = mpi.local_rank
        device_id = _backend.as_device(device_id).index or 0
        if not 0 <= device_id < n_gpus:
            raise RuntimeError(f"device_id={device_id} but this node has {n_gpus} GPU(s)")
        self.device_id = device_id
        cp.cuda.Device(device_id).use()  # framework.cuda.current_device() follows
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi.comm.bcast(uid, root=0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._dtypes = {
            np.dtype(np.int8): nccl.NCCL_INT8, np.dtype(np.uint8): nccl.NCCL_UINT8,
            np.dtype(np.int32): nccl.NCCL_INT32, np.dtype(np.uint32): nccl.NCCL_UINT32,
            np.dtype(np.int64): nccl.NCCL_INT64, np.dtype(np.uint64): nccl.NCCL_UINT64,
            np.dtype(np.float16): nccl.NCCL_FLOAT16, np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64,
        }
        self._ops = {"sum": nccl.NCCL_SUM, "product": nccl.NCCL_PROD, "max": nccl.NCCL_MAX,
                     "min": nccl.NCCL_MIN, "avg": getattr(nccl, "NCCL_AVG", None)}

    def _flat(self, x):
        """(x as a 1-d array NCCL has a type for, NCCL dtype): bools as uint8, complex as
        pairs of floats."""
        if x.device.id != self.device_id:
            raise RuntimeError(
                f"backend='nccl' on this rank works on cuda:{self.device_id}, but got a tensor "
                f"on cuda:{x.device.id}; move it with .to('cuda:{self.device_id}')"
            )
        flat = x.reshape(-1)
        if flat.dtype == np.bool_:
            flat = flat.view(np.uint8)
        elif flat.dtype.kind == "c":
            flat = flat.view(np.float32 if flat.dtype == np.complex64 else np.float64)
        dtype = self._dtypes.get(np.dtype(flat.dtype))
        if dtype is None:
            raise TypeError(f"NCCL has no {x.dtype} type; convert the tensor (e.g. to int32)")
        return flat, dtype

    def _stream(self):
        return self.cp.cuda.get_current_stream().ptr

    def all_reduce(self, x, op: str) -> Handle:
        if type(x) is np.ndarray:
            return self.mpi.all_reduce(x, op)
        flat, dtype = self._flat(x)
        if x.dtype.kind == "c" and op not in ("sum", "avg"):
            raise TypeError(f"all_reduce with op {op!r} on {x.dtype} tensors is not supported")
        if x.dtype == np.bool_:  # logical or / and, as uint8 max / min
            op = "max" if op in ("sum", "max", "avg") else "min"
        nccl_op = self._ops[op]
        post_divide = nccl_op is None  # NCCL < 2.10 has no ncclAvg
        if post_divide:
            nccl_op = self.nccl.NCCL_SUM
        self.comm.allReduce(flat.data.ptr, flat.data.ptr, flat.size, dtype, nccl_op,
                            self._stream())
        if post_divide:
            flat /= self.size
        return _DONE

    def broadcast(self, x, src: int) -> Handle:
        if type(x) is np.ndarray:
            return self.mpi.broadcast(x, src)
        flat, dtype = self._flat(x)
        self.comm.broadcast(flat.data.ptr, flat.data.ptr, flat.size, dtype, src, self._stream())
        return _DONE

    def all_gather(self, x, out) -> Handle:
        if type(x) is np.ndarray:
            return self.mpi.all_gather(x, out)
        flat, dtype = self._flat(x)
        flat_out, _ = self._flat(out)
        self.comm.allGather(flat.data.ptr, flat_out.data.ptr, flat.size, dtype, self._stream())
        return _DONE

    def barrier(self):
        self.cp.cuda.get_current_stream().synchronize()  # this rank's queued NCCL work is done
        self.mpi.barrier()

    def all_gather_object(self, obj):
        return self.mpi.all_gather_object(obj)

    def broadcast_object(self, obj, src: int):
        return self.mpi.broadcast_object(obj, src)

    def destroy(self):
        if self.comm is not None:
            self.comm.destroy()
            self.comm = None
        self.mpi.destroy()
