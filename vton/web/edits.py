"""The page's edits: the editors' pictures and the parse legend, and the edits (keypoint table, painted parse map,
painted garment mask) turned back into pipeline inputs against the run the page holds.

Serves the app of this project (``app.py``), which re-implements CP-VTON (Wang et al., ECCV 2018,
sergeywong/cp-vton@fbaf333b) and its successors; nothing here comes from their code.

**Where edits live.** Every editor works in the frame of the run it edits (the method card's ``frame``: 192 × 256
for most methods, 768 × 1024 for VITON-HD; the keypoint table, the parse map and the garment mask the page shows are
the framed ones). A painted picture of another size is refused with the sizes named, never resized. A re-run maps
the edits back to the inputs' own pixels: keypoints and the parse map through the inverse of the run's
``FrameTransform`` (``pre.transform``; nearest-neighbour for labels), so the result is still pasted into the photo at
its own size; the garment mask is passed with the *framed* garment (``pre.cloth``, in the frame, whose framing is
the identity), so it needs no mapping.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from vton.annotations import Parsing, Pose
from vton.errors import InputError
from vton.labels import COCO18, LIP

__all__ = ["legend_html", "brush_colours", "parse_editor_image",
           "mask_editor_image", "editor_image", "frame_labels_from_editor", "parsing_from_editor", "mask_from_editor",
           "pose_from_table", "keypoint_rows", "control_point_rows", "edits_against", "KEYPOINT_HEADERS",
           "keypoints_label", "edit_help", "editor_is_empty"]

KEYPOINT_HEADERS = ["keypoint", "x", "y", "score", "present"]


def keypoints_label(frame: tuple[int, int]) -> str:
    """The keypoint table's label for a method's frame ``(W, H)``."""
    return f"Keypoints (frame pixels, {frame[0]} × {frame[1]}): edit x, y or present"


def edit_help(frame: tuple[int, int]) -> str:
    """The edit tab's help for a method's frame ``(W, H)`` (the held run's card's, or the default before a run)."""
    return (f"Edit in the {frame[0]} × {frame[1]} frame the method reads, then press **Re-run from my edits**: only "
            "what follows the edit runs again (unchanged preprocessing is reused and says *cached, 0 s*). Keypoints: "
            "change x / y (frame pixels) or set *present* to `no`. Parse map: paint with the label colours (the "
            "brush colours are the LIP palette, in label order; the legend below names them). Garment mask: paint "
            "white (garment) or black. Edits are mapped back to the photo's pixels, so the result is still pasted "
            "into the photo at its own size.")


def legend_html(label_set: Any = LIP) -> str:
    """An HTML legend of every label: its colour swatch, id and name at the page's text size."""
    cells = []
    for i, (name, colour) in enumerate(zip(label_set.names, label_set.colors(), strict=True)):
        r, g, b = (int(c) for c in colour)
        cells.append(f'<span class="legend-item"><span class="legend-swatch" style="background:rgb({r},{g},{b})">'
                     f'</span>{i} {html.escape(name.replace("_", " "))}</span>')
    return f'<div class="parse-legend" id="parse-legend-items">{"".join(cells)}</div>'


def brush_colours(label_set: Any = LIP) -> list[str]:
    """The label set's palette as ``#rrggbb`` brush colours, in label order."""
    return ["#" + "".join(f"{int(c):02x}" for c in colour) for colour in label_set.colors()]


def parse_editor_image(parsing: Parsing) -> Image.Image:
    """The framed parse map as a palette-coloured RGB picture (the parse editor's background)."""
    return Image.fromarray(parsing.colorize())


def mask_editor_image(mask: np.ndarray) -> Image.Image:
    """A binary mask as a white-on-black RGB picture (the garment-mask editor's background)."""
    m = np.asarray(mask).astype(bool)
    return Image.fromarray(np.repeat((m * 255).astype(np.uint8)[..., None], 3, 2))


def editor_is_empty(value: Any) -> bool:
    """Whether an ``ImageEditor`` value holds no picture at all (nothing to compare with the run)."""
    if isinstance(value, Mapping):
        return value.get("composite") is None and value.get("background") is None
    return value is None


def _check_frame(shape: tuple[int, ...], frame_size: tuple[int, int], what: str) -> None:
    """Refuses a painted picture that is not in the run's frame ``(W, H)``: it is never resized (a picture of
    another size or aspect would put every label or mask pixel somewhere else)."""
    fw, fh = (int(v) for v in frame_size)
    if tuple(shape[:2]) != (fh, fw):
        raise InputError(f"the {what} editor holds a {shape[1]} × {shape[0]} picture, but this run's frame is "
                         f"{fw} × {fh} (width × height); run the try-on again so the editors are filled in its "
                         "frame, then paint on them")


def editor_image(value: Any, what: str) -> np.ndarray:
    """The composite of an ``ImageEditor`` value (a dict with ``composite``, or an image) as ``(H, W, 3) uint8``."""
    if isinstance(value, Mapping):
        value = value.get("composite") if value.get("composite") is not None else value.get("background")
    if value is None:
        raise InputError(f"the {what} editor is empty; run a try-on first, then edit")
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        with Image.open(value) as im:
            value = im.convert("RGBA")
    if isinstance(value, Image.Image):
        value = np.asarray(value.convert("RGBA"))
    arr = np.asarray(value)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, 2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(f"the {what} editor holds an image of shape {arr.shape}; expected a colour image")
    if arr.shape[2] == 4:  # a transparent pixel shows the (black) canvas
        a = arr[..., 3:4].astype(np.float32) / 255.0
        arr = arr[..., :3].astype(np.float32) * a
    return np.clip(np.asarray(arr, np.float32) + 0.5, 0, 255).astype(np.uint8)


def frame_labels_from_editor(value: Any, frame_size: tuple[int, int], label_set: Any = LIP) -> np.ndarray:
    """The painted parse map → ``(H, W) uint8`` labels in the frame: each pixel takes the label of the nearest
    palette colour (a brush's soft edge is not a palette colour). A picture of another size than ``frame_size``
    ``(W, H)`` is refused (``InputError``)."""
    rgb = editor_image(value, "parse map").astype(np.int32)
    _check_frame(rgb.shape, frame_size, "parse map")
    colours = label_set.colors().astype(np.int32)
    dist = ((rgb[:, :, None, :] - colours[None, None, :, :]) ** 2).sum(-1)  # (H, W, labels)
    return dist.argmin(-1).astype(np.uint8)


def parsing_from_editor(value: Any, transform: Any, label_set: Any = LIP) -> Parsing:
    """The painted parse map (frame pixels) → a ``Parsing`` in the photo's pixels (the frame mapped back with the
    inverse of ``transform``, nearest neighbour)."""
    labels = frame_labels_from_editor(value, transform.frame_size, label_set)
    return Parsing(_frame_to_photo(labels, transform), label_set)


def mask_from_editor(value: Any, size: tuple[int, int]) -> np.ndarray:
    """The painted garment mask → ``(H, W) bool`` of ``size`` (W, H), the run's frame: white (grey > 127) is
    garment. A picture of another size is refused (``InputError``)."""
    grey = editor_image(value, "garment mask").mean(axis=2)
    _check_frame(grey.shape, size, "garment mask")
    return grey > 127


def keypoint_rows(table: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """``Preprocessed.keypoint_table()`` rows as the page's table rows (frame pixels)."""
    return [[r["name"], r["x"], r["y"], r["score"], "yes" if r["present"] else "no"] for r in table]


def _number(v: Any, what: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise InputError(f"the keypoint table's {what} must be a number, got {str(v)[:40]!r}") from None
    if not np.isfinite(x):
        raise InputError(f"the keypoint table's {what} must be a finite number")
    return x


def pose_from_table(rows: Any, transform: Any) -> Pose:
    """The edited keypoint table (frame pixels; ``present`` "no" or an empty x/y drops a point) → a ``Pose`` in
    the photo's pixels (through the inverse of ``transform``)."""
    if hasattr(rows, "values") and hasattr(rows, "columns"):  # a pandas DataFrame
        rows = rows.values.tolist()
    rows = [list(r) for r in rows or []]
    if len(rows) != len(COCO18):
        raise InputError(f"the keypoint table needs {len(COCO18)} rows (COCO-18), got {len(rows)}; run a try-on "
                         "with a method that uses a pose first")
    kp = np.zeros((len(COCO18), 2), np.float64)
    scores = np.zeros(len(COCO18), np.float64)
    for i, (name, row) in enumerate(zip(COCO18, rows, strict=True)):
        if len(row) < 5:
            raise InputError(f"the keypoint table's row {i} ({name}) needs keypoint, x, y, score, present")
        present = str(row[4]).strip().lower() in ("yes", "true", "1")
        if not present or row[1] in (None, "") or row[2] in (None, ""):
            continue
        x, y = _number(row[1], f"x of {name}"), _number(row[2], f"y of {name}")
        score = row[3] if row[3] not in (None, "") else 1.0
        kp[i] = transform.to_photo(np.array([x, y]))
        scores[i] = min(max(_number(score, f"score of {name}"), 0.0), 1.0) or 1.0
    w, h = transform.src_size
    kp[:, 0] = np.clip(kp[:, 0], 0, w - 1)
    kp[:, 1] = np.clip(kp[:, 1], 0, h - 1)
    kp[scores == 0] = 0.0
    return Pose(kp.astype(np.float32), scores.astype(np.float32), (w, h))


def control_point_rows(summary: Mapping[str, Any] | None, key: str) -> tuple[list[str], list[list[Any]]]:
    """The point table a card declares (``MethodCard.point_table``): headers and one row per item of
    ``summary["data"][key]`` (θ's control points, the matched pairs: whatever columns the method wrote); empty when
    the run has none."""
    points = ((summary or {}).get("data") or {}).get(key) or []
    if not isinstance(points, list) or not points:
        return [], []
    if isinstance(points[0], Mapping):
        headers = list(points[0].keys())
        return headers, [[p.get(h) for h in headers] for p in points]
    rows = [list(p) if isinstance(p, (list, tuple)) else [p] for p in points]
    headers = ["i", *(["x", "y"] if len(rows[0]) == 2 else [f"v{j}" for j in range(len(rows[0]))])]
    return headers, [[i, *r] for i, r in enumerate(rows)]


def _table_equal(rows: Any, table: Sequence[Mapping[str, Any]]) -> bool:
    if hasattr(rows, "values") and hasattr(rows, "columns"):
        rows = rows.values.tolist()
    rows = [list(r) for r in rows or []]
    if len(rows) != len(table):
        return False
    for r, t in zip(rows, table, strict=True):
        try:
            same = (abs(float(r[1]) - t["x"]) < 1e-3 and abs(float(r[2]) - t["y"]) < 1e-3
                    and (str(r[4]).strip().lower() in ("yes", "true", "1")) == bool(t["present"]))
        except (TypeError, ValueError, IndexError):
            return False
        if not same:
            return False
    return True


def edits_against(pre: Any, keypoint_table: Any, parse_edit: Any, mask_edit: Any) -> tuple[dict[str, Any], list[str]]:
    """The page's editors compared with the unedited preprocessing ``pre``: the pipeline arguments that replace
    what was edited (``pose``, ``parsing`` in the photo's pixels; ``cloth`` + ``cloth_mask`` as the framed garment
    and its mask) and the names of the edits. Unedited parts (and empty editors) are left out, so they stay cached.

    Raises:
        InputError: a painted picture is not in the run's frame (``pre.transform.frame_size``), or is no colour
            picture, or the painted garment mask is empty.
    """
    edits: dict[str, Any] = {}
    what: list[str] = []
    if pre.pose is not None and keypoint_table is not None:
        table = pre.keypoint_table()
        if not _table_equal(keypoint_table, table):
            edits["pose"] = pose_from_table(keypoint_table, pre.transform)
            what.append("keypoints")
    if pre.parsing is not None and not editor_is_empty(parse_edit):
        edited = frame_labels_from_editor(parse_edit, pre.transform.frame_size, pre.parsing.label_set)
        if not np.array_equal(edited, pre.parsing.labels):
            edits["parsing"] = Parsing(_frame_to_photo(edited, pre.transform), pre.parsing.label_set)
            what.append("parse map")
    if not editor_is_empty(mask_edit):
        mask = mask_from_editor(mask_edit, pre.cloth.size)
        if not np.array_equal(mask, np.asarray(pre.cloth_mask, bool)):
            if not mask.any():
                raise InputError("the painted garment mask is empty; paint the garment white")
            edits["cloth"] = pre.cloth
            edits["cloth_mask"] = mask
            what.append("garment mask")
    if "pose" in edits or "parsing" in edits:  # the person side is recomputed: the unedited part as it was
        if "pose" not in edits and pre.pose is not None and pre.sources.get("pose") != "supplied":
            edits["pose"] = pre.photo_pose  # an estimated pose, exactly (a supplied one is read again)
        if "parsing" not in edits and pre.parsing is not None and pre.sources.get("parsing") != "supplied":
            edits["parsing"] = Parsing(_frame_to_photo(pre.parsing.labels, pre.transform), pre.parsing.label_set)
    return edits, what


def _frame_to_photo(labels: np.ndarray, transform: Any) -> np.ndarray:
    from vton.preprocess.framing import frame_labels

    return np.asarray(frame_labels(np.asarray(labels, np.uint8), transform.inverse), np.uint8)
