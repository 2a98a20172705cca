"""Shared fixtures: `backend` runs a test once per available array backend.

The CuPy case is collected everywhere and skips cleanly (with the reason) where CuPy or a GPU
is missing, so the same test file covers CPU and CUDA without a second copy of the tests.
"""

from __future__ import annotations

import numpy as np
import pytest

import framework as fw


class Backend:
    def __init__(self, name, device):
        self.name, self.device = name, device

    def tensor(self, data, **kw):
        return fw.tensor(data, device=self.device, **kw)

    def asnumpy(self, t):
        return t.detach().cpu().numpy() if isinstance(t, fw.Tensor) else np.asarray(t)

    def __repr__(self):
        return self.name


@pytest.fixture(params=["numpy", "cupy"])
def backend(request):
    if request.param == "cupy":
        if not fw.cuda.is_available():
            pytest.skip("CuPy backend: no CUDA GPU with CuPy available here")
        return Backend("cupy", "cuda")
    return Backend("numpy", "cpu")


@pytest.fixture
def device(backend):
    return backend.device


@pytest.fixture(autouse=True)
def _seed():
    fw.manual_seed(0)
    yield
