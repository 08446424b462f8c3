"""The warp of the training-free geometric try-on: the smoothest thin-plate spline per garment piece that the outline
correspondences allow (after VITON's shape-context TPS step: Han et al., "VITON: An Image-based Virtual Try-on
Network", CVPR 2018, xthan/VITON@0370ca3, ``shape_context_warp.m``, which fitted one regularised TPS to all pairs).

Our own formulation: the garment is cut into pieces at the sleeve seams (the line from a shoulder landmark to its
armpit landmark): the torso, and each sleeve the person has. Each piece gets its own spline, fitted to the pairs on
its part of the outline, its landmarks and points along its seams (shared with the neighbouring piece, so the pieces
meet there). A sleeve stretched along a raised arm then bends only the sleeve, never the torso's stripes. The
torso's side (its seam and the side below the armpit, as one line its points slide along; or, on a side without a
sleeve, shoulder to hem corner) starts paired by relative height between shoulder and hem corner, so an armpit raised
or lowered on one side does not tilt the torso.

Per piece, the spline is the smoothest that fits (Bookstein's TPS with a smoothing ``λ``; the affine map is
``λ = ∞``): from the affine map down through decreasing ``λ``, each outline pair's garment point slides along its
own segment of the garment outline to where the spline sends its target point, the spline is refitted, and the first
``λ`` whose distance across the outline (the only error that moves the garment's edge) is within half the target
outline's point spacing is kept; if it folds over itself inside the person's region, a smoother one is taken.

Convention: points are pixel-index ``(x, y)``; the returned grid is ``(1, H, W, 2)`` ``(x, y)`` normalised for
``F.grid_sample(..., align_corners=True)`` into the garment image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ...errors import InputError
from ...geometry.tps import tps_kernel
from .matching import Matching
from .outline import Outline

__all__ = ["PIECES", "WarpFit", "fit_warp", "fold_fraction", "piece_labels", "seam_ends"]

PIECES: tuple[str, ...] = ("torso", "sleeve_right", "sleeve_left")
# λ tried from the smoothest down (target frame of unit RMS radius); the affine map (λ = ∞) comes first.
LAMBDAS: tuple[float, ...] = (np.inf, 100.0, 30.0, 10.0, 3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4, 1e-4)
_SEAM_POINTS = 6  # points along each seam, besides its two landmarks
_SLIDE_MAX_VERTICES = 1200  # the garment outline is thinned to at most this many vertices for sliding


@dataclass(frozen=True)
class WarpFit:
    """The warp chosen for a matching, and why.

    Attributes:
        grid: ``(1, H, W, 2) float32`` sampling grid into the garment (normalised, align_corners=True).
        target_labels: ``(H, W) int8`` which piece (index into :data:`PIECES`) each person pixel takes its warp from.
        garment_labels: ``(h, w) int8`` which piece each garment pixel belongs to.
        regularization: piece name → the TPS ``(λ_x, λ_y)`` used for the two coordinates of the map (target frame of
            unit RMS radius; ``inf``: the least-squares affine map).
        residual: piece name → RMS distance, in target pixels, from where the warp sends the piece's target
            outline points to the garment outline.
        tolerance: the residual accepted (half the target outline's point spacing).
        folded: the largest fraction of a piece's part of the region where its spline folds over itself (the
            seams between pieces are not folds).
    """

    grid: torch.Tensor
    target_labels: np.ndarray
    garment_labels: np.ndarray
    regularization: dict[str, tuple[float, float]]
    residual: dict[str, float]
    tolerance: float
    folded: float


def fold_fraction(grid: torch.Tensor, region: np.ndarray) -> float:
    """The fraction of ``region`` where the sampling grid folds over itself (Jacobian determinant ≤ 0)."""
    g = grid[0].double().numpy()  # (H, W, 2)
    gx_x, gy_x = np.gradient(g[..., 0], axis=1), np.gradient(g[..., 1], axis=1)
    gx_y, gy_y = np.gradient(g[..., 0], axis=0), np.gradient(g[..., 1], axis=0)
    det = gx_x * gy_y - gx_y * gy_x
    return float((det[region] <= 0).mean()) if region.any() else 0.0


def _perimeter(c: np.ndarray) -> float:
    return float(np.hypot(*np.diff(np.vstack([c, c[:1]]), axis=0).T).sum())


def _arc_fractions(c: np.ndarray) -> np.ndarray:
    seg = np.hypot(*np.diff(np.vstack([c, c[:1]]), axis=0).T)
    return np.concatenate([[0.0], np.cumsum(seg)[:-1]]) / max(float(seg.sum()), 1e-12)


def _segment_piece(names: tuple[str, ...]) -> list[int]:
    """The piece (index into PIECES) of each landmark segment k (landmark k → landmark k + 1, cyclic)."""
    out = []
    for k, a in enumerate(names):
        b = names[(k + 1) % len(names)]
        piece = 0
        for side, p in (("right", 1), ("left", 2)):
            if {a, b} in ({f"shoulder_{side}", f"sleeve_{side}"}, {f"sleeve_{side}", f"armpit_{side}"}):
                piece = p
        out.append(piece)
    return out


def _sleeves(names: tuple[str, ...]) -> list[str]:
    return [s for s in ("right", "left") if all(f"{n}_{s}" in names for n in ("shoulder", "sleeve", "armpit"))]


def _polygons(outline: Outline, seam_ends: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
    """Piece index → its polygon on the dense contour (sleeves closed by their seams: shoulder → ``seam_ends[side]``
    (when given) → armpit)."""
    c = outline.contour.astype(np.float64)
    arc = _arc_fractions(c)
    idx = {n: int(min(np.searchsorted(arc, a), len(c) - 1)) for n, a in zip(outline.landmark_names,
                                                                             outline.landmark_arc, strict=True)}
    polys: dict[int, np.ndarray] = {}
    torso, start = [], 0
    for side, p in (("right", 1), ("left", 2)):
        if side not in _sleeves(outline.landmark_names):
            continue
        a, b = idx[f"shoulder_{side}"], idx[f"armpit_{side}"]
        lo, hi = (a, b) if side == "right" else (b, a)  # the sleeve runs between them in outline order
        extra = [seam_ends[side][None]] if side in seam_ends else []
        polys[p] = np.vstack([c[lo:hi + 1], *extra])
        torso += [c[start:lo + 1], *extra]
        start = hi
    polys[0] = np.vstack([*torso, c[start:]])
    return polys


def piece_labels(outline: Outline, shape: tuple[int, int], seam_ends: dict[str, np.ndarray] | None = None
                 ) -> np.ndarray:
    """``(H, W) int8``: the piece of every pixel, by its polygon, else the nearest polygon (ties: the torso).

    Args:
        outline: the outline with its landmarks.
        shape: ``(H, W)``.
        seam_ends: side → where its seam meets the torso, when not at the armpit landmark (see :func:`fit_warp`).
    """
    polys = _polygons(outline, seam_ends or {})
    h, w = shape
    best = np.full((h, w), np.inf, np.float32)
    labels = np.zeros((h, w), np.int8)
    for p in sorted(polys):
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [np.round(polys[p] * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        d = cv2.distanceTransform((m == 0).astype(np.uint8), cv2.DIST_L2, 3)
        better = d < best
        labels[better] = p
        best = np.minimum(best, d)
    return labels


def seam_ends(matching: Matching, *, slack: float = 0.1) -> dict[str, np.ndarray]:
    """Where each of the person's sleeve seams meets the torso, for sides where the outline's armpit is lower than
    the garment's proportions put it (a sleeve hanging against the body hides the real armpit: the outline's
    concavity is where arm and body part, further down).

    The expected armpit is below the person's shoulder landmark by the garment's shoulder-to-armpit height, scaled
    by the ratio of the shoulder spreads; when the outline's armpit is lower by more than ``slack`` × the torso's
    length (collar to hem), the seam ends at the expected height above the outline's armpit.
    """
    g, t = matching.garment, matching.target

    def spread(o: Outline) -> float:
        return float(np.hypot(*(o.landmark("shoulder_right") - o.landmark("shoulder_left"))))

    k = spread(t) / max(spread(g), 1e-9)
    length = float(t.landmark("hem_right")[1] + t.landmark("hem_left")[1]) / 2 - float(t.landmark("collar")[1])
    out = {}
    for side in _sleeves(t.landmark_names):
        drop = float(g.landmark(f"armpit_{side}")[1] - g.landmark(f"shoulder_{side}")[1]) * k
        y = float(t.landmark(f"shoulder_{side}")[1]) + max(drop, 0.0)
        pit = t.landmark(f"armpit_{side}").astype(np.float64)
        if pit[1] - y > slack * length:
            out[side] = np.array([pit[0], y])
    return out


def _line(a: np.ndarray, b: np.ndarray, n: int = _SEAM_POINTS) -> np.ndarray:
    """``n`` points evenly inside the segment ``a``–``b``."""
    f = np.arange(1, n + 1) / (n + 1)
    return a[None].astype(np.float64) + f[:, None] * (b - a)[None].astype(np.float64)


def _seam(outline: Outline, side: str, end: np.ndarray | None = None) -> np.ndarray:
    return _line(outline.landmark(f"shoulder_{side}"), outline.landmark(f"armpit_{side}") if end is None else end)


@dataclass
class _Piece:
    target: np.ndarray  # (P, 2) target pairs: the sliding outline pairs first
    garment: np.ndarray  # (P, 2) their garment partners
    n_slide: int
    slide_segment: np.ndarray  # (n_slide,) garment segment of each sliding pair
    vertices: np.ndarray  # (M, 2) garment outline vertices of this piece's segments
    vertex_segment: np.ndarray  # (M,)


def _pieces(matching: Matching, ends: dict[str, np.ndarray]) -> dict[int, _Piece]:
    g, t = matching.garment, matching.target
    names = t.landmark_names
    seg_piece = _segment_piece(names)
    lm_arc_t, lm_arc_g = t.landmark_arc.astype(np.float64), g.landmark_arc.astype(np.float64)
    kept = np.flatnonzero(matching.kept)
    seg_t = np.searchsorted(lm_arc_t, t.arc[kept].astype(np.float64), side="right") - 1
    seg_g = np.searchsorted(lm_arc_g, g.arc[matching.assignment[kept]].astype(np.float64), side="right") - 1
    contour = g.contour.astype(np.float64)
    step = max(1, int(np.ceil(len(contour) / _SLIDE_MAX_VERTICES)))
    contour = contour[::step]
    vseg = np.searchsorted(lm_arc_g, _arc_fractions(g.contour.astype(np.float64))[::step], side="right") - 1
    sleeves = _sleeves(names)
    seam_lines = {}  # piece-less "segments" 100 + q: each seam as a dense garment line the torso's points slide on
    for side, q in (("right", 1), ("left", 2)):
        if side in sleeves:
            a, b = g.landmark(f"shoulder_{side}").astype(np.float64), g.landmark(f"armpit_{side}").astype(np.float64)
            f = np.linspace(0.0, 1.0, max(2, int(np.hypot(*(b - a)) / step) + 1))[:, None]
            seam_lines[q] = a[None] + f * (b - a)[None]
    out = {}
    for p in range(len(PIECES)):
        segs = [k for k, q in enumerate(seg_piece) if q == p]
        if not segs:
            continue
        ok = np.isin(seg_t, segs) & (seg_t == seg_g)
        rows = kept[ok]
        lm = sorted({i for k in segs for i in (k, (k + 1) % len(names))})
        tp, gp, sseg = [t.points[rows]], [g.points[matching.assignment[rows]]], [seg_g[ok]]
        vertices, vsegs = [contour[np.isin(vseg, segs)]], [vseg[np.isin(vseg, segs)]]
        fixed = list(lm)
        if p == 0:
            gp = _torso_sides(g, t, sleeves, ends, seam_lines, tp, gp, sseg, vertices, vsegs, fixed)
        n_slide = sum(len(a) for a in tp)
        tp.append(t.landmarks[fixed])
        gp.append(g.landmarks[fixed])
        for side, q in (("right", 1), ("left", 2)):
            if side in sleeves and p == q:
                tp.append(_seam(t, side, ends.get(side)))
                gp.append(_seam(g, side))
        out[p] = _Piece(np.vstack(tp).astype(np.float64), np.vstack(gp).astype(np.float64), n_slide,
                        np.concatenate(sseg), np.vstack(vertices), np.concatenate(vsegs))
    return out


def _torso_sides(g: Outline, t: Outline, sleeves: list[str], ends: dict[str, np.ndarray],
                 seam_lines: dict[int, np.ndarray], tp: list[np.ndarray], gp: list[np.ndarray],
                 sseg: list[np.ndarray], vertices: list[np.ndarray], vsegs: list[np.ndarray], fixed: list[int]
                 ) -> list[np.ndarray]:
    """The torso piece's sides, added to its lists in place (``gp`` is returned anew): seams and armpits that
    slide, and every side's points paired by relative height between shoulder and hem corner."""
    names = t.landmark_names
    # the torso's armpits and seams slide (along its sides and the garment's seams): where a sleeve hangs
    # against the body the outline's armpit lies lower than the garment's, and pinning it would stretch the
    # torso's top and squeeze its bottom
    for side, q in (("right", 1), ("left", 2)):
        if side not in sleeves:
            continue
        i = names.index(f"armpit_{side}")
        fixed.remove(i)
        side_seg = i if side == "right" else i - 1  # armpit → hem corner, or hem corner → armpit
        end = ends.get(side)
        armpit_at = len(tp)
        tp += [t.landmarks[i][None], _seam(t, side, end)]
        gp += [g.landmarks[i][None], _seam(g, side)]
        sseg += [np.array([side_seg]), np.full(_SEAM_POINTS, 100 + q)]
        if end is not None:
            # the hidden part of the torso's side, from the seam's end down to the outline's armpit (paired
            # below, with the rest of the side)
            hidden = np.vstack([end[None], _line(end, t.landmarks[i].astype(np.float64))])
            tp.append(hidden)
            gp.append(hidden)
            sseg += [np.full(len(hidden), side_seg)]
        vertices.append(seam_lines[q])
        vsegs.append(np.full(len(seam_lines[q]), 100 + q))
        # the torso's side is the seam and the side below the armpit as one line: where the person's armpit
        # sits higher or lower than the garment's, its points slide past the armpit onto the other part
        for arr in (sseg, vsegs):
            for j, a in enumerate(arr):
                arr[j] = np.where(np.isin(a, [side_seg, 100 + q]), 200 + q, a)
        # each point of that line (seam, hidden and visible side) starts paired at the garment
        # line's point of the same relative height between shoulder and hem corner, on both sides alike, so
        # an armpit raised on one side only (a raised arm, a hanging one) does not tilt the torso's lines
        # (where the seam ends above a hidden armpit, the side from the seam's end down, at the garment
        # side's relative height below its armpit)
        hem, sh = names.index(f"hem_{side}"), names.index(f"shoulder_{side}")
        tcat, gcat, on = np.vstack(tp), np.vstack(gp), np.concatenate(sseg) == 200 + q
        at = sum(len(x) for x in tp[:armpit_at])
        on[at] = False  # the armpit starts at the garment's armpit
        verts = np.vstack(vertices)[np.concatenate(vsegs) == 200 + q]
        (ty0, ty1), (gy0, gy1) = (t.landmarks[[sh, hem], 1], g.landmarks[[sh, hem], 1])
        if end is not None:
            on[at:at + 1 + _SEAM_POINTS] = False
            ty0, gy0 = end[1], g.landmarks[i][1]
        gy = gy0 + np.clip((tcat[on, 1] - ty0) / max(float(ty1 - ty0), 1e-9), 0, 1) * (gy1 - gy0)
        if len(verts):
            gcat[on] = verts[np.argmin(np.abs(verts[None, :, 1] - gy[:, None]), 1)]
        gp = list(np.split(gcat, np.cumsum([len(x) for x in tp])[:-1]))
    # a side with no sleeve (cut at the region's edge, or a sleeve hanging across the body) is paired the
    # same way, by relative height between shoulder and hem corner, so both sides of the torso agree
    for side in ("right", "left"):
        if side in sleeves:
            continue
        sh, hem = names.index(f"shoulder_{side}"), names.index(f"hem_{side}")
        side_seg = sh if side == "right" else hem
        tcat, gcat, on = np.vstack(tp), np.vstack(gp), np.concatenate(sseg) == side_seg
        verts = np.vstack(vertices)[np.concatenate(vsegs) == side_seg]
        (ty0, ty1), (gy0, gy1) = (t.landmarks[[sh, hem], 1], g.landmarks[[sh, hem], 1])
        gy = gy0 + np.clip((tcat[on, 1] - ty0) / max(float(ty1 - ty0), 1e-9), 0, 1) * (gy1 - gy0)
        if len(verts) and on.any():
            gcat[on] = verts[np.argmin(np.abs(verts[None, :, 1] - gy[:, None]), 1)]
        gp = list(np.split(gcat, np.cumsum([len(x) for x in tp])[:-1]))
    return gp


def _fit_piece(piece: _Piece, pix: np.ndarray, k: float, tolerance: float, lambdas: tuple[float, ...],
               slide_iterations: int) -> list[tuple[tuple[float, float], float, object]]:
    """``[((λ_x, λ_y), residual, evaluate)]`` from the smoothest down to the first within tolerance (then, if
    possible, a smoother λ_y for the vertical map alone); ``evaluate()`` gives the map at ``pix`` ``(N, 2)`` in
    garment pixels."""
    tp, n = piece.target, piece.n_slide
    centre = tp.mean(0)
    scale = float(np.sqrt(((tp - centre) ** 2).sum(1).mean())) or 1.0
    tn = (tp - centre) / scale
    t = torch.from_numpy(tn)[None]  # (1, P, 2)
    pts = torch.from_numpy((pix - centre) / scale)  # (N, 2)

    # the spline's pieces that do not depend on λ, computed once: kernel among the pairs, affine part, and (lazily)
    # the basis at the grid points; the system is tps_system's [[K + λI, P], [Pᵀ, 0]] (kernel_scale 1)
    kernel = tps_kernel(torch.cdist(t[0], t[0]) ** 2).numpy()  # (P, P)
    affine = np.c_[np.ones(len(tn)), tn]  # (P, 3)
    basis: list[np.ndarray] = []

    def at_pix() -> np.ndarray:
        if not basis:
            u = tps_kernel(torch.cdist(pts, t[0]) ** 2).numpy()  # (N, P)
            basis.append(np.c_[u, np.ones(len(pts)), pts.numpy()])  # (N, P + 3)
        return basis[0]

    def fit_1d(lam: float, v: np.ndarray):
        """One coordinate's map: (its values at the pairs, a function giving it at pts)."""
        if np.isinf(lam):
            a = np.linalg.lstsq(affine, v, rcond=None)[0]  # (3, 1)
            return affine @ a, lambda: np.c_[np.ones(len(pts)), pts.numpy()] @ a
        m = len(tn)
        system = np.zeros((m + 3, m + 3))
        system[:m, :m] = kernel + lam * np.eye(m)
        system[:m, m:], system[m:, :m] = affine, affine.T
        try:
            coeffs = np.linalg.solve(system, np.vstack([v, np.zeros((3, v.shape[1]))]))  # (P + 3, 1)
        except np.linalg.LinAlgError:
            raise ValueError("the TPS system is singular: the control points are repeated or all on one line") from None
        return kernel @ coeffs[:m] + affine @ coeffs[m:], lambda: at_pix() @ coeffs

    def fit(lam_x: float, lam_y: float, g: np.ndarray):
        (mx, ex), (my, ey) = fit_1d(lam_x, g[:, :1]), fit_1d(lam_y, g[:, 1:])
        return np.hstack([mx, my]), lambda: np.hstack([ex(), ey()])

    groups = [(np.flatnonzero(piece.slide_segment == sg), piece.vertices[piece.vertex_segment == sg])
              for sg in np.unique(piece.slide_segment)]

    def slide(mapped: np.ndarray) -> tuple[np.ndarray, float]:
        out, dist = mapped[:n].copy(), np.zeros(n)
        for rows, verts in groups:
            if not len(verts):
                continue
            d2 = ((mapped[rows, None, :] - verts[None, :, :]) ** 2).sum(-1)  # (rows, vertices of their segment)
            j = np.argmin(d2, 1)
            out[rows], dist[rows] = verts[j], np.sqrt(d2[np.arange(len(rows)), j])
        return out, float(np.sqrt((dist**2).mean()) * k) if n else 0.0

    def attempt(lam_x: float, lam_y: float):
        g = piece.garment.copy()
        mapped, evaluate = fit(lam_x, lam_y, g)
        for _ in range(slide_iterations):
            g[:n], _ = slide(mapped)
            mapped, evaluate = fit(lam_x, lam_y, g)
        return (lam_x, lam_y), slide(mapped)[1], evaluate

    fits = []
    for lam in lambdas:  # both coordinates together, from the smoothest down
        fits.append(attempt(lam, lam))
        if fits[-1][1] <= tolerance:
            break
    lam = fits[-1][0][0]
    if fits[-1][1] <= tolerance and not np.isinf(lam):
        # then the vertical map as smooth as it may be (an upright torso's horizontal lines stay straight): the
        # first smoother λ for y alone that keeps the residual within tolerance replaces the last fit
        for lam_y in lambdas:
            if lam_y <= lam:
                break
            f = attempt(lam, lam_y)
            if f[1] <= 2 * tolerance:
                fits.append(f)
                break
    return fits


def fit_warp(matching: Matching, person_size: tuple[int, int], cloth_size: tuple[int, int], region: np.ndarray, *,
             regularization: float | None = None, grid_max_side: int = 64, max_fold_fraction: float = 0.0,
             slide_iterations: int = 3) -> WarpFit:
    """The smoothest warp per garment piece that the correspondences allow (see the module docstring).

    Args:
        matching: the correspondences.
        person_size, cloth_size: ``(W, H)`` of the two images.
        region: ``(H, W) bool`` where the warp must not fold (the target region).
        regularization: a fixed TPS ``λ`` (target frame of unit RMS radius), or None to choose it from the data.
        grid_max_side: each spline is evaluated on a grid at most this large and upsampled (bilinear,
            align_corners=True).
        max_fold_fraction: the most of a piece's part of ``region`` allowed to fold.
        slide_iterations: refits with the outline pairs slid along the garment outline.

    Raises:
        InputError: a piece folds even as its affine map (the garment is mirrored or degenerate), or its
            correspondences give no spline.
    """
    w, h = person_size
    cw, ch = cloth_size
    s = min(1.0, grid_max_side / max(w, h))
    gh, gw = max(2, round(h * s)), max(2, round(w * s))
    ys, xs = np.linspace(0, h - 1, gh), np.linspace(0, w - 1, gw)
    pix = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)  # (gh*gw, 2) pixel-index (x, y), row-major

    def spread(o: Outline) -> float:
        return float(np.hypot(*(o.landmark("shoulder_right") - o.landmark("shoulder_left"))))

    k = spread(matching.target) / max(spread(matching.garment), 1e-9)  # target px per garment px
    # a quarter of the point spacing, but no less than a pixel: each pixel outline is only known to half a pixel
    tolerance = max(0.25 * _perimeter(matching.target.contour) / max(len(matching.target.points), 1), 1.0)
    lambdas = LAMBDAS if regularization is None else (float(regularization),)
    ends = seam_ends(matching)
    target_labels = piece_labels(matching.target, (h, w), ends)
    garment_labels = piece_labels(matching.garment, (ch, cw))

    def to_grid(coarse: np.ndarray) -> torch.Tensor:
        norm = coarse * np.array([2.0 / max(cw - 1, 1), 2.0 / max(ch - 1, 1)]) - 1.0
        grid = torch.from_numpy(norm.reshape(1, gh, gw, 2))
        if (gh, gw) != (h, w):
            grid = F.interpolate(grid.permute(0, 3, 1, 2), size=(h, w), mode="bilinear", align_corners=True)
            grid = grid.permute(0, 2, 3, 1)  # (1, H, W, 2)
        return grid.float()

    grid = torch.zeros(1, h, w, 2)
    lams, residuals, worst = {}, {}, 0.0
    for p, piece in _pieces(matching, ends).items():
        if len(piece.target) < 3:
            raise InputError(f"the garment's {PIECES[p].replace('_', ' ')} has too few matched points to warp")
        try:
            fits = _fit_piece(piece, pix, k, tolerance, lambdas, slide_iterations)
        except ValueError as e:
            raise InputError(f"the outline correspondences give no usable warp ({e})") from None
        inside = region & (target_labels == p)
        folded, chosen = 1.0, None
        for lam, residual, coarse in reversed(fits):
            g = to_grid(coarse())
            folded = fold_fraction(g, inside)
            if folded <= max_fold_fraction:
                chosen = lam, residual, g, folded
                break
        if chosen is None:
            raise InputError(
                f"the warp would fold the garment's {PIECES[p].replace('_', ' ')} over itself on {folded:.0%} of "
                "its part of the person's garment region even as the smoothest (affine) map: the garment's outline "
                "does not correspond to the region's (is it upright and seen from the front?)")
        sel = torch.from_numpy(target_labels == p)[None, :, :, None]
        grid = torch.where(sel, chosen[2], grid)
        lams[PIECES[p]], residuals[PIECES[p]], worst = chosen[0], chosen[1], max(worst, chosen[3])
    return WarpFit(grid.contiguous(), target_labels, garment_labels, lams, residuals, tolerance, worst)
