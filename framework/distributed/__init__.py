"""framework.distributed: data-parallel training on MPI (mpi4py, CPU) and NCCL (CuPy, GPUs),
with torch.distributed's names.

    # mpiexec -n 2 python train.py          (pip install mpi4py mpich, or pip install -e .[mpi])
    import framework.distributed as dist
    dist.init_process_group("mpi")          # or "nccl" between GPUs
    model = framework.nn.parallel.DistributedDataParallel(model)
    sampler = framework.data.DistributedSampler(dataset)   # each rank its own shard

Files: process_group.py (the group, the collectives on Tensors), _mpi.py (MPI backend on
arrays), _nccl.py (NCCL backend on CuPy arrays, bootstrapped over MPI). mpi4py and CuPy are
imported only by init_process_group, so `import framework.distributed` needs NumPy only.
"""

from .process_group import (
    ProcessGroup,
    ReduceOp,
    Work,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_backend,
    get_node_local_rank,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
)

__all__ = [
    "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_object", "all_reduce",
    "barrier", "broadcast", "broadcast_object_list", "destroy_process_group", "get_backend",
    "get_node_local_rank", "get_rank", "get_world_size", "init_process_group", "is_available",
    "is_initialized", "is_mpi_available", "is_nccl_available",
]
