"""framework.nn.parallel: DistributedDataParallel (one process per replica, see
framework.distributed)."""

from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
