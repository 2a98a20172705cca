"""autograd.backward and autograd.grad: argument checking around the engine."""

from __future__ import annotations

from .._backend import xp_of
from .._tensor import Tensor, wrap
from .engine import run_backward


def _as_list(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(outputs, grad_outputs, create_graph):
    """Check and default the gradients given for the outputs (ones for one-element outputs)."""
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs (this output has "
                    f"shape {list(out.shape)}; pass a gradient of that shape)"
                )
            array = xp_of(out._data).ones(out._data.shape, dtype=out._data.dtype)
            grads.append(_wrap_if(array, create_graph))
            continue
        if not isinstance(g, Tensor):
            raise TypeError(f"gradients must be Tensors or None, got {type(g).__name__}")
        if g._data.shape != out._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                f"has a shape of {out.shape}."
            )
        if g.device != out.device:
            raise RuntimeError(
                f"invalid gradient at index {i} - expected device {out.device} but got {g.device}"
            )
        if g._data.dtype != out._data.dtype:
            g = g.to(out.dtype)
        grads.append(g if create_graph else g._data)
    return grads


def _grads_for(outputs, grads):
    """One gradient (or None) per output."""
    grads = _as_list(grads) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grads)} gradients")
    return grads


def _wrap_if(array, create_graph):
    if not create_graph:
        return array
    return wrap(array)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of `tensors` into the `.grad` of leaves (only `inputs` if given)."""
    outputs = _as_list(tensors)
    grads = _grads_for(outputs, grad_tensors)
    inputs = _as_list(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    if inputs is not None:
        for t in inputs:
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, grads, create_graph)
    run_backward(outputs, roots, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, returned (no `.grad` touched)."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _grads_for(outputs, grad_outputs)
    for t in inputs:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, grads, create_graph)
    result = run_backward(outputs, roots, retain_graph, create_graph, inputs=inputs, accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = wrap(xp_of(t._data).zeros_like(t._data))
            out.append(g)
            continue
        out.append(g if create_graph else wrap(g.copy() if getattr(g, "base", None) is not None else g))
    return tuple(out)  # a tuple even for a single input, as PyTorch
