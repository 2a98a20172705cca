"""backward(): runs the graph's nodes in reverse creation order, each once.

Every node gets a sequence number when it is created, and a node is always created after the
nodes it sends gradients to (its inputs' nodes). So popping the highest-numbered pending node
from a heap visits a node only after every node that feeds it a gradient has run: a
topological order without a separate dependency pass, and without recursion (graphs 100,000
ops deep work). When only some inputs' gradients are wanted (autograd.grad, backward(inputs=)),
one iterative walk first marks the nodes that lead to them; the others are skipped.

Gradients arriving at a node are summed out of place, so an array handed to one place is
never changed through another. A leaf's first gradient is stored as its own array: a view, or
an array already handed to another leaf (AddBackward returns `gy` twice), is copied first.
Each node's saved values are released after it ran, unless retain_graph.

Without create_graph, gradients are raw arrays and grad mode is off while nodes run; with it,
gradients are Tensors and grad mode is on, so backward formulas record a graph of their own.
"""

from __future__ import annotations

from heapq import heappop, heappush

from .._tensor import wrap
from . import anomaly
from .grad_mode import state as _grad_state
from .node import AccumulateGrad, accumulator_of, init_grad_fields


def _postorder(roots):
    """Nodes reachable from `roots`, each after everything it feeds into (iterative DFS)."""
    order, visited = [], set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child, _ in children:
                if child is not None and child not in visited:
                    visited.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _needed(roots, targets):
    """Nodes from which some target can be reached (the others need not run)."""
    needed = set()
    for node in _postorder(roots):  # children come before parents
        if node in targets or any(c in needed for c, _ in node.next_functions if c is not None):
            needed.add(node)
    return needed


def run_backward(roots, root_grads, retain_graph, create_graph, inputs=None, accumulate=True):
    """Backpropagate `root_grads` from the `roots` tensors.

    accumulate=True (Tensor.backward): add into leaves' `.grad` (only `inputs`' if given).
    accumulate=False (autograd.grad): return the gradients of `inputs`, touching no `.grad`.
    """
    root_nodes = [t.grad_fn if t.grad_fn is not None else accumulator_of(t) for t in roots]

    capture, targets, needed = {}, None, None  # capture: (node, output_nr) -> input positions
    if inputs is not None:
        for i, t in enumerate(inputs):
            key = (t.grad_fn, t._output_nr) if t.grad_fn is not None else (accumulator_of(t), 0)
            capture.setdefault(key, []).append(i)
        targets = {node for node, _ in capture}
        needed = _needed(root_nodes, targets)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    # pending gradients: the gradient itself for single-output nodes, else a list per output
    buffers, heap = {}, []
    handed = {}  # id -> array, for arrays a leaf or the caller already holds
    for node, t, g in zip(root_nodes, roots, root_grads):
        if not create_graph:
            handed[id(g)] = g
        _add(buffers, heap, node, t._output_nr, g)

    prev = _grad_state.grad_enabled
    _grad_state.grad_enabled = create_graph
    check_nan = anomaly.state.enabled and anomaly.state.check_nan
    try:
        while heap:
            node = heappop(heap)[1]
            g = buffers.pop(node)
            if needed is not None and node not in needed:
                continue
            extra = node._extra
            if type(node) is AccumulateGrad and extra is None and not capture:
                leaf = node._variable()  # a leaf's gradient, the common case: straight in
                if leaf is not None and accumulate and targets is None:
                    _accumulate(leaf, g, create_graph, handed)
                continue
            single = node.n_outputs == 1
            if extra is not None or capture or type(node) is AccumulateGrad:
                grads = [g] if single else g
                if extra is not None and extra.pre_hooks:
                    grads = _run_pre_hooks(node, grads, create_graph, handed)
                    g = grads[0] if single else grads
                if capture:
                    for nr, gi in enumerate(grads):
                        for i in capture.get((node, nr), ()):
                            captured[i] = gi
                if type(node) is AccumulateGrad:
                    leaf = node.variable
                    if leaf is not None and accumulate and (targets is None or node in targets):
                        _accumulate(leaf, grads[0], create_graph, handed)
                    continue
                if targets is not None and not any(
                    c in needed for c, _ in node.next_functions if c is not None
                ):
                    continue  # a wanted non-leaf whose inputs lead nowhere wanted
            out = node.backward(g) if single else node.backward(*g)
            if type(out) is not tuple:
                out = (out,)
            if extra is not None and extra.hooks:
                out = _run_node_hooks(node, out, [g] if single else g)
            if check_nan:
                _check_nan(node, out)
            if not retain_graph:
                node._arrays = node._saved = None  # Node.release, inlined: this loop is hot
            for (child, nr), gi in zip(node.next_functions, out):
                if child is None or gi is None:
                    continue
                child_single = child.n_outputs == 1
                shape, dtype = child._out_meta if child_single else child._out_meta[nr]
                if gi.shape != shape:
                    _raise_bad_shape(node, gi, shape)
                if gi.dtype is not dtype and gi.dtype != dtype:
                    gi = gi.to(dtype) if create_graph else gi.astype(dtype)
                if child_single:
                    old = buffers.get(child)
                    if old is None:
                        buffers[child] = gi
                        heappush(heap, (-child._seq, child))
                    else:
                        buffers[child] = old + gi  # out of place: `old` may be held elsewhere
                else:
                    _add(buffers, heap, child, nr, gi)
    finally:
        _grad_state.grad_enabled = prev
    if accumulate and inputs is not None:
        # backward(inputs=[non_leaf]) accumulates into that tensor's .grad, as PyTorch does
        for t, g in zip(inputs, captured):
            if t.grad_fn is not None and g is not None:
                init_grad_fields(t)
                _accumulate(t, g, create_graph, handed)
    return captured


def _add(buffers, heap, node, nr, g):
    """Add gradient `g` for output `nr` of `node` to its buffer (queueing the node if new)."""
    buf = buffers.get(node)
    if buf is None:
        heappush(heap, (-node._seq, node))
        if node.n_outputs == 1:
            buffers[node] = g
            return
        buf = buffers[node] = [None] * node.n_outputs
    elif node.n_outputs == 1:
        buffers[node] = buf + g
        return
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _raise_bad_shape(node, g, shape):
    raise RuntimeError(
        f"Function {type(node).__name__} returned an invalid gradient - got shape "
        f"{list(g.shape)} but expected shape compatible with {list(shape)}"
    )


def _accumulate(leaf, g, create_graph, handed):
    hooks = leaf._hooks
    if hooks:
        g = _call_tensor_hooks(hooks, g, create_graph, handed)
    old = leaf._grad
    if create_graph:
        leaf._grad = g if old is None else old + g
        return
    if old is None or old._requires_grad:
        if old is not None:
            g = old._data + g
        elif g.base is not None or id(g) in handed:
            g = g.copy()  # a view, or an array another leaf or the caller already holds
        handed[id(g)] = g
        leaf._grad = wrap(g)
    else:
        old._data += g  # in place, as PyTorch: other references to .grad see the sum


def _call_tensor_hooks(hooks, g, create_graph, handed=None):
    for hook in list(hooks):
        r = hook(g if create_graph else wrap(g))
        if r is not None:
            if not create_graph:
                r = r._data
                if handed is not None:
                    handed[id(r)] = r  # the hook's caller may keep it: copy before storing
            if r.shape != g.shape:
                raise RuntimeError(
                    f"hook '{getattr(hook, '__name__', hook)}' has changed the size of value: "
                    f"expected {list(g.shape)}, got {list(r.shape)}"
                )
            g = r
    return g


def _run_pre_hooks(node, grads, create_graph, handed):
    grads = list(grads)
    pre_hooks = node._extra.pre_hooks
    for nr, hooks in pre_hooks.items():
        if nr != -1 and grads[nr] is not None and hooks:
            grads[nr] = _call_tensor_hooks(hooks, grads[nr], create_graph, handed)
    for hook in list(pre_hooks.get(-1, ())):
        r = hook(tuple(grads))
        if r is not None:
            grads = list(r)
    return grads


def _run_node_hooks(node, out, grads):
    for hook in list(node._extra.hooks):
        r = hook(out, tuple(grads))
        if r is not None:
            out = tuple(r)
    return out


def _check_nan(node, out):
    for i, g in enumerate(out):
        if g is None:
            continue
        data = getattr(g, "_data", g)
        if data.dtype.kind == "f" and bool((data != data).any()):
            trace = (node._extra and node._extra.trace) or "(forward trace not recorded: the op ran before detect_anomaly)"
            raise RuntimeError(
                f"Function '{type(node).__name__}' returned nan values in its {i}th output.\n"
                f"The forward call that created it:\n{trace}"
            )
