"""Shape-context matching of the training-free geometric try-on: shape contexts, χ² costs and the assignment.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``), which matched the garment's outline to the person's clothing region
with Belongie et al.'s shape contexts ("Shape Matching and Object Recognition Using Shape Contexts", TPAMI 2002).
This is our own formulation, not a port: both outlines are sampled evenly by arc length from the collar
(:mod:`.outline`), named landmarks that both sides have (collar, shoulders, sleeve ends, hem corners) split them into
segments, and the assignment (``scipy.optimize.linear_sum_assignment``) minimises the χ² shape-context cost plus a
penalty on how far apart two points are in segment coordinates, so a match cannot flip sides or twist around the
outline.

Convention: points are pixel-index ``(x, y)`` of their own image (see :mod:`.outline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...errors import InputError
from .outline import Outline

__all__ = ["Matching", "shape_context", "chi2_cost", "match_outlines"]


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
