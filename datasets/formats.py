"""Parsers for the published file formats: IDX (MNIST, Fashion-MNIST) and the CIFAR pickles."""

from __future__ import annotations

import importlib
import io
import pickle
import struct
from typing import ClassVar

import numpy as np

# IDX header: two zero bytes, a type code, the number of dimensions, then each dimension as a
# big-endian uint32. The data follow, big-endian, in C order.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(raw: bytes) -> np.ndarray:
    """Decode one IDX file's bytes (already gunzipped) into a native-endian array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"not an IDX file: header bytes {raw[:4].hex()}")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise ValueError(f"IDX file truncated inside its header ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_len != expected:
        raise ValueError(
            f"IDX file of shape {shape} and dtype {dtype} should hold {expected} data bytes, "
            f"it holds {len(raw) - header_len}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a writable native-endian copy


def _numpy_reconstruct():
    # NumPy 2 moved numpy.core to numpy._core; the CIFAR pickles still name the old module.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy has no multiarray._reconstruct; cannot decode pickled arrays")


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can rebuild plain containers and NumPy arrays, and nothing else.

    Unpickling calls whatever global a pickle names (os.system included), so a tampered file
    could run code. The CIFAR batches (Python 2 cPickle, protocol 2) are dicts of str, int, lists
    and one uint8 ndarray; dict/list/str/bytes/int need no global at all, but the array is
    rebuilt through exactly three: numpy.core.multiarray._reconstruct (makes an empty ndarray),
    numpy.ndarray (the class it makes) and numpy.dtype (the element type). Those three are
    admitted, mapped to the objects themselves; every other global raises UnpicklingError.
    None of them runs code chosen by the file: they only describe memory that is then filled
    from the pickle's bytes (or, for an object array, with objects this unpickler could build).
    """

    ALLOWED: ClassVar[dict] = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy", "ndarray"): lambda: np.ndarray,
        ("numpy", "dtype"): lambda: np.dtype,
    }

    def find_class(self, module, name):
        resolve = self.ALLOWED.get((module, name))
        if resolve is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: only plain containers and NumPy "
                "arrays are allowed in a data file"
            )
        return resolve()


def restricted_unpickle(raw: bytes):
    """Unpickle bytes that may have been tampered with, through RestrictedUnpickler.

    encoding="latin1" turns Python 2 str back into the exact bytes NumPy expects for array data
    (and dict keys into str), as NumPy documents for Python 2 pickles.
    """
    return RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
