"""Engine quality: deep graphs without recursion, each node run once, memory released by
reference counting alone (no cycles, saved arrays freed after backward), gradients never
aliased between tensors, and every gradient with its input's shape and dtype.
"""

from __future__ import annotations

import gc
import inspect
import sys
import time
import weakref

import numpy as np
import pytest

import framework as fw
from framework.autograd import Function


def leaf(data, dtype=None):
    return fw.tensor(data, dtype=dtype, requires_grad=True)


@pytest.fixture
def no_gc():
    """Cyclic GC off: whatever is freed in the test is freed by reference counting."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# --- deep and wide graphs -------------------------------------------------------------------------


def test_chain_of_100k_ops_backpropagates_without_recursion():
    n = 100_000
    x = leaf(1.0)
    start = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * 1.0
    # the engine must not recurse: a limit just above the current depth is plenty
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 100)
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)
    del y  # dropping the 100k-node graph must not overflow the stack either
    elapsed = time.perf_counter() - start
    assert x.grad.item() == 1.0
    assert elapsed < 15, f"100k-op chain took {elapsed:.1f}s"


class Count(Function):
    """Identity that counts its backward calls."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, g):
        Count.calls += 1
        return g


def test_each_node_runs_once_in_a_diamond():
    Count.calls = 0
    x = leaf([1.0, 2.0])
    a = Count.apply(x)
    b, c = a * 2, a * 3
    d = Count.apply(b + c)
    (d * d).sum().backward()
    assert Count.calls == 2
    np.testing.assert_allclose(x.grad.numpy(), 2 * 25 * np.array([1.0, 2.0]), err_msg="d(25x^2)/dx")


def test_each_node_runs_once_in_a_lattice_with_a_million_paths():
    # 20 stacked diamonds: 2**20 paths from the output to x; visiting paths would never finish
    Count.calls = 0
    x = leaf([1.0])
    y = x
    for _ in range(20):
        a = Count.apply(y)
        y = a * 0.5 + a * 0.5
    y.backward(fw.ones(1))
    assert Count.calls == 20
    np.testing.assert_allclose(x.grad.numpy(), [1.0], err_msg="identity through 20 diamonds")


# --- memory released by reference counting -----------------------------------------------------------


def test_dropped_graph_frees_saved_arrays_without_gc(no_gc):
    x = leaf(np.ones((100, 100)))
    h = x.exp()
    ref = weakref.ref(h._data)
    out = (h.sin() * h).sum()  # sin and mul both keep h's array
    del h
    assert ref() is not None, "saved for backward"
    del out
    assert ref() is None, "the graph's arrays are freed as soon as the output is dropped"


def test_backward_releases_saved_arrays_while_the_output_lives(no_gc):
    x = leaf(np.ones((100, 100)))
    h = x.exp()
    ref = weakref.ref(h._data)
    out = (h * h).tanh().sum()
    del h
    out.backward()
    assert ref() is None, "saved arrays are released by backward (retain_graph=False)"
    assert out.grad_fn is not None


def test_retain_graph_keeps_saved_arrays(no_gc):
    x = leaf(np.ones((10, 10)))
    h = x.exp()
    ref = weakref.ref(h._data)
    out = (h * h).sum()
    del h
    out.backward(retain_graph=True)
    assert ref() is not None
    out.backward()
    assert ref() is None


def test_custom_function_saved_tensors_are_released_by_backward(no_gc):
    x = leaf(np.ones((50, 50)))
    h = x * 2
    ref_in = weakref.ref(h._data)
    y = SavesBoth.apply(h)  # saves h and its own output
    ref_out = weakref.ref(y._data)
    out = y.sum()
    del h, y
    assert ref_in() is not None and ref_out() is not None
    out.backward()
    assert ref_in() is None and ref_out() is None


def _plain(x):
    (x.exp() * x).sum().backward()


class SavesBoth(Function):
    """Saves its input and its own output (the output must not be held as a tensor)."""

    @staticmethod
    def forward(ctx, a):
        r = a.exp()
        ctx.save_for_backward(r, a)
        return r

    @staticmethod
    def backward(ctx, g):
        r, a = ctx.saved_tensors
        return g * r


def _custom(x):
    SavesBoth.apply(x).sum().backward()


def _retain_and_hooks(x):
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g)
    h.sum().backward()


def _create_graph(x):
    (g,) = fw.autograd.grad((x**3).sum(), x, create_graph=True)
    (gg,) = fw.autograd.grad(g.sum(), x)


def _in_place(x):
    h = x * 2
    h.add_(1)
    h.mul_(x)
    h[0:2] = x[1:3] * 3
    h.sum().backward()


def _retain_graph(x):
    h = x.exp()
    y = (h * h).sum()
    y.backward(retain_graph=True)


def _anomaly(x):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fw.autograd.detect_anomaly():
            (x.exp() * x).sum().backward()


@pytest.mark.parametrize(
    "work", [_plain, _custom, _retain_and_hooks, _create_graph, _in_place, _retain_graph, _anomaly],
    ids=lambda f: f.__name__.strip("_"),
)
def test_graphs_make_no_reference_cycles(no_gc, work):
    before = {id(o) for o in gc.get_objects()}  # (garbage of earlier tests may surface later)
    x = leaf(np.linspace(0.1, 1.0, 10))
    work(x)
    del x
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collector finds, to name it
    try:
        gc.collect()
        ours = [o for o in gc.garbage if id(o) not in before
                and type(o).__module__.startswith(("framework", "numpy"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not ours, f"left in reference cycles: {sorted({type(o).__name__ for o in ours})}"


# --- gradients are never aliased ----------------------------------------------------------------------


def _shares(a, b):
    return np.shares_memory(a.grad._data if isinstance(a, fw.Tensor) else a,
                            b.grad._data if isinstance(b, fw.Tensor) else b)


def test_two_leaves_never_share_a_gradient_array():
    x, y = leaf([1.0, 2.0, 3.0]), leaf([4.0, 5.0, 6.0])
    (x + y).sum().backward()  # AddBackward0 hands the same gradient to both
    assert not _shares(x, y)
    x.grad.clamp_(max=0.5)  # clipping one must not change the other
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5, 0.5])


def test_leaf_used_through_reshape_views_gets_its_own_gradient():
    x = leaf(np.ones((2, 3)))
    (x.reshape(6) + x.reshape(6)).sum().backward()
    assert x.grad._data.base is None or not np.shares_memory(x.grad._data, x._data)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    a, b = leaf(np.ones(6)), leaf(np.ones((2, 3)))
    (a.reshape(2, 3) + b).sum().backward()
    assert not _shares(a, b)
    a.grad.mul_(0)
    np.testing.assert_array_equal(b.grad.numpy(), np.ones((2, 3)))


def test_caller_gradient_is_not_aliased():
    g = fw.ones(3)
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 2.0, 3.0])
    (a + b).backward(g)
    assert not _shares(a, b)
    assert not np.shares_memory(a.grad._data, g._data)
    assert not np.shares_memory(b.grad._data, g._data)
    c = leaf([1.0, 2.0, 3.0])
    c.backward(g)
    assert not np.shares_memory(c.grad._data, g._data)
    c.grad.add_(1)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0, 1.0])


@pytest.mark.parametrize("on", ["leaf", "non_leaf"])
def test_tensor_returned_by_a_hook_is_not_aliased(on):
    mine = fw.ones(2)
    x = leaf([1.0, 2.0])
    for _ in range(2):
        y = x + 0
        (x if on == "leaf" else y).register_hook(lambda g: mine)
        y.sum().backward()
    np.testing.assert_array_equal(mine.numpy(), [1.0, 1.0], err_msg="the hook's tensor was changed")
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_gradients_of_broadcasts_are_writable_arrays():
    for make in [lambda t: t.expand(2, 3), lambda t: t * fw.ones(4, 3), lambda t: t.sum() * fw.ones(3)]:
        a = leaf([1.0, 2.0, 3.0])
        make(a).sum().backward()
        assert a.grad._data.flags.writeable and a.grad.shape == (3,)
        a.grad.add_(1)  # in-place updates of .grad (optimizers, clipping) must work


def test_autograd_grad_results_are_distinct():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    ga, gb = fw.autograd.grad((a + b).sum(), [a, b])
    assert not np.shares_memory(ga._data, gb._data)


# --- shapes and dtypes of gradients ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a * fw.ones(3, dtype=fw.float64),  # float32 meets float64
        lambda a: a.double() * 2,
        lambda a: (a * 2.5).sum(),
        lambda a: a.reshape(3, 1) + fw.ones(1, 4),
        lambda a: a[[0, 0, 2]],
        lambda a: a.half().float() * 2,
    ],
    ids=["promoted", "to_double", "scalar", "broadcast", "index_repeat", "half_roundtrip"],
)
def test_every_gradient_has_its_inputs_shape_and_dtype(make):
    a = leaf([1.0, 2.0, 3.0])
    out = make(a)
    out.backward(fw.ones(out.shape, dtype=out.dtype))
    assert a.grad.shape == a.shape and a.grad.dtype == a.dtype == fw.float32


def test_wrongly_shaped_gradient_from_a_custom_function_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return g  # shape [] for an input of shape [3]

    with pytest.raises(RuntimeError, match=r"Function BadBackward returned an invalid gradient.*"
                       r"got shape \[\].*\[3\]"):
        Bad.apply(leaf([1.0, 2.0, 3.0])).backward()
