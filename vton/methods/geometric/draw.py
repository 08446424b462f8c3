"""Drawings of the geometric try-on's stages, for display (after VITON's shape-context TPS step: Han et al.,
"VITON: An Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON@0370ca3).

Each function takes the data of :class:`.warp.GeometricResult` and returns an ``(H, W, 3) uint8`` RGB picture;
nothing here changes a result.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .matching import Matching
from .outline import Outline
from .warp import GeometricResult

__all__ = ["draw_garment_outline", "draw_target_outline", "draw_matches", "draw_tps_grid", "draw_composition"]

_LINE, _POINT, _LANDMARK = (0, 90, 255), (255, 40, 40), (255, 200, 0)


def _thick(img: np.ndarray) -> int:
    return max(1, round(img.shape[0] / 256))


def _outline_on(image: np.ndarray, outline: Outline, *, labels: bool = True) -> np.ndarray:
    img = np.ascontiguousarray(image.copy())
    t = _thick(img)
    pts = np.round(outline.points).astype(np.int32)
    cv2.polylines(img, [pts], True, _LINE, t, cv2.LINE_AA)
    for x, y in pts:
        cv2.circle(img, (int(x), int(y)), 2 * t, _POINT, -1, cv2.LINE_AA)
    for name, (x, y) in zip(outline.landmark_names, outline.landmarks, strict=True):
        c = (int(round(x)), int(round(y)))
        cv2.circle(img, c, 4 * t, _LANDMARK, -1, cv2.LINE_AA)
        cv2.circle(img, c, 4 * t, (0, 0, 0), 1, cv2.LINE_AA)
        if labels:
            short = name.replace("shoulder", "sh").replace("sleeve", "sl").replace("armpit", "ap")
            short = short.replace("_right", "R").replace("_left", "L")
            cv2.putText(img, short, (c[0] + 5 * t, c[1] + 3 * t), cv2.FONT_HERSHEY_SIMPLEX, 0.3 * t, (0, 0, 0), t,
                        cv2.LINE_AA)
    return img


def draw_garment_outline(cloth: np.ndarray, result: GeometricResult | Outline) -> np.ndarray:
    """The garment with its sampled outline points (red), the outline (blue) and its landmarks (yellow)."""
    return _outline_on(cloth, result if isinstance(result, Outline) else result.matching.garment)


def draw_target_outline(person: np.ndarray, result: GeometricResult | None, *, region: np.ndarray | None = None,
                        outline: Outline | None = None) -> np.ndarray:
    """The person with the target region tinted, its sampled outline points and its landmarks (``region`` and
    ``outline`` instead of a result: what a refused run computed; either may be None)."""
    if result is not None:
        region, outline = result.target_region, result.matching.target
    img = person.astype(np.float32)
    if region is not None:
        tint = np.array([0, 160, 255], np.float32)
        img[region] = 0.55 * img[region] + 0.45 * tint
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    return _outline_on(img, outline) if outline is not None else img


def draw_matches(cloth: np.ndarray, person: np.ndarray, matching: Matching, *, every: int = 2) -> np.ndarray:
    """Garment (left) and person (right) side by side, with a line for every ``every``-th kept pair and each
    landmark pair, coloured by position along the outline."""
    h, w = person.shape[:2]
    ch, cw = cloth.shape[:2]
    s = h / ch
    left = cv2.resize(cloth, (max(1, round(cw * s)), h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    left = _outline_on(left, _scaled(matching.garment, s), labels=False)
    right = _outline_on(person, matching.target, labels=False)
    img = np.ascontiguousarray(np.concatenate([left, right], 1))
    t = _thick(img)
    n = len(matching.assignment)
    hsv = np.zeros((n, 1, 3), np.uint8)
    hsv[:, 0, 0] = (np.arange(n) * 170 // max(n, 1)).astype(np.uint8)
    hsv[:, 0, 1:] = 255
    colours = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[:, 0]
    for i in range(0, n, every):
        if not matching.kept[i]:
            continue
        g = matching.garment.points[matching.assignment[i]] * s
        p = matching.target.points[i] + (left.shape[1], 0)
        cv2.line(img, tuple(int(v) for v in np.round(g)), tuple(int(v) for v in np.round(p)),
                 tuple(int(v) for v in colours[i]), t, cv2.LINE_AA)
    for g, p in zip(matching.garment.landmarks * s, matching.target.landmarks + (left.shape[1], 0), strict=True):
        cv2.line(img, tuple(int(v) for v in np.round(g)), tuple(int(v) for v in np.round(p)), (0, 0, 0), t,
                 cv2.LINE_AA)
    return img


def _scaled(outline: Outline, s: float) -> Outline:
    return Outline(outline.points * s, outline.arc, outline.landmark_names, outline.landmarks * s,
                   outline.landmark_arc, outline.contour * s)


def draw_tps_grid(result: GeometricResult, cloth_size: tuple[int, int], *, step: int = 16) -> np.ndarray:
    """The warped garment (where its mask is on, grey elsewhere) with the garment photo's regular lattice carried
    through the TPS grid (``F.grid_sample(..., align_corners=True)``).

    Args:
        result: the try-on's stages.
        cloth_size: ``(W, H)`` of the garment image the grid samples.
        step: lattice spacing in pixels of a 256-high garment image (scaled with its height).
    """
    cw, ch = cloth_size
    k = max(2, round(step * ch / 256))
    lines = torch.zeros(1, 1, ch, cw)
    lines[..., ::k, :] = 1.0
    lines[..., :, ::k] = 1.0
    warped_lines = F.grid_sample(lines, result.grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    a = warped_lines[0, 0].clamp(0, 1).numpy()[..., None]  # (H, W, 1)
    m = result.warped_alpha[..., None]
    base = result.warped_cloth.astype(np.float32) * m + 200.0 * (1 - m)
    out = base * (1 - a) + np.array([255.0, 30.0, 30.0]) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def draw_composition(result: GeometricResult) -> np.ndarray:
    """The composition: new garment's opacity in white, inpainted pixels it does not cover in orange, the old
    garment region's outline in blue."""
    a = result.composition_mask[..., None]
    fill_only = (result.fill_mask & (result.composition_mask < 0.5))[..., None]
    img = 255.0 * a + np.where(fill_only, np.array([255.0, 150.0, 40.0]), 0.0) * (1 - a)
    out = np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
    contours, _ = cv2.findContours(result.target_region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, _LINE, _thick(out), cv2.LINE_AA)
    return out
