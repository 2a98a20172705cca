"""Fetching published data files: try each mirror in turn, verify the MD5, or say exactly what
to place where when nothing can be downloaded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ._storage import atomic_write, md5sum

USER_AGENT = "framework-datasets/0.1 (python urllib)"
TIMEOUT_S = 60


class DatasetError(RuntimeError):
    """Base class of the errors raised while getting a data set."""


class DatasetUnavailableError(DatasetError):
    """A required file is absent and could not be downloaded (offline, or every mirror failed)."""


class ChecksumError(DatasetError):
    """A file on disk does not have the published MD5: a truncated download or another file."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    md5: str


@dataclass(frozen=True)
class Source:
    """A data set as published: its files, their MD5s, and the mirrors that serve them."""

    title: str  # for messages, e.g. "MNIST"
    subdir: str  # default folder under the data root
    mirrors: tuple[str, ...]  # base URLs ending in "/"; a file's URL is mirror + name
    files: tuple[RemoteFile, ...]


def _open_url(url: str):
    """urlopen with our User-Agent (some hosts refuse urllib's default one)."""
    # Imported here: urllib.request pulls in http, email and ssl, which `import datasets` skips.
    from urllib.request import Request, urlopen

    return urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=TIMEOUT_S)


def ensure_files(source: Source, data_dir: Path, download: bool = True) -> dict[str, Path]:
    """Return {name: path} for every file of source in data_dir, downloading missing ones.

    A file already present must match its MD5 (ChecksumError otherwise: we never overwrite a
    file the user placed). A missing file is fetched from each mirror in turn; a download whose
    MD5 is wrong counts as that mirror failing.
    """
    data_dir = Path(data_dir)
    paths, failures = {}, {}
    for remote in source.files:
        path = data_dir / remote.name
        if path.exists():
            _verify(path, remote.md5)
        elif not download:
            failures[remote] = ["download=False"]
        else:
            errors = _download(remote, source.mirrors, path)
            if errors:
                failures[remote] = errors
        paths[remote.name] = path
    if failures:
        raise DatasetUnavailableError(_unavailable_message(source, data_dir, failures))
    return paths


def _verify(path: Path, md5: str) -> None:
    actual = md5sum(path)
    if actual != md5:
        raise ChecksumError(
            f"{path} has MD5 {actual}, expected {md5}: the file is corrupt, truncated or not "
            f"the published one. Delete it to download it again, or replace it with a good copy."
        )


def _download(remote: RemoteFile, mirrors: tuple[str, ...], path: Path) -> list[str]:
    """Fetch remote into path from the first mirror that serves the right bytes.

    Returns one error line per failed mirror, or [] on success.
    """
    from http.client import HTTPException  # lazily, like urllib.request in _open_url

    errors = []
    for mirror in mirrors:
        url = mirror + remote.name
        try:
            with atomic_write(path) as f, _open_url(url) as response:
                actual = _copy_and_hash(response, f)
                if actual != remote.md5:
                    # Raising inside atomic_write discards the temp file; path stays absent.
                    raise ChecksumError(f"checksum mismatch: MD5 {actual}, expected {remote.md5}")
            return []
        except (OSError, HTTPException, ValueError, ChecksumError) as e:
            # URLError and timeouts are OSErrors; ValueError is an unusable URL.
            errors.append(f"{url}: {e}")
    return errors


def _copy_and_hash(src, dst, chunk_size: int = 1 << 20) -> str:
    """Copy the stream src into dst; return the hex MD5 of what was copied."""
    digest = hashlib.md5(usedforsecurity=False)
    while chunk := src.read(chunk_size):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def _unavailable_message(source: Source, data_dir: Path, failures: dict) -> str:
    lines = [
        (
            f"{source.title} is not available: {len(failures)} file(s) missing from "
            f"{data_dir} and could not be downloaded."
        ),
        f"To use it offline, place these files (exact names, not unpacked) in {data_dir}:",
    ]
    lines += [f"    {remote.name}    (md5 {remote.md5})" for remote in failures]
    lines.append("They are published at any of: " + ", ".join(source.mirrors))
    lines.append("Attempts:")
    lines += [f"    {error}" for errors in failures.values() for error in errors]
    return "\n".join(lines)
