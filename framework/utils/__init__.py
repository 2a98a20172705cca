"""framework.utils: `framework.utils.data` is framework.data under PyTorch's path
(`from framework.utils.data import DataLoader`, as `from torch.utils.data import DataLoader`)."""

from . import data

__all__ = ["data"]
