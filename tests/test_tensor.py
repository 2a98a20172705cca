"""The Tensor API as PyTorch users know it: creation, seeding, dtypes and promotion,
conversions, metadata, item/tolist/numpy, clone/contiguous/equal/allclose, and repr.
"""

from __future__ import annotations

import numpy as np
import pytest

import framework as fw

# --- creation ---------------------------------------------------------------------------------------


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = fw.tensor(a)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0]
    u = fw.tensor(t)
    t.add_(1)
    assert u.tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory_both_ways():
    a = np.array([1, 2, 3], dtype=np.int32)
    t = fw.from_numpy(a)
    assert t.dtype == fw.int32
    a[0] = 10
    assert t.tolist() == [10, 2, 3]
    t[1] = 20
    assert a.tolist() == [10, 20, 3]
    assert t.numpy() is a
    with pytest.raises(TypeError, match="expected np.ndarray"):
        fw.from_numpy([1, 2])


def test_as_tensor_shares_when_it_can():
    a = np.array([1.0, 2.0])
    t = fw.as_tensor(a)
    assert t.dtype == fw.float64 and np.shares_memory(t.numpy(), a)
    c = fw.as_tensor(a, dtype=fw.float32)  # another dtype: a copy
    assert c.dtype == fw.float32 and not np.shares_memory(c.numpy(), a)
    x = fw.tensor([1.0])
    assert fw.as_tensor(x) is x
    assert fw.as_tensor([1, 2]).dtype == fw.int64


@pytest.mark.parametrize(
    "make, shape, dtype, values",
    [
        (lambda: fw.zeros(2, 3), (2, 3), fw.float32, np.zeros((2, 3))),
        (lambda: fw.zeros((2, 3)), (2, 3), fw.float32, np.zeros((2, 3))),
        (lambda: fw.zeros([2]), (2,), fw.float32, np.zeros(2)),
        (lambda: fw.ones(2, dtype=fw.int64), (2,), fw.int64, np.ones(2)),
        (lambda: fw.ones(2, dtype=fw.bool), (2,), fw.bool, np.ones(2)),
        (lambda: fw.full((2, 2), 1.5), (2, 2), fw.float32, np.full((2, 2), 1.5)),
        (lambda: fw.full((2,), 3), (2,), fw.int64, [3, 3]),
        (lambda: fw.full((2,), True), (2,), fw.bool, [True, True]),
        (lambda: fw.full((2,), 2, dtype=fw.float32), (2,), fw.float32, [2.0, 2.0]),
        (lambda: fw.empty(2, 3), (2, 3), fw.float32, None),
        (lambda: fw.empty(0), (0,), fw.float32, None),
        (lambda: fw.arange(5), (5,), fw.int64, np.arange(5)),
        (lambda: fw.arange(1, 4, 0.5), (6,), fw.float32, np.arange(1, 4, 0.5)),
        (lambda: fw.arange(5, dtype=fw.float32), (5,), fw.float32, np.arange(5)),
        (lambda: fw.arange(5, 0, -2), (3,), fw.int64, [5, 3, 1]),
        (lambda: fw.linspace(0, 1, 5), (5,), fw.float32, np.linspace(0, 1, 5)),
        (lambda: fw.linspace(0, 1, 1), (1,), fw.float32, [0.0]),
        (lambda: fw.eye(2, 3), (2, 3), fw.float32, np.eye(2, 3)),
        (lambda: fw.eye(2, dtype=fw.int64), (2, 2), fw.int64, np.eye(2)),
        (lambda: fw.zeros_like(fw.tensor([1, 2])), (2,), fw.int64, [0, 0]),
        (lambda: fw.ones_like(fw.tensor([1.0, 2.0]), dtype=fw.float64), (2,), fw.float64, [1, 1]),
        (lambda: fw.full_like(fw.tensor([1, 2]), 7), (2,), fw.int64, [7, 7]),
        (lambda: fw.empty_like(fw.ones(2, 3)), (2, 3), fw.float32, None),
        (lambda: fw.rand(2, 3), (2, 3), fw.float32, None),
        (lambda: fw.rand(2, dtype=fw.float64), (2,), fw.float64, None),
        (lambda: fw.randn(3), (3,), fw.float32, None),
        (lambda: fw.randint(0, 10, (5,)), (5,), fw.int64, None),
        (lambda: fw.randint(10, (2, 2)), (2, 2), fw.int64, None),
        (lambda: fw.randint(0, 10, (3,), dtype=fw.float32), (3,), fw.float32, None),
        (lambda: fw.randperm(5), (5,), fw.int64, None),
        (lambda: fw.rand_like(fw.ones(2, dtype=fw.float64)), (2,), fw.float64, None),
        (lambda: fw.randn_like(fw.ones(4)), (4,), fw.float32, None),
    ],
)
def test_creation_functions(make, shape, dtype, values):
    t = make()
    assert t.shape == shape and t.dtype == dtype and t.device == fw.device("cpu")
    assert t.is_leaf and not t.requires_grad
    if values is not None:
        np.testing.assert_allclose(t.numpy(), np.asarray(values, dtype=np.float64), rtol=1e-6)


def test_creation_with_requires_grad():
    for t in [fw.zeros(2, requires_grad=True), fw.ones(2, requires_grad=True),
              fw.randn(2, requires_grad=True), fw.tensor([1.0], requires_grad=True),
              fw.full((2,), 1.0, requires_grad=True), fw.arange(3.0, requires_grad=True)]:
        assert t.requires_grad and t.is_leaf


def test_random_values_are_in_range():
    r = fw.rand(10_000).numpy()
    assert r.min() >= 0.0 and r.max() < 1.0 and abs(r.mean() - 0.5) < 0.02
    n = fw.randn(10_000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05
    i = fw.randint(3, 5, (1000,)).numpy()
    assert set(np.unique(i).tolist()) == {3, 4}
    assert sorted(fw.randperm(6).tolist()) == list(range(6))


def test_creation_errors():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        fw.zeros(-1)
    with pytest.raises(TypeError, match="size must be a tuple of ints"):
        fw.zeros("a")
    with pytest.raises(RuntimeError, match="random_ expects 'from' to be less than 'to', but got "
                       "from=5 >= to=3"):
        fw.randint(5, 3, (2,))
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        fw.arange(0, 1, 0)
    with pytest.raises(NotImplementedError, match="randn.*int64"):
        fw.randn(2, dtype=fw.int64)
    with pytest.raises(ValueError, match="nested sequences of different lengths"):
        fw.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="can't convert"):
        fw.tensor(["a"])


# --- seeding ---------------------------------------------------------------------------------------


def test_manual_seed_reproduces_every_random_function():
    def draw():
        return [fw.rand(3).tolist(), fw.randn(2, 2).tolist(), fw.randint(0, 100, (4,)).tolist(),
                fw.randperm(8).tolist(), fw.empty(3).uniform_(-1, 1).tolist(),
                fw.empty(3).normal_(0, 2).tolist()]

    fw.manual_seed(123)
    first = draw()
    fw.manual_seed(123)
    assert draw() == first
    fw.manual_seed(124)
    assert draw() != first


def test_generators_are_independent_of_the_default_one():
    g = fw.Generator().manual_seed(7)
    a = fw.rand(3, generator=g).tolist()
    fw.manual_seed(0)
    fw.rand(5)  # drawing from the default generator does not disturb g's stream
    g2 = fw.Generator().manual_seed(7)
    assert fw.rand(3, generator=g2).tolist() == a
    assert fw.initial_seed() == 0
    state = fw.get_rng_state()
    x = fw.rand(4).tolist()
    fw.set_rng_state(state)
    assert fw.rand(4).tolist() == x


# --- dtypes and promotion ------------------------------------------------------------------------------


def test_dtype_objects():
    assert repr(fw.float32) == str(fw.float32) == "framework.float32"
    assert repr(fw.int64) == "framework.int64" and repr(fw.bool) == "framework.bool"
    assert fw.float is fw.float32 and fw.double is fw.float64 and fw.long is fw.int64
    assert fw.half is fw.float16 and fw.int is fw.int32
    assert fw.float32.is_floating_point and not fw.int64.is_floating_point
    assert fw.int64.itemsize == 8
    assert fw.get_default_dtype() == fw.float32


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, fw.float32), (1, fw.int64), (True, fw.bool), ([1, 2.5], fw.float32),
        ([[1, 2], [3, 4]], fw.int64), ([True, 2], fw.int64), ([], fw.float32),
        (np.array([1.0, 2.0]), fw.float64), (np.array([1, 2], dtype=np.int32), fw.int32),
        (np.array([1, 2], dtype=np.uint8), fw.uint8), (np.float64(1.5), fw.float64),
        (np.float32(1.5), fw.float32), (np.int32(3), fw.int32), ([np.float64(1.5), 2.0], fw.float64),
        ([np.float32(1.0), 2], fw.float32), (np.float16(1.0), fw.float16),
    ],
)
def test_dtype_inference(data, dtype):
    assert fw.tensor(data).dtype == dtype


def test_set_default_dtype():
    try:
        fw.set_default_dtype(fw.float64)
        assert fw.tensor(1.5).dtype == fw.float64 and fw.zeros(1).dtype == fw.float64
        assert (fw.tensor([1, 2]) * 2.5).dtype == fw.float64
        assert repr(fw.tensor([1.5])) == "tensor([1.5000])"
    finally:
        fw.set_default_dtype(fw.float32)
    assert fw.tensor(1.5).dtype == fw.float32
    with pytest.raises(TypeError, match="only floating-point types are supported as the default type"):
        fw.set_default_dtype(fw.int64)


T = fw.tensor
PROMOTION = [
    ("f32 * 2.5", lambda: T([1.0, 2.0]) * 2.5, fw.float32),
    ("f32 * 2", lambda: T([1.0, 2.0]) * 2, fw.float32),
    ("f32 + f64", lambda: T([1.0]) + T([1.0], dtype=fw.float64), fw.float64),
    ("i64 + f32", lambda: T([1, 2]) + T([1.0, 2.0]), fw.float32),
    ("i64 * 2.5", lambda: T([1, 2]) * 2.5, fw.float32),
    ("2.5 - i64", lambda: 2.5 - T([1, 2]), fw.float32),
    ("i64 * 2", lambda: T([1, 2]) * 2, fw.int64),
    ("bool + 1", lambda: T([True, False]) + 1, fw.int64),
    ("bool + bool", lambda: T([True]) + T([True]), fw.bool),
    ("bool + i64", lambda: T([True]) + T([3]), fw.int64),
    ("bool * 1.5", lambda: T([True]) * 1.5, fw.float32),
    ("i32 + 1", lambda: T([1], dtype=fw.int32) + 1, fw.int32),
    ("i32 + i64", lambda: T([1], dtype=fw.int32) + T([1]), fw.int64),
    ("i32 + 0-dim i64", lambda: T([1], dtype=fw.int32) + T(1), fw.int32),
    ("f32 * 0-dim f64", lambda: T([1.0]) * T(2.0, dtype=fw.float64), fw.float32),
    ("0-dim f64 * 0-dim f32", lambda: T(1.0, dtype=fw.float64) * T(2.0), fw.float64),
    ("i64 + 0-dim f64", lambda: T([1]) + T(2.0, dtype=fw.float64), fw.float64),
    ("f16 + 1.0", lambda: T([1.0], dtype=fw.float16) + 1.0, fw.float16),
    ("f16 + f32", lambda: T([1.0], dtype=fw.float16) + T([1.0]), fw.float32),
    ("u8 + i8", lambda: T([1], dtype=fw.uint8) + T([1], dtype=fw.int8), fw.int16),
    ("i64 / 2", lambda: T([1, 2]) / 2, fw.float32),
    ("i64 ** 2", lambda: T([1, 2]) ** 2, fw.int64),
    ("i64 ** 0.5", lambda: T([1, 2]) ** 0.5, fw.float32),
    ("f32 == f64", lambda: T([1.0]) == T([1.0], dtype=fw.float64), fw.bool),
    ("i64 // 2", lambda: T([3, 2]) // 2, fw.int64),
    ("i64.exp()", lambda: T([1, 2]).exp(), fw.float32),
    ("bool.sum()", lambda: T([True, True]).sum(), fw.int64),
    ("i32.sum()", lambda: T([1, 2], dtype=fw.int32).sum(), fw.int64),
    ("i64 / i64", lambda: T([1, 2]) / T([2, 2]), fw.float32),
]
PROMOTION = [pytest.param(*row, id=row[0]) for row in PROMOTION]


@pytest.mark.parametrize("name, make, dtype", PROMOTION)
def test_type_promotion_follows_pytorch(name, make, dtype):
    assert make().dtype == dtype, name


def test_promote_types():
    assert fw.promote_types(fw.int32, fw.float16) == fw.float16
    assert fw.promote_types(fw.uint8, fw.int8) == fw.int16
    assert fw.promote_types(fw.bool, fw.int8) == fw.int8
    assert fw.promote_types(fw.float32, fw.float64) == fw.float64


# --- conversions ------------------------------------------------------------------------------------


def test_to_dtype_and_device():
    x = fw.tensor([1.5, -2.5])
    assert x.to(fw.float32) is x and x.to("cpu") is x and x.float() is x
    assert x.to(fw.device("cpu")) is x and x.to("cpu", fw.float32) is x
    d = x.to(fw.float64)
    assert d.dtype == fw.float64 and d is not x
    assert x.to("cpu", fw.float64).dtype == fw.float64
    assert x.to(device="cpu", dtype=fw.float16).dtype == fw.float16
    assert x.to(fw.int32, copy=True).tolist() == [1, -2]
    assert x.long().tolist() == [1, -2] and x.long().dtype == fw.int64
    assert x.double().dtype == fw.float64 and x.half().dtype == fw.float16
    assert x.int().dtype == fw.int32 and x.bool().tolist() == [True, True]
    assert fw.tensor([1, 0]).float().tolist() == [1.0, 0.0]
    assert x.type_as(fw.tensor([1])).dtype == fw.int64
    assert x.to(fw.tensor([1], dtype=fw.int32)).dtype == fw.int32
    assert x.type() == "framework.FloatTensor" and x.type(fw.float64).dtype == fw.float64
    assert x.type("framework.DoubleTensor").dtype == fw.float64
    c = x.to(fw.float32, copy=True)
    assert c is not x and not np.shares_memory(c.numpy(), x.numpy())


def test_to_is_differentiable_and_the_gradient_keeps_the_input_dtype():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert type(y.grad_fn).__name__ == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.dtype == fw.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert not x.long().requires_grad, "integer results can't carry gradients"


# --- metadata ---------------------------------------------------------------------------------------


def test_metadata():
    x = fw.zeros(2, 3)
    assert x.shape == (2, 3) and isinstance(x.shape, fw.Size) and isinstance(x.shape, tuple)
    assert repr(x.shape) == "framework.Size([2, 3])"
    assert x.size() == fw.Size([2, 3]) and x.size(1) == 3 and x.size(-1) == 3
    assert x.dim() == x.ndim == 2 and x.numel() == 6 and fw.numel(x) == 6
    assert x.dtype == fw.float32 and x.device == fw.device("cpu") and x.device.type == "cpu"
    assert not x.is_cuda and x.is_floating_point() and fw.is_tensor(x) and not fw.is_tensor(1)
    assert x.T.shape == (3, 2) and x.t().shape == (3, 2)
    assert fw.zeros(4, 2, 3).mT.shape == (4, 3, 2)
    assert x.element_size() == 4 and x.nbytes == 24
    assert x.stride() == (3, 1) and x.T.stride() == (1, 3)
    assert len(fw.zeros(4, 2)) == 4
    s = fw.tensor(5.0)
    assert s.shape == () and s.dim() == 0 and s.numel() == 1
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of "
                       r"\[-2, 1\], but got 5\)"):
        x.size(5)
    with pytest.raises(RuntimeError, match="tensor.mT is only supported on matrices or batches of "
                       "matrices. Got 1-D tensor."):
        _ = fw.ones(3).mT
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        fw.zeros(2, 3, 4).t()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)


def test_item_and_tolist():
    assert fw.tensor([2.5]).item() == 2.5 and isinstance(fw.tensor(2.5).item(), float)
    assert fw.tensor(3).item() == 3 and isinstance(fw.tensor(3).item(), int)
    assert fw.tensor(True).item() is True
    assert fw.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert fw.tensor([1.5, 2.0]).tolist() == [1.5, 2.0]
    assert fw.tensor(2.5).tolist() == 2.5
    assert float(fw.tensor(3.5)) == 3.5 and int(fw.tensor(3.7)) == 3
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        fw.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(fw.tensor([1.0, 2.0]))


def test_numpy_refuses_tensors_that_require_grad():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad. "
                       r"Use tensor.detach\(\).numpy\(\) instead."):
        x.numpy()
    a = x.detach().numpy()
    assert a.dtype == np.float32 and np.shares_memory(a, x.detach().numpy())
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        np.asarray(x)
    assert np.asarray(x.detach()).tolist() == [1.0, 2.0]


def test_clone_contiguous_equal_allclose():
    x = fw.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = x.clone()
    assert type(c.grad_fn).__name__ == "CloneBackward0" and c.equal(x)
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))
    y = fw.ones(3, 2)
    assert y.contiguous() is y
    t = y.t()
    assert not t.is_contiguous() and t.contiguous().is_contiguous() and t.contiguous().equal(t)
    assert fw.tensor([1, 2]).equal(fw.tensor([1, 2])) and fw.equal(fw.tensor([1.0, 2.0]), fw.tensor([1, 2]))
    assert not fw.tensor([1, 2]).equal(fw.tensor([1, 3]))
    assert not fw.tensor([1, 2]).equal(fw.tensor([1, 2, 3]))
    assert fw.tensor([1.0, 2.0]).allclose(fw.tensor([1.0, 2.000001]))
    assert not fw.tensor([1.0, 2.0]).allclose(fw.tensor([1.0, 2.1]))
    nan = fw.tensor([1.0, float("nan")])
    assert not nan.allclose(nan) and fw.allclose(nan, nan, equal_nan=True)


# --- repr --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, text",
    [
        (lambda: fw.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
        (lambda: (fw.tensor([1.0, 2.0], requires_grad=True) * 1.00085).sum(),
         "tensor(3.0025, grad_fn=<SumBackward0>)"),
        (lambda: fw.tensor(1.0017), "tensor(1.0017)"),
        (lambda: fw.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
        (lambda: fw.tensor(5), "tensor(5)"),
        (lambda: fw.tensor([-10, 200]), "tensor([-10, 200])"),
        (lambda: fw.tensor([True, False]), "tensor([ True, False])"),
        (lambda: fw.tensor([[True], [False]]), "tensor([[ True],\n        [False]])"),
        (lambda: fw.tensor([1.5], dtype=fw.float64), "tensor([1.5000], dtype=framework.float64)"),
        (lambda: fw.tensor(1.0, dtype=fw.float64), "tensor(1., dtype=framework.float64)"),
        (lambda: fw.tensor([1, 2], dtype=fw.int32), "tensor([1, 2], dtype=framework.int32)"),
        (lambda: fw.tensor([1.0, 2.0], dtype=fw.float16), "tensor([1., 2.], dtype=framework.float16)"),
        (lambda: fw.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
        (lambda: fw.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True),
         "tensor([[1., 2.],\n        [3., 4.]], requires_grad=True)"),
        (lambda: fw.ones(2, 1, 2), "tensor([[[1., 1.]],\n\n        [[1., 1.]]])"),
        (lambda: fw.tensor([-1.0, 2.0]), "tensor([-1.,  2.])"),
        (lambda: fw.tensor([1.0, -2.5]), "tensor([ 1.0000, -2.5000])"),
        (lambda: fw.tensor([0.5, 123.456]), "tensor([  0.5000, 123.4560])"),
        (lambda: fw.tensor([0.1, 123.456]), "tensor([1.0000e-01, 1.2346e+02])"),
        (lambda: fw.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
        (lambda: fw.tensor([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
        (lambda: fw.tensor([100000.0, 1.0]), "tensor([1.0000e+05, 1.0000e+00])"),
        (lambda: fw.tensor([0.0, 0.0]), "tensor([0., 0.])"),
        (lambda: fw.tensor([float("nan"), 1.5, -float("inf")]), "tensor([   nan, 1.5000,   -inf])"),
        (lambda: fw.tensor([float("nan"), 1.0]), "tensor([nan, 1.])"),
        (lambda: fw.tensor([]), "tensor([])"),
        (lambda: fw.zeros(2, 0), "tensor([], size=(2, 0))"),
        (lambda: fw.zeros(0, dtype=fw.int64), "tensor([], dtype=framework.int64)"),
        (lambda: fw.arange(12.0).reshape(3, 4),
         "tensor([[ 0.,  1.,  2.,  3.],\n        [ 4.,  5.,  6.,  7.],\n        [ 8.,  9., 10., 11.]])"),
        (lambda: fw.arange(1100.0),
         "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.0970e+03, 1.0980e+03,\n"
         "        1.0990e+03])"),
        (lambda: fw.arange(2000), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])"),
        (lambda: fw.arange(30.0) / 7,
         "tensor([0.0000, 0.1429, 0.2857, 0.4286, 0.5714, 0.7143, 0.8571, 1.0000, 1.1429,\n"
         "        1.2857, 1.4286, 1.5714, 1.7143, 1.8571, 2.0000, 2.1429, 2.2857, 2.4286,\n"
         "        2.5714, 2.7143, 2.8571, 3.0000, 3.1429, 3.2857, 3.4286, 3.5714, 3.7143,\n"
         "        3.8571, 4.0000, 4.1429])"),
    ],
)
def test_repr_matches_pytorch(make, text):
    assert repr(make()) == text


def test_repr_of_a_summarized_matrix():
    text = repr(fw.arange(2500).reshape(50, 50))
    lines = text.splitlines()
    assert lines[0] == "tensor([[   0,    1,    2,  ...,   47,   48,   49],"
    assert lines[3] == "        ...,"
    assert lines[-1] == "        [2450, 2451, 2452,  ..., 2497, 2498, 2499]])"
    assert len(lines) == 7
