"""Sleeves of the training-free geometric try-on: parting a sleeve from the torso along the arm, cutting one to length.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``); our own formulation, not a port. A sleeve hanging against the body
merges with the torso in the person's garment region; :func:`sleeve_slit` finds where to part it (its inner edge
along the arm's pose keypoints), which :mod:`.person` uses. A garment sleeve longer than the person's is cut to the
person's length first (:func:`cut_sleeves`), so it is not squeezed into a short sleeve's outline.

Convention: points are pixel-index ``(x, y)`` (x right, y down, pixel centres at integers); "left" and "right" are
the image's sides.
"""

from __future__ import annotations

import numpy as np

from ...annotations import Pose
from .landmarks import depth_inside
from .outline import Contour

__all__ = ["cut_sleeves", "sleeve_slit", "arm_axis", "thin_line"]


def thin_line(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
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


def arm_axis(pose: Pose, arm: str) -> np.ndarray | None:
    """``(K, 2)`` pixel (x, y) of the arm's shoulder, elbow and (when present) wrist, or None without an elbow."""
    pts = []
    for joint in ("shoulder", "elbow", "wrist"):
        p = pose.point(f"{arm}_{joint}")
        if p is None:
            break
        pts.append(np.asarray(p, np.float64) - 0.5)
    return np.asarray(pts) if len(pts) >= 2 else None


def sleeve_slit(region: np.ndarray, axis: np.ndarray, sign: float
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
        outward = depth_inside(pix.reshape(-1, 2), shoulder, pit, centre).reshape(h, w) < 0
        beyond = (pix - root) @ d > keep
        out &= ~(outward & beyond)
        changed = True
    return out if changed else None
