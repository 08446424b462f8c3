"""Landmarks of the training-free geometric try-on's outlines: collar, shoulders, hem corners, sleeve ends, armpits.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``); our own formulation, not a port: the landmarks are found from the
shape's geometry (its centre line, the top of its columns, the outermost points of its bottom band, the concavity
between a sleeve and the body), on the garment from its mask alone (:func:`garment_contour`) and on the person with
the pose's help (:mod:`.person`). They split the outlines into segments that :mod:`.matching` keeps matched to each
other, so a match cannot flip sides or twist around the outline.

Convention: points are pixel-index ``(x, y)`` (x right, y down, pixel centres at integers) of their own image. An
outline runs clockwise on screen (collar → the image's right shoulder → right sleeve → right hem corner → left hem
corner → left sleeve → left shoulder), starting at the collar. "Left" and "right" in landmark names are the
image's sides; a person facing the camera has their right shoulder on the image's left.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from .outline import Contour, outline_contour

__all__ = ["garment_contour", "find_landmarks", "top_in_column", "nearest", "depth_inside"]


def top_in_column(mask: np.ndarray, x: float, what: str) -> np.ndarray:
    """The topmost on-pixel of ``mask`` in the column nearest ``x`` that has any (searched outwards)."""
    w = mask.shape[1]
    x0 = int(np.clip(round(x), 0, w - 1))
    for dx in range(w):
        for xc in (x0 - dx, x0 + dx):
            if 0 <= xc < w and mask[:, xc].any():
                return np.array([xc, np.argmax(mask[:, xc])], np.float64)
    raise InputError(f"{what} is empty")


def _run_half_width(mask: np.ndarray, cx: float, y: float) -> float | None:
    """Half the length of the run of on-pixels through ``(cx, y)`` in row ``y`` (None when that pixel is off)."""
    h, w = mask.shape
    row = mask[int(np.clip(round(y), 0, h - 1))]
    x0 = int(np.clip(round(cx), 0, w - 1))
    if not row[x0]:
        return None
    right = x0 + int(np.argmin(row[x0:])) if not row[x0:].all() else w
    left = x0 - int(np.argmin(row[x0::-1])) if not row[: x0 + 1].all() else -1
    return (right - left - 1) / 2


def _torso_half_width(mask: np.ndarray, cx: float, top: float, bottom: float, what: str) -> float:
    for f in (0.8, 0.7, 0.9, 0.6, 0.5):
        hw = _run_half_width(mask, cx, top + f * (bottom - top))
        if hw is not None and hw >= 1:
            return hw
    raise InputError(f"{what} has no body below its collar on its centre line (x = {cx:.0f})")


def nearest(c: np.ndarray, p: np.ndarray, allowed: np.ndarray | None = None) -> int:
    """Index of the point of ``c (M, 2)`` nearest ``p``, among the ``allowed`` ones (None: all)."""
    d = np.hypot(c[:, 0] - p[0], c[:, 1] - p[1])
    if allowed is not None:
        d = np.where(allowed, d, np.inf)
    return int(np.argmin(d))


def find_landmarks(c: np.ndarray, mask: np.ndarray, cx: float, collar: np.ndarray,
                   shoulders: tuple[np.ndarray, np.ndarray], what: str, sleeves: np.ndarray | None = None
                   ) -> tuple[np.ndarray, dict[str, int]]:
    """Roll the contour to start at the collar and find the other landmarks as contour indices.

    Args:
        c: ``(M, 2)`` clockwise contour.
        mask: the shape it outlines.
        cx: x of the shape's centre line.
        collar: a point at the collar (the nearest contour point becomes the start).
        shoulders: (image-right, image-left) points near the shoulders' tops.
        sleeves: ``(H, W) bool`` pixels known to be sleeve (parted from the torso along an arm): no hem corner there.
    """
    c = np.roll(c, -nearest(c, collar), axis=0)
    m = len(c)
    idx = np.arange(m)
    bottom = float(c[:, 1].max())
    top = float(c[0, 1])
    # shoulders: the outline's top above each shoulder, on its own half of the outline
    sr = nearest(c, shoulders[0], idx < m // 2)
    sl = nearest(c, shoulders[1], idx >= m // 2)
    # hem corners: the outermost points of the bottom band within the torso's columns
    hw = _torso_half_width(mask, cx, top, bottom, what)
    body = np.ones(m, bool)
    if sleeves is not None:  # the hem is the torso's: a sleeve hanging as low does not count
        ci = np.round(c).astype(np.int64)
        body = ~sleeves[ci[:, 1], ci[:, 0]]
        bottom = float(c[body, 1].max()) if body.any() else bottom
    band = (c[:, 1] >= bottom - 0.08 * (bottom - top) - 1) & (np.abs(c[:, 0] - cx) <= 1.3 * hw + 1) & body
    if not (band & (c[:, 0] > cx)).any() or not (band & (c[:, 0] < cx)).any():
        raise InputError(f"{what} has no hem on both sides of its centre line")
    # each corner is the band's point nearest the corner of the band's bounding box on its side, so a symmetric
    # shape gets mirror-image corners (not the first of a run of equally outermost points in outline order)
    hr = _corner(c, band & (c[:, 0] > cx), +1)
    hl = _corner(c, band & (c[:, 0] < cx), -1)
    found = {"collar": 0, "shoulder_right": sr, "hem_right": hr, "hem_left": hl, "shoulder_left": sl}
    mid = top + 0.5 * (bottom - top)
    if max(c[sr, 1], c[sl, 1]) >= mid or min(c[hr, 1], c[hl, 1]) <= mid:
        raise InputError(f"{what} is not upright: its shoulders must be in its upper half and its hem in its lower "
                         "half")
    if not (0 < sr < hr < hl < sl):
        raise InputError(
            f"{what}'s outline does not run collar → right shoulder → right hem → left hem → left shoulder "
            f"(contour indices {found}); the shape or the pose is not an upright upper-body garment"
        )
    # sleeve ends: the points farthest from the centre line between a shoulder and its hem corner; armpits: the
    # deepest point of the concavity between a sleeve end and its hem corner (farthest inside their chord)
    tol = max(1.0, 0.02 * (bottom - top))
    for side, lo, hi in (("right", sr, hr), ("left", hl, sl)):
        if hi - lo < 6:
            continue
        seg = np.arange(lo + 1, hi)
        out = np.abs(c[seg, 0] - cx)
        near = seg[out >= out.max() - tol]
        sleeve = int(near[len(near) // 2])  # the middle of the outermost run (a cuff is an edge, not a point)
        inner = np.arange(sleeve + 1, hi) if side == "right" else np.arange(lo + 1, sleeve)
        if len(inner) < 2:
            continue
        end = c[hr] if side == "right" else c[hl]
        depth = depth_inside(c[inner], c[sleeve], end, np.array([cx, mid]))
        if depth.max() < tol:  # no concavity: the sleeve does not stand out from the body
            continue
        pit = int(inner[np.argmax(depth)])
        found[f"sleeve_{side}"] = sleeve
        found[f"armpit_{side}"] = pit
    return c, found


def _corner(c: np.ndarray, allowed: np.ndarray, side: int) -> int:
    """Index of the ``allowed`` contour point nearest the bottom corner on ``side`` (+1 image right, −1 left) of
    their bounding box."""
    pts = c[allowed]
    corner = np.array([pts[:, 0].max() if side > 0 else pts[:, 0].min(), pts[:, 1].max()])
    return nearest(c, corner, allowed)


def depth_inside(pts: np.ndarray, a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Distance of each point from the line ``a``–``b``, positive on the side of the point ``inside``."""
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
    if n @ (inside - a) < 0:
        n = -n
    return (pts - a) @ n


def garment_contour(mask: np.ndarray, centre_x: float | None = None) -> Contour:
    """The garment's outline and its landmarks, found from the mask's geometry alone.

    The centre line is the middle of the mask's columns; the collar is the top of the centre column (the bottom of
    the neckline); the shoulders are the top of the outline above the torso's sides (half width measured on the
    body's run through the centre line, 80 % of the way down); the hem corners are the outermost points of the
    bottom band within the torso's columns; the sleeve ends are the points farthest from the centre line between
    a shoulder and its hem corner.

    Args:
        mask: ``(h, w) bool`` the garment.
        centre_x: the centre line's x (None: the middle of the mask's columns; a garment with one sleeve cut off
            passes the whole garment's).

    Raises:
        InputError: no outline, or a shape whose landmarks are not in garment order.
    """
    what = "the garment mask"
    c = outline_contour(mask, what)
    xs = np.flatnonzero(mask.any(0))
    cx = (xs[0] + xs[-1]) / 2 if centre_x is None else float(centre_x)
    collar = top_in_column(mask, cx, what)
    bottom = float(c[:, 1].max())
    hw = _torso_half_width(mask, cx, collar[1], bottom, what)
    shoulders = (top_in_column(mask, cx + hw, what), top_in_column(mask, cx - hw, what))
    return Contour(*find_landmarks(c, mask, cx, collar, shoulders, what))
