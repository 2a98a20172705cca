"""parameters_to_vector / vector_to_parameters (torch.nn.utils): all parameters as one flat
vector, and back."""

from __future__ import annotations

from ..._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old_device):
    device = param.device
    if old_device is not None and device != old_device:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return device


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D tensor: the parameters flattened and concatenated (differentiable)."""
    from ... import cat

    device, flat = None, []
    for p in parameters:
        device = _check_param_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec, parameters) -> None:
    """Make each parameter's data the matching slice of `vec` (shared with vec, no copy)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    device, pointer = None, 0
    for p in parameters:
        device = _check_param_device(p, device)
        n = p.numel()
        p.data = vec[pointer:pointer + n].view_as(p).data
        pointer += n
