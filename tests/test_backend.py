"""Devices and the NumPy/CuPy backend: device parsing, clear errors when CUDA is asked for
without CuPy or a GPU (simulated by patching framework._backend), light imports, and, where
a GPU is present, device placement, transfers and cross-device errors.
"""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

import framework as fw
from framework import _backend

cuda_only = pytest.mark.skipif(not fw.cuda.is_available(), reason="needs a CUDA GPU with CuPy")

# --- device objects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, type_, index, text",
    [
        (("cpu",), "cpu", None, "cpu"),
        (("cuda",), "cuda", None, "cuda"),
        (("cuda:1",), "cuda", 1, "cuda:1"),
        (("cuda", 1), "cuda", 1, "cuda:1"),
        (("cuda:0",), "cuda", 0, "cuda:0"),
        ((fw.device("cuda:1"),), "cuda", 1, "cuda:1"),
    ],
)
def test_device_parsing(args, type_, index, text):
    d = fw.device(*args)
    assert (d.type, d.index, str(d)) == (type_, index, text)
    expected = f"device(type='{type_}')" if index is None else f"device(type='{type_}', index={index})"
    assert repr(d) == expected


def test_device_equality_and_hashing():
    assert fw.device("cuda:0") == fw.device("cuda", 0)
    assert fw.device("cuda") != fw.device("cuda:0")  # "current device" is not device 0
    assert fw.device("cpu") != fw.device("cuda")
    assert {fw.device("cpu"): 1}[fw.device("cpu")] == 1
    assert hash(fw.device("cuda:1")) == hash(fw.device("cuda", 1))
    assert fw.device("cpu") == "cpu" and fw.device("cuda:1") == "cuda:1"  # convenience
    assert fw.device("cpu") != "not a device"
    with pytest.raises(AttributeError, match="immutable"):
        fw.device("cpu").index = 1


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("gpu",), RuntimeError, "Expected one of cpu, cuda device type at start of device string: gpu"),
        (("cuda:x",), RuntimeError, "Invalid device string: 'cuda:x'"),
        (("cuda:-1",), RuntimeError, "Invalid device string: 'cuda:-1'"),
        (("cuda", -1), RuntimeError, "Device index must not be negative"),
        (("",), RuntimeError, "Device string must not be empty"),
        ((3.5,), TypeError, "device\\(\\) expected a string"),
    ],
)
def test_device_errors(args, error, message):
    with pytest.raises(error, match=message):
        fw.device(*args)


def test_cpu_tensors_live_on_the_cpu():
    x = fw.tensor([1.0], device="cpu")
    assert x.device == fw.device("cpu") and not x.is_cuda
    assert fw.zeros(2, device=fw.device("cpu")).device.type == "cpu"
    assert x.cpu() is x and x.to("cpu") is x
    assert _backend.xp_of(x._data) is np


# --- CUDA missing: clear errors --------------------------------------------------------------------------


@pytest.fixture
def no_cupy(monkeypatch):
    """As if CuPy were not installed."""
    monkeypatch.setattr(_backend, "_cupy", False)
    monkeypatch.setattr(_backend, "_cupy_error", ModuleNotFoundError("No module named 'cupy'"))


@pytest.fixture
def cupy_without_gpu(monkeypatch):
    """As if CuPy imported but the driver found no GPU."""

    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=no_device)))
    monkeypatch.setattr(_backend, "_cupy", fake)


CUDA_REQUESTS = [
    lambda: fw.zeros(2, device="cuda"),
    lambda: fw.tensor([1.0], device="cuda"),
    lambda: fw.tensor([1.0], device="cuda:1"),
    lambda: fw.randn(2, device="cuda"),
    lambda: fw.tensor([1.0]).to("cuda"),
    lambda: fw.tensor([1.0]).cuda(),
    lambda: fw.cuda.current_device(),
]


@pytest.mark.parametrize("request_cuda", CUDA_REQUESTS)
def test_cuda_without_cupy_says_how_to_install_it(no_cupy, request_cuda):
    assert fw.cuda.is_available() is False and fw.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"(?s)CuPy is not installed.*No module named 'cupy'.*"
                       r"pip install.*cupy-cuda12x.*device='cpu'"):
        request_cuda()


@pytest.mark.parametrize("request_cuda", CUDA_REQUESTS)
def test_cuda_without_a_gpu_says_what_to_check(cupy_without_gpu, request_cuda):
    assert fw.cuda.is_available() is False and fw.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"(?s)no CUDA GPU is available.*nvidia-smi.*device='cpu'"):
        request_cuda()


def test_cuda_queries_without_a_gpu_do_not_raise(no_cupy):
    assert fw.cuda.is_available() is False
    assert fw.cuda.memory_allocated() == 0 and fw.cuda.max_memory_allocated() == 0
    fw.cuda.synchronize()
    fw.cuda.empty_cache()
    fw.cuda.manual_seed(0)


def test_import_needs_numpy_only():
    code = (
        "import sys, framework\n"
        "x = framework.tensor([1.0], requires_grad=True)\n"
        "(x * 2).sum().backward()\n"
        "heavy = [m for m in ('cupy', 'torch', 'matplotlib', 'tqdm', 'scipy', 'PIL') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"import framework pulled in {out.stdout.strip()}"


# --- with a GPU ---------------------------------------------------------------------------------------


def test_tensors_ops_and_gradients_stay_on_their_device(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    assert x.device.type == fw.device(backend.device).type
    y = (x * x + 1).sum()
    assert y.device == x.device
    y.backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(backend.asnumpy(x.grad), [2.0, 4.0], err_msg=f"{backend}")
    for t in [fw.zeros(2, device=backend.device), fw.ones(2, device=backend.device),
              fw.randn(2, device=backend.device), fw.arange(3, device=backend.device),
              fw.zeros_like(x)]:
        assert t.device.type == fw.device(backend.device).type


@cuda_only
def test_transfers_round_trip():
    x = fw.tensor([1.5, 2.5])
    g = x.to("cuda")
    assert g.is_cuda and g.device == fw.device("cuda:0") and str(g.device) == "cuda:0"
    assert "device='cuda:0'" in repr(g)
    back = g.cpu()
    assert back.device == fw.device("cpu") and back.tolist() == [1.5, 2.5]
    assert x.cuda().device == fw.device("cuda", 0)
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy. Use "
                       r"Tensor.cpu\(\)"):
        g.numpy()


@cuda_only
def test_gradient_flows_back_across_a_device_transfer():
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    (y * y).sum().backward()
    assert x.grad.device == fw.device("cpu")
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


@cuda_only
@pytest.mark.parametrize(
    "op",
    [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a @ b, lambda a, b: b - a],
    ids=["add", "mul", "matmul", "sub"],
)
def test_ops_on_different_devices_raise(op):
    a = fw.ones(2, 2)
    b = fw.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError, match=r"Expected all tensors to be on the same device, but "
                       r"found at least two devices, (cpu and cuda:0|cuda:0 and cpu)"):
        op(a, b)
