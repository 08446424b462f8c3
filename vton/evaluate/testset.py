"""The test set's side of ``python -m vton evaluate``: folders of images paired by name, pairs lists, and what
a train list shares with the test list (test-set hygiene).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from vton.errors import InputError

__all__ = ["ImageSet", "read_image_folder", "pair_by_name", "read_pairs_list", "hygiene"]

_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class ImageSet:
    """Images with their names, and what was read (formats, sizes)."""

    names: list[str]
    images: list[Image.Image]
    formats: Counter = field(default_factory=Counter)

    def sizes(self) -> Counter:
        return Counter(im.size for im in self.images)


def read_image_folder(folder: str | os.PathLike, what: str) -> ImageSet:
    """Every image file directly in ``folder`` (sorted by name), read as 8-bit RGB; formats counted from headers.

    Raises:
        InputError: the folder is missing or holds no image, two files share a name without extension, or a file
            is unreadable.
    """
    from vton.images import load_image

    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"the {what} folder {str(d)!r} does not exist or is not a folder")
    files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if not files:
        raise InputError(f"the {what} folder {str(d)!r} holds no images ({', '.join(_SUFFIXES)})")
    stems = Counter(p.stem for p in files)
    dup = sorted(s for s, n in stems.items() if n > 1)
    if dup:
        raise InputError(f"the {what} folder {str(d)!r} holds several files named {dup[0]!r} (different "
                         "extensions); images are paired by the name without its extension")
    out = ImageSet([], [])
    for p in files:
        try:
            with Image.open(p) as im:
                out.formats[im.format or p.suffix.lstrip(".").upper()] += 1
        except OSError:
            pass  # load_image names the problem
        out.names.append(p.stem)
        out.images.append(load_image(p, f"{what} image {str(p)!r}"))
    return out


def pair_by_name(pred: ImageSet, gt: ImageSet) -> tuple[ImageSet, ImageSet]:
    """The predictions and ground truths of the same names, in the predictions' order.

    Raises:
        InputError: a prediction has no ground truth of its name (the first few are listed).
    """
    index = {n: i for i, n in enumerate(gt.names)}
    missing = [n for n in pred.names if n not in index]
    if missing:
        raise InputError(f"{len(missing)} prediction(s) have no ground truth of the same name (without extension): "
                         f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}")
    return pred, ImageSet(list(pred.names), [gt.images[index[n]] for n in pred.names], gt.formats)


# ----------------------------------------------------------------------------------------------------------------
# pairs lists and test-set hygiene


def read_pairs_list(path: str | os.PathLike) -> list[tuple[str, str]]:
    """``person cloth`` per line (blank lines skipped).

    Raises:
        InputError: the file is missing, unreadable, or a line does not hold two names.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise InputError(f"the pairs list {str(p)!r} cannot be read ({e.strerror or e})") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise InputError(f"the pairs list {str(p)!r}, line {n}: expected 'person.jpg cloth.jpg', got "
                             f"{line.strip()[:80]!r}")
        out.append((parts[0], parts[1]))
    return out


def hygiene(train: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What the train list shares with the test list: identical pairs, person photos and garments (by name)."""
    tr_pairs, te_pairs = set(train), set(test)
    shared = sorted(tr_pairs & te_pairs)
    persons = sorted({p for p, _ in train} & {p for p, _ in test})
    cloths = sorted({c for _, c in train} & {c for _, c in test})
    warning = ""
    if shared or persons or cloths:
        warning = (f"WARNING: the test list shares {len(shared)} pair(s), {len(persons)} person photo(s) and "
                   f"{len(cloths)} garment(s) with the train list (by file name; e.g. "
                   f"{', '.join(' '.join(s) for s in shared[:3]) or ', '.join((persons + cloths)[:3])}); scores on "
                   "images seen in training are optimistic (VITON's original split has such duplicates; the report "
                   "shows published numbers of the original and of the cleaned split where a paper gave both)")
    return {"shared_pairs": len(shared), "shared_persons": len(persons), "shared_cloths": len(cloths),
            "examples": [" ".join(s) for s in shared[:10]], "warning": warning}
