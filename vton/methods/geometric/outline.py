"""Outlines of the training-free geometric try-on: the target region, contours, and sampling them between landmarks.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``), which matched the garment's outline to the person's clothing region
with Belongie et al.'s shape contexts. Our own formulation: an outline is the outer contour of the largest blob of a
mask, rolled to start at the collar; both outlines are sampled evenly by arc length, segment by segment between the
named landmarks they share (:mod:`.landmarks` finds them on the garment, :mod:`.person` on the person).

Convention: points are pixel-index ``(x, y)`` (x right, y down, pixel centres at integers) of their own image. An
outline runs clockwise on screen (collar → the image's right shoulder → right sleeve → right hem corner → left hem
corner → left sleeve → left shoulder), starting at the collar. "Left" and "right" in landmark names are the
image's sides; a person facing the camera has their right shoulder on the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...annotations import Parsing, Pose
from ...errors import InputError

__all__ = ["LANDMARKS", "Outline", "Contour", "target_region", "outline_contour", "sample_outlines"]

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
