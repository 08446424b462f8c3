"""The annotation file formats of VITON / CP-VTON / CP-VTON+, read and written as the authors' dataset code reads
them (sergeywong/cp-vton@fbaf333b and minar09/cp-vton-plus@5d7a8997, ``cp_dataset.py``; VITON: Han et al.,
CVPR 2018):

* pose: OpenPose JSON, ``people[0].pose_keypoints`` (older name) or ``pose_keypoints_2d``, 18 COCO-18
  (x, y, confidence) triples in pixels of the photo;
* parse: a P-mode PNG whose palette indices are the LIP labels (CP-VTON's ``image-parse``, read as indices), or
  an L-mode PNG holding the label values (CP-VTON+'s ``image-parse-new``, read with ``.convert('L')``);
* masks: CP-VTON's ``cloth-mask/<cloth>.jpg`` is on where ≥ 128; CP-VTON+'s body mask ``image-mask`` where > 0.

Every reader refuses bad input with an ``InputError`` naming the file and saying what to do, before it decodes
much: the same byte (``MAX_FILE_BYTES``) and pixel (``MAX_PIXELS``) caps as photos for PNGs, and for pose JSON
a byte cap (``MAX_POSE_JSON_BYTES``), a nesting cap (``MAX_JSON_DEPTH``, checked before decoding) and a digit
cap on integers (``MAX_JSON_INT_DIGITS``). ``check_cloth_mask`` refuses empty or nearly empty garment masks.
The dataset folders that hold these files are in ``vton.datasets``.
"""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any, Literal

import numpy as np
from PIL import Image

from .annotations import Parsing, Pose, check_pose
from .decoding import decode_image
from .errors import InputError, PersonNotFoundError
from .errors import short_reason as _reason
from .images import check_file_size, check_image_size, open_image, read_path_bytes
from .labels import COCO18, LIP, LabelSet, palette
from .run import FRAME  # (W, H) of the authors' datasets; their code does not resize

__all__ = [
    "MAX_POSE_JSON_BYTES", "MAX_JSON_DEPTH", "MAX_JSON_INT_DIGITS", "MIN_GARMENT_FRACTION",
    "read_openpose_json", "write_openpose_json", "read_parse_png", "write_parse_png", "read_mask_png",
    "write_mask_png", "mask_array", "check_cloth_mask",
]

PathLike = str | os.PathLike
MAX_POSE_JSON_BYTES = 1_000_000  # an OpenPose file of a few people is a few kB
MAX_JSON_DEPTH = 32  # OpenPose files nest 4 or 5 levels
MAX_JSON_INT_DIGITS = 30  # no pixel coordinate has more digits; Python refuses over 4300 anyway
MIN_GARMENT_FRACTION = 0.01  # a garment mask must cover at least 1 % of its image


# ----------------------------------------------------------------------------------------------------------------
# pose JSON

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def _json_depth(text: bytes) -> int:
    """Deepest ``[``/``{`` nesting of a JSON text (brackets inside strings do not count), without decoding it."""
    a = np.frombuffer(_JSON_STRING.sub(b'""', text), np.uint8)
    step = np.isin(a, (ord("["), ord("{"))).astype(np.int32) - np.isin(a, (ord("]"), ord("}")))
    return int(np.cumsum(step).max()) if step.size else 0


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise InputError(f"an integer of {len(digits)} digits")
    return int(digits)


def _parse_constant(name: str) -> float:
    raise InputError(f"the non-standard constant {name}")


def _json_source(src: Any) -> tuple[Any, str]:
    """``(decoded JSON, name for messages)``; the size and nesting are checked before decoding."""
    if isinstance(src, dict):
        return src, "the pose JSON"
    if isinstance(src, (bytes, bytearray, memoryview)):
        text, name = bytes(src), getattr(src, "label", "the pose JSON (uploaded data)")
    elif isinstance(src, str) and src.lstrip().startswith(("{", "[")):
        text, name = src.encode("utf-8", errors="replace"), "the pose JSON text"
    elif isinstance(src, (str, os.PathLike)):
        data = read_path_bytes(src, "pose file", MAX_POSE_JSON_BYTES, "MAX_POSE_JSON_BYTES")
        text, name = bytes(data), data.label
    else:
        raise InputError(
            "the pose must be an OpenPose JSON file: a path, the file's bytes, its text or the decoded dict; "
            f"got {type(src).__name__}"
        )
    check_file_size(len(text), name.removeprefix("the "), MAX_POSE_JSON_BYTES, "MAX_POSE_JSON_BYTES")
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise InputError(
            f"{name} nests {depth} levels deep; an OpenPose file nests at most a few (vton reads up to "
            f"{MAX_JSON_DEPTH}, MAX_JSON_DEPTH); it is not a keypoint file"
        )
    try:
        return json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant), name
    except InputError as e:
        raise InputError(f"{name} holds {e}; an OpenPose file holds plain decimal numbers") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(
            f"{name} is not valid JSON ({_reason(e)}); give the _keypoints.json file OpenPose wrote"
        ) from None
    except (ValueError, RecursionError, OverflowError, MemoryError) as e:
        raise InputError(f"{name} cannot be decoded as JSON ({type(e).__name__}: {_reason(e)})") from None


def _flatten(values: Any) -> list[Any]:
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, (list, tuple)) for v in values):
        return [x for v in values for x in v]
    return list(values) if isinstance(values, (list, tuple)) else [values]


def _as_float(v: Any) -> float | None:
    """A JSON number as a float; None for anything else (bools, strings, lists, too large integers)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        return float(v)
    except OverflowError:
        return None


def read_openpose_json(src: PathLike | bytes | str | dict, size: tuple[int, int] | None = None, *,
                       min_points: int = 1) -> Pose:
    """Read an OpenPose COCO-18 keypoint file as the CP-VTON dataset code does (``people[0]``).

    Args:
        src: a path, the file's bytes, JSON text, or the decoded dict.
        size: ``(width, height)`` of the photo the pixel coordinates belong to; when given, keypoints outside it
            (beyond ``POSE_TOLERANCE``) are refused (``check_pose``). None: the datasets' 192 × 256, unchecked.
        min_points: the fewest present keypoints accepted (a person entry with none is no pose).

    Returns:
        A ``Pose`` (``people_found`` = the number of people in the file).

    Raises:
        PersonNotFoundError: the file lists no people.
        InputError: not JSON, too large or too deeply nested, no keypoints, a BODY_25 or other non-COCO-18
            layout, non-numeric or too large values, points outside the photo, too few present points.
    """
    data, name = _json_source(src)
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        raise InputError(f"{name} is not an OpenPose keypoint file: it has no 'people' list")
    people = data["people"]
    if not people:
        raise PersonNotFoundError(f"{name} lists no people (its 'people' list is empty); nobody was detected")
    person = people[0]
    if not isinstance(person, dict):
        raise InputError(f"{name}: people[0] is not an object but {type(person).__name__}")
    raw = None
    for key in ("pose_keypoints", "pose_keypoints_2d"):
        if person.get(key):
            raw = person[key]
            break
    if raw is None:
        raise InputError(f"{name}: people[0] has neither 'pose_keypoints' nor 'pose_keypoints_2d'")
    flat = _flatten(raw)
    values = [_as_float(v) for v in flat]
    if any(v is None for v in values):
        bad = flat[next(i for i, v in enumerate(values) if v is None)]
        if isinstance(bad, int) and not isinstance(bad, bool):
            shown = "an integer too large for a coordinate"
        elif isinstance(bad, (str, float, bool)) or bad is None:
            shown = repr(bad) if len(repr(bad)) < 60 else f"a {type(bad).__name__} of {len(repr(bad))} characters"
        else:
            shown = f"a {type(bad).__name__} (keypoints are a flat list of numbers or a list of triples)"
        raise InputError(f"{name}: the keypoints must be numbers, found {shown}")
    if not all(np.isfinite(values)):
        raise InputError(f"{name}: the keypoints hold non-finite numbers (NaN or infinity)")
    if len(values) % 3:
        raise InputError(f"{name}: the keypoints must be (x, y, confidence) triples, got {len(values)} numbers")
    n = len(values) // 3
    if n == 25:
        raise InputError(
            f"{name} holds 25 keypoints: it is OpenPose's BODY_25 model; vton needs COCO-18 (18 keypoints, "
            "OpenPose run with --model_pose COCO)"
        )
    if n != len(COCO18):
        raise InputError(f"{name} holds {n} keypoints; vton needs the {len(COCO18)} COCO-18 keypoints")
    arr = np.asarray(values, dtype=np.float64).reshape(n, 3)  # (18, 3): x, y, confidence
    if np.abs(arr).max() > 1e7:
        raise InputError(f"{name}: the keypoints hold values up to {np.abs(arr).max():.3g}, not pixel coordinates")
    pose = Pose(arr[:, :2], arr[:, 2], FRAME if size is None else size, people_found=len(people))
    if size is not None:
        check_pose(pose, size, what=name.removeprefix("the "))
    if int(pose.present.sum()) < min_points:
        raise InputError(
            f"{name}: people[0] has {int(pose.present.sum())} of {len(COCO18)} keypoints present (x > 1, "
            f"y > 1, score > 0); at least {min_points} are needed. Give the pose of this photo, or leave it out to "
            "have it estimated"
        )
    return pose


def write_openpose_json(pose: Pose) -> dict:
    """The pose as an OpenPose JSON dict: ``pose_keypoints`` (what CP-VTON reads) and ``pose_keypoints_2d``."""
    if not isinstance(pose, Pose):
        raise InputError(f"write_openpose_json needs a vton Pose, got {type(pose).__name__}")
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


def _open_png(src: Any, what: str) -> tuple[Image.Image, str]:
    """A parse or mask image, opened with the photos' byte and pixel caps and decoded (arrays are not accepted)."""
    img, name = open_image(src, what)
    return decode_image(img, name), name


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


def _whole_numbers(arr: np.ndarray, name: str) -> np.ndarray:
    """Integer, bool or float-holding-whole-numbers array → int64; anything else is refused."""
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise InputError(f"{name} holds NaN or infinite values; a parse map holds whole-number labels")
        if (arr != np.round(arr)).any():
            raise InputError(f"{name} holds fractional values; a parse map holds whole-number labels")
    elif arr.dtype.kind not in "uib":
        raise InputError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def read_parse_png(
    src: PathLike | bytes | Image.Image | np.ndarray, *, label_set: LabelSet = LIP, what: str = "parse map"
) -> Parsing:
    """Read a human-parsing label map.

    A P-mode PNG gives its palette indices (CP-VTON's ``image-parse``); an L-mode (or 16-bit, or float holding
    whole numbers) PNG its values (CP-VTON+'s ``image-parse-new``); an RGB colour image is mapped back through
    the label set's palette when every colour is a palette colour (a grey image whose grey levels are label ids
    is read as those ids).

    Args:
        src: a path, the file's bytes, a binary file object, a PIL image, or an ``(H, W)`` array of labels
            (integer, or float holding whole numbers), or an ``(H, W, 3)`` colour array.
        label_set: the labels' meaning (LIP for the CP-VTON datasets).
        what: how messages name the file.

    Raises:
        InputError: unreadable, too large, unknown colours, or label values outside the label set (the range
            found is named).
    """
    if isinstance(src, np.ndarray):
        arr, name = src, f"the {what}"
        if arr.ndim == 3 and arr.shape[2] in (3, 4) and arr.dtype == np.uint8:
            arr = _colours_to_labels(arr, label_set, name)
        elif arr.ndim != 2:
            raise InputError(f"{name} array must be (H, W) labels or (H, W, 3) uint8 colours, got shape {arr.shape}")
        else:
            check_image_size((arr.shape[1], arr.shape[0]), what, min_side=1, max_aspect=None)
            arr = _whole_numbers(arr, name)
    else:
        img, name = _open_png(src, what)
        if img.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1", "F"):
            arr = _whole_numbers(np.asarray(img), name)
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
            f"0..{len(label_set) - 1}; give a {label_set.name} parse map"
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
    if not isinstance(parsing, Parsing):
        raise InputError(f"write_parse_png needs a vton Parsing, got {type(parsing).__name__}")
    img = Image.fromarray(np.ascontiguousarray(parsing.labels, dtype=np.uint8), mode="L")
    if mode == "P":
        img.putpalette(palette(256).reshape(-1).tolist())  # turns the image into mode P
    return _png_bytes(img)


def _grey_levels(arr: np.ndarray, name: str) -> np.ndarray:
    """A mask's values as grey levels 0..255 (float64): bool and {0, 1} integers → 0/255, floats in [0, 1] × 255,
    floats in [0, 255] and integers 0..255 as they are."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.float64) * 255.0
    if kind not in "uif":
        raise InputError(f"{name} must be a bool, integer or float array, got dtype {arr.dtype}")
    a = arr.astype(np.float64)
    if kind == "f" and not np.isfinite(a).all():
        raise InputError(f"{name} holds NaN or infinite values; a mask holds 0/1, 0..255 or [0, 1] values")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if lo < 0 or hi > 255:
        raise InputError(
            f"{name} holds values {lo:g}..{hi:g}; a mask holds 0/1, 0..255 or floats in [0, 1]; rescale it"
        )
    if hi <= 1.0 and (kind == "f" or np.isin(a, (0.0, 1.0)).all()):
        return a * 255.0  # a 0/1 or [0, 1] mask
    return a


def mask_array(src: np.ndarray, what: str = "mask", *, threshold: int = 128) -> np.ndarray:
    """A mask array in any common form → ``(H, W) bool``: on where its grey level (0..255) ≥ ``threshold``.

    bool arrays and integer arrays holding only {0, 1} are on where non-zero; floats in [0, 1] are scaled to
    0..255 (so ≥ 0.5 with the default threshold); floats in [0, 255] and integers 0..255 are grey levels.

    Raises:
        InputError: not 2-D, another dtype, NaN or infinity, values out of range.
    """
    if isinstance(src, Image.Image):
        return read_mask_png(src, what, threshold=threshold)
    if not isinstance(src, np.ndarray):
        raise InputError(f"the {what} must be a numpy array or an image, got {type(src).__name__}")
    if src.ndim == 3 and src.shape[2] == 1:
        src = src[..., 0]
    if src.ndim != 2:
        raise InputError(f"the {what} must be 2-D (H, W), got shape {src.shape}")
    check_image_size((src.shape[1], src.shape[0]), what, min_side=1, max_aspect=None)
    return _grey_levels(src, f"the {what}") >= threshold


def read_mask_png(
    src: PathLike | bytes | Image.Image | np.ndarray, what: str = "cloth mask", *, threshold: int = 128,
    min_fraction: float = 0.0,
) -> np.ndarray:
    """Read a mask image as ``(H, W) bool``: on where the grey value ≥ ``threshold``.

    128 is CP-VTON's cloth-mask rule (``cloth-mask/*.jpg``); use ``threshold=1`` for CP-VTON+'s body mask
    (``image-mask/*.png``, on where > 0). Colour images are converted to grey first (``convert('L')``); a grey
    image whose grey levels are constant but whose transparency varies is read from its alpha channel. An image
    or array holding only 0 and 1 is a 0/1 mask; float images and arrays in [0, 1] are scaled to 0..255 (see
    ``mask_array``); 16-bit images are scaled to 8 bits.

    Args:
        src: a path, the file's bytes, a binary file object, a PIL image or an array.
        what: how messages name the mask.
        threshold: the grey level from which a pixel is on.
        min_fraction: refuse a mask covering less than this fraction of the image (``check_cloth_mask``).

    Raises:
        InputError: unreadable, too large, damaged, NaN values, or (with ``min_fraction``) empty.
    """
    if isinstance(src, np.ndarray):
        mask = mask_array(src, what, threshold=threshold)
    else:
        img, name = _open_png(src, what)
        if img.mode in ("F", "I", "I;16", "I;16B", "I;16L", "1"):
            arr = np.asarray(img)
            if img.mode.startswith("I") and arr.size and arr.max() > 255:
                if arr.min() < 0 or arr.max() > 65535:
                    raise InputError(f"{name} holds values {arr.min()}..{arr.max()}; save it as an 8-bit mask")
                arr = arr / 257.0
            grey = _grey_levels(arr, name)
        else:
            try:
                grey = np.asarray(img.convert("L")).astype(np.float64)
                if "A" in img.getbands() or "transparency" in img.info:
                    alpha = np.asarray(img.convert("RGBA").getchannel("A")).astype(np.float64)
                    if grey.size and grey.min() == grey.max() and alpha.min() != alpha.max():
                        grey = alpha
            except (ValueError, OSError) as e:
                raise InputError(
                    f"{name} has image mode {img.mode}, which cannot be read as a mask ({_reason(e)})"
                ) from None
            if grey.size and grey.max() <= 1.0:
                grey = grey * 255.0  # a 0/1 mask saved as an image
        mask = grey >= threshold
    if min_fraction > 0:
        check_cloth_mask(mask, what, min_fraction=min_fraction)
    return mask


def write_mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes (mode L) of a mask: 255 where ``mask`` is non-zero, 0 elsewhere."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    return _png_bytes(Image.fromarray(np.where(m > 0, 255, 0).astype(np.uint8), mode="L"))


def check_cloth_mask(mask: np.ndarray, what: str = "garment mask", *,
                     min_fraction: float | None = None) -> np.ndarray:
    """Refuse an empty or nearly empty garment mask; return it as ``(H, W) bool``.

    Args:
        mask: the mask in any form ``mask_array`` reads (bool, 0/1, 0..255 with 128 as threshold, float [0, 1]).
        what: how messages name it ("garment mask", "cloth mask 'x.png'", "garment photo's transparency").
        min_fraction: the smallest fraction of the image the garment must cover (default ``MIN_GARMENT_FRACTION``).

    Returns:
        The mask as ``(H, W) bool``.

    Raises:
        InputError: the mask covers less than ``min_fraction`` of the image (all black, every value below the
            threshold, all transparent, a few pixels); the message gives the count and what to do.
    """
    min_fraction = MIN_GARMENT_FRACTION if min_fraction is None else min_fraction
    m = mask if isinstance(mask, np.ndarray) and mask.dtype == bool and mask.ndim == 2 else mask_array(mask, what)
    on, total = int(m.sum()), int(m.size)
    if total == 0 or on < min_fraction * total:
        h, w = m.shape
        share = 100.0 * on / max(total, 1)
        raise InputError(
            f"the {what} covers {on} of {total} pixels ({share:.2f} % of the {w} × {h} image); a garment must "
            f"cover at least {100 * min_fraction:g} % (MIN_GARMENT_FRACTION). The mask is empty or nearly so: "
            "white (255) marks the garment and black (0) the background, values below 128 count as background, "
            "and a transparent PNG needs an opaque garment; give a correct mask, or leave it out to have it "
            "computed"
        )
    return m
