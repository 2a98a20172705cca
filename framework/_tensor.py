"""Tensor: an array of the active backend (NumPy or CuPy) plus autograd metadata.

`apply()` is the one place an op runs: it calls the op's forward on the inputs' arrays, wraps
the result, and records a graph node only when grad mode is on and some input requires grad
(so frozen parameters and no_grad code cost nothing beyond the arithmetic). Methods and
operators are thin bindings to the op functions in `framework.ops`.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _backend, dtypes
from ._backend import ARRAY_TYPES
from .autograd.anomaly import state as _anomaly
from .autograd.grad_mode import state as _grad_state
from .autograd.node import _RESULT, RemovableHandle, accumulator_of, anomaly_extra, next_seq
from .ops import arith as _A
from .ops import convert as _C
from .ops import indexing as _I
from .ops import join as _J
from .ops import linalg as _L
from .ops import reduce as _R
from .ops import shape as _S

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple that prints as `framework.Size([2, 3])`."""

    __slots__ = ()

    def __repr__(self):
        return f"framework.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


def _check_devices(tensors):
    first = tensors[0]._data
    for t in tensors[1:]:
        d = t._data
        if type(d) is not type(first) or (type(d) is not np.ndarray and d.device != first.device):
            a, b = _backend.device_of(first), _backend.device_of(d)
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{a} and {b}! Move them with .to(device) first."
            )


def apply(op, *inputs, **params):
    """Run `op` (a Node subclass) on `inputs` (Tensors, or plain Python values passed through).

    Returns the output Tensor; records `op` as its grad_fn when gradients are needed. This is
    the hottest path of the framework, hence the unrolled one- and two-input cases.
    """
    node = _new(op)
    if len(inputs) == 1:
        x = inputs[0]
        y = node.forward(x._data, **params)
        needs = x._requires_grad
    elif len(inputs) == 2:
        a, b = inputs
        ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
        if ta and tb:
            if type(a._data) is not type(b._data) or type(a._data) is not np.ndarray:
                _check_devices((a, b))
            try:
                y = node.forward(a._data, b._data, **params)
            except ValueError as e:
                _raise_forward_error(op, inputs, e)
            needs = a._requires_grad or b._requires_grad
        elif ta:
            y = node.forward(a._data, b, **params)
            needs = a._requires_grad
        else:
            y = node.forward(a, b._data, **params)
            needs = b._requires_grad
    else:
        tensors = [t for t in inputs if isinstance(t, Tensor)]
        if len(tensors) > 1:
            _check_devices(tensors)
        try:
            y = node.forward(*[t._data if isinstance(t, Tensor) else t for t in inputs], **params)
        except ValueError as e:
            _raise_forward_error(op, inputs, e)
        needs = any(t._requires_grad for t in tensors)
    if type(y) not in ARRAY_TYPES:
        y = np.asarray(y)  # NumPy returns scalars from 0-dim arithmetic and full reductions
    out = _new(Tensor)
    out._data = y
    out.grad_fn = None
    out._output_nr = 0
    if op.is_view:
        src = inputs[0]
        if src._vc is None:
            src._vc = [0]
        out._vc = src._vc
    else:
        out._vc = None
    if needs and _grad_state.grad_enabled:
        out._inference = False  # (inference mode turns grad mode off, so we are outside it)
        _record(node, out, inputs)
    else:
        out._inference = _grad_state.inference
        out._requires_grad = False
    return out


def _raise_forward_error(op, inputs, error):
    """Reword a ValueError from NumPy inside an op's forward: never a raw NumPy traceback."""
    shapes = [tuple(t._data.shape) for t in inputs if isinstance(t, Tensor)]
    if "broadcast" in str(error) and len(shapes) > 1:
        from .ops.indexing import _broadcast_shapes

        common = shapes[0]
        for shape in shapes[1:]:
            common = _broadcast_shapes(common, shape)  # raises PyTorch's message
    name = op.__name__.replace("Backward0", "").replace("Backward1", "").lower()
    raise RuntimeError(f"{name}: {error} (input shapes: {', '.join(map(str, shapes))})") from None


def apply1(op, x):
    """apply() for a parameterless op of one tensor: the same steps, unrolled (hot path)."""
    node = _new(op)
    y = node.forward(x._data)
    if type(y) not in ARRAY_TYPES:
        y = np.asarray(y)
    out = _new(Tensor)
    out._data = y
    out.grad_fn = None
    out._output_nr = 0
    out._vc = None
    if x._requires_grad and _grad_state.grad_enabled:
        out._inference = False
        _record(node, out, (x,))
    else:
        out._inference = _grad_state.inference
        out._requires_grad = False
    return out


def apply2(op, a, b):
    """apply() for a parameterless binary op, `a` a Tensor, `b` a Tensor or Python scalar."""
    node = _new(op)
    if isinstance(b, Tensor):
        if type(a._data) is not type(b._data) or type(a._data) is not np.ndarray:
            _check_devices((a, b))
        try:
            y = node.forward(a._data, b._data)
        except ValueError as e:  # NumPy's broadcast error, reworded as PyTorch's
            _raise_forward_error(op, (a, b), e)
        needs = a._requires_grad or b._requires_grad
    else:
        y = node.forward(a._data, b)
        needs = a._requires_grad
    if type(y) not in ARRAY_TYPES:
        y = np.asarray(y)
    out = _new(Tensor)
    out._data = y
    out.grad_fn = None
    out._output_nr = 0
    out._vc = None
    if needs and _grad_state.grad_enabled:
        out._inference = False
        _record(node, out, (a, b))
    else:
        out._inference = _grad_state.inference
        out._requires_grad = False
    return out


def apply_n(op, *inputs, **params):
    """apply() for an op with several outputs (split, unbind, an LSTM step): ONE node, whose
    outputs are its output_nr 0, 1, ...; they are views of input 0 when the op says so.
    Such ops save inputs only (not their results)."""
    node = _new(op)
    tensors = [t for t in inputs if isinstance(t, Tensor)]
    if len(tensors) > 1:
        _check_devices(tensors)
    ys = node.forward(*[t._data if isinstance(t, Tensor) else t for t in inputs], **params)
    src = inputs[0]
    if op.is_view and src._vc is None:
        src._vc = [0]
    outs = []
    for y in ys:
        out = wrap(y)
        if op.is_view:
            out._vc = src._vc  # views of the input: one version counter
        outs.append(out)
    if _grad_state.grad_enabled and any(t._requires_grad for t in tensors):
        node.next_functions = tuple(_edge_of(t) for t in inputs)
        node._seq = next_seq()
        node._extra = anomaly_extra() if _anomaly.enabled else None
        node.n_outputs = len(ys)
        node._out_meta = tuple((y.shape, y.dtype) for y in ys)
        if op._save_idx:
            _save_general(node, None, inputs, op._save_idx)
        else:
            node._saved = node._arrays = None
        for i, out in enumerate(outs):
            out._requires_grad, out.grad_fn, out._output_nr = True, node, i
    return tuple(outs)


def _record(node, out, inputs):
    """Make `node` out's grad_fn: edges to the inputs' nodes, saved values, metadata."""
    if len(inputs) == 1:
        t = inputs[0]  # _edge_of(t), inlined for the commonest case
        if t._inference:
            _raise_inference()
        fn = t.grad_fn
        node.next_functions = ((fn, t._output_nr) if fn is not None else (accumulator_of(t), 0),)
    elif len(inputs) == 2:
        a, b = inputs
        if isinstance(a, Tensor) and a._requires_grad and not a._inference:
            fn = a.grad_fn
            ea = (fn, a._output_nr) if fn is not None else (accumulator_of(a), 0)
        else:
            ea = _edge_of(a)
        if isinstance(b, Tensor) and b._requires_grad and not b._inference:
            fn = b.grad_fn
            eb = (fn, b._output_nr) if fn is not None else (accumulator_of(b), 0)
        else:
            eb = _edge_of(b)
        node.next_functions = (ea, eb)
    else:
        node.next_functions = tuple(_edge_of(t) for t in inputs)
    node._seq = next_seq()
    node._extra = anomaly_extra() if _anomaly.enabled else None
    y = out._data
    node._out_meta = (y.shape, y.dtype)
    save_idx = type(node)._save_idx
    if not save_idx:
        node._saved = node._arrays = None
    elif save_idx == _JUST_RESULT_IDX:  # tanh, exp, sigmoid, ...: unrolled, the commonest case
        vc = out._vc = [0]
        node._saved, node._arrays, node._checks = _JUST_RESULT, (y,), ((vc, 0, 0),)
    elif save_idx == _SELF_OTHER_IDX and isinstance(inputs[0], Tensor):
        # mul, div, matmul, linear's (input, weight), ...: unrolled, the next commonest case
        a, b = inputs[0], inputs[1]
        node._saved = (a, b)
        if isinstance(b, Tensor):
            vb = b._vc
            if vb is None:
                vb = b._vc = [0]
            if not b._requires_grad and type(node).self_only_for_other:
                node._saved = (None, b)  # x * mask: x is not needed by backward, don't keep it
                node._arrays = (None, b._data)
                node._checks = ((vb, vb[0], 1),)
            else:
                va = a._vc
                if va is None:
                    va = a._vc = [0]
                node._arrays = (a._data, b._data)
                node._checks = ((va, va[0], 0), (vb, vb[0], 1))
        elif type(node).self_only_for_other:  # x * 2.0: x is not needed by backward
            node._saved = (None, b)
            node._arrays = (None, b)
            node._checks = ()
        else:
            va = a._vc
            if va is None:
                va = a._vc = [0]
            node._arrays = (a._data, b)
            node._checks = ((va, va[0], 0),)
    else:
        _save_general(node, out, inputs, save_idx)
    out._requires_grad = True
    out.grad_fn = node


_NO_EDGE = (None, 0)
_JUST_RESULT_IDX = (-1,)
_SELF_OTHER_IDX = (0, 1)


def _save_general(node, out, inputs, save_idx):
    """Save any mix of inputs and the result, each tensor with its current version."""
    saved, arrays, checks = [], [], []
    for pos, i in enumerate(save_idx):
        if i < 0:  # the op's own output: keep its array and counter, never the tensor (a cycle)
            if out._vc is None:
                out._vc = [0]
            saved.append(_RESULT)
            arrays.append(out._data)
            checks.append((out._vc, out._vc[0], pos))
            continue
        value = inputs[i]
        saved.append(value)
        if isinstance(value, Tensor):
            if value._vc is None:
                value._vc = [0]
            arrays.append(value._data)
            checks.append((value._vc, value._vc[0], pos))
        else:
            arrays.append(value)
    node._saved, node._arrays, node._checks = tuple(saved), tuple(arrays), tuple(checks)


def _edge_of(t):
    """The edge to input `t`: (its grad_fn or its leaf's AccumulateGrad, output_nr)."""
    if not isinstance(t, Tensor) or not t._requires_grad:
        if isinstance(t, Tensor) and t._inference:
            _raise_inference()
        return _NO_EDGE
    if t._inference:
        _raise_inference()
    fn = t.grad_fn
    return (fn, t._output_nr) if fn is not None else (accumulator_of(t), 0)


def _raise_inference():
    raise RuntimeError(
        "Inference tensors cannot be saved for backward. To work around you can make a clone "
        "to get a normal tensor and use it in autograd."
    )
_JUST_RESULT = (_RESULT,)


def wrap(array, requires_grad=False) -> Tensor:
    """A new leaf Tensor over `array` (no copy)."""
    if type(array) not in ARRAY_TYPES:
        array = np.asarray(array)
    t = _new(Tensor)
    t._data = array
    t.grad_fn = None
    t._vc = None
    t._output_nr = 0
    t._inference = _grad_state.inference
    t._requires_grad = False
    if requires_grad:
        t.requires_grad_(True)
    return t


def _as_tensor_arg(value, like: Tensor):
    """Python scalars and arrays given where a tensor is expected, as constants on like's device."""
    if isinstance(value, Tensor):
        return value
    xp = _backend.xp_of(like._data)
    return wrap(xp.asarray(value))


class Tensor:
    """A multi-dimensional array with autograd. Create with `framework.tensor(...)`."""

    __slots__ = (
        "_data",  # the ndarray (NumPy or CuPy)
        "_requires_grad",
        "grad_fn",  # the Node that produced this tensor (None for leaves)
        "_vc",  # version counter [n], shared with views; None until first needed
        "_output_nr",  # which output of grad_fn this tensor is
        "_inference",  # made under inference_mode: may never join a graph
        "_grad",
        "_accumulator",  # this leaf's AccumulateGrad node (it refers back weakly)
        "_hooks",  # leaf hooks
        "_retains_grad",
        "__weakref__",
    )
    # NumPy must defer to us: `ndarray * Tensor` calls Tensor.__rmul__ instead of making an
    # object array.
    __array_ufunc__ = None
    _make = staticmethod(wrap)

    def __init__(self, data=None, *, dtype=None, device=None, requires_grad=False):
        from .creation import tensor as _tensor

        src = _tensor([] if data is None else data, dtype=dtype, device=device)
        self._data = src._data
        self.grad_fn = None
        self._vc = None
        self._output_nr = 0
        self._inference = _grad_state.inference
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- metadata ----------------------------------------------------------------------------

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_canon_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> _backend.device:
        return _backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return type(self._data) is not np.ndarray

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def stride(self, dim=None):
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[_canon_dim(dim, self._data.ndim)]

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        d = self._data
        return d.ctypes.data if type(d) is np.ndarray else d.data.ptr

    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc is not None else 0

    def _bump_version(self):
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1

    # --- autograd ----------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        requires_grad = bool(requires_grad)
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach()."
                )
            return self
        if requires_grad:
            if self._data.dtype.kind not in "fc":
                raise RuntimeError(
                    "only Tensors of floating point and complex dtype can require gradients "
                    f"(got {self.dtype}); convert first, e.g. x.float()"
                )
            if self._inference and not _grad_state.inference:
                raise RuntimeError(
                    "Setting requires_grad=True on inference tensor outside InferenceMode is "
                    "not allowed."
                )
        self._requires_grad = requires_grad
        return self

    def is_inference(self) -> bool:
        """True for tensors made under inference_mode (they can never join a graph)."""
        return self._inference

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        grad = getattr(self, "_grad", None)
        if grad is None and self.grad_fn is not None and not getattr(self, "_retains_grad", False):
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
                "mistake, make sure you access the leaf Tensor instead.",
                UserWarning,
                stacklevel=2,
            )
        return grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: {value.dtype} vs {self.dtype}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {list(value.shape)} vs "
                    f"{list(self.shape)}"
                )
            if value.device != self.device:
                raise RuntimeError(
                    f"assigned grad has data located on a different device: {value.device} vs "
                    f"{self.device}"
                )
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return bool(getattr(self, "_retains_grad", False))

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or getattr(self, "_retains_grad", False):
            return
        self._retains_grad = True
        import weakref

        ref = weakref.ref(self)  # the node must not hold its own output (a cycle)

        def retain(grad):
            t = ref()
            if t is not None:
                old = getattr(t, "_grad", None)
                g = grad if grad.grad_fn is not None else wrap(grad._data.copy())
                t._grad = g if old is None else old + g
            return None

        retain.__name__ = "retain_grad_hook"
        self.grad_fn._add_pre_hook(self._output_nr, retain)

    def register_hook(self, hook) -> RemovableHandle:
        """hook(grad) -> Tensor or None, called with this tensor's gradient during backward."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            handle = self.grad_fn._add_pre_hook(self._output_nr, hook)
            hooks = self.grad_fn._extra.pre_hooks[self._output_nr]
            # retain_grad keeps the final gradient, after every hook, whenever they were added
            hooks.sort(key=lambda h: getattr(h, "__name__", "") == "retain_grad_hook")
            return handle
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = []
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (see autograd.backward)."""
        from .autograd.api import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and version counter), outside the graph."""
        if self._vc is None:
            self._vc = [0]
        t = wrap(self._data)
        t._vc = self._vc
        t._inference = self._inference
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self) -> Tensor:
        return self.detach()

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        old, self._data = self._data, value._data
        if (old.shape, old.dtype) != (value._data.shape, value._data.dtype):
            self._accumulator = None  # it recorded the old shape and dtype

    # --- conversion --------------------------------------------------------------------------

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.reshape(()).item()

    def tolist(self):
        return _backend.to_numpy(self._data).tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {list(self.shape)}); use .any() or .all()"
            )
        return bool(self._data.reshape(()).item())

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __reduce_ex__(self, protocol):
        # pickling (e.g. to DataLoader worker processes) keeps data and requires_grad only
        return (_rebuild, (_backend.to_numpy(self._data), str(self.device), self._requires_grad))

    def __repr__(self):
        from ._format import format_tensor

        return format_tensor(self)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __dlpack__(self, *args, **kwargs):
        return self._data.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()


    # --- ops as methods and operators (the functions live in framework.ops) -------------------

    __add__ = __radd__ = _A.add
    __sub__ = _A.sub
    __rsub__ = _A.rsub
    __mul__ = __rmul__ = _A.mul
    __truediv__ = _A.div
    __rtruediv__ = _A.rdiv
    __pow__ = _A.pow
    __rpow__ = _A.rpow
    __matmul__ = _L.matmul
    __neg__ = _A.neg
    __abs__ = _A.abs
    __floordiv__ = _A.floor_divide
    __mod__ = _A.remainder
    __eq__ = _A.eq
    __ne__ = _A.ne
    __lt__ = _A.lt
    __le__ = _A.le
    __gt__ = _A.gt
    __ge__ = _A.ge
    __and__ = _A.bitwise_and
    __or__ = _A.bitwise_or
    __xor__ = _A.bitwise_xor
    __invert__ = _A.bitwise_not
    __getitem__ = _I.getitem
    __setitem__ = _I.setitem

    def __rmatmul__(self, other):
        return _L.matmul(_as_tensor_arg(other, self), self)

    def __pos__(self):
        return self

    # augmented assignment is in place, as in PyTorch (`p -= lr * p.grad` updates p itself)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    add, sub, mul, div, pow, neg = _A.add, _A.sub, _A.mul, _A.div, _A.pow, _A.neg
    subtract, multiply, divide, true_divide, negative = sub, mul, div, div, neg
    exp, log, log1p, expm1, sqrt, rsqrt = _A.exp, _A.log, _A.log1p, _A.expm1, _A.sqrt, _A.rsqrt
    reciprocal, square, abs, sign = _A.reciprocal, _A.square, _A.abs, _A.sign
    sin, cos, tanh, sigmoid, relu = _A.sin, _A.cos, _A.tanh, _A.sigmoid, _A.relu
    clamp = clip = _A.clamp
    maximum, minimum = _A.maximum, _A.minimum
    eq, ne, lt, le, gt, ge = _A.eq, _A.ne, _A.lt, _A.le, _A.gt, _A.ge
    logical_and, logical_or, logical_not = _A.logical_and, _A.logical_or, _A.logical_not
    logical_xor = _A.logical_xor

    def softmax(self, dim, dtype=None):
        from .ops.activation import softmax

        return softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        from .ops.activation import log_softmax

        return log_softmax(self, dim, dtype=dtype)

    def bernoulli(self, p=None, *, generator=None):
        from .creation import bernoulli

        return bernoulli(self, p, generator=generator)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from .creation import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)
    isnan, isinf, isfinite = _A.isnan, _A.isinf, _A.isfinite
    floor, ceil, round, trunc = _A.floor, _A.ceil, _A.round, _A.trunc
    remainder, floor_divide = _A.remainder, _A.floor_divide

    def where(self, condition, other):
        return _A.where(condition, self, other)

    sum, mean = _R.sum, _R.mean
    prod, var, std, logsumexp, norm, cumsum = _R.prod, _R.var, _R.std, _R.logsumexp, _R.norm, _R.cumsum
    max, min, amax, amin, argmax, argmin = _R.max, _R.min, _R.amax, _R.amin, _R.argmax, _R.argmin
    all, any, count_nonzero = _R.all, _R.any, _R.count_nonzero

    matmul, mm, bmm, dot, mv, outer = _L.matmul, _L.mm, _L.bmm, _L.dot, _L.mv, _L.outer

    reshape, view, flatten, unflatten = _S.reshape, _S.view, _S.flatten, _S.unflatten
    squeeze, unsqueeze, permute, transpose = _S.squeeze, _S.unsqueeze, _S.permute, _S.transpose
    swapaxes = swapdims = _S.transpose
    t, expand, expand_as, broadcast_to = _S.t, _S.expand, _S.expand_as, _S.broadcast_to
    view_as, reshape_as = _S.view_as, _S.reshape_as
    movedim = moveaxis = _S.movedim
    narrow, select = _S.narrow, _S.select
    split, chunk, unbind, repeat, tile = _J.split, _J.chunk, _J.unbind, _J.repeat, _J.tile
    tril, triu, flip, roll = _J.tril, _J.triu, _J.flip, _J.roll
    gather, scatter, scatter_add, index_select = _I.gather, _I.scatter, _I.scatter_add, _I.index_select
    scatter_, scatter_add_, take_along_dim = _I.scatter_, _I.scatter_add_, _I.take_along_dim
    masked_fill, masked_select, nonzero = _I.masked_fill, _I.masked_select, _I.nonzero
    T = property(_S.T)
    mT = property(_S.mT)

    to, clone, contiguous = _C.to, _C.clone, _C.contiguous

    def cpu(self):
        return _C.to(self, "cpu")

    def cuda(self, device=None):
        """A copy on a GPU: the current one, or `device` (an index, 'cuda:1', a device)."""
        if device is None or isinstance(device, int):
            device = _backend.device("cuda", device)
        return _C.to(self, device)

    def float(self):
        return _C.to(self, dtypes.float32)

    def double(self):
        return _C.to(self, dtypes.float64)

    def half(self):
        return _C.to(self, dtypes.float16)

    def long(self):
        return _C.to(self, dtypes.int64)

    def int(self):
        return _C.to(self, dtypes.int32)

    def bool(self):
        return _C.to(self, dtypes.bool)

    def byte(self):
        return _C.to(self, dtypes.uint8)

    def type_as(self, other):
        return _C.to(self, other.dtype)

    def type(self, dtype=None):
        """No argument: PyTorch's type string ('framework.FloatTensor'); else a cast."""
        if dtype is None:
            name = _TYPE_NAMES[self.dtype.name]
            return f"framework.{'cuda.' if self.is_cuda else ''}{name}"
        if isinstance(dtype, str):
            wanted = dtype.rsplit(".", 1)[-1]
            for dname, tname in _TYPE_NAMES.items():
                if tname == wanted:
                    return _C.to(self, getattr(dtypes, dname))
            raise ValueError(f"invalid type: {dtype!r}")
        return _C.to(self, dtype)

    def equal(self, other) -> bool:
        """True if same shape and all elements equal (dtypes may differ, as torch.equal)."""
        a, b = self._data, other._data
        return a.shape == b.shape and bool((a == b).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        xp = _backend.xp_of(self._data)
        return bool(xp.allclose(self._data, _as_tensor_arg(other, self)._data, rtol, atol, equal_nan))

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def _new_filled(self, fill, size, dtype, device, requires_grad):
        from .creation import _size

        xp = _backend.xp_of(self._data)
        np_dtype = self._data.dtype if dtype is None else dtypes.to_np(dtype)
        t = wrap(fill(xp, _size(size), np_dtype))
        if device is not None:
            t = t.to(device)
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new_filled(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return self._new_filled(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype,
                                device, requires_grad)

    # --- in place ------------------------------------------------------------------------------

    def add_(self, other, *, alpha=1):
        return _I.inplace(self, lambda src: _A.add(src, other, alpha=alpha), other)

    def sub_(self, other, *, alpha=1):
        return _I.inplace(self, lambda src: _A.sub(src, other, alpha=alpha), other)

    def mul_(self, other):
        return _I.inplace(self, lambda src: _A.mul(src, other), other)

    def div_(self, other, *, rounding_mode=None):
        return _I.inplace(self, lambda src: _A.div(src, other, rounding_mode=rounding_mode), other)

    def pow_(self, exponent):
        return _I.inplace(self, lambda src: _A.pow(src, exponent), exponent)

    def neg_(self):
        return _I.inplace(self, _A.neg)

    def exp_(self):
        return _I.inplace(self, _A.exp)

    def sqrt_(self):
        return _I.inplace(self, _A.sqrt)

    def relu_(self):
        return _I.inplace(self, _A.relu)

    def sigmoid_(self):
        return _I.inplace(self, _A.sigmoid)

    def tanh_(self):
        return _I.inplace(self, _A.tanh)

    def abs_(self):
        return _I.inplace(self, _A.abs)

    def clamp_(self, min=None, max=None):
        return _I.inplace(self, lambda src: _A.clamp(src, min, max))

    clip_ = clamp_

    def copy_(self, src, non_blocking=False):
        """Overwrite with `src` (broadcast, cast, moved); the gradient flows to `src`."""
        if not isinstance(src, Tensor):
            raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
        shape = self._data.shape
        return _I.inplace(
            self, lambda _: _S.expand(_C.to(src, dtype=self.dtype, device=self.device), shape), src
        )

    def _fill_with(self, make, value=None):
        """Overwrite every element with make() (zero_, fill_, normal_, ...).

        On a tensor in a graph (or filling from a tensor that requires grad) the fill is
        recorded, so the old value gets a zero gradient, as in PyTorch; otherwise it is a plain
        write into the array.
        """
        recording = _grad_state.grad_enabled
        if recording and self._requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "Wrap the call in `with framework.no_grad():`."
            )
        value_needs_grad = isinstance(value, Tensor) and value._requires_grad
        if recording and (self.grad_fn is not None or value_needs_grad):
            fill_value = value if value_needs_grad else make()
            return _I.inplace(self, lambda src: _I.fill(src, fill_value), fill_value)
        self._data[...] = make()
        self._bump_version()
        return self

    def zero_(self):
        return self._fill_with(lambda: 0)

    def fill_(self, value):
        return self._fill_with(lambda: value._data if isinstance(value, Tensor) else value, value)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from .random import default_generator

        rng = (generator or default_generator).for_device(self.device)
        return self._fill_with(lambda: rng.uniform(a, b, self._data.shape))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from .random import default_generator

        rng = (generator or default_generator).for_device(self.device)
        return self._fill_with(lambda: rng.normal(mean, std, self._data.shape))

    def bernoulli_(self, p=0.5, *, generator=None):
        from .random import default_generator

        rng = (generator or default_generator).for_device(self.device)
        return self._fill_with(lambda: rng.random(self._data.shape) < p)

    def masked_fill_(self, mask, value):
        return _I.inplace(self, lambda src: _I.masked_fill(src, mask, value), value)


def zero_grads(tensors, set_to_none: bool = True) -> None:
    """Module.zero_grad and Optimizer.zero_grad: each tensor's .grad to None, or zeroed in
    place (then detached from any graph that made it, as PyTorch does)."""
    for t in tensors:
        g = getattr(t, "_grad", None)
        if g is None:
            continue
        if set_to_none:
            t._grad = None
        else:
            if g.grad_fn is not None:
                g.detach_()
            else:
                g.requires_grad_(False)
            g.zero_()


_TYPE_NAMES = {
    "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
    "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
    "uint8": "ByteTensor", "bool": "BoolTensor",
}


def _rebuild(array, device, requires_grad):
    t = wrap(array)
    if device != "cpu":
        t = t.to(device)
    return t.requires_grad_(requires_grad)


def _canon_dim(dim, ndim):
    """`dim` as a non-negative int, or IndexError as PyTorch words it."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n
