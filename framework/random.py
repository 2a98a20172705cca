"""The framework's random number generator: `manual_seed`, `Generator`, `default_generator`.

A Generator owns a NumPy `Generator` (PCG64) for CPU draws, so a seed reproduces a run bit for
bit on CPU and never touches NumPy's global state. CUDA draws use a CuPy generator seeded from
the same seed (reproducible on one GPU, though not equal to the CPU stream).
"""

from __future__ import annotations

import numpy as np

from . import _backend


class Generator:
    def __init__(self, device="cpu"):
        self.device = _backend.as_device(device)
        self._seed = 67280421310721  # PyTorch's default seed
        self._np = np.random.Generator(np.random.PCG64(self._seed))
        self._cp = None

    def manual_seed(self, seed) -> Generator:
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1  # PyTorch accepts negative seeds, mapping them to uint64
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        self._cp = None
        return self

    def seed(self) -> int:
        import secrets

        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a uint8 array (JSON-able through tolist for checkpoints)."""
        import json

        raw = json.dumps(self._np.bit_generator.state).encode()
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def set_state(self, state) -> None:
        import json

        arr = state.numpy() if hasattr(state, "numpy") else np.asarray(state, dtype=np.uint8)
        self._np.bit_generator.state = json.loads(bytes(arr.astype(np.uint8)).decode())

    def numpy_generator(self) -> np.random.Generator:
        return self._np

    def for_device(self, dev):
        """The underlying generator drawing on `dev` (NumPy's, or a CuPy one seeded from ours)."""
        if dev.type == "cpu":
            return self._np
        if self._cp is None:
            cp = _backend.require_cupy()
            self._cp = cp.random.default_rng(self._seed)
        return self._cp


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed the default generator (CPU and CUDA)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    from ._tensor import wrap

    return wrap(default_generator.get_state())


def set_rng_state(state) -> None:
    default_generator.set_state(state)
