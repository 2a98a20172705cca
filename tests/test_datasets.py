"""Tests for datasets/: MNIST-1D against the reference package, the vision loaders on small files
written here in the official formats (never the network), the restricted unpickler, the toy
problems, character windows, and the name clash with Hugging Face's `datasets`."""

import gzip
import hashlib
import io
import os
import pickle
import random
import re
import struct
import subprocess
import sys
import tarfile
import urllib.error
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import datasets

REPO_ROOT = Path(__file__).resolve().parents[1]
# The repo root must come before site-packages on sys.path (pytest's rootdir conftest puts it
# there), or an installed Hugging Face `datasets` is imported instead: see the clash tests.
assert getattr(datasets, "__framework_datasets__", False), (
    f"`import datasets` found {datasets.__file__}, not {REPO_ROOT / 'datasets'}: put the repo "
    "root first on sys.path (a root conftest.py, `python -m pytest`, or pytest's pythonpath)"
)
# Submodules by attribute, after the check (a `from datasets import` would fail less clearly).
download, formats, mnist1d, vision = (
    datasets.download,
    datasets.formats,
    datasets.mnist1d,
    datasets.vision,
)


def _rng_states():
    return np.random.get_state(), random.getstate()


def _assert_rng_states_equal(before, after):
    (np_before, py_before), (np_after, py_after) = before, after
    assert np_before[0] == np_after[0] and np_before[2:] == np_after[2:]
    np.testing.assert_array_equal(np_before[1], np_after[1], err_msg="np.random state changed")
    assert py_before == py_after, "Python's random state changed"


# ---------------------------------------------------------------- MNIST-1D

# Taken FROM THE REFERENCE package (pip mnist1d 0.0.2.post1, numpy 2.4.6):
# make_dataset(get_dataset_args()); float arrays cast to float32 as load_mnist1d returns them.
REFERENCE_Y_SHA256 = {
    "y_train": "d97dc7aecec8ad6b5d8f143ba3e9c4bd7e25c420d7dfc2eb990591cfc0ed3e15",
    "y_test": "8de99be3ff9dab15ae0dc072c3d6ced7cf6b33d365888ce4a386fc944489452c",
}
X_TRAIN_0 = [-0.33200566736939013, -0.4719103656557236, -0.778697076293495, -1.0097408265367045]
X_TEST_LAST = [0.4472328851428726, 0.6598756470890784, 0.8777343497528006, 1.1931518368352758]
REFERENCE_VALUES = [  # (key, index, reference value)
    ("x_train", np.s_[0, :4], X_TRAIN_0),
    ("x_test", np.s_[-1, -4:], X_TEST_LAST),
    ("x_train", np.s_[1234, 20], -0.6819486155750717),
    ("x_test", np.s_[500, 10], 0.39949263241736677),
    ("t", np.s_[:3], [-5.38753506670427, -5.111251217129692, -4.834967367555114]),
]
REFERENCE_ABS_SUMS = {"x_train": 118338.29510155294, "x_test": 29977.87754976499}
REFERENCE_TRAIN_COUNTS = [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
REFERENCE_TEST_COUNTS = [102, 104, 89, 106, 106, 98, 99, 96, 98, 102]


@pytest.fixture(scope="module")
def mnist1d_default(tmp_path_factory):
    return datasets.load_mnist1d(cache_dir=tmp_path_factory.mktemp("mnist1d"))


def test_mnist1d_equals_reference_package():
    reference = pytest.importorskip("mnist1d.data")
    before = _rng_states()
    try:  # the reference reseeds the global RNGs: put them back for the other tests
        ref = reference.make_dataset(reference.get_dataset_args())
    finally:
        np.random.set_state(before[0])
        random.setstate(before[1])
    ours = mnist1d.generate_mnist1d()  # float64, before the cast to float32
    for key, ref_key in [("y_train", "y"), ("y_test", "y_test")]:
        np.testing.assert_array_equal(ours[key], ref[ref_key], err_msg=key)
    # Bit-identical here (same summation order as scipy); the tolerance only allows for a
    # platform whose scipy build fuses multiply-adds.
    for key, ref_key in [("x_train", "x"), ("x_test", "x_test"), ("t", "t")]:
        np.testing.assert_allclose(ours[key], ref[ref_key], rtol=0, atol=1e-12, err_msg=key)


def test_mnist1d_matches_reference_fingerprint(mnist1d_default):
    data = mnist1d_default
    for key, digest in REFERENCE_Y_SHA256.items():
        assert hashlib.sha256(data[key].tobytes()).hexdigest() == digest, key
    for key, index, expected in REFERENCE_VALUES:
        np.testing.assert_allclose(data[key][index], expected, rtol=1e-6, err_msg=f"{key}{index}")
    for key, expected in REFERENCE_ABS_SUMS.items():
        np.testing.assert_allclose(np.abs(data[key]).sum(dtype=np.float64), expected, rtol=1e-9)


def test_mnist1d_shapes_dtypes_and_class_counts(mnist1d_default):
    data = mnist1d_default
    expected = {
        "x_train": ((4000, 40), np.float32),
        "y_train": ((4000,), np.int64),
        "x_test": ((1000, 40), np.float32),
        "y_test": ((1000,), np.int64),
        "t": ((40,), np.float32),
    }
    assert {k: (v.shape, v.dtype) for k, v in data.items()} == expected
    assert np.bincount(data["y_train"]).tolist() == REFERENCE_TRAIN_COUNTS
    assert np.bincount(data["y_test"]).tolist() == REFERENCE_TEST_COUNTS


def test_mnist1d_is_deterministic_and_leaves_global_rngs_alone(tmp_path):
    before = _rng_states()
    first = datasets.load_mnist1d(tmp_path, seed=3, num_train=90, num_test=10, regenerate=True)
    again = datasets.load_mnist1d(tmp_path, seed=3, num_train=90, num_test=10, regenerate=True)
    other = datasets.load_mnist1d(tmp_path, seed=4, num_train=90, num_test=10, regenerate=True)
    _assert_rng_states_equal(before, _rng_states())
    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
    assert not np.array_equal(first["x_train"], other["x_train"])


def test_mnist1d_writes_only_its_cache_file_and_reuses_it(tmp_path, monkeypatch):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("FRAMEWORK_DATA_DIR", str(tmp_path / "root"))
    data = datasets.load_mnist1d(num_train=90, num_test=10)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["root/mnist1d/mnist1d_seed42_90_10.npz"]

    def must_not_run(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(mnist1d, "generate_mnist1d", must_not_run)
    cached = datasets.load_mnist1d(num_train=90, num_test=10)
    for key in data:
        np.testing.assert_array_equal(cached[key], data[key], err_msg=key)
    with np.load(tmp_path / written[0], allow_pickle=False) as npz:  # plain arrays, no pickle
        assert sorted(npz.files) == sorted(data)


def test_mnist1d_regenerates_a_corrupt_cache(tmp_path):
    path = tmp_path / "mnist1d_seed42_90_10.npz"
    path.write_bytes(b"not a zip file")
    data = datasets.load_mnist1d(tmp_path, num_train=90, num_test=10)
    assert data["x_train"].shape == (90, 40)
    assert np.load(path)["x_train"].shape == (90, 40)


def test_mnist1d_rejects_sizes_that_cannot_be_class_balanced(tmp_path):
    with pytest.raises(ValueError, match="multiple of 10"):
        datasets.load_mnist1d(tmp_path, num_train=95, num_test=10)


# ---------------------------------------------------------------- IDX files (MNIST, Fashion)

IDX_TYPE_CODES = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    header = bytes([0, 0, IDX_TYPE_CODES[array.dtype], array.ndim])
    return header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def idx_mirror(tmp_path):
    """A folder holding a tiny MNIST-format data set; returns (folder, arrays, files)."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 6, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 4, dtype=np.uint8),
    }
    folder = tmp_path / "mirror"
    folder.mkdir()
    files = []
    for role, name in vision._IDX_NAMES.items():
        (folder / name).write_bytes(gzip.compress(_idx_bytes(arrays[role])))
        files.append(download.RemoteFile(name, _md5(folder / name)))
    return folder, arrays, tuple(files)


IDX_LOADERS = [
    (datasets.load_mnist, "MNIST_SOURCE"),
    (datasets.load_fashion_mnist, "FASHION_MNIST_SOURCE"),
]


@pytest.mark.parametrize(("load", "source_name"), IDX_LOADERS)
def test_idx_loader_downloads_from_the_first_working_mirror(
    load, source_name, idx_mirror, tmp_path, monkeypatch
):
    folder, arrays, files = idx_mirror
    dead_mirror = (tmp_path / "absent").as_uri() + "/"
    mirrors = (dead_mirror, folder.as_uri() + "/")
    source = replace(getattr(vision, source_name), files=files, mirrors=mirrors)
    monkeypatch.setattr(vision, source_name, source)
    data = load(tmp_path / "data")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(f.name for f in files)
    for key, expected in arrays.items():
        assert data[key].dtype == (np.uint8 if key.startswith("x") else np.int64), key
        np.testing.assert_array_equal(data[key], expected, err_msg=key)
    # Present and verified files are read without the network.
    monkeypatch.setattr(download, "_open_url", _offline)
    np.testing.assert_array_equal(
        load(tmp_path / "data", download=False)["x_test"], arrays["x_test"]
    )


def _offline(url):
    raise urllib.error.URLError("no network in tests")


@pytest.mark.parametrize(("load", "source_name"), IDX_LOADERS)
def test_offline_error_names_the_files_and_the_folder(load, source_name, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_open_url", _offline)
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        load(tmp_path / "data")
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert str(tmp_path / "data") in message and "no network in tests" in message
    for remote in getattr(vision, source_name).files:
        assert remote.name in message and remote.md5 in message
    for mirror in getattr(vision, source_name).mirrors:
        assert mirror in message


def test_download_false_reports_missing_files(tmp_path):
    with pytest.raises(datasets.DatasetUnavailableError, match="download=False"):
        datasets.load_mnist(tmp_path, download=False)


def test_a_file_on_disk_with_the_wrong_md5_is_refused_and_kept(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(b"truncated")
    with pytest.raises(datasets.ChecksumError, match="f68b3c2dcbeaaa9fbdd348bbdeb94873") as info:
        datasets.load_mnist(tmp_path, download=False)
    assert hashlib.md5(b"truncated").hexdigest() in str(info.value)
    assert bad.read_bytes() == b"truncated"


def test_a_download_with_the_wrong_md5_is_discarded(idx_mirror, tmp_path, monkeypatch):
    folder, _, _ = idx_mirror  # right names, but not the published MNIST bytes
    source = replace(vision.MNIST_SOURCE, mirrors=(folder.as_uri() + "/",))
    monkeypatch.setattr(vision, "MNIST_SOURCE", source)
    with pytest.raises(datasets.DatasetUnavailableError, match="checksum mismatch"):
        datasets.load_mnist(tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []  # no partial or wrong file left behind


@pytest.mark.parametrize("dtype", sorted(IDX_TYPE_CODES, key=str))
def test_parse_idx_round_trips_each_type(dtype):
    array = np.arange(24).reshape(2, 3, 4).astype(dtype)
    parsed = formats.parse_idx(_idx_bytes(array))
    assert parsed.dtype.isnative and parsed.flags.writeable
    np.testing.assert_array_equal(parsed, array)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\x01\x00\x08\x01", "not an IDX"),
        (b"\x00\x00\x08\x02\x00", "header"),
        (_idx_bytes(np.zeros(5, np.uint8))[:-1], "5 data"),
    ],
)
def test_parse_idx_rejects_malformed_files(raw, match):
    with pytest.raises(ValueError, match=match):
        formats.parse_idx(raw)


# ---------------------------------------------------------------- CIFAR-10 and pickles


def _py2_pickle(obj) -> bytes:
    """Serialise obj as Python 2's cPickle.dump(obj, f, 2) wrote the CIFAR batches: str as
    BINSTRING (so no codec global) and uint8 arrays via numpy.core.multiarray._reconstruct.
    Python 3's pickle cannot write that (protocol 2 sends bytes through _codecs.encode)."""
    out = bytearray(b"\x80\x02")  # PROTO 2

    def emit(o):
        if isinstance(o, dict):
            out.extend(b"}(")  # EMPTY_DICT MARK ... SETITEMS
            for key, value in o.items():
                emit(key)
                emit(value)
            out.extend(b"u")
        elif isinstance(o, list | tuple):
            out.extend(b"](" if isinstance(o, list) else b"(")
            for value in o:
                emit(value)
            out.extend(b"e" if isinstance(o, list) else b"t")  # APPENDS / TUPLE
        elif o is None or isinstance(o, bool):
            out.extend({None: b"N", True: b"\x88", False: b"\x89"}[o])
        elif isinstance(o, int):
            out.extend(b"J" + struct.pack("<i", o))  # BININT
        elif isinstance(o, str | bytes):
            raw = o.encode("latin1") if isinstance(o, str) else o
            out.extend(b"T" + struct.pack("<i", len(raw)) + raw)  # BINSTRING
        elif isinstance(o, np.ndarray):  # _reconstruct(ndarray, (0,), 'b'), then BUILD state
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n")
            emit((0,))
            emit("b")
            out.extend(b"tR(")  # TUPLE REDUCE MARK
            emit(1)
            emit(o.shape)
            out.extend(b"cnumpy\ndtype\n")
            emit((o.dtype.str[1:], 0, 1))
            out.extend(b"R")
            emit((3, "|", None, None, None, -1, -1, 0))
            out.extend(b"b")  # BUILD the dtype
            emit(False)
            emit(o.tobytes())
            out.extend(b"tb")  # BUILD the array
        else:
            raise TypeError(type(o))

    emit(obj)
    return bytes(out + b".")


def _write_cifar_archive(path: Path, batches: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def cifar_dir(tmp_path, monkeypatch):
    """Returns (data_dir, make): make(batches) writes the archive and trusts its MD5."""
    data_dir = tmp_path / "cifar"
    data_dir.mkdir()

    def make(batches):
        archive = data_dir / "cifar-10-python.tar.gz"
        _write_cifar_archive(archive, batches)
        files = (download.RemoteFile(archive.name, _md5(archive)),)
        monkeypatch.setattr(vision, "CIFAR10_SOURCE", replace(vision.CIFAR10_SOURCE, files=files))

    return data_dir, make


def test_cifar10_parses_python2_batches_channels_first(cifar_dir):
    data_dir, make = cifar_dir
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {
        name: {
            "batch_label": f"{name} of 6",
            "labels": rng.integers(0, 10, 3).tolist(),
            "data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
            "filenames": [f"img_{i}.png" for i in range(3)],
        }
        for name in names
    }
    payloads = {name: _py2_pickle(batch) for name, batch in batches.items()}
    plain = pickle.loads(payloads["test_batch"], encoding="latin1")  # the fixture is valid
    np.testing.assert_array_equal(plain["data"], batches["test_batch"]["data"])
    make(payloads)
    data = datasets.load_cifar10(data_dir, download=False)
    assert {k: (v.shape, v.dtype) for k, v in data.items()} == {
        "x_train": ((15, 3, 32, 32), np.uint8),
        "y_train": ((15,), np.int64),
        "x_test": ((3, 3, 32, 32), np.uint8),
        "y_test": ((3,), np.int64),
    }
    first = batches["data_batch_1"]["data"][0]  # row = 1024 red, 1024 green, 1024 blue
    np.testing.assert_array_equal(data["x_train"][0, 1, 0, :], first[1024:1056])
    np.testing.assert_array_equal(data["x_test"].reshape(3, -1), batches["test_batch"]["data"])
    assert data["y_train"][-3:].tolist() == batches["data_batch_5"]["labels"]


MALICIOUS_GLOBALS = [
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("numpy", "load"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.lib.format", "read_array"),
]


@pytest.mark.parametrize(("module", "name"), MALICIOUS_GLOBALS)
def test_restricted_unpickler_refuses_other_globals(module, name):
    with pytest.raises(pickle.UnpicklingError, match=re.escape(f"{module}.{name}")):
        formats.restricted_unpickle(f"c{module}\n{name}\n.".encode())


def test_a_malicious_cifar_batch_is_never_executed(cifar_dir, tmp_path):
    data_dir, make = cifar_dir
    marker = tmp_path / "pwned"
    evil = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()  # os.system("touch ...")
    make({"data_batch_1": evil})
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        datasets.load_cifar10(data_dir, download=False)
    assert not marker.exists()


# ---------------------------------------------------------------- toy problems and text


@pytest.mark.parametrize("make", [datasets.make_spirals, datasets.make_blobs])
def test_toy_problems_are_seeded_balanced_and_typed(make):
    before = _rng_states()
    X, y = make(301, n_classes=3, seed=5)
    X2, y2 = make(301, n_classes=3, seed=5)
    _assert_rng_states_equal(before, _rng_states())
    assert (X.shape, X.dtype, y.shape, y.dtype) == ((301, 2), np.float32, (301,), np.int64)
    assert np.bincount(y).tolist() == [101, 100, 100]
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(X, make(301, n_classes=3, seed=6)[0])


def test_spiral_points_stay_in_the_unit_disc():
    X, _ = datasets.make_spirals(200, n_classes=4, noise=0.5)
    assert np.linalg.norm(X, axis=1).max() <= 1.0 + 1e-6


def test_char_dataset_windows_are_shifted_by_one():
    ds = datasets.CharDataset("hello world", block_size=4)
    assert ds.vocab.itos == sorted(set("hello world")) and ds.vocab_size == 8
    assert len(ds) == len("hello world") - 4
    x, y = ds[1]
    assert (x.dtype, y.dtype, x.shape) == (np.int64, np.int64, (4,))
    assert (ds.decode(x), ds.decode(y)) == ("ello", "llo ")
    assert ds.decode(ds[-1][1]) == "orld"
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert ds.decode(ds.encode("low")) == "low"
    with pytest.raises(ValueError, match="'z'"):
        ds.encode("z")


def test_char_dataset_reads_files_and_has_an_offline_default(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("abcabcabc\n", encoding="utf-8")
    for source in (path, str(path)):
        assert datasets.CharDataset(source, block_size=3).text == "abcabcabc\n"
    default = datasets.CharDataset(block_size=32)
    assert default.text == datasets.DEFAULT_TEXT and len(default) > 1000
    with pytest.raises(ValueError, match="block_size"):
        datasets.CharDataset("abc", block_size=3)


# ---------------------------------------------------------------- the `datasets` name clash


@pytest.fixture
def fake_hf_site(tmp_path):
    """A folder with a stand-in for Hugging Face's `datasets` (no marker), for PYTHONPATH."""
    site = tmp_path / "site"
    (site / "datasets").mkdir(parents=True)
    (site / "datasets" / "__init__.py").write_text("FAKE_HUGGING_FACE = True\n")
    return site


PUT_ROOT_FIRST = "import sys; sys.path.insert(0, {root!r}); import datasets"
IMPORT_OTHER_FIRST = "import datasets, sys; sys.path.insert(0, {root!r}); import datasets"
# (python -c code, its working directory, whether our package must be the one imported). The
# fake is on PYTHONPATH, as an installed package is on site-packages: both come after the
# script's folder (or, for -c, the working directory) on sys.path, so those win.
CLASH_CASES = [
    pytest.param(PUT_ROOT_FIRST, "tmp", True, id="repo root put first"),
    pytest.param("import datasets", "root", True, id="run from the repo root"),
    pytest.param("import datasets", "tmp", False, id="repo root not on sys.path"),
    pytest.param(IMPORT_OTHER_FIRST, "tmp", False, id="the other datasets imported first"),
]


@pytest.mark.parametrize(("code", "cwd", "ours"), CLASH_CASES)
def test_the_marker_tells_which_datasets_was_imported(code, cwd, ours, fake_hf_site, tmp_path):
    code = code.format(root=str(REPO_ROOT)) + (
        "; print(getattr(datasets, '__framework_datasets__', False), datasets.__file__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}
    env["PYTHONPATH"] = str(fake_hf_site)
    cwd = REPO_ROOT if cwd == "root" else tmp_path
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    marker, origin = result.stdout.split()
    expected_dir = REPO_ROOT if ours else fake_hf_site
    assert (marker, Path(origin).parent.parent) == (str(ours), expected_dir), result.stdout


def test_importing_datasets_stays_light():
    code = (
        f"import sys; sys.path.insert(0, {str(REPO_ROOT)!r}); import datasets; "
        "print(sorted(m for m in ('torch', 'scipy', 'urllib.request', 'http.client') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
