"""Unpacking a zip safely: every member is checked before anything is written.

A zip is unpacked only when every member is safe: no path leaving the folder, no symlink, no encrypted member,
only stored/deflate/bzip2/LZMA compression, no file and folder of the same name, at most ``MAX_ZIP_MEMBERS``
members, no member larger than ``MAX_MEMBER_BYTES`` (the largest file vton reads: an image of
``vton.images.MAX_FILE_BYTES``), ``MAX_UNZIPPED_BYTES`` in all, no name longer than ``MAX_NAME_BYTES``, and every
member's CRC intact. Every failure is an ``InputError`` naming the zip. ``vton.datasets`` reads dataset zips with it.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from pathlib import Path

from .errors import InputError
from .errors import short_reason as _reason

__all__ = ["MAX_UNZIPPED_BYTES", "MAX_MEMBER_BYTES", "MAX_ZIP_MEMBERS", "MAX_NAME_BYTES", "unpack_zip"]

MAX_UNZIPPED_BYTES = 2 * 1024**3  # a test split at 1024 × 768 (VITON-HD's size) fits; 256 × 192 ones are far smaller
MAX_MEMBER_BYTES = 100 * 1024**2  # = vton.images.MAX_FILE_BYTES: a larger member is nothing vton could read
MAX_ZIP_MEMBERS = 200_000  # VITON's train split is about 100,000 files
MAX_NAME_BYTES = 255  # the longest file name most file systems allow

_ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "LZMA",
}


def _zip_problem(members: list[zipfile.ZipInfo], dest: Path) -> str | None:
    """What makes these members unsafe or impossible to unpack into ``dest``, or None."""
    if len(members) > MAX_ZIP_MEMBERS:
        return f"holds {len(members):,} members, more than the {MAX_ZIP_MEMBERS:,} vton unpacks (MAX_ZIP_MEMBERS)"
    big = max(members, key=lambda m: m.file_size, default=None)
    if big is not None and big.file_size > MAX_MEMBER_BYTES:
        return (f"holds {big.filename[:200]!r}, which unpacks to {big.file_size:,} bytes, more than the "
                f"{MAX_MEMBER_BYTES:,} of any file vton reads (MAX_MEMBER_BYTES); it is not a dataset image or "
                "annotation")
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED_BYTES:
        return f"unpacks to {total:,} bytes, more than the {MAX_UNZIPPED_BYTES:,} vton accepts (MAX_UNZIPPED_BYTES)"
    root = dest.resolve()
    files: dict[str, str] = {}
    folders: set[str] = set()
    for m in members:
        name = m.filename
        if m.flag_bits & 0x1:
            return (f"holds an encrypted member ({name[:200]!r}); vton cannot read password-protected zips, zip it "
                    "without a password")
        if m.compress_type not in _ZIP_METHODS:
            return (f"stores {name[:200]!r} with compression method {m.compress_type}, which vton cannot read; use "
                    f"{', '.join(_ZIP_METHODS.values())}")
        if stat.S_ISLNK(m.external_attr >> 16):
            return f"holds a symbolic link ({name[:200]!r}); vton unpacks only plain files and folders"
        if "\x00" in name or not (dest / name).resolve().is_relative_to(root) or name.startswith(("/", "\\")):
            return f"holds a file outside its folder: {name[:200]!r}"
        parts = [p for p in name.split("/") if p]
        if any(len(p.encode("utf-8", errors="replace")) > MAX_NAME_BYTES for p in parts):
            return f"holds a name longer than {MAX_NAME_BYTES} bytes ({name[:60]!r}…)"
        key = "/".join(parts)
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if m.is_dir():
            folders.add(key)
        elif key in files:
            return f"holds {key[:200]!r} twice"
        else:
            files[key] = name
    clash = sorted(set(files) & folders)
    if clash:
        return f"holds {clash[0][:200]!r} both as a file and as a folder"
    return None


def unpack_zip(path: Path, dest: Path, what: str = "the dataset zip") -> None:
    """Unpack the zip ``path`` safely into the empty folder ``dest`` (see the module docstring), or raise.

    Raises:
        InputError: naming the zip as ``what`` and its path: not a zip, damaged, or a member that is unsafe.
    """
    name = f"{what} {str(path)!r}"
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise InputError(f"{name} is not a readable zip file ({_reason(e)}); re-create it") from None
    with zf:
        try:
            members = zf.infolist()
        except (zipfile.BadZipFile, ValueError) as e:
            raise InputError(f"{name} has a damaged member list ({_reason(e)}); re-create it") from None
        problem = _zip_problem(members, dest)
        if problem:
            raise InputError(f"{name} {problem}")
        for m in members:
            try:
                zf.extract(m, dest)
            except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                raise InputError(
                    f"{name} is damaged: its member {m.filename[:200]!r} fails to unpack ({_reason(e)}); "
                    "re-create or re-download it"
                ) from None
            except (NotImplementedError, RuntimeError) as e:
                raise InputError(f"{name}: its member {m.filename[:200]!r} cannot be unpacked ({_reason(e)})") from None
            except (OSError, ValueError) as e:
                raise InputError(
                    f"{name}: its member {m.filename[:200]!r} cannot be written ({type(e).__name__}: {_reason(e)})"
                ) from None
