"""framework.save / framework.load: checkpoints without pickle.

Format: a zip archive (readable by `numpy.load(path, allow_pickle=False)`, as an .npz) with
  index.json   {"format": "framework", "version": 1, "object": <node>}
  <k>.npy      one .npy file per distinct array, written with allow_pickle=False
A <node> is a JSON null/bool/int/float/string for those Python values, or an object:
  {"type": "tensor", "array": k, "dtype": "float32", "shape": [..], "device": "cpu",
   "requires_grad": false, "parameter": false}
  {"type": "ndarray", "array": k}                  a NumPy array (or NumPy scalar: "scalar": true)
  {"type": "list" | "tuple", "items": [<node>...]}
  {"type": "dict" | "ordered_dict", "items": [[<key node>, <value node>], ...]}
  {"type": "float", "value": "nan" | "inf" | "-inf"}
  {"type": "dtype", "name": "float32"}, {"type": "device", "name": "cuda:0"}
Tensors sharing one array (a state dict with tied weights) are stored once and come back
sharing one array. Loading never runs code: JSON plus np.load(allow_pickle=False).

Writes are atomic: the archive goes to a temporary file in the target's directory, is
fsync'ed, then os.replace'd over the target, so a crash mid-save leaves the old file intact.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from . import _backend, dtypes
from ._tensor import Tensor, wrap

_FORMAT, _VERSION = "framework", 1
_INDEX = "index.json"


def save(obj, f) -> None:
    """Save nested dicts/lists/tuples of tensors, NumPy arrays and plain values to `f` (a path,
    pathlib.Path, or a binary file object)."""
    arrays = []
    index = {"format": _FORMAT, "version": _VERSION, "object": _encode(obj, arrays, {}, "obj")}
    if hasattr(f, "write"):
        _write_zip(f, index, arrays)
        return
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            _write_zip(out, index, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX; a no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_zip(out, index, arrays):
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr(_INDEX, json.dumps(index))
        for k, a in enumerate(arrays):
            with z.open(f"{k}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, a, allow_pickle=False)


def _encode(obj, arrays, seen, where):
    """obj as a JSON node; arrays (host copies) appended to `arrays`, deduplicated via `seen`."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"type": "float", "value": repr(obj)}
    if isinstance(obj, Tensor):
        from .nn.parameter import Parameter

        return {"type": "tensor", "array": _array_id(obj._data, arrays, seen),
                "dtype": obj.dtype.name, "shape": list(obj.shape), "device": str(obj.device),
                "requires_grad": obj.requires_grad, "parameter": isinstance(obj, Parameter)}
    if isinstance(obj, (np.ndarray, np.generic)):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"framework.save: can't save a NumPy array of dtype {obj.dtype} at "
                            f"{where}; only bool, integer and floating arrays are supported")
        return {"type": "ndarray", "array": _array_id(np.asarray(obj), arrays, seen),
                "scalar": isinstance(obj, np.generic)}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {"type": kind,
                "items": [_encode(v, arrays, seen, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        kind = "ordered_dict" if isinstance(obj, OrderedDict) else "dict"
        return {"type": kind, "items": [
            [_encode(k, arrays, seen, f"{where} key {k!r}"),
             _encode(v, arrays, seen, f"{where}[{k!r}]")] for k, v in obj.items()]}
    if isinstance(obj, dtypes.dtype):
        return {"type": "dtype", "name": obj.name}
    if isinstance(obj, _backend.device):
        return {"type": "device", "name": str(obj)}
    hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else ""
    raise TypeError(
        f"framework.save: can't save an object of type {type(obj).__name__} at {where}{hint}; "
        "supported: Tensor, NumPy arrays, dict, list, tuple, str, int, float, bool, None, "
        "dtype, device"
    )


def _array_id(a, arrays, seen):
    key = id(a)
    if key not in seen:
        seen[key] = (len(arrays), a)  # keeping `a` keeps its id unique while we encode
        arrays.append(_backend.to_numpy(a))
    return seen[key][0]


# --- load ------------------------------------------------------------------------------------


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what `save` wrote. map_location: None (each tensor's saved device), a device or
    string ('cpu', 'cuda:0'), or a dict {saved device: target device}. weights_only is accepted
    for PyTorch compatibility: this format never unpickles, so loading is always data-only."""
    name = f if not hasattr(f, "read") else getattr(f, "name", "<file object>")
    _refuse_pytorch_pickle(f, name)
    try:
        npz = np.load(f, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("not a zip archive (a plain .npy array?)")
        with npz:
            index = json.loads(npz[_INDEX])
            if index.get("format") != _FORMAT:
                raise ValueError(f"unknown format {index.get('format')!r}")
            if index.get("version", 0) > _VERSION:
                raise ValueError(
                    f"written by a newer version ({index['version']}) of the format than this "
                    f"framework reads ({_VERSION})"
                )
            arrays = {}
            return _decode(index["object"], npz, arrays, map_location)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError, TypeError,
            json.JSONDecodeError) as e:
        raise RuntimeError(
            f"framework.load: {name} is not a valid framework checkpoint or is corrupt/"
            f"truncated ({type(e).__name__}: {e})"
        ) from e


def _refuse_pytorch_pickle(f, name):
    """A torch.save file is a pickle (or a zip holding data.pkl): say so and how to convert.

    Unpickling can run arbitrary code, so we never do it; the user converts once, in an
    environment where PyTorch is installed and the file is trusted.
    """
    if hasattr(f, "read"):
        return
    try:
        with open(f, "rb") as fh:
            head = fh.read(2)
        is_pickle = head[:1] == b"\x80"
        is_torch_zip = zipfile.is_zipfile(f) and any(
            n.endswith("data.pkl") for n in zipfile.ZipFile(f).namelist()
        )
    except OSError:
        return
    if is_pickle or is_torch_zip:
        raise RuntimeError(
            f"framework.load: {name} is a PyTorch (pickle) checkpoint. This framework never "
            "unpickles (it can run code). Convert it once where PyTorch is installed and the "
            "file is trusted: `sd = torch.load(path, weights_only=True); "
            "numpy.savez(out, **{k: v.numpy() for k, v in sd.items()})`, then load the arrays "
            "with numpy.load and `framework.tensor` (see docs/checkpoints.md)."
        )


def _decode(node, npz, arrays, map_location):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    kind = node["type"]
    if kind == "tensor":
        a = _array(node["array"], npz, arrays)
        if list(a.shape) != node["shape"] or a.dtype != dtypes.to_np(node["dtype"]):
            raise ValueError(f"array {node['array']} doesn't match its index entry")
        t = wrap(_backend.to_device(a, _target_device(node["device"], map_location)))
        if node["parameter"]:
            from .nn.parameter import Parameter

            return Parameter(t, requires_grad=node["requires_grad"])
        return t.requires_grad_(True) if node["requires_grad"] else t
    if kind == "ndarray":
        a = _array(node["array"], npz, arrays)
        return a[()] if node.get("scalar") else a
    if kind in ("list", "tuple"):
        items = [_decode(v, npz, arrays, map_location) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind in ("dict", "ordered_dict"):
        pairs = [(_key(_decode(k, npz, arrays, map_location)), _decode(v, npz, arrays,
                                                                       map_location))
                 for k, v in node["items"]]
        return OrderedDict(pairs) if kind == "ordered_dict" else dict(pairs)
    if kind == "float":
        return float(node["value"])
    if kind == "dtype":
        return dtypes.as_dtype(node["name"])
    if kind == "device":
        return _backend.device(node["name"])
    raise ValueError(f"unknown node type {kind!r}")


def _key(k):
    return tuple(k) if isinstance(k, list) else k


def _array(k, npz, arrays):
    """Array k of the archive, read once (tensors that shared it share it again)."""
    if k not in arrays:
        a = npz[f"{k}.npy"]
        if not isinstance(a, np.ndarray):
            raise ValueError(f"member {k}.npy is not an array")
        arrays[k] = a
    return arrays[k]


def _target_device(saved, map_location):
    if map_location is None:
        dev = _backend.device(saved)
    elif isinstance(map_location, dict):
        dev = _backend.device(map_location.get(saved, saved))
    else:
        dev = _backend.as_device(map_location)
    if dev.type == "cuda" and not _backend.cuda_is_available():
        raise RuntimeError(
            "Attempting to deserialize object on a CUDA device but framework.cuda.is_available() "
            "is False. If you are running on a CPU-only machine, please use framework.load with "
            "map_location='cpu' to map your tensors to the CPU."
        )
    return dev
