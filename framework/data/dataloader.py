"""DataLoader: batches from a dataset, with torch.utils.data.DataLoader's arguments.

    loader = DataLoader(TensorDataset(X, y), batch_size=128, shuffle=True, drop_last=True)
    for xb, yb in loader: ...

What differs from PyTorch, and why:
- `num_workers > 0` starts that many *threads*, not processes: each fetches whole batches
  ahead of the training loop (at most `prefetch_factor * num_workers` in flight), and batches
  come out in sampler order. NumPy releases the GIL in its copies and BLAS, and threads need
  no pickling, no shared memory and no fork; but Python-heavy per-sample code in a dataset
  will not run in parallel. An IterableDataset is read by one background thread (iterators
  are not thread-safe), so each sample comes once, as with num_workers=0. worker_init_fn(id)
  runs in each thread and get_worker_info() works there; seeds are not per thread (the
  framework's generator is shared), so random per-sample transforms in threads are not
  reproducible run to run. Threads stop when the iterator is dropped (a `break`, an exception,
  the end of the epoch) or at interpreter exit; with persistent_workers they live as long as
  the loader.
- `device=` (an extension): batches are delivered on that device (moved by the worker
  threads when there are some). pin_memory is accepted and does nothing on the CPU.
- Fast path: with the default collate_fn and a dataset that has `get_batch(indices)`
  (TensorDataset, Subsets of it; see dataset.py), each batch is one fancy index per array
  instead of a Python loop over samples and a stack. Batches are identical either way.
- Shuffling draws each epoch's permutation from `generator` (a framework Generator), or from
  framework's default generator when None, so `framework.manual_seed(s)` reproduces a run.
"""

from __future__ import annotations

import itertools
import math
import threading
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as _FutureTimeout

import numpy as np

from .. import _backend
from .._tensor import Tensor, wrap
from .collate import default_collate, default_convert
from .dataset import IterableDataset, batch_getter
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _rng

__all__ = ["DataLoader", "get_worker_info", "WorkerInfo"]

_END = object()  # what a fetch returns once an iterable dataset is exhausted
_worker_local = threading.local()
_live_iterators = weakref.WeakSet()  # epochs with worker threads, for the exit hook below


def _cancel_all_at_exit():
    # At interpreter exit, concurrent.futures joins its threads after they run every queued
    # task; dropping the queued (prefetch) fetches first makes exit wait for at most the
    # fetches already running.
    for it in list(_live_iterators):
        for future in list(getattr(it, "_pending", ())):
            future.cancel()


# threading's exit hooks run before concurrent.futures' join (and before atexit's)
getattr(threading, "_register_atexit", lambda fn: None)(_cancel_all_at_exit)


class WorkerInfo:
    """What get_worker_info() returns inside a worker thread: id, num_workers, seed, dataset."""

    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, key, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


def get_worker_info():
    """The WorkerInfo of the current DataLoader worker thread, or None outside workers."""
    return getattr(_worker_local, "info", None)


def _init_worker(counter, num_workers, base_seed, dataset, worker_init_fn):
    worker_id = next(counter)
    _worker_local.info = WorkerInfo(id=worker_id, num_workers=num_workers,
                                    seed=base_seed + worker_id, dataset=dataset)
    _worker_local.init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except BaseException as e:  # raised from the first batch this thread fetches
            _worker_local.init_error = e


def _in_worker(fetch):
    def run(index):
        error = getattr(_worker_local, "init_error", None)
        if error is not None:
            raise error
        return fetch(index)

    return run


def _move(batch, device):
    """`batch` with every tensor (in lists, tuples, dicts) on `device`."""
    if isinstance(batch, Tensor):
        a = batch._data
        if _backend.device_of(a) == device:
            return batch
        return wrap(_backend.to_device(a, device))
    if isinstance(batch, dict):
        return type(batch)({k: _move(v, device) for k, v in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_move(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move(v, device) for v in batch)
    return batch


class _InfiniteConstantSampler:
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self):
        return itertools.repeat(None)


class DataLoader:
    """Iterate over `dataset` in batches (see the module docstring for threads and devices)."""

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True, device=None):
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing.let "
                "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError(
                "multiprocessing_context can only be used with multi-process loading "
                f"(num_workers > 0), but got num_workers={num_workers}"
            )

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order  # batches always come in order (in_order=False only allows not)
        self.device = None if device is None else _backend.as_device(device)

        self._is_iterable = isinstance(dataset, IterableDataset)
        if self._is_iterable:
            if shuffle not in (False, None):
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler "
                    f"option, but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._pool = None  # the persistent worker threads
        self._initialized = True

    def __setattr__(self, name, value):
        if self._initialized and name in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                          "dataset", "persistent_workers"):
            raise ValueError(
                f"{name} attribute should not be set after {type(self).__name__} is initialized"
            )
        super().__setattr__(name, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            return n
        return len(self._index_sampler)

    def __iter__(self):
        return _DataLoaderIter(self)

    # --- what one epoch runs ------------------------------------------------------------

    def _uses_fast_path(self):
        return (not self._is_iterable and self._auto_collation
                and self.collate_fn is default_collate and batch_getter(self.dataset) is not None)

    def _tasks(self):
        """The epoch's index batches (drawn now, in this thread: the sampler's RNG stays
        deterministic whatever the number of workers)."""
        if self._uses_fast_path():
            batches = None
            if type(self.batch_sampler) is BatchSampler:
                batches = self.batch_sampler._index_batches()
            if batches is None:
                batches = (np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
            return batches
        return iter(self._index_sampler)

    def _fetcher(self):
        """fetch(index_batch) -> batch, for one epoch (holds no reference to the iterator)."""
        dataset, collate_fn, device = self.dataset, self.collate_fn, self.device
        if self._is_iterable:
            fetch = _IterableFetch(dataset, collate_fn, self._auto_collation, self.drop_last)
        elif self._uses_fast_path():
            fetch = batch_getter(dataset)
        elif self._auto_collation:
            getitems = getattr(dataset, "__getitems__", None)
            if callable(getitems):
                def fetch(indices):
                    return collate_fn(getitems(indices))
            else:
                def fetch(indices):
                    return collate_fn([dataset[i] for i in indices])
        else:
            def fetch(index):
                return collate_fn(dataset[index])
        if device is None:
            return fetch
        return lambda index: _move(fetch(index), device)

    def _worker_pool(self, base_seed):
        """(pool, owned): the persistent pool, or a new one the iterator owns."""
        if self.persistent_workers and self._pool is not None:
            return self._pool, False
        n = 1 if self._is_iterable else self.num_workers
        pool = ThreadPoolExecutor(
            max_workers=n, thread_name_prefix="DataLoaderWorker", initializer=_init_worker,
            initargs=(itertools.count(), n, base_seed, self.dataset, self.worker_init_fn),
        )
        if self.persistent_workers:
            object.__setattr__(self, "_pool", pool)
            return pool, False
        return pool, True

    def __del__(self):
        pool = self.__dict__.get("_pool")
        if pool is not None:
            try:
                _shutdown_pool(pool)
            except Exception:  # (interpreter teardown)
                pass


class _IterableFetch:
    """Pulls the next batch from an IterableDataset (its iterator made in the worker thread,
    where get_worker_info() works, on first use)."""

    def __init__(self, dataset, collate_fn, auto_collation, drop_last):
        self.dataset, self.collate_fn = dataset, collate_fn
        self.auto_collation, self.drop_last = auto_collation, drop_last
        self.it = None
        self.ended = False

    def __call__(self, batch_indices):
        if self.ended:
            return _END
        if self.it is None:
            self.it = iter(self.dataset)
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self.it))
            except StopIteration:
                self.ended = True
                return _END
        data = list(itertools.islice(self.it, len(batch_indices)))
        if len(data) < len(batch_indices):
            self.ended = True
            if not data or self.drop_last:
                return _END
        return self.collate_fn(data)


def _shutdown_pool(pool):
    if threading.current_thread() in getattr(pool, "_threads", ()):
        pool.shutdown(wait=False, cancel_futures=True)  # (a thread can't join itself)
    else:
        pool.shutdown(wait=True, cancel_futures=True)


class _DataLoaderIter:
    """One epoch over a DataLoader."""

    def __init__(self, loader):
        # One draw per epoch, as PyTorch makes, whatever num_workers: seeds the workers' info,
        # and keeps the shuffling identical with and without workers.
        base_seed = int(_rng(loader.generator).integers(0, 2**63 - 1))
        self._loader = loader
        self._fetch = loader._fetcher()
        self._tasks = loader._tasks()
        if loader._is_iterable and loader._auto_collation:
            self._tasks = itertools.repeat([None] * loader.batch_size)
        self._pool = None
        self._timeout = loader.timeout or None
        if loader.num_workers > 0:
            self._pool, self._owns_pool = loader._worker_pool(base_seed)
            self._pending = deque()
            _live_iterators.add(self)
            self._run = _in_worker(self._fetch)
            depth = loader.prefetch_factor * (1 if loader._is_iterable else loader.num_workers)
            for _ in range(max(depth, 1)):
                if not self._submit():
                    break

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._loader)

    def _submit(self):
        try:
            index = next(self._tasks)
        except StopIteration:
            return False
        self._pending.append(self._pool.submit(self._run, index))
        return True

    def __next__(self):
        if self._pool is None:
            if self._tasks is None:
                raise StopIteration  # (a threaded epoch that ended or failed)
            batch = self._fetch(next(self._tasks))
            if batch is _END:
                raise StopIteration
            return batch
        if not self._pending:
            self._shutdown()
            raise StopIteration
        future = self._pending.popleft()
        self._submit()  # keep the workers busy while we wait
        try:
            batch = future.result(timeout=self._timeout)
        except _FutureTimeout:
            self._shutdown()
            raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds") from None
        except BaseException:
            self._shutdown()
            raise
        if batch is _END:
            self._shutdown()
            raise StopIteration
        return batch

    def _shutdown(self):
        pool, self._pool = self._pool, None
        if pool is None:
            return
        self._tasks = None
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._owns_pool:
            _shutdown_pool(pool)

    def __del__(self):
        if self.__dict__.get("_pool") is not None:
            try:
                self._shutdown()
            except Exception:  # (interpreter teardown)
                pass
