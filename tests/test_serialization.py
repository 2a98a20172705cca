"""framework.save / framework.load: round trips of nested structures, no pickle, atomic writes,
corrupt files, map_location."""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import framework as fw
import framework.nn as nn
from framework import serialization


def test_round_trip_nested_structure(tmp_path):
    p = nn.Parameter(fw.randn(2, 3))
    obj = {
        "model": OrderedDict(w=fw.arange(6, dtype=fw.float64).reshape(2, 3), p=p),
        "grad": fw.ones(3, requires_grad=True),
        "ints": fw.tensor([1, 2, 3]), "mask": fw.tensor([True, False]),
        "half": fw.zeros(2, dtype=fw.float16), "scalar": fw.tensor(2.5),
        "list": [1, 2.5, "s", None, True, (3, "t")],
        "floats": [math.inf, -math.inf, 1e-300],
        "int_keys": {0: "a", 7: {"nested": [fw.ones(1)]}},
        "np": np.arange(4, dtype=np.int32), "np_scalar": np.float32(1.5),
        "dtype": fw.float32, "device": fw.device("cpu"), "empty": fw.zeros(0, 3),
    }
    path = tmp_path / "ckpt.pt"
    fw.save(obj, path)
    got = fw.load(path)
    assert list(got) == list(obj)
    assert isinstance(got["model"], OrderedDict) and list(got["model"]) == ["w", "p"]
    w = got["model"]["w"]
    assert w.dtype == fw.float64 and w.shape == (2, 3) and not w.requires_grad
    np.testing.assert_array_equal(w.numpy(), np.arange(6).reshape(2, 3))
    assert type(got["model"]["p"]) is nn.Parameter and got["model"]["p"].requires_grad
    np.testing.assert_array_equal(got["model"]["p"].detach().numpy(), p.detach().numpy())
    assert got["grad"].requires_grad and type(got["grad"]) is fw.Tensor
    assert got["ints"].dtype == fw.int64 and got["mask"].dtype == fw.bool
    assert got["half"].dtype == fw.float16 and got["scalar"].shape == () and got["scalar"].item() == 2.5
    assert got["list"] == [1, 2.5, "s", None, True, (3, "t")] and type(got["list"][1]) is float
    assert got["floats"] == [math.inf, -math.inf, 1e-300]
    assert list(got["int_keys"]) == [0, 7] and got["int_keys"][7]["nested"][0].item() == 1
    assert got["np"].dtype == np.int32 and got["np_scalar"] == np.float32(1.5)
    assert isinstance(got["np_scalar"], np.float32)
    assert got["dtype"] is fw.float32 and got["device"] == fw.device("cpu")
    assert got["empty"].shape == (0, 3)
    assert math.isnan(fw.load(_saved(tmp_path, {"x": math.nan}))["x"])


def _saved(tmp_path, obj, name="x.pt"):
    path = tmp_path / name
    fw.save(obj, path)
    return path


def test_state_dict_round_trip_and_shared_arrays(tmp_path):
    lin = nn.Linear(3, 3)
    tied = nn.Sequential(lin, nn.ReLU(), lin)
    path = _saved(tmp_path, tied.state_dict(), "tied.pt")
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["0.npy", "1.npy", "index.json"]  # tied weights stored once
    sd = fw.load(str(path))  # str paths work too
    assert sd["0.weight"]._data is sd["2.weight"]._data
    fresh = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 3))
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh[2].weight.detach().numpy(), lin.weight.detach().numpy())


def test_format_is_a_plain_npz_with_a_json_index(tmp_path):
    path = _saved(tmp_path, {"w": fw.ones(2, 2)})
    with np.load(path, allow_pickle=False) as npz:  # any NumPy can read it, no code runs
        index = json.loads(npz["index.json"])
        np.testing.assert_array_equal(npz["0.npy"], np.ones((2, 2), np.float32))
    assert index["format"] == "framework" and index["version"] == 1
    node = index["object"]["items"][0][1]
    assert node == {"type": "tensor", "array": 0, "dtype": "float32", "shape": [2, 2],
                    "device": "cpu", "requires_grad": False, "parameter": False}


def test_file_objects(tmp_path):
    buf = io.BytesIO()
    fw.save([fw.ones(2)], buf)
    buf.seek(0)
    got = fw.load(buf)
    assert isinstance(got, list) and got[0].shape == (2,)


def test_unsupported_objects_are_rejected_with_their_path(tmp_path):
    with pytest.raises(TypeError, match=r"can't save an object of type Linear at obj\['m'\] "
                                        r"\(save its state_dict\(\) instead\)"):
        fw.save({"m": nn.Linear(1, 1)}, tmp_path / "bad.pt")
    with pytest.raises(TypeError, match=r"object of type set at obj\[0\]"):
        fw.save([{1}], tmp_path / "bad.pt")
    with pytest.raises(TypeError, match="NumPy array of dtype object"):
        fw.save(np.array([None]), tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()
    assert os.listdir(tmp_path) == []  # no temporary files left behind


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    fw.save({"w": fw.zeros(3)}, path)
    before = path.read_bytes()
    real, calls = np.lib.format.write_array, []

    def crash_on_second_array(member, array, allow_pickle=False):
        calls.append(1)
        if len(calls) == 2:  # the index and one array are already in the archive
            raise OSError("disk full")
        return real(member, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_second_array)
    with pytest.raises(OSError, match="disk full"):
        fw.save({"w": fw.ones(3), "b": fw.ones(2)}, path)
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # and the temp file is gone
    monkeypatch.undo()
    np.testing.assert_array_equal(fw.load(path)["w"].numpy(), np.zeros(3))


def test_corrupt_and_truncated_files_raise_clear_errors(tmp_path):
    path = _saved(tmp_path, {"w": fw.randn(64, 64)}, "good.pt")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RuntimeError, match=r"framework.load: .*truncated.pt is not a valid "
                                           r"framework checkpoint or is corrupt/truncated"):
        fw.load(truncated)
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # inside the array's bytes: the zip CRC catches it
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(RuntimeError, match="corrupt.pt is not a valid framework checkpoint"):
        fw.load(corrupt)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(RuntimeError, match="garbage.pt is not a valid framework checkpoint"):
        fw.load(garbage)
    with pytest.raises(FileNotFoundError):
        fw.load(tmp_path / "missing.pt")


class _Boom:
    """Unpickling this creates a file: the proof that code ran."""

    target = ""

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_load_never_unpickles(tmp_path):
    _Boom.target = str(tmp_path / "pwned")
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(RuntimeError, match="is a PyTorch \\(pickle\\) checkpoint. This framework never unpickles"):
        fw.load(evil)
    assert not (tmp_path / "pwned").exists()
    # a well-formed index whose array member is a pickled object array
    index = {"format": "framework", "version": 1,
             "object": {"type": "ndarray", "array": 0, "scalar": False}}
    member = io.BytesIO()
    np.save(member, np.array([_Boom()], dtype=object), allow_pickle=True)
    smuggled = tmp_path / "smuggled.pt"
    with zipfile.ZipFile(smuggled, "w") as z:
        z.writestr("index.json", json.dumps(index))
        z.writestr("0.npy", member.getvalue())
    with pytest.raises(RuntimeError, match="Object arrays cannot be loaded when allow_pickle=False"):
        fw.load(smuggled)
    assert not (tmp_path / "pwned").exists()


def test_unknown_version_and_format(tmp_path):
    for index, msg in (({"format": "framework", "version": 99, "object": None}, "newer version"),
                       ({"format": "other", "version": 1, "object": None}, "unknown format")):
        path = tmp_path / "v.pt"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("index.json", json.dumps(index))
        with pytest.raises(RuntimeError, match=msg):
            fw.load(path)


def test_map_location(tmp_path, backend):
    path = _saved(tmp_path, {"w": backend.tensor([1.0, 2.0])})
    assert fw.load(path)["w"].device == fw.device(backend.device)  # the saved device by default
    assert fw.load(path, map_location="cpu")["w"].device == fw.device("cpu")
    assert fw.load(path, map_location=fw.device("cpu"))["w"].device == fw.device("cpu")
    mapped = fw.load(path, map_location={str(fw.device(backend.device)): "cpu"})
    assert mapped["w"].device == fw.device("cpu")
    if backend.name == "cupy":
        assert fw.load(path, map_location="cuda")["w"].device.type == "cuda"


def test_cuda_checkpoint_without_cuda(tmp_path, monkeypatch):
    path = _saved(tmp_path, {"w": fw.ones(1)})
    monkeypatch.setattr(serialization._backend, "cuda_is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        fw.load(path, map_location="cuda")


def test_pathlib_and_weights_only_flag(tmp_path):
    path = Path(tmp_path) / "sub"
    path.mkdir()
    fw.save({"a": 1}, path / "f.pt")
    assert fw.load(path / "f.pt", weights_only=False) == {"a": 1}
