"""The MPI backend: collectives on raw arrays through mpi4py.

Rank and world size are those of the MPI launcher (`mpiexec -n 2 python train.py`); run
without a launcher, MPI starts as a single process (rank 0 of 1). Each collective starts a
non-blocking MPI call and returns a handle whose `wait()` finishes it, so DDP can start a
bucket's reduction while backward goes on. CuPy arrays are staged through host memory (an
MPI installed by pip is not CUDA-aware); the 'nccl' backend keeps them on the GPU.
"""

from __future__ import annotations

import sys

import numpy as np

_INSTALL = "pip install mpi4py mpich` (or `pip install -e .[mpi]`"


def import_mpi():
    """mpi4py's MPI module (importing it initialises MPI), or a RuntimeError saying what to
    install."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        if getattr(e, "name", None) in ("mpi4py", "mpi4py.MPI") and "libmpi" not in str(e):
            raise RuntimeError(
                "framework.distributed's 'mpi' backend needs mpi4py and an MPI library, and "
                f"mpi4py is not installed. Install both with `{_INSTALL}), then launch with "
                "`mpiexec -n 2 python script.py`."
            ) from None
        raise _no_library(e) from None
    except RuntimeError as e:  # mpi4py >= 4 raises RuntimeError when it finds no libmpi
        raise _no_library(e) from None
    return MPI


def _no_library(e):
    return RuntimeError(
        f"mpi4py is installed but could not load an MPI library ({e}). Install one with "
        f"`{_INSTALL}); on a cluster, load the site's MPI module and reinstall mpi4py "
        "against it (`pip install --no-binary mpi4py mpi4py`)."
    )


def install_abort_on_exception(MPI):
    """An uncaught exception on one rank aborts all of them (as `python -m mpi4py` does):
    otherwise the other ranks would wait forever in their next collective."""
    previous = sys.excepthook

    def excepthook(kind, value, tb):
        previous(kind, value, tb)
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(1)

    if MPI.COMM_WORLD.Get_size() > 1 and not getattr(previous, "_aborts_mpi", False):
        excepthook._aborts_mpi = True
        sys.excepthook = excepthook


class Handle:
    """A started collective: `wait()` completes it (then runs `finish`, e.g. a copy back)."""

    __slots__ = ("_request", "_finish")

    def __init__(self, request=None, finish=None):
        self._request, self._finish = request, finish

    def test(self) -> bool:
        """Let MPI make progress; True once the data has arrived (wait() still finishes)."""
        return self._request is None or self._request.Test()

    def wait(self):
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()


def _op(MPI, op, dtype):
    if dtype == np.bool_:  # MPI reduces C bools only with logical ops
        return MPI.LOR if op in ("sum", "max", "avg") else MPI.LAND
    return {"sum": MPI.SUM, "avg": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN,
            "product": MPI.PROD}[op]


class MPIBackend:
    """Collectives over a duplicate of MPI.COMM_WORLD (so our messages never mix with the
    user's own MPI traffic)."""

    name = "mpi"

    def __init__(self):
        MPI = self.MPI = import_mpi()
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        install_abort_on_exception(MPI)

    # Every method takes a C-contiguous array and works on it in place.

    def all_reduce(self, x, op: str) -> Handle:
        host = _to_host(x)
        req = self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=_op(self.MPI, op, host.dtype))

        def finish():
            if op == "avg":
                np.divide(host, self.size, out=host)  # (only floating-point tensors get here)
            if host is not x:
                x.set(host)

        return Handle(req, finish if (op == "avg" or host is not x) else None)

    def broadcast(self, x, src: int) -> Handle:
        host = _to_host(x)
        req = self.comm.Ibcast(host, root=src)
        return Handle(req, (lambda: x.set(host)) if host is not x else None)

    def all_gather(self, x, out) -> Handle:
        """out: (world_size, *x.shape), same dtype and device as x."""
        host, host_out = _to_host(x), _to_host(out)
        req = self.comm.Iallgather(host, host_out)
        return Handle(req, (lambda: out.set(host_out)) if host_out is not out else None)

    def barrier(self):
        self.comm.Barrier()

    def all_gather_object(self, obj):
        return self.comm.allgather(obj)

    def broadcast_object(self, obj, src: int):
        return self.comm.bcast(obj, root=src)

    def destroy(self):
        if self.comm is not None:
            self.comm.Free()
            self.comm = None


def _to_host(x):
    return x if type(x) is np.ndarray else x.get()
