"""framework.data: datasets, samplers, collate, and the DataLoader (order, shuffling, drop_last,
fast path, worker threads and their shutdown)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import framework as fw
from framework.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)

REPO = Path(__file__).resolve().parent.parent


def _workers():
    return [t for t in threading.enumerate() if t.name.startswith("DataLoaderWorker")]


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    yield
    for _ in range(50):  # (a shut-down pool's threads finish within a moment)
        if not _workers():
            break
        time.sleep(0.01)
    assert not _workers(), f"leaked DataLoader threads: {_workers()}"


def _xy(n=10):
    X = fw.tensor(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = fw.tensor(np.arange(n) * 10)
    return X, y


class PerItem(Dataset):
    """A TensorDataset look-alike without get_batch: forces the per-sample (slow) path."""

    def __init__(self, *tensors):
        self.inner = TensorDataset(*tensors)

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return len(self.inner)


def _labels(loader):
    return [b[1].tolist() for b in loader]


# --- datasets ---------------------------------------------------------------------------------


def test_tensor_dataset():
    X, y = _xy()
    ds = TensorDataset(X, y)
    assert len(ds) == 10
    x3, y3 = ds[3]
    assert x3.tolist() == [9.0, 10.0, 11.0] and int(y3) == 30
    ds_np = TensorDataset(np.zeros((4, 2)), np.arange(4))
    assert isinstance(ds_np[1][0], fw.Tensor) and len(ds_np) == 4
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(X, fw.zeros(3))


def test_concat_stack_chain_subset():
    a, b = TensorDataset(fw.arange(3)), TensorDataset(fw.arange(10, 15))
    cat = a + b
    assert isinstance(cat, ConcatDataset) and len(cat) == 8 and cat.cumulative_sizes == [3, 8]
    assert [int(cat[i][0]) for i in range(8)] == [0, 1, 2, 10, 11, 12, 13, 14]
    assert int(cat[-1][0]) == 14
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        cat[-9]
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    st = StackDataset(a, TensorDataset(fw.arange(10, 13)))
    assert len(st) == 3 and [int(t[0]) for t in st[1]] == [1, 11]
    assert set(StackDataset(x=a, y=a)[0]) == {"x", "y"}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(a, TensorDataset(fw.arange(5)))
    sub = Subset(b, [4, 0])
    assert len(sub) == 2 and [int(sub[i][0]) for i in range(2)] == [14, 10]

    class Stream(IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chain = Stream(2) + Stream(3)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5


def test_random_split():
    ds = TensorDataset(fw.arange(10))
    parts = random_split(ds, [3, 7], generator=fw.Generator().manual_seed(1))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    again = random_split(ds, [3, 7], generator=fw.Generator().manual_seed(1))
    assert parts[0].indices == again[0].indices
    # fractions: floor each, then hand out the remainder round-robin (10 * 0.35 -> 3 + 1)
    assert [len(p) for p in random_split(ds, [0.35, 0.35, 0.3])] == [4, 3, 3]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(ds, [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(TensorDataset(fw.arange(2)), [0.99, 0.01])


# --- samplers ---------------------------------------------------------------------------------


def test_samplers():
    ds = list(range(7))
    assert list(SequentialSampler(ds)) == list(range(7))
    g = fw.Generator().manual_seed(3)
    perm = list(RandomSampler(ds, generator=g))
    assert sorted(perm) == list(range(7))
    assert list(RandomSampler(ds, generator=fw.Generator().manual_seed(3))) == perm
    long = list(RandomSampler(ds, num_samples=17))  # without replacement: whole perms, then part
    assert len(long) == 17 and sorted(long[:7]) == list(range(7))
    with_repl = list(RandomSampler(ds, replacement=True, num_samples=50))
    assert len(with_repl) == 50 and set(with_repl) <= set(range(7))
    sub = list(SubsetRandomSampler([10, 20, 30]))
    assert sorted(sub) == [10, 20, 30]
    w = list(WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 100))
    assert set(w) <= {1, 3} and len(w) == 100
    assert list(BatchSampler(SequentialSampler(ds), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(SequentialSampler(ds), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(ds, 3, False)) == 3 and len(BatchSampler(ds, 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got"):
        BatchSampler(ds, 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got"):
        BatchSampler(ds, 2, "yes")
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(ds, num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(ds, replacement=1)


# --- collate ----------------------------------------------------------------------------------


def test_default_collate_nested():
    Point = namedtuple("Point", "x y")
    samples = [
        {"a": fw.tensor([1.0, 2.0]), "b": (1, 2.5, "s"), "c": Point(np.float32(1), True),
         "d": np.array([[1, 2]], dtype=np.int32), "e": [3, 4]},
        {"a": fw.tensor([3.0, 4.0]), "b": (5, 6.5, "t"), "c": Point(np.float32(2), False),
         "d": np.array([[3, 4]], dtype=np.int32), "e": [5, 6]},
    ]
    out = default_collate(samples)
    assert out["a"].tolist() == [[1.0, 2.0], [3.0, 4.0]] and out["a"].dtype == fw.float32
    b_int, b_float, b_str = out["b"]  # a tuple becomes a list, transposed
    assert isinstance(out["b"], list)
    assert b_int.dtype == fw.int64 and b_int.tolist() == [1, 5]
    assert b_float.dtype == fw.float64 and b_float.tolist() == [2.5, 6.5]
    assert b_str == ["s", "t"]
    assert isinstance(out["c"], Point) and out["c"].x.dtype == fw.float32
    assert out["c"].y.dtype == fw.bool and out["c"].y.tolist() == [True, False]
    assert out["d"].shape == (2, 1, 2) and out["d"].dtype == fw.int32
    assert [t.tolist() for t in out["e"]] == [[3, 5], [4, 6]]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size, but got"):
        default_collate([fw.zeros(2), fw.zeros(3)])


def test_default_convert_and_batch_size_none():
    assert isinstance(default_convert(np.arange(3)), fw.Tensor)
    assert default_convert("x") == "x"
    out = default_convert((np.zeros(2), 1))
    assert isinstance(out, list) and isinstance(out[0], fw.Tensor) and out[1] == 1
    loader = DataLoader([np.full(2, i) for i in range(3)], batch_size=None)
    assert [b.tolist() for b in loader] == [[0, 0], [1, 1], [2, 2]] and len(loader) == 3


# --- the DataLoader ---------------------------------------------------------------------------


def test_sequential_batches_and_len():
    X, y = _xy(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert [b[1].tolist() for b in batches] == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]
    assert isinstance(batches[0], list) and batches[0][0].shape == (4, 3)
    dropped = DataLoader(TensorDataset(X, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [len(b[1]) for b in dropped] == [4, 4]
    single = list(DataLoader(TensorDataset(X, y)))
    assert len(single) == 10 and single[0][0].shape == (1, 3)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_shuffle_every_sample_once_reproducible_and_new_each_epoch(num_workers):
    X, y = _xy(50)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, num_workers=num_workers)
    fw.manual_seed(123)
    epochs = [sum(_labels(loader), []) for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(0, 500, 10))  # every sample exactly once
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]  # a new order each epoch
    fw.manual_seed(123)
    assert [sum(_labels(loader), []) for _ in range(3)] == epochs  # the seed reproduces them
    g = fw.Generator().manual_seed(5)
    own = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, generator=g,
                     num_workers=num_workers)
    first = sum(_labels(own), [])
    g.manual_seed(5)
    fw.manual_seed(999)  # the loader's own generator, not the default one, decides
    assert sum(_labels(own), []) == first


def test_shuffled_batches_pair_inputs_with_labels():
    X, y = _xy(20)
    for xb, yb in DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True):
        np.testing.assert_array_equal(xb.numpy()[:, 0] / 3 * 10, yb.numpy())


@pytest.mark.parametrize("shuffle,drop_last", [(False, False), (True, False), (True, True)])
def test_fast_path_equals_slow_path(shuffle, drop_last):
    X, y = _xy(23)
    fast_ds, slow_ds = TensorDataset(X, y), PerItem(X, y)
    assert hasattr(fast_ds, "get_batch") and not hasattr(slow_ds, "get_batch")
    for fast_src, slow_src in ((fast_ds, slow_ds),
                               (Subset(fast_ds, list(range(3, 20))),
                                Subset(slow_ds, list(range(3, 20))))):
        outs = []
        for ds in (fast_src, slow_src):
            fw.manual_seed(7)
            outs.append(list(DataLoader(ds, batch_size=5, shuffle=shuffle, drop_last=drop_last)))
        fast, slow = outs
        assert len(fast) == len(slow) > 0
        for bf, bs in zip(fast, slow):
            assert isinstance(bf, list) and len(bf) == len(bs) == 2
            for tf, ts in zip(bf, bs):
                assert tf.dtype == ts.dtype and tf.shape == ts.shape
                np.testing.assert_array_equal(tf.numpy(), ts.numpy())


def test_subclass_overriding_getitem_skips_fast_path():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

    class DoubledSubset(Subset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x * 2, y

        def __getitems__(self, indices):
            return [self[i] for i in indices]

    class Incomplete(Subset):
        def __getitem__(self, i):
            return super().__getitem__(i)

    X, y = _xy(6)
    for ds in (Doubled(X, y), DoubledSubset(TensorDataset(X, y), range(6))):
        (xb, _), = list(DataLoader(ds, batch_size=6))
        np.testing.assert_array_equal(xb.numpy(), 2 * X.numpy(), err_msg=type(ds).__name__)
    with pytest.raises(NotImplementedError, match="Incomplete overrides __getitem__ but not"):
        Incomplete(TensorDataset(X, y), range(6))


def test_fast_path_with_custom_batch_sampler():
    X, y = _xy(10)
    loader = DataLoader(TensorDataset(X, y), batch_sampler=[[9, 0], [3, 3, 1]])
    assert _labels(loader) == [[90, 0], [30, 30, 10]]
    assert len(loader) == 2


def test_custom_collate_and_getitems():
    class Batched(Dataset):
        def __init__(self):
            self.calls = []

        def __getitem__(self, i):
            raise AssertionError("__getitems__ should be used")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [i * 2 for i in indices]

        def __len__(self):
            return 5

    ds = Batched()
    loader = DataLoader(ds, batch_size=2, collate_fn=lambda b: sum(b))
    assert list(loader) == [2, 10, 8] and ds.calls == [[0, 1], [2, 3], [4]]


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        self.seen_info = info
        return iter(range(self.n))

    def __len__(self):
        return self.n


@pytest.mark.parametrize("num_workers", [0, 2])
def test_iterable_dataset(num_workers):
    loader = DataLoader(Stream(7), batch_size=3, num_workers=num_workers)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True, num_workers=num_workers)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]] and len(loader) == 2
    assert [int(b) for b in DataLoader(Stream(3), batch_size=None)] == [0, 1, 2]


def test_argument_errors():
    ds = TensorDataset(fw.arange(4))
    cases = [
        (dict(num_workers=-1), "num_workers option should be non-negative"),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (dict(prefetch_factor=2), "prefetch_factor option could only be specified in"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    ]
    for kw, message in cases:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **kw)
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0])
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after"):
        loader.batch_size = 3


def test_device_argument(backend):
    X, y = _xy(6)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, device=backend.device, pin_memory=True)
    for xb, yb in loader:
        assert xb.device == fw.device(backend.device) and yb.device == fw.device(backend.device)


# --- worker threads ---------------------------------------------------------------------------


def test_workers_give_same_batches_in_order():
    X, y = _xy(40)
    for ds in (TensorDataset(X, y), PerItem(X, y)):
        fw.manual_seed(0)
        plain = _labels(DataLoader(ds, batch_size=3, shuffle=True))
        fw.manual_seed(0)
        threaded = _labels(DataLoader(ds, batch_size=3, shuffle=True, num_workers=3,
                                      prefetch_factor=1))
        assert threaded == plain


def test_threads_stop_after_epoch_break_and_exception():
    X, y = _xy(40)
    loader = DataLoader(PerItem(X, y), batch_size=2, num_workers=2)
    assert len(list(loader)) == 20
    assert not _workers()
    for i, _ in enumerate(loader):
        if i == 1:
            assert _workers(), "threads should be running mid-epoch"
            break
    assert not _workers()
    with pytest.raises(ZeroDivisionError):
        for _ in loader:
            1 / 0  # noqa: B018
    assert not _workers()
    it = iter(loader)
    next(it)
    del it
    assert not _workers()


def test_dataset_error_is_raised_and_threads_stop():
    class Faulty(Dataset):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError(f"bad sample {i}")
            return i

        def __len__(self):
            return 10

    got = []
    with pytest.raises(KeyError, match="bad sample 5"):
        for b in DataLoader(Faulty(), batch_size=2, num_workers=2):
            got.append(b.tolist())
    assert got == [[0, 1], [2, 3]]
    assert not _workers()


def test_worker_init_fn_and_worker_info():
    ids, infos = [], []

    def init(worker_id):
        ids.append(worker_id)
        infos.append(get_worker_info())

    X, y = _xy(12)
    list(DataLoader(TensorDataset(X, y), batch_size=2, num_workers=2, worker_init_fn=init))
    assert sorted(ids) == [0, 1]
    assert {i.num_workers for i in infos} == {2} and infos[0].seed - infos[0].id == \
        infos[1].seed - infos[1].id
    assert get_worker_info() is None  # not inside a worker
    stream = Stream(4)
    list(DataLoader(stream, batch_size=2, num_workers=3))
    assert stream.seen_info.num_workers == 1  # an iterable dataset is read by one thread

    def broken(worker_id):
        raise OSError("no device")

    with pytest.raises(OSError, match="no device"):
        list(DataLoader(TensorDataset(X, y), num_workers=1, worker_init_fn=broken))


def test_persistent_workers():
    X, y = _xy(12)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, num_workers=2, persistent_workers=True)
    first = _labels(loader)
    threads = set(_workers())
    assert threads and len(threads) <= 2
    assert _labels(loader) == first and set(_workers()) == threads  # the same threads again
    del loader
    for _ in range(50):
        if not _workers():
            break
        time.sleep(0.01)
    assert not _workers()


def test_timeout():
    class Slow(Dataset):
        def __getitem__(self, i):
            time.sleep(0.3)
            return i

        def __len__(self):
            return 2

    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.05 seconds"):
        list(DataLoader(Slow(), num_workers=1, timeout=0.05))


def test_interpreter_exit_does_not_wait_for_prefetched_batches(tmp_path):
    script = tmp_path / "exit_mid_epoch.py"
    script.write_text(
        "import time\n"
        "from framework.data import DataLoader, Dataset\n"
        "class Slow(Dataset):\n"
        "    def __getitem__(self, i):\n"
        "        time.sleep(0.2)\n"
        "        return i\n"
        "    def __len__(self):\n"
        "        return 100\n"
        "it = iter(DataLoader(Slow(), num_workers=2, prefetch_factor=20))\n"
        "print(next(it).tolist(), flush=True)\n"  # 38 fetches queued: exit must drop them
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=str(tmp_path),
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    elapsed = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[0]"
    assert elapsed < 2.5, f"exit waited {elapsed:.1f}s for queued prefetches"
