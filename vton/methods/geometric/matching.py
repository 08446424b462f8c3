"""Outline correspondences for the training-free geometric try-on: contours, landmarks, shape contexts, assignment.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``), which matched the garment's outline to the person's clothing region
with Belongie et al.'s shape contexts ("Shape Matching and Object Recognition Using Shape Contexts", TPAMI 2002).
This is our own formulation, not a port: both outlines are sampled evenly by arc length from the collar, named
landmarks that both sides have (collar, shoulders, sleeve ends, hem corners) split them into segments, and the
assignment (``scipy.optimize.linear_sum_assignment``) minimises the χ² shape-context cost plus a penalty on how far
apart two points are in segment coordinates, so a match cannot flip sides or twist around the outline.

Convention: points are pixel-index ``(x, y)`` (x right, y down, pixel centres at integers) of their own image. An
outline runs clockwise on screen (collar → the image's right shoulder → right sleeve → right hem corner → left hem
corner → left sleeve → left shoulder), starting at the collar. "Left" and "right" in landmark names are the
image's sides; a person facing the camera has their right shoulder on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ...annotations import Parsing, Pose
from ...errors import InputError

__all__ = [
    "LANDMARKS",
    "Outline",
    "Matching",
    "target_region",
    "outline_contour",
    "Contour",
    "garment_contour",
    "person_contour",
    "sample_outlines",
    "cut_sleeves",
    "shape_context",
    "chi2_cost",
    "match_outlines",
]

# Landmark names in outline order (image sides).
LANDMARKS: tuple[str, ...] = (
    "collar", "shoulder_right", "sleeve_right", "armpit_right", "hem_right", "hem_left", "armpit_left", "sleeve_left",
    "shoulder_left",
)
_REQUIRED = ("collar", "shoulder_right", "hem_right", "hem_left", "shoulder_left")


@dataclass(frozen=True)
class Outline:
    """An outline sampled evenly by arc length, with its landmarks.

    Attributes:
        points: ``(N, 2) float32`` pixel (x, y), ``points[0]`` at the collar, clockwise on screen.
        arc: ``(N,) float32`` arc-length position of each point as a fraction of the perimeter, in [0, 1).
        landmark_names: names (a subsequence of :data:`LANDMARKS`, in outline order).
        landmarks: ``(K, 2) float32`` pixel (x, y) of each landmark (on the contour).
        landmark_arc: ``(K,) float32`` their arc positions (fractions, increasing, the first is 0).
        contour: ``(M, 2) float32`` the dense contour the points were sampled from (same start and direction).
    """

    points: np.ndarray
    arc: np.ndarray
    landmark_names: tuple[str, ...]
    landmarks: np.ndarray
    landmark_arc: np.ndarray
    contour: np.ndarray

    def landmark(self, name: str) -> np.ndarray:
        """``(2,)`` pixel (x, y) of the landmark called ``name``."""
        return self.landmarks[self.landmark_names.index(name)]


@dataclass(frozen=True)
class Matching:
    """Correspondences between a garment's outline (source) and the person's target outline.

    Attributes:
        garment, target: the two outlines (same landmark names).
        assignment: ``(N,) int64``; target point ``i`` is matched to garment point ``assignment[i]``.
        kept: ``(N,) bool``; pairs used for the warp (the others were more than ``max_shift`` segments apart).
        cost: ``(N,) float32`` the total cost of each assigned pair.
        target_pairs, garment_pairs: ``(P, 2) float32`` pixel (x, y) of the pairs used for the warp, kept points
            first, then the landmarks (paired by name).
    """

    garment: Outline
    target: Outline
    assignment: np.ndarray
    kept: np.ndarray
    cost: np.ndarray
    target_pairs: np.ndarray
    garment_pairs: np.ndarray


# ----------------------------------------------------------------------------------------------------------------
# regions and contours


def target_region(parsing: Parsing, pose: Pose | None = None) -> np.ndarray:
    """The person's upper-body garment region: upper clothes, a coat, and the top of a dress.

    The part of a dress above the hips counts (the hips' mean y from the pose; without hips, the top half of the
    dress's rows).

    Returns:
        ``(H, W) bool``.
    """
    region = parsing.mask("upper_clothes", "coat")
    dress = parsing.mask("dress")
    if dress.any():
        rows = np.flatnonzero(dress.any(1))
        hips = [p for p in (pose.point("right_hip"), pose.point("left_hip"))] if pose is not None else []
        hips = [p for p in hips if p is not None]
        if hips:
            cut = np.mean([p[1] for p in hips]) - 0.5
        else:
            cut = (rows[0] + rows[-1]) / 2
        dress[int(np.ceil(cut)) + 1:] = False
        region = region | dress
    return region


def outline_contour(mask: np.ndarray, what: str, *, min_points: int = 16) -> np.ndarray:
    """The outer contour of the largest blob of ``mask``, clockwise on screen.

    Args:
        mask: ``(H, W) bool``.
        what: how messages name the mask.
        min_points: fewest contour pixels accepted.

    Returns:
        ``(M, 2) float64`` pixel (x, y), every boundary pixel once (``CHAIN_APPROX_NONE``).

    Raises:
        InputError: the mask is empty or its outline is too short.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if m.ndim != 2:
        raise InputError(f"{what} must be a 2-D mask, got shape {mask.shape}")
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise InputError(f"{what} is empty: it has no outline to match")
    c = max(contours, key=cv2.contourArea)[:, 0, :].astype(np.float64)  # (M, 2)
    if len(c) < min_points or cv2.contourArea(c.astype(np.float32)) < min_points:
        raise InputError(f"{what} has no usable outline (its largest blob has {len(c)} boundary pixels)")
    x, y = c[:, 0], c[:, 1]
    area2 = np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)  # > 0: clockwise on screen (y down)
    return c if area2 > 0 else c[::-1].copy()


def _arc_lengths(c: np.ndarray) -> tuple[np.ndarray, float]:
    """Cumulative arc length at each vertex of the closed polygon ``c`` (first = 0) and the perimeter."""
    seg = np.hypot(*np.diff(np.vstack([c, c[:1]]), axis=0).T)  # (M,) edge i → i+1
    return np.concatenate([[0.0], np.cumsum(seg)[:-1]]), float(seg.sum())


def _top_in_column(mask: np.ndarray, x: float, what: str) -> np.ndarray:
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


def _nearest(c: np.ndarray, p: np.ndarray, allowed: np.ndarray | None = None) -> int:
    d = np.hypot(c[:, 0] - p[0], c[:, 1] - p[1])
    if allowed is not None:
        d = np.where(allowed, d, np.inf)
    return int(np.argmin(d))


def _landmarks(c: np.ndarray, mask: np.ndarray, cx: float, collar: np.ndarray,
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
    c = np.roll(c, -_nearest(c, collar), axis=0)
    m = len(c)
    idx = np.arange(m)
    bottom = float(c[:, 1].max())
    top = float(c[0, 1])
    # shoulders: the outline's top above each shoulder, on its own half of the outline
    sr = _nearest(c, shoulders[0], idx < m // 2)
    sl = _nearest(c, shoulders[1], idx >= m // 2)
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
        depth = _depth_inside(c[inner], c[sleeve], end, np.array([cx, mid]))
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
    return _nearest(c, corner, allowed)


def _depth_inside(pts: np.ndarray, a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Distance of each point from the line ``a``–``b``, positive on the side of the point ``inside``."""
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
    if n @ (inside - a) < 0:
        n = -n
    return (pts - a) @ n


@dataclass(frozen=True)
class Contour:
    """A dense outline rolled to start at the collar, with its landmarks, before sampling.

    Attributes:
        c: ``(M, 2) float64`` every boundary pixel (x, y), clockwise on screen, ``c[0]`` at the collar.
        found: landmark name → index into ``c``.
    """

    c: np.ndarray
    found: dict[str, int]

    def sample(self, names: tuple[str, ...], counts: np.ndarray) -> Outline:
        """``counts[k]`` points evenly by arc length on the segment from landmark k to landmark k + 1."""
        s, total = _arc_lengths(self.c)
        closed = np.vstack([self.c, self.c[:1]])
        sc = np.append(s, total)
        lm_arc = np.array([s[self.found[n]] for n in names])
        ends = np.append(lm_arc[1:], total)
        t = np.concatenate([a + np.arange(k) * (b - a) / k for a, b, k in zip(lm_arc, ends, counts, strict=True)])
        pts = np.stack([np.interp(t, sc, closed[:, 0]), np.interp(t, sc, closed[:, 1])], 1)
        lm = self.c[[self.found[n] for n in names]]
        return Outline(pts.astype(np.float32), (t / total).astype(np.float32), names, lm.astype(np.float32),
                       (lm_arc / total).astype(np.float32), self.c.astype(np.float32))

    def segment_counts(self, names: tuple[str, ...], n_points: int) -> np.ndarray:
        """Points per segment for ``n_points`` in all, in proportion to this contour's segment lengths (≥ 1)."""
        s, total = _arc_lengths(self.c)
        lm_arc = np.array([s[self.found[n]] for n in names])
        lengths = np.diff(np.append(lm_arc, total))
        counts = np.maximum(1, np.floor(lengths / total * n_points).astype(np.int64))
        while counts.sum() < n_points:  # hand out the rest to the segments with the largest remainders
            counts[np.argmax(lengths / total * n_points - counts)] += 1
        return counts


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
    collar = _top_in_column(mask, cx, what)
    bottom = float(c[:, 1].max())
    hw = _torso_half_width(mask, cx, collar[1], bottom, what)
    shoulders = (_top_in_column(mask, cx + hw, what), _top_in_column(mask, cx - hw, what))
    return Contour(*_landmarks(c, mask, cx, collar, shoulders, what))


def _pose_point(pose: Pose, name: str) -> np.ndarray:
    p = pose.point(name)
    if p is None:
        raise InputError(f"the pose has no {name.replace('_', ' ')}: the garment cannot be placed without the neck "
                         "and both shoulders")
    return np.asarray(p, np.float64) - 0.5  # corner origin → pixel-index coordinates


def person_contour(region: np.ndarray, pose: Pose, occluders: np.ndarray | None = None, *,
                   close_fraction: float = 0.03, bridge_fraction: float = 0.25) -> Contour:
    """The outline of the person's target region and its landmarks, placed with the pose.

    Occluder pixels (arms, hands in front of the garment) count as garment where they are sandwiched between garment
    pixels, vertically or horizontally, within ``bridge_fraction`` of the region's height, so a forearm across the
    torso does not cut the outline in two; then the shape is closed with a disc of ``close_fraction`` × its height.
    The collar is the outline point nearest the neck keypoint; the shoulders are the top of the shape above each
    shoulder keypoint; hem corners, sleeve ends and armpits as for the garment (:func:`garment_contour`), with the
    neck's x as the centre line.

    Args:
        region: ``(H, W) bool`` the garment region (:func:`target_region`).
        pose: the person's pose (neck and both shoulders needed).
        occluders: ``(H, W) bool`` parts that may hide the garment (None: none).

    Raises:
        InputError: an empty region, a pose without neck or shoulders, or landmarks out of order.
    """
    what = "the person's garment region"
    if region.shape != (pose.size[1], pose.size[0]):
        raise InputError(f"the parse map is {region.shape[1]}×{region.shape[0]} but the pose is for a "
                         f"{pose.size[0]}×{pose.size[1]} image")
    if not region.any():
        raise InputError(f"{what} is empty: the parse has no upper clothes, coat or dress to replace")
    neck = _pose_point(pose, "neck")
    rs, ls = _pose_point(pose, "right_shoulder"), _pose_point(pose, "left_shoulder")
    right, left = (rs, ls) if rs[0] > ls[0] else (ls, rs)  # image sides
    rows = np.flatnonzero(region.any(1))
    height = rows[-1] - rows[0] + 1
    reg = region.astype(np.uint8)
    shape = region.copy()
    if occluders is not None and occluders.any():
        n = max(3, int(round(bridge_fraction * height)) | 1)
        vertical = cv2.morphologyEx(reg, cv2.MORPH_CLOSE, np.ones((n, 1), np.uint8)) > 0
        horizontal = cv2.morphologyEx(reg, cv2.MORPH_CLOSE, np.ones((1, n), np.uint8)) > 0
        shape |= occluders & (vertical | horizontal)
    r = max(1, int(round(close_fraction * height)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    shape = (cv2.morphologyEx(shape.astype(np.uint8), cv2.MORPH_CLOSE, disc) > 0) | shape
    cx = float(neck[0])

    def contour_of(m: np.ndarray, sleeves: np.ndarray | None = None) -> Contour:
        shoulders = (_top_in_column(m, right[0], what), _top_in_column(m, left[0], what))
        return Contour(*_landmarks(outline_contour(m, what), m, cx, neck, shoulders, what, sleeves))

    out = contour_of(shape)
    # a sleeve hanging against the body merges with the torso: no concavity parts them. Where the pose shows that
    # arm, the shape is slit along the sleeve's inner edge (from the sleeve's end up to about the armpit) so the
    # sleeve becomes a sleeve of the outline and is mapped along the arm, not folded into the torso
    sleeves = None
    arm_of = {"right": "right" if rs[0] > ls[0] else "left", "left": "left" if rs[0] > ls[0] else "right"}
    for side, sign in (("right", 1.0), ("left", -1.0)):
        axis = _arm_axis(pose, arm_of[side])
        slit = None if axis is None else _sleeve_slit(region, axis, sign)
        if slit is None:
            continue
        line, top, end, polygon, outward = slit
        if f"armpit_{side}" in out.found and out.c[out.found[f"armpit_{side}"], 1] <= top[1] + 2 * top[2]:
            continue  # the outline has its armpit where the arm leaves the body: the sleeve stands out already
        if not outward:
            # an arm hanging across the body: its sleeve lies in front of the torso, which the torso's warp covers
            # (the garment's sleeve is cut at the region's edge); a concavity low on this side is the cuff's, not
            # an armpit
            out = Contour(out.c, {k: v for k, v in out.found.items() if k not in (f"sleeve_{side}", f"armpit_{side}")})
            continue
        cut = shape & ~_thin_line(line, shape.shape)
        sleeve = np.zeros(shape.shape, np.uint8)
        cv2.fillPoly(sleeve, [np.round(polygon * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        sleeve = sleeve > 0 if sleeves is None else sleeves | (sleeve > 0)
        try:
            candidate = contour_of(cut, sleeve)
        except InputError:
            continue
        f = dict(candidate.found)
        if f"sleeve_{side}" not in f or f"armpit_{side}" not in f:
            continue
        # the sleeve's end is the cuff: the outline's farthest point down the arm (not the farthest from the centre
        # line, which on a hanging arm may be its shoulder)
        lo, hi = sorted((f[f"shoulder_{side}"], f[f"armpit_{side}"]))
        seg = np.arange(lo + 1, hi)
        u = (end - axis[0]) / max(float(np.hypot(*(end - axis[0]))), 1e-9)
        along = (candidate.c[seg] - axis[0]) @ u
        near = seg[along >= along.max() - 1.5]
        f[f"sleeve_{side}"] = int(near[len(near) // 2])
        # taken only where the new concavity is the slit's: the armpit near its top, the cuff near the sleeve's end
        if (np.hypot(*(candidate.c[f[f"armpit_{side}"]] - top[:2])) <= 2 * top[2] + 2
                and np.hypot(*(candidate.c[f[f"sleeve_{side}"]] - end)) <= 2 * top[2] + 2):
            shape, sleeves, out = cut, sleeve, Contour(candidate.c, f)
    return out


def _thin_line(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W) bool``: the polyline through ``points`` as a 4-connected line of pixels (an 8-connected shape
    cannot cross it)."""
    seg = np.diff(points, axis=0)
    n = np.maximum(1, np.ceil(4 * np.abs(seg).max(1)).astype(np.int64))
    dense = np.vstack([a + np.arange(k)[:, None] / k * d for a, d, k in zip(points[:-1], seg, n, strict=True)]
                      + [points[-1:]])
    px = np.round(dense).astype(np.int64)
    px = px[np.r_[True, (np.diff(px, axis=0) != 0).any(1)]]
    diagonal = (np.diff(px, axis=0) != 0).all(1)
    px = np.vstack([px, np.c_[px[1:][diagonal, 0], px[:-1][diagonal, 1]]])  # a pixel in each diagonal step
    h, w = shape
    px = px[(px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)]
    m = np.zeros(shape, bool)
    m[px[:, 1], px[:, 0]] = True
    return m


def _arm_axis(pose: Pose, arm: str) -> np.ndarray | None:
    """``(K, 2)`` pixel (x, y) of the arm's shoulder, elbow and (when present) wrist, or None without an elbow."""
    pts = []
    for joint in ("shoulder", "elbow", "wrist"):
        p = pose.point(f"{arm}_{joint}")
        if p is None:
            break
        pts.append(np.asarray(p, np.float64) - 0.5)
    return np.asarray(pts) if len(pts) >= 2 else None


def _sleeve_slit(region: np.ndarray, axis: np.ndarray, sign: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool] | None:
    """Where to part a sleeve from the torso it hangs against: the sleeve's inner edge along the arm.

    The sleeve is the run of ``region`` along the arm's axis from the shoulder; its half width is the median
    distance from the axis to the region's edge on the arm's outer side (``sign``: +1 image right, −1 left); the
    slit runs a half width inside the axis from about the armpit (two half widths down the arm, at least a third of
    the upper arm) to a half width past the sleeve's end.

    Returns:
        ``(line (L, 2), (x, y, half width) of its top, (x, y) of the sleeve's end, the sleeve's polygon (the
        slit and a line three half widths outside the axis), whether the arm points outwards)``, or None where the
        region
        does not run along the arm for at least three half widths.
    """
    h, w = region.shape
    seg = np.diff(axis, axis=0)
    lengths = np.hypot(*seg.T)
    if (lengths < 1).any():
        return None
    cum = np.concatenate([[0.0], np.cumsum(lengths)])
    ts = np.arange(0.0, cum[-1], 1.0)
    k = np.clip(np.searchsorted(cum, ts, side="right") - 1, 0, len(lengths) - 1)
    d = seg[k] / lengths[k, None]
    pts = axis[k] + (ts - cum[k])[:, None] * d
    n = np.stack([-d[:, 1], d[:, 0]], 1)
    n[n[:, 0] * sign < 0] *= -1  # the arm's outer side

    def inside(p: np.ndarray) -> np.ndarray:
        x, y = np.round(p[..., 0]).astype(np.int64), np.round(p[..., 1]).astype(np.int64)
        ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        return ok & region[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]

    on = inside(pts)
    if not on[: max(2, len(on) // 10)].any():
        return None
    first = int(np.argmax(on))
    end = first + (int(np.argmin(on[first:])) if not on[first:].all() else len(on) - first) - 1
    reach = np.arange(1, max(h, w))
    out_pts = pts[first:end + 1, None, :] + reach[None, :, None] * n[first:end + 1, None, :]  # (T, R, 2)
    leaves = ~inside(out_pts)
    has = leaves.any(1)
    if has.sum() < 3:
        return None
    hw = float(np.median(reach[np.argmax(leaves[has], 1)]))
    top_t = max(2 * hw, cum[1] / 3)
    if ts[end] - top_t < hw or ts[end] < 3 * hw:
        return None
    last = min(len(ts) - 1, end + int(np.ceil(hw)) + 1)
    sel = np.arange(int(np.ceil(top_t)), last + 1)
    inner, outer = pts[sel] - hw * n[sel], pts[sel] + 3 * hw * n[sel]
    if last == len(ts) - 1:  # past the wrist: on along the forearm's direction
        extra = np.arange(1, int(np.ceil(hw)) + 2)[:, None] * d[-1]
        inner, outer = np.vstack([inner, inner[-1] + extra]), np.vstack([outer, outer[-1] + extra])
    outward = bool((pts[end, 0] - pts[0, 0]) * sign > 0)
    return inner, np.array([*inner[0], hw]), pts[end], np.vstack([inner, outer[::-1]]), outward


def _sleeve_axis(contour: Contour, side: str) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(root midpoint, unit direction, length) of a sleeve: from the middle of shoulder–armpit to the sleeve end."""
    f = contour.found
    if f"sleeve_{side}" not in f or f"armpit_{side}" not in f:
        return None
    root = 0.5 * (contour.c[f[f"shoulder_{side}"]] + contour.c[f[f"armpit_{side}"]])
    d = contour.c[f[f"sleeve_{side}"]] - root
    length = float(np.hypot(*d))
    return (root, d / length, length) if length > 0 else None


def cut_sleeves(mask: np.ndarray, garment: Contour, target: Contour, *, slack: float = 1.15) -> np.ndarray | None:
    """The garment mask with each sleeve cut to the length of the person's sleeve on that side, or None when no
    sleeve needs cutting.

    A long sleeve squeezed into a short sleeve's outline folds the garment into the torso; instead the torso part
    maps to the torso and the sleeve is cut where the person's sleeve ends (the arm stays in front, as skin).
    Lengths run from the middle of the shoulder–armpit line to the sleeve end and are compared at the torso's
    scale (the distance between the shoulders); a sleeve longer than ``slack`` × the person's is cut square to its
    axis. A person's side with no sleeve standing out of the outline gets the garment's sleeve cut at its root.

    Args:
        mask: ``(h, w) bool`` the garment mask ``garment`` was found on.
        garment, target: the two contours with their landmarks.
    """
    def spread(c: Contour) -> float:
        return float(np.hypot(*(c.c[c.found["shoulder_right"]] - c.c[c.found["shoulder_left"]])))

    k = spread(target) / max(spread(garment), 1e-9)  # target pixels per garment pixel
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    pix = np.stack([xx, yy], -1).astype(np.float64)  # (h, w, 2)
    out = mask.copy()
    changed = False
    for side in ("right", "left"):
        g = _sleeve_axis(garment, side)
        if g is None:
            continue
        t = _sleeve_axis(target, side)
        keep = 0.0 if t is None else t[2] / k
        if g[2] <= slack * keep:
            continue
        root, d, _ = g
        shoulder, pit = (garment.c[garment.found[f"{n}_{side}"]] for n in ("shoulder", "armpit"))
        centre = np.array([garment.c[0, 0], 0.5 * (garment.c[0, 1] + garment.c[:, 1].max())])
        outward = _depth_inside(pix.reshape(-1, 2), shoulder, pit, centre).reshape(h, w) < 0
        beyond = (pix - root) @ d > keep
        out &= ~(outward & beyond)
        changed = True
    return out if changed else None


def sample_outlines(garment: Contour, target: Contour, n_points: int = 100) -> tuple[Outline, Outline]:
    """Sample both outlines segment by segment between the landmarks they share.

    The target is split in proportion to its segment lengths (so its points are evenly spaced by arc length, up
    to rounding); the garment gets the same number of points on each corresponding segment, evenly spaced there.

    Raises:
        InputError: a required landmark (collar, shoulders, hem corners) missing on one side.
    """
    names = tuple(n for n in LANDMARKS if n in garment.found and n in target.found)
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise InputError(f"the outlines lack the landmarks {', '.join(missing)}")
    if n_points < 4 * len(names):
        raise InputError(f"n_points = {n_points} is too few for {len(names)} landmark segments")
    counts = target.segment_counts(names, n_points)
    return garment.sample(names, counts), target.sample(names, counts)


# ----------------------------------------------------------------------------------------------------------------
# shape contexts and assignment


def shape_context(points: np.ndarray, *, n_radial: int = 5, n_angular: int = 12, r_inner: float = 0.125,
                  r_outer: float = 2.0) -> np.ndarray:
    """Log-polar histograms of where the other points lie, one per point (Belongie et al.).

    Distances are divided by the mean pairwise distance (scale invariance); the radial bins are log-spaced in
    ``[r_inner, r_outer]`` (points beyond are not counted); angles are absolute (the shapes are upright), in
    ``n_angular`` equal sectors.

    Returns:
        ``(N, n_radial · n_angular) float64``, each row summing to 1 (or 0 when no neighbour falls in the bins).
    """
    p = np.asarray(points, np.float64)
    n = len(p)
    d = p[None, :, :] - p[:, None, :]  # (N, N, 2): from point i to point j
    r = np.hypot(d[..., 0], d[..., 1])
    r = r / max(r[~np.eye(n, dtype=bool)].mean(), 1e-12)
    edges = np.logspace(np.log10(r_inner), np.log10(r_outer), n_radial + 1)
    rb = np.searchsorted(edges, r, side="right") - 1  # (N, N), -1 below r_inner, n_radial beyond r_outer
    theta = np.mod(np.arctan2(d[..., 1], d[..., 0]), 2 * np.pi)
    tb = np.minimum((theta / (2 * np.pi) * n_angular).astype(np.int64), n_angular - 1)
    valid = (rb >= 0) & (rb < n_radial) & ~np.eye(n, dtype=bool)
    rows = np.broadcast_to(np.arange(n)[:, None], (n, n))[valid]
    hist = np.zeros((n, n_radial * n_angular))
    np.add.at(hist, (rows, rb[valid] * n_angular + tb[valid]), 1.0)
    total = hist.sum(1, keepdims=True)
    return hist / np.where(total > 0, total, 1.0)


def chi2_cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """χ² distance ``½ Σ (a − b)² / (a + b)`` between every row of ``a (N, D)`` and of ``b (M, D)``: ``(N, M)``."""
    num = (a[:, None, :] - b[None, :, :]) ** 2
    den = a[:, None, :] + b[None, :, :]
    return 0.5 * np.sum(np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0), axis=-1)


def _segment_coordinate(arc: np.ndarray, landmark_arc: np.ndarray) -> np.ndarray:
    """Position along the outline in segments: landmark k is at k, linear in arc length in between."""
    k = len(landmark_arc)
    return np.interp(arc, np.append(landmark_arc, 1.0), np.arange(k + 1, dtype=np.float64))


def match_outlines(garment: Outline, target: Outline, *, n_radial: int = 5, n_angular: int = 12,
                   r_inner: float = 0.125, r_outer: float = 2.0, order_weight: float = 4.0,
                   max_shift: float = 0.35) -> Matching:
    """Match the garment's outline points to the target's with a landmark-anchored optimal assignment.

    Cost of pairing target point ``i`` with garment point ``j``: ``χ²(SC_i, SC_j) + order_weight · Δ²`` where ``Δ``
    is the cyclic difference of their segment coordinates (landmark k at k, linear in arc length between). The
    assignment is ``linear_sum_assignment`` (a bijection); pairs more than ``max_shift`` segments apart are
    dropped; the landmark pairs are added by name.

    Raises:
        InputError: fewer than the required landmarks in common, or fewer than 8 pairs left.
    """
    if garment.landmark_names != target.landmark_names or len(garment.points) != len(target.points):
        raise ValueError("match_outlines needs outlines with the same landmarks and point counts "
                         "(see sample_outlines)")
    k = len(garment.landmark_names)
    sc_t = shape_context(target.points, n_radial=n_radial, n_angular=n_angular, r_inner=r_inner, r_outer=r_outer)
    sc_g = shape_context(garment.points, n_radial=n_radial, n_angular=n_angular, r_inner=r_inner, r_outer=r_outer)
    u_t = _segment_coordinate(target.arc.astype(np.float64), target.landmark_arc.astype(np.float64))
    u_g = _segment_coordinate(garment.arc.astype(np.float64), garment.landmark_arc.astype(np.float64))
    du = np.abs(u_t[:, None] - u_g[None, :])
    du = np.minimum(du, k - du)  # cyclic
    cost = chi2_cost(sc_t, sc_g) + order_weight * du**2  # (N_target, N_garment)
    rows, cols = linear_sum_assignment(cost)
    assignment = np.empty(len(target.points), np.int64)
    assignment[rows] = cols
    kept = du[np.arange(len(assignment)), assignment] <= max_shift
    if kept.sum() < 8:
        raise InputError(f"only {int(kept.sum())} outline points could be matched consistently; the garment and "
                         "the person's garment region are too different to warp one onto the other")
    pair_cost = cost[np.arange(len(assignment)), assignment].astype(np.float32)
    tp = np.vstack([target.points[kept], target.landmarks]).astype(np.float32)
    gp = np.vstack([garment.points[assignment[kept]], garment.landmarks]).astype(np.float32)
    return Matching(garment, target, assignment, kept, pair_cost, tp, gp)
