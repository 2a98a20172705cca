"""gradcheck / gradgradcheck: compare autograd's gradients with float64 central differences.

The numerical Jacobian perturbs each input element by ±eps; the analytical one comes from
backward with each output element's unit gradient in turn. Both are exact enough in float64
for a tolerance of about 1e-5.
"""

from __future__ import annotations

import numpy as np

from .._backend import to_numpy


class GradcheckError(RuntimeError):
    pass


def _tensors(inputs):
    from .._tensor import Tensor

    return [x for x in (inputs if isinstance(inputs, (tuple, list)) else (inputs,))
            if isinstance(x, Tensor)]


def _outputs(fn, inputs):
    from .._tensor import Tensor

    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o._data.dtype.kind == "f"]


def _numerical(fn, inputs, wrt, eps):
    """J[k][j, i] = d out_j / d wrt_k[i] by central differences (inputs perturbed in place)."""
    from .grad_mode import no_grad

    jac = []
    with no_grad():
        for x in wrt:
            data = x._data  # written element by element (reshape(-1) would copy a strided array)
            cols = []
            for i in range(data.size):
                at = np.unravel_index(i, data.shape)
                orig = data[at].item()
                data[at] = orig + eps
                plus = [to_numpy(o._data).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                data[at] = orig - eps
                minus = [to_numpy(o._data).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                data[at] = orig
                cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
            jac.append(np.stack(cols, axis=1) if cols else np.zeros((0, 0)))
    return jac


def _analytical(fn, inputs, wrt):
    from .._tensor import wrap
    from .api import grad

    outs = _outputs(fn, inputs)
    sizes = [o._data.size for o in outs]
    rows = [[] for _ in wrt]
    for k, o in enumerate(outs):
        if not o._requires_grad:  # an output that doesn't depend on the inputs: zero rows
            for r, x in enumerate(wrt):
                rows[r].extend(np.zeros(x._data.size) for _ in range(sizes[k]))
            continue
        for j in range(sizes[k]):
            seed = np.zeros(o._data.size, dtype=o._data.dtype)
            seed[j] = 1
            xp_seed = wrap(seed.reshape(o._data.shape))
            if type(o._data) is not np.ndarray:
                xp_seed = xp_seed.to(o.device)
            gs = grad([o], wrt, [xp_seed], retain_graph=True, allow_unused=True)
            for r, (x, g) in enumerate(zip(wrt, gs)):
                if g is not None and g._data.shape != x._data.shape:
                    raise GradcheckError(
                        f"gradient has shape {list(g.shape)} but its input has {list(x.shape)}"
                    )
                if g is not None and g._data.dtype != x._data.dtype:
                    raise GradcheckError(
                        f"gradient has dtype {g.dtype} but its input has {x.dtype}"
                    )
                rows[r].append(np.zeros(x._data.size) if g is None else to_numpy(g._data).astype(np.float64).ravel())
    return [np.stack(r, axis=0) if r else np.zeros((0, 0)) for r in rows]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **kwargs) -> bool:
    """True if autograd's Jacobian matches finite differences for every input requiring grad."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [x for x in _tensors(inputs) if x._requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for x in wrt:
        if x._data.dtype != np.float64:
            import warnings

            warnings.warn(
                f"Input #{wrt.index(x)} requires gradient and is not a double precision floating "
                "point. This check will likely fail if all the inputs are not of double "
                "precision floating point.", stacklevel=2,
            )
    numerical = _numerical(func, inputs, wrt, eps)
    analytical = _analytical(func, inputs, wrt)
    for k, (n, a) in enumerate(zip(numerical, analytical)):
        if n.shape != a.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            raise GradcheckError(
                f"Jacobian mismatch for output 0 with respect to input {k},\n"
                f"numerical:{n}\nanalytical:{a}\nmax abs diff: "
                f"{np.abs(a - n).max() if n.shape == a.shape else 'shape mismatch'}"
            )
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **kwargs) -> bool:
    """gradcheck of the first derivative (built with create_graph=True): second order."""
    from .._tensor import wrap
    from .api import grad
    from .grad_mode import enable_grad

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [
            wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype)).to(o.device).requires_grad_()
            for o in outs
        ]
    grad_outputs = list(grad_outputs)
    n_in = len(inputs)

    def first_derivative(*args):
        ins, gos = args[:n_in], args[n_in:]
        w = [x for x in _tensors(ins) if x._requires_grad]
        with enable_grad():  # the numerical pass calls this under no_grad
            os = _outputs(func, ins)
            gs = grad(os, w, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, inputs + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
