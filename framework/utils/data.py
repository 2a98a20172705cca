"""framework.data under PyTorch's module path: `from framework.utils.data import DataLoader`."""

from ..data import *  # noqa: F403
from ..data import __all__, collate, dataloader, dataset, sampler  # noqa: F401
