"""The graph node (a tensor's `grad_fn`) and AccumulateGrad, the node that feeds a leaf.

References go one way: output tensor -> its grad_fn -> the input tensors' nodes. A node keeps
what its backward reads: input tensors it declared in `saves` (with their versions, to catch
in-place changes), its output's array (never the output tensor, which would be a cycle), and
plain fields set in `forward`. The engine frees them after backward unless retain_graph.

An op is one Node subclass: `forward` on arrays next to `backward` on gradients. Backward
formulas are written once and run on raw arrays (first-order backward, the fast path) or on
Tensors (create_graph=True, so the gradient is itself differentiable); `saved()` hands back
the matching kind, and `framework.ops._dual` holds the few functions both kinds need.
"""

from __future__ import annotations

import itertools
import weakref

from . import anomaly
from .grad_mode import state as _grad_state

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)

_RESULT = object()  # placeholder in `_saved` for the node's own output
next_seq = itertools.count().__next__  # creation order of nodes: the engine runs them backwards


class Node:
    """Base of every grad_fn. Subclasses are named as PyTorch names them (`MulBackward0`)."""

    __slots__ = (
        "next_functions",  # ((node or None, output_nr), ...) one per forward input
        "_seq",  # creation order (see engine)
        "_saved",  # saved values as given (Tensors, plain values, _RESULT), for create_graph
        "_arrays",  # the same values as arrays, for first-order backward; None once freed
        "_checks",  # ((version counter, version when saved, position), ...) of saved tensors
        "_out_meta",  # (shape, numpy dtype) of the output (a tuple of them if n_outputs > 1)
        "_extra",  # None, or an _Extra with hooks and the anomaly trace (rarely used)
        "__weakref__",
    )
    inputs: tuple = ("self",)  # names of forward's inputs, as PyTorch names them
    saves: tuple = ()  # which of them backward reads; "result" is the op's own output
    n_outputs = 1
    # True where "self" is read only for other's gradient (mul, div): then `x * 2` or
    # `x * mask` need not keep x alive, as in PyTorch
    self_only_for_other = False
    is_view = False  # output aliases input 0's array: they share one version counter

    _save_idx: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # positions in `inputs` of the saved values (-1 for the result), computed once per class
        cls._save_idx = tuple(-1 if n == "result" else cls.inputs.index(n) for n in cls.saves)

    # --- what the engine calls -------------------------------------------------------------

    def backward(self, *grads):
        raise NotImplementedError

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def needs_input_grad(self, i: int) -> bool:
        return self.next_functions[i][0] is not None

    def release(self):
        """Drop saved values after backward (retain_graph=False)."""
        self._arrays = self._saved = None

    # --- saved values ----------------------------------------------------------------------

    def saved(self):
        """Saved values: arrays for first-order backward, Tensors under create_graph."""
        arrays = self._arrays
        if arrays is None:
            raise RuntimeError(_FREED)
        for counter, version, i in self._checks:
            if counter[0] != version:
                self._raise_modified(i, counter[0], version)
        if _grad_state.grad_enabled:
            return [self._result_tensor() if v is _RESULT else v for v in self._saved]
        return arrays

    def _result_tensor(self):
        from .._tensor import wrap

        i = next(i for i, v in enumerate(self._saved) if v is _RESULT)  # `is`: Tensor == is elementwise
        t = wrap(self._arrays[i])
        t._requires_grad = True
        t.grad_fn = self
        return t

    def _raise_modified(self, i, now, expected):
        value = self._saved[i]
        array = self._arrays[i]
        if value is _RESULT:
            producer = type(self).__name__
        else:
            producer = type(value.grad_fn).__name__ if value.grad_fn is not None else None
        what = f", which is output 0 of {producer}," if producer else ""
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{array.dtype} {list(array.shape)}]{what} is at version "
            f"{now}; expected version {expected} instead. It is needed by "
            f"{type(self).__name__}. Hint: clone the tensor before modifying it in place, "
            "or do the modification out of place (e.g. x = x + 1 instead of x += 1)."
        )

    def __getattr__(self, name):
        # PyTorch exposes saved values as grad_fn._saved_self, _saved_other, _saved_result, ...
        if name.startswith("_saved_"):
            key = name[len("_saved_"):]
            cls = type(self)
            if key in cls.saves:
                if self._arrays is None:
                    raise RuntimeError(_FREED)
                i = cls.saves.index(key)
                value = self._saved[i]
                if value is _RESULT:
                    return self._result_tensor()
                return value
            fields = getattr(cls, "__slots__", ())
            if key in fields:
                return object.__getattribute__(self, key)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # --- hooks -----------------------------------------------------------------------------

    def extra(self):
        if self._extra is None:
            self._extra = _Extra()
        return self._extra

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after this node ran; may return new grad_inputs."""
        hooks = self.extra().hooks
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) before this node runs; may return new grad_outputs."""
        return self._add_pre_hook(-1, fn)

    def _add_pre_hook(self, output_nr, fn):
        hooks = self.extra().pre_hooks.setdefault(output_nr, [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)


class AccumulateGrad(Node):
    """The node a leaf's gradient flows into: runs the leaf's hooks, adds into `.grad`.

    The leaf holds its AccumulateGrad (so it is made once, not every step) and the node holds
    the leaf weakly: no reference cycle. A gradient for a leaf nobody holds any more has
    nowhere to be seen, so it is dropped.
    """

    __slots__ = ("_variable",)

    def __init__(self, variable):
        self._variable = weakref.ref(variable)
        self.next_functions = ()
        self._seq = next_seq()
        self._saved = self._arrays = None
        self._extra = None
        # the leaf's shape and dtype: whatever swaps a leaf's array for another shape or dtype
        # (Tensor.data's setter, Module.to) drops the leaf's AccumulateGrad, so it stays true
        self._out_meta = (variable._data.shape, variable._data.dtype)

    @property
    def variable(self):
        return self._variable()

    def release(self):
        pass


def init_grad_fields(t):
    """Give `t` the fields gradient accumulation reads (unset until first needed, to keep
    the creation of every other tensor cheap)."""
    for name in ("_grad", "_hooks", "_retains_grad", "_accumulator"):
        if not hasattr(t, name):
            setattr(t, name, None)


def accumulator_of(leaf) -> AccumulateGrad:
    """The leaf's one AccumulateGrad, so that all edges to a leaf share it."""
    try:
        acc = leaf._accumulator
    except AttributeError:  # first use as a graph leaf
        init_grad_fields(leaf)
        acc = None
    if acc is None:
        acc = leaf._accumulator = AccumulateGrad(leaf)
    return acc


class RemovableHandle:
    """Returned by register_*hook; `remove()` unregisters (idempotent)."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._hooks is not None:
            try:
                self._hooks.remove(self._fn)
            except ValueError:
                pass
            self._hooks = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _Extra:
    """What few nodes carry: hooks, and the forward stack under detect_anomaly."""

    __slots__ = ("pre_hooks", "hooks", "trace")

    def __init__(self, trace=None):
        self.pre_hooks = {}  # {output_nr: [hook, ...]}; -1 holds node pre-hooks
        self.hooks = []
        self.trace = trace


def anomaly_extra():
    """The _Extra a new node starts with: None, unless detect_anomaly wants its stack."""
    return _Extra(anomaly.capture_stack()) if anomaly.state.enabled else None
