"""framework.autograd: the engine, grad modes, custom Functions and gradient checks."""

from .anomaly import detect_anomaly, set_detect_anomaly
from .api import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .node import Node

__all__ = [
    "Function", "FunctionCtx", "GradcheckError", "Node", "backward", "detect_anomaly",
    "enable_grad", "grad", "gradcheck", "gradgradcheck", "inference_mode", "no_grad",
    "once_differentiable", "set_detect_anomaly", "set_grad_enabled",
]
