"""User-defined differentiable ops: subclass `Function`, write static forward/backward.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    y = Exp.apply(x)

The ctx is the graph node itself (named `ExpBackward`), so nothing else holds its state.
forward runs under no_grad on Tensors; backward receives and returns Tensors, and runs with
grad mode on under create_graph=True, so double backward works when it uses framework ops.
"""

from __future__ import annotations

from .grad_mode import no_grad
from .grad_mode import state as _grad_state
from .node import _FREED, Node, anomaly_extra, next_seq


class FunctionCtx:
    """What `forward` and `backward` see as `ctx` (methods shared by every custom node)."""

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self.dirty = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        out = []
        for entry in saved:
            kind, value, version = entry
            if kind == "output":  # our own output: kept as (array, counter), never the tensor
                array, counter, nr = value
                if counter[0] != version:
                    raise self._modified(array, counter[0], version, type(self).__name__)
                from .._tensor import wrap

                t = wrap(array)
                t._vc = counter
                if self.next_functions and any(f is not None for f, _ in self.next_functions):
                    t._requires_grad, t.grad_fn, t._output_nr = True, self, nr
                out.append(t)
            elif kind == "tensor":
                vc = value._vc
                if (vc[0] if vc is not None else 0) != version:
                    producer = type(value.grad_fn).__name__ if value.grad_fn is not None else None
                    raise self._modified(value._data, vc[0], version, producer)
                out.append(value)
            else:
                out.append(value)
        return tuple(out)

    def _modified(self, array, now, expected, producer):
        what = f", which is output 0 of {producer}" if producer else ""
        return RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{array.dtype} {list(array.shape)}]{what}, is at version {now}; "
            f"expected version {expected} instead. It is needed by {type(self).__name__}. Hint: "
            "clone the tensor before modifying it in place, or do the modification out of place."
        )


class _FunctionNode(FunctionCtx, Node):
    """Base of the node classes made for each Function subclass (they have a __dict__ for ctx)."""

    _function = None

    def backward(self, *grads):
        from .._tensor import Tensor, wrap

        create_graph = _grad_state.grad_enabled
        args = []
        metas = (self._out_meta,) if self.n_outputs == 1 else self._out_meta
        for g, (shape, dtype) in zip(grads, metas):
            if g is None and self.materialize_grads:
                import numpy as np

                from .._backend import to_device

                g = np.zeros(shape, dtype)
                g = wrap(g if self._out_device is None else to_device(g, self._out_device))
            elif g is not None and not create_graph:
                g = wrap(g)
            args.append(g)
        result = self._function.backward(self, *args)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self.next_functions)
        if len(result) > n and all(g is None for g in result[n:]):
            result = result[:n]  # extra trailing Nones are allowed, as in PyTorch
        if len(result) != n:
            raise RuntimeError(
                f"function {type(self).__name__} returned an incorrect number of gradients "
                f"(expected {n}, got {len(result)})"
            )
        out = []
        for i, g in enumerate(result[:n]):
            if g is None or self.next_functions[i][0] is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise TypeError(
                    f"{self._function.__name__}.backward must return Tensors or None, got "
                    f"{type(g).__name__} at index {i}"
                )
            out.append(g if create_graph else g._data)
        return tuple(out)

    def release(self):
        self._saved = None


class _FunctionMeta(type):
    """Gives each Function subclass its own node class, named as PyTorch names it."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_cls = type(name + "Backward", (_FunctionNode,), {"_function": cls})


class Function(metaclass=_FunctionMeta):
    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom autograd.Function.")

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please "
            "use new-style autograd function with static forward method: call "
            f"{type(self).__name__}.apply(...), not {type(self).__name__}()(...)."
        )

    @classmethod
    def apply(cls, *args, **kwargs):
        from .._tensor import Tensor, _edge_of, wrap

        node_cls = cls._backward_cls
        ctx = node_cls.__new__(node_cls)
        ctx.to_save, ctx.non_differentiable, ctx.dirty = (), set(), ()
        ctx.materialize_grads = True
        ctx._saved = None
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        recording = _grad_state.grad_enabled and any(ctx.needs_input_grad)
        tensors_in = {id(a) for a in args if isinstance(a, Tensor)}
        dirty = {id(t) for t in ctx.dirty}
        fixed = []
        for o in outs:
            if isinstance(o, Tensor) and id(o) in dirty:
                if recording and o.grad_fn is None and o._requires_grad:
                    raise RuntimeError(
                        "a leaf Variable that requires grad has been used in an in-place operation."
                    )
            elif isinstance(o, Tensor) and (id(o) in tensors_in or (recording and o.grad_fn is not None)):
                o = wrap(o._data)  # a returned input becomes a new tensor with its own history
            fixed.append(o)  # (an input marked dirty stays the same object and gets ctx as grad_fn)
        if recording:
            ctx.next_functions = tuple(_edge_of(a) for a in args)
            ctx._seq = next_seq()
            ctx._extra = anomaly_extra()
            ctx.n_outputs = len(fixed)
            metas = tuple(
                (o._data.shape, o._data.dtype) if isinstance(o, Tensor) else ((), None) for o in fixed
            )
            ctx._out_meta = metas[0] if len(metas) == 1 else metas
            # the outputs' device (for zero gradients of unused outputs); never an output's array,
            # which would stay alive as long as the graph
            ctx._out_device = next((o.device for o in fixed if isinstance(o, Tensor)), None)
            by_id = {id(o): i for i, o in enumerate(outs) if isinstance(o, Tensor)}
            for i, o in enumerate(fixed):
                if isinstance(o, Tensor) and id(outs[i]) not in ctx.non_differentiable and o._data.dtype.kind == "f":
                    o._requires_grad, o.grad_fn, o._output_nr = True, ctx, i
            saved = []
            for t in ctx.to_save:
                if isinstance(t, Tensor) and id(t) in by_id:
                    o = fixed[by_id[id(t)]]
                    if o._vc is None:
                        o._vc = [0]
                    saved.append(("output", (o._data, o._vc, by_id[id(t)]), o._vc[0]))
                elif isinstance(t, Tensor):
                    saved.append(("tensor", t, t._vc[0] if t._vc is not None else 0))
                else:
                    saved.append(("value", t, None))
            ctx._saved = tuple(saved)
        else:
            ctx._saved = tuple(
                ("tensor", t, t._version) if isinstance(t, Tensor) else ("value", t, None)
                for t in ctx.to_save
            )
        ctx.to_save = ()
        return fixed[0] if single else tuple(fixed)


class once_differentiable:  # decorator kept for PyTorch compatibility: a no-op here
    def __new__(cls, fn):
        return fn
