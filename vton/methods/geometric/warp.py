"""Training-free geometric try-on: smooth TPS warps fitted to outline correspondences, then composition.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``): the garment is warped onto the person by thin-plate splines fitted
between the garment's outline and the person's clothing region. Here the region comes from the LIP parse (no
first-stage network), the outlines and their landmarks from :mod:`.outline`, :mod:`.landmarks` and :mod:`.person`,
correspondences from :mod:`.matching` (sleeves longer than the person's are cut to length first, :mod:`.sleeves`),
the splines from :mod:`.fit` (one per garment piece, torso and sleeves, each the smoothest the outlines allow:
affine first, bending only as needed, the regularisation chosen from the residual), and the composition keeps face,
hair, arms and everything outside the region from the photo and inpaints the old garment's pixels that the new one
does not cover. No learned weights.

Convention: images ``(H, W, 3) uint8`` RGB; masks ``(H, W) bool``; the sampling grid is ``(1, H, W, 2)`` ``(x, y)``
in normalised ``align_corners=True`` coordinates, used with ``F.grid_sample(..., align_corners=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ...annotations import Parsing, Pose
from ...errors import InputError
from .fit import WarpFit, fit_warp
from .landmarks import garment_contour
from .matching import Matching, match_outlines
from .outline import sample_outlines, target_region
from .person import person_contour
from .sleeves import cut_sleeves

__all__ = ["GeometricConfig", "GeometricResult", "geometric_tryon", "fit_grid", "warp_garment", "compose",
           "PROTECTED_LABELS", "OCCLUDER_LABELS"]

# Parts that stay in front of the new garment (LIP names).
PROTECTED_LABELS: tuple[str, ...] = ("hat", "hair", "glove", "sunglasses", "scarf", "face", "left_arm", "right_arm")
# Parts that may hide the garment: where they lie between garment pixels the garment runs on behind them.
OCCLUDER_LABELS: tuple[str, ...] = ("glove", "scarf", "left_arm", "right_arm", "hair")


@dataclass(frozen=True)
class GeometricConfig:
    """Settings of the geometric try-on.

    Attributes:
        n_points: points sampled on each outline (VITON's MATLAB step used about 100).
        n_radial, n_angular, r_inner, r_outer: shape-context bins (log-polar; radii relative to the mean distance).
        order_weight: weight of the segment-coordinate penalty (anchors the match to the landmarks).
        max_shift: pairs further apart than this many segments are dropped.
        regularization: a fixed TPS ``λ`` (target frame of unit RMS radius; 0 interpolates every pair exactly),
            or None (the default) to choose it from the data: the smoothest map, affine first, whose residual on
            the pairs is within the matching's precision and which does not fold (:func:`fit_warp`).
        grid_max_side: the TPS is evaluated on a grid at most this large (then bilinearly upsampled,
            align_corners=True); the spline is smooth, so the upsampling error is far below a pixel.
        close_fraction: closing radius of the target region, as a fraction of its height, before its outline is
            taken.
        bridge_fraction: occluders (arms, hands, hair, scarf) sandwiched between garment pixels within this fraction
            of the region's height count as garment for the outline (the garment runs on behind them).
        soft_edge: Gaussian sigma, in pixels of a 256-high image (scaled with the height), of the composition edge.
        fill_margin: pixels (of a 256-high image) the inpainted area extends beyond the old garment's region.
        inpaint_radius: ``cv2.inpaint`` (Telea) radius, in pixels of the image it runs on.
        inpaint_max_side: inpainting runs on a copy at most this large (then upsampled).
        max_fold_fraction: the most of the target region where the warp may fold over itself (its Jacobian's
            determinant ≤ 0); a fit that folds more is regularised more, down to the affine map, and only when
            that folds too is the try-on refused rather than drawn twisted.
    """

    n_points: int = 100
    n_radial: int = 5
    n_angular: int = 12
    r_inner: float = 0.125
    r_outer: float = 2.0
    order_weight: float = 4.0
    max_shift: float = 0.35
    regularization: float | None = None
    grid_max_side: int = 64
    close_fraction: float = 0.03
    bridge_fraction: float = 0.25
    soft_edge: float = 0.8
    fill_margin: float = 1.0
    inpaint_radius: float = 3.0
    inpaint_max_side: int = 384
    max_fold_fraction: float = 0.0


@dataclass(frozen=True)
class GeometricResult:
    """Every stage of the geometric try-on, as data.

    Attributes:
        matching: outlines (points, landmarks), the assignment and the pairs (see :class:`.matching.Matching`);
            garment coordinates are pixels of the garment image, target coordinates pixels of the person image.
        target_region: ``(H, W) bool`` the old upper-body garment (upper clothes, coat, top of a dress).
        grid: ``(1, H, W, 2) float32`` sampling grid into the garment image, (x, y) normalised, align_corners=True.
        warped_cloth: ``(H, W, 3) uint8`` the garment warped into the person's frame (colours extended past its
            edge; meaningful where ``warped_alpha > 0``).
        warped_alpha: ``(H, W) float32`` in [0, 1], the warped garment mask (bilinear).
        warped_mask: ``(H, W) bool``, ``warped_alpha >= 0.5``.
        fill_mask: ``(H, W) bool`` pixels inpainted (the old garment's region, slightly grown).
        filled: ``(H, W, 3) uint8`` the person with the old garment inpainted away.
        composition_mask: ``(H, W) float32`` in [0, 1], the new garment's opacity in the try-on.
        tryon: ``(H, W, 3) uint8`` the result: ``filled · (1 − α) + warped_cloth · α``.
        fit: how the warp was chosen (its ``λ``, residual, tolerance; see :class:`WarpFit`).
        garment_mask: ``(h, w) bool`` the garment mask warped (sleeves cut to the person's, see
            :func:`.sleeves.cut_sleeves`).
    """

    matching: Matching
    target_region: np.ndarray
    grid: torch.Tensor
    warped_cloth: np.ndarray
    warped_alpha: np.ndarray
    warped_mask: np.ndarray
    fill_mask: np.ndarray
    filled: np.ndarray
    composition_mask: np.ndarray
    tryon: np.ndarray
    fit: WarpFit
    garment_mask: np.ndarray


def fit_grid(matching: Matching, person_size: tuple[int, int], cloth_size: tuple[int, int], *,
             regularization: float | None = None, grid_max_side: int = 64) -> torch.Tensor:
    """The sampling grid of :func:`fit_warp` with no fold test: person pixel → where it samples the garment.

    Returns:
        ``(1, H, W, 2) float32`` for ``F.grid_sample(cloth, grid, align_corners=True)``.
    """
    everywhere = np.ones((person_size[1], person_size[0]), bool)
    return fit_warp(matching, person_size, cloth_size, everywhere, regularization=regularization,
                    grid_max_side=grid_max_side, max_fold_fraction=1.0).grid


def warp_garment(cloth: np.ndarray, cloth_mask: np.ndarray, grid: torch.Tensor,
                 pieces: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Warp the garment and its mask with ``grid`` (bilinear, ``align_corners=True``).

    Colours are sampled premultiplied by the mask and divided back, so the background around the garment never
    bleeds into its edge; past the edge the nearest garment colour is used.

    Args:
        pieces: ``(target labels (H, W), garment labels (h, w))`` of a piecewise warp (:class:`.fit.WarpFit`):
            each person pixel's opacity is sampled from its own piece of the garment mask only, so a piece's spline
            never shows another piece's fabric. None: one piece.

    Returns:
        ``(warped (H, W, 3) uint8, alpha (H, W) float32 in [0, 1])``.
    """
    rgb = torch.from_numpy(cloth.astype(np.float32)).permute(2, 0, 1)[None]  # (1, 3, h, w)
    m = torch.from_numpy(cloth_mask.astype(np.float32))[None, None]  # (1, 1, h, w)
    # extend the garment's colours a few pixels past its edge so the bilinear edge samples no background
    band = cv2.dilate(cloth_mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ext = cv2.inpaint(cloth, (band & ~cloth_mask).astype(np.uint8), 2, cv2.INPAINT_TELEA)
    ext_t = torch.from_numpy(ext.astype(np.float32)).permute(2, 0, 1)[None]  # (1, 3, h, w)
    src = torch.where(m > 0, rgb, ext_t)
    g = grid.to(torch.float32)
    warped = F.grid_sample(src, g, mode="bilinear", padding_mode="border", align_corners=True)
    if pieces is None:
        alpha = F.grid_sample(m, g, mode="bilinear", padding_mode="zeros", align_corners=True)[0, 0]
    else:
        target_labels, garment_labels = pieces
        alpha = torch.zeros(g.shape[1:3])
        r = max(2, round(0.02 * cloth_mask.shape[0]))  # a piece runs a little past its seams: no gap between pieces
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        for p in np.unique(target_labels):
            own = cv2.dilate((garment_labels == p).astype(np.uint8), disc) > 0
            mp = torch.from_numpy((cloth_mask & own).astype(np.float32))[None, None]
            ap = F.grid_sample(mp, g, mode="bilinear", padding_mode="zeros", align_corners=True)[0, 0]
            alpha = torch.where(torch.from_numpy(target_labels == p), ap, alpha)
    out = warped[0].permute(1, 2, 0).clamp(0, 255).add(0.5).to(torch.uint8).numpy()  # (H, W, 3)
    return out, alpha.clamp(0, 1).numpy()


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(img, (0, 0), sigma) if sigma > 0 else img


def compose(person: np.ndarray, parsing: Parsing, region: np.ndarray, warped: np.ndarray, alpha: np.ndarray, *,
            soft_edge: float = 0.8, fill_margin: float = 1.0, inpaint_radius: float = 3.0,
            inpaint_max_side: int = 384) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Put the warped garment into the person's garment region; inpaint what it leaves of the old one.

    The old region (grown by ``fill_margin``) is inpainted (OpenCV Telea) from its surroundings: skin, background,
    trousers. The new garment's opacity is its warped mask times a region weight that is 1 inside the region and
    on the protected parts' side, 0 on the protected parts themselves (face, hair, arms... stay in front) and
    falls off over ``soft_edge`` pixels elsewhere (sizes in pixels of a 256-high image, scaled with the height).

    Returns:
        ``(tryon (H, W, 3) uint8, composition mask (H, W) float32, fill mask (H, W) bool, filled (H, W, 3) uint8)``.
    """
    h, w = region.shape
    unit = h / 256.0
    protected = parsing.mask(*PROTECTED_LABELS)
    # 1. the person without the old garment
    r = max(1, int(round(fill_margin * unit)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    fill_mask = (cv2.dilate(region.astype(np.uint8), disc) > 0) & ~protected
    s = min(1.0, inpaint_max_side / max(h, w))
    if s < 1.0:
        sw, sh = max(1, round(w * s)), max(1, round(h * s))
        small = cv2.resize(person, (sw, sh), interpolation=cv2.INTER_AREA)
        small_mask = cv2.resize(fill_mask.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        small_mask = cv2.dilate(small_mask.astype(np.uint8), np.ones((3, 3), np.uint8))  # no mixed edge pixels
        painted = cv2.inpaint(small, small_mask, inpaint_radius, cv2.INPAINT_TELEA)
        painted = cv2.resize(painted, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        painted = cv2.inpaint(person, fill_mask.astype(np.uint8), inpaint_radius, cv2.INPAINT_TELEA)
    filled = np.where(fill_mask[..., None], painted, person)
    # 2. the new garment's opacity: in the region, behind the protected parts, soft elsewhere
    keep = _gauss((region | protected).astype(np.float32), soft_edge * unit)
    comp = np.clip(alpha, 0.0, 1.0) * np.where(protected, 0.0, np.where(region, 1.0, keep))
    comp = np.where(fill_mask | region, comp, 0.0).astype(np.float32)
    out = filled.astype(np.float32) * (1 - comp[..., None]) + warped.astype(np.float32) * comp[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), comp, fill_mask, filled


def _check_image(img: np.ndarray, what: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        got = f"{img.dtype} of shape {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise InputError(f"{what} must be an (H, W, 3) uint8 RGB array, got {got}")


def _untimed(key: str, fn):
    return fn()


def geometric_tryon(person: np.ndarray, parsing: Parsing, pose: Pose, cloth: np.ndarray, cloth_mask: np.ndarray, *,
                    config: GeometricConfig = GeometricConfig(), step=_untimed,
                    partial: dict | None = None) -> GeometricResult:
    """Dress ``person`` in ``cloth`` with a TPS fitted to outline correspondences; no learned weights.

    Args:
        person: ``(H, W, 3) uint8`` RGB, the framed person photo (any size).
        parsing: its LIP parse, ``(H, W)``.
        pose: its COCO-18 pose in the photo's pixels (needs the neck and both shoulders).
        cloth: ``(h, w, 3) uint8`` RGB garment photo (any size; usually the person's).
        cloth_mask: ``(h, w) bool`` the garment's pixels.
        config: settings.
        step: ``step(key, fn) -> fn()``, called for the phases "outlines", "matching", "tps" and "composition"
            (the pipeline passes its timer).
        partial: a dict filled as the stages are computed ("region", "garment" and "target" outlines, "matching"),
            so a caller can still show them when a later phase refuses.

    Returns:
        every stage (:class:`GeometricResult`).

    Raises:
        InputError: wrong shapes, an empty target region, a garment mask with no outline, a pose without neck or
            shoulders, or outlines that cannot be matched in order.
    """
    _check_image(person, "the person image")
    _check_image(cloth, "the garment image")
    h, w = person.shape[:2]
    if parsing.labels.shape != (h, w):
        raise InputError(f"the parse map is {parsing.labels.shape[1]}×{parsing.labels.shape[0]}, the person image "
                         f"{w}×{h}")
    mask = np.asarray(cloth_mask)
    if mask.shape != cloth.shape[:2]:
        raise InputError(f"the garment mask has shape {mask.shape}, the garment image is "
                         f"{cloth.shape[1]}×{cloth.shape[0]}: the mask must be ({cloth.shape[0]}, {cloth.shape[1]})")
    mask = mask > 0
    if tuple(pose.size) != (w, h):
        raise InputError(f"the pose is for a {pose.size[0]}×{pose.size[1]} image, the person image is {w}×{h}")

    partial = {} if partial is None else partial

    def outlines():
        region = target_region(parsing, pose)
        partial["region"] = region
        target = person_contour(region, pose, parsing.mask(*OCCLUDER_LABELS), close_fraction=config.close_fraction,
                                bridge_fraction=config.bridge_fraction)
        garment = garment_contour(mask)
        cut = cut_sleeves(mask, garment, target)
        if cut is not None:
            xs = np.flatnonzero(mask.any(0))
            garment = garment_contour(cut, (xs[0] + xs[-1]) / 2)
        return region, cut if cut is not None else mask, sample_outlines(garment, target, config.n_points)

    region, mask, (garment, target) = step("outlines", outlines)
    partial.update(garment=garment, target=target)
    matching = step("matching", lambda: match_outlines(
        garment, target, n_radial=config.n_radial, n_angular=config.n_angular, r_inner=config.r_inner,
        r_outer=config.r_outer, order_weight=config.order_weight, max_shift=config.max_shift))
    partial["matching"] = matching

    def tps():
        fit = fit_warp(matching, (w, h), (cloth.shape[1], cloth.shape[0]), region,
                       regularization=config.regularization, grid_max_side=config.grid_max_side,
                       max_fold_fraction=config.max_fold_fraction)
        return fit, *warp_garment(cloth, mask, fit.grid, (fit.target_labels, fit.garment_labels))

    fit, warped, alpha = step("tps", tps)
    tryon, comp, fill_mask, filled = step("composition", lambda: compose(
        person, parsing, region, warped, alpha, soft_edge=config.soft_edge, fill_margin=config.fill_margin,
        inpaint_radius=config.inpaint_radius, inpaint_max_side=config.inpaint_max_side))
    return GeometricResult(matching, region, fit.grid, warped, alpha, alpha >= 0.5, fill_mask, filled, comp, tryon,
                           fit, mask)
