"""Where vton writes: checks that an output file or folder can be written, with vton's own message when not.

Read by every writer (the pipeline's stage files, the dataset zip, the evaluation's report and try-on folders).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError
from .errors import short_reason as _reason

__all__ = ["check_output_file", "check_output_dir"]

PathLike = str | os.PathLike


def check_output_file(path: PathLike, what: str = "output file") -> Path:
    """Check that a file can be written at ``path`` (its folder exists and is writable; it is not a folder).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        InputError: the path is a folder, its folder is missing or a file, or it cannot be written.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"the {what} must be a path, got {type(path).__name__}")
    p = Path(path)
    try:
        if p.is_dir():
            example = str(p / "out.zip")
            raise InputError(f"the {what} {str(p)!r} is a folder; give a file name inside it, e.g. {example!r}")
        parent = p.parent if str(p.parent) else Path(".")
        if parent.exists() and not parent.is_dir():
            raise InputError(f"the {what} {str(p)!r} cannot be written: {str(parent)!r} is a file, not a folder")
        if not parent.exists():
            raise InputError(f"the {what} {str(p)!r} cannot be written: the folder {str(parent)!r} does not exist")
        if (p.exists() and not os.access(p, os.W_OK)) or not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"the {what} {str(p)!r} cannot be written (permission denied); choose another place")
    except InputError:
        raise
    except (OSError, ValueError) as e:
        raise InputError(f"the {what} {str(path)[:200]!r} cannot be used ({_reason(e)})") from None
    return p


def check_output_dir(path: PathLike, what: str = "output folder") -> Path:
    """Create the folder ``path`` (and its parents) when missing, and check that files can be written in it.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        InputError: the path is a file (or under one), or the folder cannot be created or written.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"the {what} must be a path, got {type(path).__name__}")
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise InputError(f"the {what} {str(p)!r} is a file, not a folder; give a folder name")
        p.mkdir(parents=True, exist_ok=True)
    except InputError:
        raise
    except FileExistsError:
        raise InputError(f"the {what} {str(p)!r} cannot be created: a part of its path is a file") from None
    except NotADirectoryError:
        raise InputError(f"the {what} {str(p)!r} cannot be created: a part of its path is a file") from None
    except PermissionError:
        raise InputError(f"the {what} {str(p)!r} cannot be created (permission denied); choose another place") from None
    except (OSError, ValueError) as e:
        raise InputError(f"the {what} {str(path)[:200]!r} cannot be used ({_reason(e)})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise InputError(f"the {what} {str(p)!r} is not writable (permission denied); choose another place")
    try:  # os.access says yes for root on /proc, /sys and read-only mounts: write one empty file to be sure
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        raise InputError(f"the {what} {str(path)[:200]!r} cannot hold files ({_reason(e)}); choose another "
                         "place") from None
    return p
