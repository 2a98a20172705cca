"""framework.nn: Parameter, Module and containers, layers, functional forms, losses, init.

    import framework.nn as nn
    import framework.nn.functional as F
"""

# ruff: noqa: F401

from . import functional, init, parallel, utils  # parallel: DistributedDataParallel
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .module import Module
from .modules import *  # noqa: F403 - every layer class (modules/__init__.py lists them)
from .parameter import Buffer, Parameter
