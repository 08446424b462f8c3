"""Reading and writing the dataset files of VITON / CP-VTON / CP-VTON+, as the authors' dataset code reads them.

Formats (sergeywong/cp-vton and minar09/cp-vton-plus, ``cp_dataset.py``; VITON by Han et al., CVPR 2018):

* pose: OpenPose JSON, ``people[0].pose_keypoints`` (older name) or ``pose_keypoints_2d``, 18 COCO-18
  (x, y, confidence) triples in pixels of the 192 × 256 photo;
* parse: ``image-parse/<name>.png``, a P-mode PNG whose palette indices are the LIP labels (CP-VTON reads the
  indices); CP-VTON+'s ``image-parse-new/<name>.png`` is read with ``.convert('L')``, so it must be an L-mode PNG
  holding the label values;
* masks: ``cloth-mask/<cloth>.jpg`` is on where ≥ 128; CP-VTON+'s body mask ``image-mask/<name>.png`` where > 0;
* folder: ``<root>/<split>/{image, cloth, cloth-mask, image-parse[-new], image-mask, pose}`` and the pairs list
  ``<root>/test_pairs.txt`` with ``person.jpg cloth.jpg`` per line.

Every reader raises ``InputError`` naming the file and what is wrong with it.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from .annotations import Parsing, Pose
from .errors import InputError, PersonNotFoundError
from .images import load_image
from .labels import COCO18, LIP, LabelSet, palette

__all__ = [
    "read_openpose_json", "write_openpose_json", "read_parse_png", "write_parse_png", "read_mask_png",
    "write_mask_png", "VitonItem", "VitonFolder", "export_dataset_zip",
]

PathLike = str | os.PathLike
FRAME = (192, 256)  # (W, H) of the authors' datasets; their code does not resize

_IMAGE_DIR, _CLOTH_DIR, _CLOTH_MASK_DIR = "image", "cloth", "cloth-mask"
_PARSE_DIR, _PARSE_NEW_DIR, _BODY_MASK_DIR, _POSE_DIR = "image-parse", "image-parse-new", "image-mask", "pose"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


# ----------------------------------------------------------------------------------------------------------------
# pose JSON


def _json_source(src: PathLike | bytes | str | dict) -> tuple[Any, str]:
    """``(decoded JSON, name for messages)``."""
    if isinstance(src, dict):
        return src, "the pose JSON"
    if isinstance(src, (bytes, bytearray)):
        text, name = bytes(src), "the pose JSON (uploaded data)"
    elif isinstance(src, str) and src.lstrip().startswith(("{", "[")):
        text, name = src, "the pose JSON text"
    else:
        path = Path(src)
        name = f"the pose file {str(path)!r}"
        if not path.is_file():
            raise InputError(f"{name} does not exist")
        text = path.read_bytes()
    try:
        return json.loads(text), name
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{name} is not valid JSON ({e})") from None


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, (list, tuple)) for v in values):
        return [x for v in values for x in v]
    return list(values) if isinstance(values, (list, tuple)) else [values]


def read_openpose_json(src: PathLike | bytes | str | dict, size: tuple[int, int] = FRAME) -> Pose:
    """Read an OpenPose COCO-18 keypoint file as the CP-VTON dataset code does (``people[0]``).

    Args:
        src: a path, the file's bytes, JSON text, or the decoded dict.
        size: ``(width, height)`` of the photo the pixel coordinates belong to.

    Returns:
        A ``Pose`` (``people_found`` = the number of people in the file).

    Raises:
        PersonNotFoundError: the file lists no people.
        InputError: not JSON, no keypoints, a BODY_25 or other non-COCO-18 layout, non-numeric values.
    """
    data, name = _json_source(src)
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InputError(f"{name} is not an OpenPose keypoint file: it has no 'people' list")
    people = data["people"]
    if not people:
        raise PersonNotFoundError(f"{name} lists no people (its 'people' list is empty)")
    person = people[0]
    if not isinstance(person, dict):
        raise InputError(f"{name}: people[0] is not an object")
    raw = None
    for key in ("pose_keypoints", "pose_keypoints_2d"):
        if person.get(key):
            raw = person[key]
            break
    if raw is None:
        raise InputError(f"{name}: people[0] has neither 'pose_keypoints' nor 'pose_keypoints_2d'")
    flat = _flatten(raw)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        bad = next(v for v in flat if not (isinstance(v, (int, float)) and not isinstance(v, bool)))
        raise InputError(f"{name}: the keypoints must be numbers, found {bad!r}")
    if not all(math.isfinite(v) for v in flat):
        raise InputError(f"{name}: the keypoints hold non-finite numbers (NaN or infinity)")
    if len(flat) % 3:
        raise InputError(f"{name}: the keypoints must be (x, y, confidence) triples, got {len(flat)} numbers")
    n = len(flat) // 3
    if n == 25:
        raise InputError(
            f"{name} holds 25 keypoints: it is OpenPose's BODY_25 model; vton needs COCO-18 (18 keypoints, "
            "OpenPose run with --model_pose COCO)"
        )
    if n != len(COCO18):
        raise InputError(f"{name} holds {n} keypoints; vton needs the {len(COCO18)} COCO-18 keypoints")
    arr = np.asarray(flat, dtype=np.float64).reshape(n, 3)
    return Pose(arr[:, :2], arr[:, 2], size, people_found=len(people))


def write_openpose_json(pose: Pose) -> dict:
    """The pose as an OpenPose JSON dict: ``pose_keypoints`` (what CP-VTON reads) and ``pose_keypoints_2d``."""
    triples = pose.as_openpose_triples()
    return {
        "version": 1.0,
        "people": [
            {
                "pose_keypoints": triples,
                "pose_keypoints_2d": list(triples),
                "face_keypoints": [],
                "hand_left_keypoints": [],
                "hand_right_keypoints": [],
            }
        ],
    }


# ----------------------------------------------------------------------------------------------------------------
# parse and mask PNGs


def _open_png(src: PathLike | bytes | Image.Image | np.ndarray, what: str) -> tuple[Image.Image, str]:
    if isinstance(src, Image.Image):
        return src, f"the {what}"
    if isinstance(src, np.ndarray):
        arr = src.astype(np.uint8) * 255 if src.dtype == bool else src
        if arr.dtype != np.uint8 or arr.ndim not in (2, 3):
            raise InputError(f"the {what} array must be (H, W) uint8 or bool, got {src.dtype} of shape {src.shape}")
        return Image.fromarray(arr), f"the {what}"
    if isinstance(src, (bytes, bytearray)):
        fp: Any = io.BytesIO(bytes(src))
        name = f"the {what} (uploaded data)"
    else:
        path = Path(src)
        name = f"the {what} {str(path)!r}"
        if not path.is_file():
            raise InputError(f"{name} does not exist")
        fp = path
    try:
        img = Image.open(fp)
        img.load()
    except UnidentifiedImageError:
        raise InputError(f"{name} is not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{name} is damaged or cannot be decoded ({e})") from None
    return img, name


def _colours_to_labels(rgb: np.ndarray, label_set: LabelSet, name: str) -> np.ndarray:
    """``(H, W, 3) uint8`` colour parse → label ids via the label set's palette (or grey values = ids)."""
    rgb = rgb[..., :3].astype(np.int64)
    codes = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    colours = label_set.colors().astype(np.int64)
    table = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    found = np.unique(codes)
    known = np.isin(found, table)
    if known.all():
        order = np.argsort(table, kind="stable")  # palette colours of a label set are distinct
        return order[np.searchsorted(table[order], codes)]
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    if grey.all() and rgb[..., 0].max() < len(label_set):
        return rgb[..., 0]
    unknown = found[~known][:5]
    examples = ", ".join(f"({c >> 16}, {(c >> 8) & 255}, {c & 255})" for c in unknown.tolist())
    raise InputError(
        f"{name} is a colour image with {int((~known).sum())} colours that are not {label_set.name} palette colours "
        f"(e.g. {examples}); save the label ids as a P-mode or L-mode PNG"
    )


def read_parse_png(
    src: PathLike | bytes | Image.Image | np.ndarray, *, label_set: LabelSet = LIP, what: str = "parse map"
) -> Parsing:
    """Read a human-parsing label map.

    A P-mode PNG gives its palette indices (CP-VTON's ``image-parse``); an L-mode (or 16-bit) PNG its values
    (CP-VTON+'s ``image-parse-new``); an RGB colour image is mapped back through the label set's palette when
    every colour is a palette colour (a grey image whose grey levels are label ids is read as those ids).

    Args:
        src: a path, the file's bytes, a PIL image, or an ``(H, W)`` integer array of labels.
        label_set: the labels' meaning (LIP for the CP-VTON datasets).
        what: how messages name the file.

    Raises:
        InputError: unreadable, unknown colours, or label values outside the label set (the range found is named).
    """
    if isinstance(src, np.ndarray):
        arr, name = src, f"the {what}"
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            arr = _colours_to_labels(arr.astype(np.uint8), label_set, name)
        elif arr.ndim != 2 or arr.dtype.kind not in "uib":
            raise InputError(f"{name} array must be (H, W) integer labels, got {arr.dtype} of shape {arr.shape}")
    else:
        img, name = _open_png(src, what)
        if img.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
            arr = np.asarray(img).astype(np.int64)
        elif img.mode in ("RGB", "RGBA"):
            arr = _colours_to_labels(np.asarray(img), label_set, name)
        elif img.mode in ("LA", "PA"):
            arr = np.asarray(img)[..., 0].astype(np.int64)
        else:
            raise InputError(f"{name} has image mode {img.mode}; a parse map is a P-mode or L-mode PNG")
    arr = np.asarray(arr).astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= len(label_set)):
        raise InputError(
            f"{name} holds values {int(arr.min())}..{int(arr.max())}, but {label_set.name} labels are "
            f"0..{len(label_set) - 1}"
        )
    return Parsing(arr.astype(np.uint8), label_set)


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def write_parse_png(parsing: Parsing, mode: Literal["P", "L"] = "P") -> bytes:
    """PNG bytes of the label map: "P" = palette indices with the Pascal-VOC palette (CP-VTON ``image-parse``),
    "L" = grey values equal to the labels (CP-VTON+ ``image-parse-new``)."""
    if mode not in ("P", "L"):
        raise InputError(f"a parse PNG is written in mode 'P' or 'L', not {mode!r}")
    img = Image.fromarray(np.ascontiguousarray(parsing.labels, dtype=np.uint8), mode="L")
    if mode == "P":
        img.putpalette(palette(256).reshape(-1).tolist())  # turns the image into mode P
    return _png_bytes(img)


def read_mask_png(
    src: PathLike | bytes | Image.Image | np.ndarray, what: str = "cloth mask", *, threshold: int = 128
) -> np.ndarray:
    """Read a mask image as ``(H, W) bool``: on where the grey value ≥ ``threshold``.

    128 is CP-VTON's cloth-mask rule (``cloth-mask/*.jpg``); use ``threshold=1`` for CP-VTON+'s body mask
    (``image-mask/*.png``, on where > 0). Colour images are converted to grey first (``convert('L')``).
    """
    img, _ = _open_png(src, what)
    return np.asarray(img.convert("L")) >= threshold


def write_mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes (mode L) of a mask: 255 where ``mask`` is non-zero, 0 elsewhere."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    return _png_bytes(Image.fromarray(np.where(m > 0, 255, 0).astype(np.uint8), mode="L"))


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
        raise InputError(f"{where}: {name!r} is not a plain file name")
    return name


MAX_UNZIPPED_BYTES = 4 * 1024**3


def _unzip(path: Path, dest: Path) -> None:
    """Unpack a dataset zip safely: no member may leave ``dest``, nor may the total exceed ``MAX_UNZIPPED_BYTES``."""
    with zipfile.ZipFile(path) as zf:
        members = zf.infolist()
        total = sum(m.file_size for m in members)
        if total > MAX_UNZIPPED_BYTES:
            raise InputError(f"the dataset zip {str(path)!r} unpacks to {total} bytes, more than vton accepts")
        for m in members:
            target = (dest / m.filename).resolve()
            if not target.is_relative_to(dest.resolve()):
                raise InputError(f"the dataset zip {str(path)!r} holds a file outside its folder: {m.filename!r}")
        zf.extractall(dest)


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
        self.root = Path(root)
        self._unpacked: tempfile.TemporaryDirectory | None = None
        if self.root.is_file() and zipfile.is_zipfile(self.root):
            self._unpacked = tempfile.TemporaryDirectory(prefix="vton-dataset-")
            _unzip(self.root, Path(self._unpacked.name))
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
        out = []
        for n, line in enumerate(found.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise InputError(
                    f"the pairs list {str(found)!r}, line {n}: expected 'person.jpg cloth.jpg', got {line.strip()!r}"
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
            cloth_mask=read_mask_png(paths["cloth_mask"], "cloth mask"),
            parsing=read_parse_png(paths["parse"], label_set=self.label_set),
            pose=read_openpose_json(paths["pose"], size=person.size),
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
    from .encodings import mask_array as _mask_array

    if name.lower().endswith(".jpg"):
        name = name[:-4]
    if not _NAME.match(name):
        raise InputError(f"the dataset name {name!r} must be letters, digits, '_', '.' or '-' (no folders)")
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
    cm = _mask_array(cloth_mask)
    body = parsing.labels > 0 if body_mask is None else np.asarray(body_mask) > 0
    for what, m in (("cloth mask", cm), ("body mask", body)):
        if m.shape != (FRAME[1], FRAME[0]):
            raise InputError(f"the {what} has shape {m.shape}, expected ({FRAME[1]}, {FRAME[0]})")

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
    target: Any = io.BytesIO() if out is None or not isinstance(out, (str, os.PathLike)) else Path(out)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    if isinstance(target, Path):
        return target
    data = target.getvalue()
    if out is not None:
        out.write(data)  # type: ignore[union-attr]
    return data
