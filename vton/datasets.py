"""VITON / CP-VTON / CP-VTON+ dataset folders: reading them (as a folder or a zip) as the authors' dataset code does,
and exporting one pair as such a folder (sergeywong/cp-vton@fbaf333b and minar09/cp-vton-plus@5d7a8997,
``cp_dataset.py``; VITON by Han et al., CVPR 2018).

Folder: ``<root>/<split>/{image, cloth, cloth-mask, image-parse[-new], image-mask, pose}`` and the pairs list
``<root>/test_pairs.txt`` with ``person.jpg cloth.jpg`` per line. The file formats inside (OpenPose JSON, parse and
mask PNGs) are read and written by ``vton.formats``.

A dataset zip is unpacked by ``vton.unzip`` only when every member is safe (no path leaving the folder, no
symlink, limits on members and sizes; see there). Names in the pairs list are plain file names of at most
``vton.unzip.MAX_NAME_BYTES`` bytes. Every failure is an ``InputError`` naming the file. The output checks
(``check_output_file``, ``check_output_dir``) live in ``vton.outputs``.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .annotations import Parsing, Pose
from .errors import InputError
from .errors import short_reason as _reason
from .formats import (
    MIN_GARMENT_FRACTION,
    _png_bytes,
    mask_array,
    read_mask_png,
    read_openpose_json,
    read_parse_png,
    write_mask_png,
    write_openpose_json,
    write_parse_png,
)
from .images import load_image
from .labels import LIP, LabelSet
from .outputs import check_output_file
from .run import FRAME
from .unzip import MAX_NAME_BYTES, unpack_zip

__all__ = ["MAX_PAIRS_BYTES", "VitonItem", "VitonFolder", "export_dataset_zip"]

PathLike = str | os.PathLike

_IMAGE_DIR, _CLOTH_DIR, _CLOTH_MASK_DIR = "image", "cloth", "cloth-mask"
_PARSE_DIR, _PARSE_NEW_DIR, _BODY_MASK_DIR, _POSE_DIR = "image-parse", "image-parse-new", "image-mask", "pose"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

MAX_PAIRS_BYTES = 16 * 1024**2


# ----------------------------------------------------------------------------------------------------------------
# VITON / CP-VTON folders


def _parse_name(person_name: str) -> str:
    """CP-VTON: ``im_name.replace('.jpg', '.png')``."""
    return person_name.replace(".jpg", ".png") if ".jpg" in person_name else str(Path(person_name).with_suffix(".png"))


def _pose_name(person_name: str) -> str:
    """CP-VTON: ``im_name.replace('.jpg', '_keypoints.json')``."""
    if ".jpg" in person_name:
        return person_name.replace(".jpg", "_keypoints.json")
    return Path(person_name).stem + "_keypoints.json"


def _check_file_name(name: str, where: str) -> str:
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith("."):
        raise InputError(f"{where}: {name[:100]!r} is not a plain file name (no folders, no leading dot)")
    if any(ord(c) < 32 for c in name):
        raise InputError(f"{where}: {name[:100]!r} holds control characters; a file name cannot")
    n = len(name.encode("utf-8", errors="replace"))
    if n > MAX_NAME_BYTES:
        raise InputError(
            f"{where}: a file name of {n} bytes ({name[:40]!r}…); file names are at most {MAX_NAME_BYTES} bytes"
        )
    return name


@dataclass(frozen=True)
class VitonItem:
    """One (person, garment) pair of a VITON / CP-VTON folder.

    Attributes:
        person: the person photo, PIL RGB (192 × 256 in the authors' datasets).
        cloth: the in-shop garment photo, PIL RGB.
        cloth_mask: ``(H, W) bool`` garment mask (``cloth-mask`` ≥ 128).
        parsing: the person's LIP parse map.
        pose: the person's COCO-18 keypoints in the photo's pixels.
        body_mask: ``(H, W) bool`` body mask (``image-mask`` > 0, CP-VTON+), or None when the folder has none.
        person_name: the photo's file name in ``image/``.
        cloth_name: the garment's file name in ``cloth/``.
    """

    person: Image.Image
    cloth: Image.Image
    cloth_mask: np.ndarray
    parsing: Parsing
    pose: Pose
    body_mask: np.ndarray | None
    person_name: str
    cloth_name: str


class VitonFolder:
    """A VITON / CP-VTON / CP-VTON+ dataset folder, as a sequence of ``VitonItem``.

    ``root`` may be the dataset root (holding ``<split>/`` and the pairs list, CP-VTON's ``dataroot``), the
    split folder itself (holding ``image/``, ``cloth/`` …), or a ``.zip`` of either (such as
    ``export_dataset_zip`` writes; it is unpacked into a temporary folder that lives as long as this object).
    The pairs list is looked for in ``root``, then beside and inside the split folder. With ``pairs=None``
    every photo in ``image/`` is paired with its own garment: the cloth of the same file name, or VITON's
    ``<id>_1`` for a photo ``<id>_0``.

    The parse is read from ``parse_dir`` (default: ``image-parse-new`` when present, CP-VTON+'s corrected
    L-mode maps, else ``image-parse``); ``image-mask`` is optional.

    Raises:
        InputError: the layout is not recognised, folders or files are missing (all are listed), or the pairs
            list is malformed.
    """

    def __init__(
        self,
        root: PathLike,
        pairs: PathLike | None = "test_pairs.txt",
        *,
        split: str = "test",
        parse_dir: str | None = None,
        label_set: LabelSet = LIP,
    ) -> None:
        if not isinstance(root, (str, os.PathLike)):
            raise InputError(f"the dataset must be a folder or a .zip path, got {type(root).__name__}")
        self.root = Path(root)
        self._unpacked: tempfile.TemporaryDirectory | None = None
        try:
            is_file = self.root.is_file()
            is_zip = is_file and zipfile.is_zipfile(self.root)
        except (OSError, ValueError) as e:
            raise InputError(f"the dataset path {str(root)[:200]!r} cannot be used ({_reason(e)})") from None
        if is_file and not is_zip:
            raise InputError(
                f"the dataset {str(self.root)!r} is a file but not a zip file (or a damaged one); give the dataset "
                "folder or a .zip of it"
            )
        if is_zip:
            self._unpacked = tempfile.TemporaryDirectory(prefix="vton-dataset-")
            unpack_zip(self.root, Path(self._unpacked.name), "the dataset zip")
            self.root = Path(self._unpacked.name)
        if not self.root.is_dir():
            raise InputError(f"the dataset folder {str(self.root)!r} does not exist or is not a folder")
        if (self.root / _IMAGE_DIR).is_dir():
            self.data_dir = self.root
        elif (self.root / split / _IMAGE_DIR).is_dir():
            self.data_dir = self.root / split
        else:
            has = sorted(p.name + "/" for p in self.root.iterdir() if p.is_dir())
            raise InputError(
                f"{str(self.root)!r} is not a VITON/CP-VTON folder: expected {split}/image/ (or image/) with "
                f"cloth/, cloth-mask/, image-parse/, pose/ beside it; it holds {', '.join(has) or 'no folders'}"
            )
        self.label_set = label_set
        if parse_dir is None:
            parse_dir = _PARSE_NEW_DIR if (self.data_dir / _PARSE_NEW_DIR).is_dir() else _PARSE_DIR
        self.parse_dir = parse_dir
        required = [_IMAGE_DIR, _CLOTH_DIR, _CLOTH_MASK_DIR, parse_dir, _POSE_DIR]
        missing = [d + "/" for d in required if not (self.data_dir / d).is_dir()]
        if missing:
            has = sorted(p.name + "/" for p in self.data_dir.iterdir() if p.is_dir())
            raise InputError(
                f"the dataset folder {str(self.data_dir)!r} lacks {', '.join(missing)} "
                f"(it holds {', '.join(has) or 'no folders'})"
            )
        self.has_body_mask = (self.data_dir / _BODY_MASK_DIR).is_dir()
        self.pairs: list[tuple[str, str]] = self._read_pairs(pairs) if pairs is not None else self._own_pairs()
        self._check_files()

    def _read_pairs(self, pairs: PathLike) -> list[tuple[str, str]]:
        p = Path(pairs)
        candidates = [p] if p.is_absolute() else [self.root / p, self.data_dir.parent / p, self.data_dir / p]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
            raise InputError(f"the pairs list {str(pairs)!r} was not found (looked for {tried})")
        if found.stat().st_size > MAX_PAIRS_BYTES:
            raise InputError(
                f"the pairs list {str(found)!r} is {found.stat().st_size:,} bytes, more than the "
                f"{MAX_PAIRS_BYTES:,} a pairs list may be (MAX_PAIRS_BYTES)"
            )
        out = []
        for n, line in enumerate(found.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                shown = repr(line.strip()) if len(line) <= 120 else f"{line.strip()[:60]!r}… ({len(line)} characters)"
                raise InputError(
                    f"the pairs list {str(found)!r}, line {n}: expected 'person.jpg cloth.jpg', got {shown}"
                )
            where = f"the pairs list {str(found)!r}, line {n}"
            out.append((_check_file_name(parts[0], where), _check_file_name(parts[1], where)))
        if not out:
            raise InputError(f"the pairs list {str(found)!r} is empty")
        return out

    def _own_pairs(self) -> list[tuple[str, str]]:
        photos = sorted(
            p.name for p in (self.data_dir / _IMAGE_DIR).iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES
        )
        if not photos:
            raise InputError(f"{str(self.data_dir / _IMAGE_DIR)!r} holds no photos")
        out, unmatched = [], []
        for name in photos:
            stem, suffix = os.path.splitext(name)
            options = [name] + ([stem[:-2] + "_1" + suffix] if stem.endswith("_0") else [])
            cloth = next((c for c in options if (self.data_dir / _CLOTH_DIR / c).is_file()), None)
            if cloth is None:
                unmatched.append(name)
            else:
                out.append((name, cloth))
        if unmatched:
            raise InputError(
                f"no garment in {str(self.data_dir / _CLOTH_DIR)!r} for {len(unmatched)} photo(s) "
                f"({', '.join(unmatched[:5])}); give a pairs list"
            )
        return out

    def _paths(self, person_name: str, cloth_name: str) -> dict[str, Path]:
        d = self.data_dir
        paths = {
            "person": d / _IMAGE_DIR / person_name,
            "cloth": d / _CLOTH_DIR / cloth_name,
            "cloth_mask": d / _CLOTH_MASK_DIR / cloth_name,
            "parse": d / self.parse_dir / _parse_name(person_name),
            "pose": d / _POSE_DIR / _pose_name(person_name),
        }
        if self.has_body_mask:
            paths["body_mask"] = d / _BODY_MASK_DIR / _parse_name(person_name)
        return paths

    def _check_files(self) -> None:
        missing = [
            str(p.relative_to(self.data_dir))
            for person, cloth in self.pairs
            for p in self._paths(person, cloth).values()
            if not p.is_file()
        ]
        if missing:
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            raise InputError(
                f"the dataset folder {str(self.data_dir)!r} lacks {len(missing)} file(s) the pairs need: "
                f"{', '.join(missing[:10])}{more}"
            )

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> VitonItem:
        person_name, cloth_name = self.pairs[index]
        paths = self._paths(person_name, cloth_name)
        person = load_image(paths["person"], f"person photo {str(paths['person'])!r}")
        body = None
        if "body_mask" in paths:
            body = read_mask_png(paths["body_mask"], "body mask", threshold=1)
        return VitonItem(
            person=person,
            cloth=load_image(paths["cloth"], f"garment photo {str(paths['cloth'])!r}"),
            cloth_mask=read_mask_png(paths["cloth_mask"], f"cloth mask {str(paths['cloth_mask'])!r}",
                                     min_fraction=MIN_GARMENT_FRACTION),
            parsing=read_parse_png(paths["parse"], label_set=self.label_set, what=f"parse map {str(paths['parse'])!r}"),
            pose=read_openpose_json(paths["pose"], size=person.size, min_points=0),
            body_mask=body,
            person_name=person_name,
            cloth_name=cloth_name,
        )

    def __iter__(self) -> Iterator[VitonItem]:
        for i in range(len(self)):
            yield self[i]


# ----------------------------------------------------------------------------------------------------------------
# export

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_README = """CP-VTON / CP-VTON+ test folder written by vton.

test/image/{name}.jpg             person photo
test/cloth/{cloth}                in-shop garment
test/cloth-mask/{cloth}           garment mask (255 on, 0 off)
test/image-parse/{name}.png       LIP parse, P-mode (palette indices = labels; CP-VTON)
test/image-parse-new/{name}.png   LIP parse, L-mode (grey values = labels; CP-VTON+)
test/image-mask/{name}.png        body mask (255 on, 0 off; CP-VTON+)
test/pose/{name}_keypoints.json   OpenPose COCO-18, people[0].pose_keypoints
test_pairs.txt                    "{name}.jpg {cloth}"

The .jpg files hold lossless PNG data under the .jpg names the authors' file lists use (PIL reads by content).
"""


def export_dataset_zip(
    out: PathLike | io.IOBase | None,
    name: str,
    person: Image.Image,
    cloth: Image.Image,
    cloth_mask: np.ndarray,
    parsing: Parsing,
    pose: Pose,
    body_mask: np.ndarray | None = None,
) -> Path | bytes:
    """Write one person/garment pair as a zipped CP-VTON / CP-VTON+ test folder (see the module docstring).

    Readable by the authors' ``CPDataset`` (``--dataroot`` the unzipped folder, ``--datamode test``) and by
    ``VitonFolder``. Photos and masks are lossless: PNG data stored under the ``.jpg`` names the authors' code
    expects (PIL reads images by content), as the golden raw files do. Without ``body_mask`` the image-mask is
    ``parse > 0``.

    Args:
        out: a path for the zip file, a writable binary file object, or None.
        name: the pair's base name (letters, digits, ``_.-``); files are ``<name>.jpg`` and ``<name>_cloth.jpg``.
        person, cloth: 192 × 256 photos.
        cloth_mask: ``(256, 192)`` garment mask (bool, {0, 1}, or 0..255 with 128 as threshold).
        parsing: the person's LIP parse map.
        pose: the person's COCO-18 keypoints in the photo's pixels.
        body_mask: ``(256, 192)`` body mask (non-zero = body) for CP-VTON+.

    Returns:
        The path written; the zip's bytes when ``out`` is a file object or None.

    Raises:
        InputError: a bad name, label set or size.
    """
    if not isinstance(name, str):
        raise InputError(f"the dataset name must be a string, got {type(name).__name__}")
    if not isinstance(parsing, Parsing) or not isinstance(pose, Pose):
        raise InputError("export_dataset_zip needs a vton Parsing and a vton Pose (read them with vton.formats)")
    target_path = check_output_file(out, "dataset zip") if isinstance(out, (str, os.PathLike)) else None
    if out is not None and target_path is None and not callable(getattr(out, "write", None)):
        raise InputError(f"the dataset zip's destination must be a path, a writable binary file or None, got "
                         f"{type(out).__name__}")
    name = _checked_name(name)
    person, cloth, cm, body = _checked_pair(person, cloth, cloth_mask, parsing, pose, body_mask)
    person_file, cloth_file = f"{name}.jpg", f"{name}_cloth.jpg"
    files = {
        f"test/image/{person_file}": _png_bytes(person),
        f"test/cloth/{cloth_file}": _png_bytes(cloth),
        f"test/cloth-mask/{cloth_file}": write_mask_png(cm),
        f"test/image-parse/{name}.png": write_parse_png(parsing, "P"),
        f"test/image-parse-new/{name}.png": write_parse_png(parsing, "L"),
        f"test/image-mask/{name}.png": write_mask_png(body),
        f"test/pose/{name}_keypoints.json": json.dumps(write_openpose_json(pose)).encode(),
        "test_pairs.txt": f"{person_file} {cloth_file}\n".encode(),
        "README.txt": _README.format(name=name, cloth=cloth_file).encode(),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    return _deliver(buf.getvalue(), out, target_path)


def _checked_name(name: str) -> str:
    """The pair's base name without a ``.jpg``, or an ``InputError``."""
    if name.lower().endswith(".jpg"):
        name = name[:-4]
    if not _NAME.match(name):
        raise InputError(f"the dataset name {name!r} must be letters, digits, '_', '.' or '-' (no folders)")
    return name


def _checked_pair(person: Image.Image, cloth: Image.Image, cloth_mask: np.ndarray, parsing: Parsing, pose: Pose,
                  body_mask: np.ndarray | None) -> tuple[Image.Image, Image.Image, np.ndarray, np.ndarray]:
    """The photos loaded and every size checked against the datasets' frame: ``(person, cloth, cloth mask, body
    mask)``, the masks as bool arrays (the body mask ``parse > 0`` when none is given)."""
    person = load_image(person, "person photo")
    cloth = load_image(cloth, "garment photo")
    for what, size in (("person photo", person.size), ("garment photo", cloth.size), ("pose frame", pose.size)):
        if tuple(size) != FRAME:
            raise InputError(
                f"the {what} is {size[0]} × {size[1]}, but the CP-VTON datasets are {FRAME[0]} × {FRAME[1]} (W × H)"
            )
    if parsing.label_set != LIP:
        raise InputError(f"the CP-VTON datasets hold LIP parse maps, got a {parsing.label_set.name} map")
    if parsing.size != FRAME:
        raise InputError(f"the parse map is {parsing.size[0]} × {parsing.size[1]}, expected {FRAME[0]} × {FRAME[1]}")
    cm = mask_array(cloth_mask, "cloth mask")
    body = parsing.labels > 0 if body_mask is None else np.asarray(body_mask) > 0
    for what, m in (("cloth mask", cm), ("body mask", body)):
        if m.shape != (FRAME[1], FRAME[0]):
            raise InputError(f"the {what} has shape {m.shape}, expected ({FRAME[1]}, {FRAME[0]})")
    return person, cloth, cm, body


def _deliver(data: bytes, out: object, target_path: Path | None) -> Path | bytes:
    """Write the zip's bytes to the checked path or the file object; return the path, or the bytes."""
    if target_path is not None:
        try:
            target_path.write_bytes(data)
        except OSError as e:
            raise InputError(f"the dataset zip {str(target_path)!r} cannot be written ({_reason(e)})") from None
        return target_path
    if out is not None:
        try:
            out.write(data)  # type: ignore[attr-defined]
        except (OSError, ValueError, TypeError) as e:
            raise InputError(f"the dataset zip cannot be written to the given file object ({_reason(e)})") from None
    return data
