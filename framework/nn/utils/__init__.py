"""framework.nn.utils: model summary; gradient clipping and parameter/vector conversion."""

# ruff: noqa: F401, I001

from .summary import summary

# --- optim: clip_grad_norm_ etc. (add import lines below) ----------------------------------------
from .clip_grad import (
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters
