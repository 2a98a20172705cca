"""Where data sets live on disk, and how files get there without half-written leftovers."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

DATA_DIR_ENV = "FRAMEWORK_DATA_DIR"


def data_root() -> Path:
    """The root of the data cache: $FRAMEWORK_DATA_DIR, else ~/.cache/framework."""
    # Read at call time, not import time, so a changed environment (or a test) is honoured.
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "framework"


def resolve_dir(explicit: str | os.PathLike | None, default_subdir: str) -> Path:
    """An explicit directory is used as given; otherwise data_root()/default_subdir."""
    return Path(explicit).expanduser() if explicit is not None else data_root() / default_subdir


@contextlib.contextmanager
def atomic_write(path: Path):
    """Yield a binary file object whose content replaces `path` only if the block succeeds.

    The temporary file sits in the destination directory, so os.replace is a same-filesystem
    rename: readers (or a second process) see either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def md5sum(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks (CIFAR-10 is 160 MB)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
