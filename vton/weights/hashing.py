"""sha256 of weight files: read in 4 MiB chunks, and cached per file within the process (a file is hashed once)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["file_sha256"]

_HASH_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def _hash_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 4 MiB chunks; cached per (real path, size, mtime, inode, ctime) within the process
    (a file replaced within the same timestamp tick is a new inode: never mistaken for the old one)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = _hash_file(p)
    return _HASH_CACHE[key]
