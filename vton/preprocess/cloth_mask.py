"""The garment's mask from an in-shop garment photo, as the try-on methods read it (CP-VTON's cloth mask:
the garment's silhouette, binarised; Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On
Network", ECCV 2018, sergeywong/cp-vton).

An RGBA photo already carries the mask (alpha ≥ 128). Otherwise the garment lies on a light, roughly uniform
background, which is separated from it:

1. the background colour is modelled from the image border as a smooth function of position (a quadratic in x and
   y per CIE-Lab channel, fitted robustly so that a garment touching the border does not pull it), which absorbs
   off-white backgrounds and lighting gradients; the border residuals give the background's noise level;
2. a pixel may belong to the background when it is *close* to the model (ΔE below a noise-scaled tolerance) or
   looks like a *shadow* on it: nearly the same chroma, somewhat darker, and soft (small lightness steps to its
   background-coloured neighbours; a garment's contour is a sharp step);
3. the background is what of those pixels is connected to a close-to-background pixel of the image border.
   Everything else is garment, so white garment parts enclosed by the garment or by its contour stay garment, and
   a neck opening connected to the surrounding background stays open. Contour pixels (blends of garment and
   background) are kept when they are at least half-way from the background to the garment nearby;
4. an enclosed region that is close to the background colour *and* large (≥ 4 % of the garment) is a hole through
   the garment and is opened; garment pieces smaller than 5 % of the largest (speckles) are dropped.

A mask covering less than ``MIN_GARMENT_FRACTION`` of the photo (an all-transparent PNG, a blank photo, a few
specks) is refused by ``check_cloth_mask`` (both in ``vton.formats``), which the pipeline also applies to supplied
masks.

Limits: a garment of the background's own colour is found only through a visible contour, and only while the
photo's noise stays well below the garment/background difference; a background that is not roughly uniform
(a room, a pattern) is not supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import InputError
from ..formats import MIN_GARMENT_FRACTION, check_cloth_mask
from ..images import ImageSource, load_image

__all__ = [
    "ClothMask", "cloth_mask", "compute_cloth_mask", "background_model", "on_white", "ON_WHITE_BELOW",
]

WORK_MAX_SIDE = 1024
SHADOW_DEPTH = 35.0  # Lab L units a shadow may be darker than the background
SHADOW_CHROMA = 6.0  # Lab chroma distance of a shadow from the background
SOFT_STEP = 3.0  # Lab L units between neighbouring pixels; garment contours are steeper, shadows softer
HOLE_FRACTION = 0.04
PIECE_FRACTION = 0.05
ON_WHITE_BELOW = 245  # a channel below this is garment on a warped or framed garment's white canvas
_NORM_MEDIAN = 1.538  # median of |v| for v ~ N(0, I_3): turns the median residual ΔE into a per-channel σ


@dataclass(frozen=True)
class ClothMask:
    """A garment mask.

    Attributes:
        mask: ``(H, W) bool``, True on the garment, at the photo's size.
        source: ``"alpha"`` (the photo's transparency) or ``"background"`` (separated from a light background).
        background: the background's median colour ``(R, G, B)`` (white for ``"alpha"``).
    """

    mask: np.ndarray
    source: str
    background: tuple[int, int, int] = (255, 255, 255)


def on_white(rgb: np.ndarray) -> np.ndarray:
    """Where a garment drawn on white (a warped garment, the framed garment) is: ``(H, W) bool``, True where any
    channel of the ``(H, W, 3) uint8`` picture is below ``ON_WHITE_BELOW``."""
    return (np.asarray(rgb) < ON_WHITE_BELOW).any(axis=2)


def _border(h: int, w: int, width: int) -> np.ndarray:
    b = np.zeros((h, w), bool)
    b[:width], b[-width:], b[:, :width], b[:, -width:] = True, True, True, True
    return b


def _design(xs: np.ndarray, ys: np.ndarray, h: int, w: int) -> np.ndarray:
    x = xs / max(w - 1, 1) * 2 - 1
    y = ys / max(h - 1, 1) * 2 - 1
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], 1)


def background_model(lab: np.ndarray, border_width: int) -> tuple[np.ndarray, float]:
    """Background Lab colour at every pixel, fitted on the border, and the noise level of the border's fit.

    Args:
        lab: ``(H, W, 3) float32`` CIE-Lab image.
        border_width: pixels of border used.

    Returns:
        ``(H, W, 3)`` model and the background's noise: a robust per-channel standard deviation of its Lab values.
    """
    h, w = lab.shape[:2]
    ys, xs = np.nonzero(_border(h, w, border_width))
    vals = lab[ys, xs].astype(np.float64)
    a = _design(xs.astype(np.float64), ys.astype(np.float64), h, w)
    inl = np.linalg.norm(vals - np.median(vals, 0), axis=1) < 12.0
    coef = None
    for it in range(6):  # a plane first, then the quadratic; garment pixels on the border drop out as outliers
        if inl.sum() < max(12, 0.1 * len(vals)):
            break
        terms = 3 if it < 2 else 6
        coef, *_ = np.linalg.lstsq(a[inl, :terms], vals[inl], rcond=None)
        coef = np.vstack([coef, np.zeros((6 - terms, 3))])
        res = np.linalg.norm(vals - a @ coef, axis=1)
        sigma = np.median(res[inl]) / _NORM_MEDIAN + 1e-6
        inl = res < max(1.5, 3.0 * sigma)
    if coef is None:  # the border is mostly garment: fall back to a constant (its median)
        med = np.median(vals, 0)
        res = np.linalg.norm(vals - med, axis=1)
        return np.broadcast_to(med.astype(np.float32), lab.shape).copy(), float(np.median(res) / _NORM_MEDIAN)
    gy, gx = np.mgrid[0:h, 0:w]
    model = (_design(gx.ravel().astype(np.float64), gy.ravel().astype(np.float64), h, w) @ coef).reshape(h, w, 3)
    res = np.linalg.norm(vals - a @ coef, axis=1)
    return model.astype(np.float32), float(np.median(res[inl]) / _NORM_MEDIAN)


def _step_to_similar(lightness: np.ndarray, similar: np.ndarray) -> np.ndarray:
    """Largest lightness step from each pixel to a 4-neighbour that is itself background-coloured.

    Steps to garment-coloured neighbours are ignored, so a shadow beside a coloured garment stays soft while the
    contour of a white garment (background-coloured on both sides of a sharp step) does not.
    """
    h, w = lightness.shape
    pad_l = np.pad(lightness, 1, mode="edge")
    pad_s = np.pad(similar, 1, constant_values=False)
    out = np.zeros_like(lightness)
    for dy, dx in ((0, 1), (1, 0), (1, 2), (2, 1)):
        nb_l = pad_l[dy : dy + h, dx : dx + w]
        nb_s = pad_s[dy : dy + h, dx : dx + w]
        out = np.maximum(out, np.where(nb_s, np.abs(lightness - nb_l), 0.0))
    return out


def _separate(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3) uint8`` garment photo on a light background → ``(H, W) bool`` garment."""
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    bw = max(1, round(0.01 * min(h, w)))
    bg, sigma = background_model(lab, bw)
    d = lab - bg
    dl, dc = d[..., 0], np.hypot(d[..., 1], d[..., 2])
    de = np.hypot(dl, dc)
    close = de < max(2.0, 4.0 * sigma)
    shadow_colour = (dc < max(SHADOW_CHROMA, 3.0 * sigma)) & (dl < max(2.0, 4.0 * sigma)) & (dl > -SHADOW_DEPTH)
    passable = close | (shadow_colour & (_step_to_similar(dl, close | shadow_colour) < SOFT_STEP + 3.0 * sigma))
    comp, _ = ndimage.label(passable)
    seeds = np.unique(comp[_border(h, w, 1) & close])
    seeds = seeds[seeds > 0]
    background = np.isin(comp, seeds)
    garment = ~background
    if not garment.any():
        return garment
    # contour pixels are blends of garment and background: keep those at least half-way to the nearby garment
    contour = garment & ndimage.binary_dilation(background)
    inner = ndimage.maximum_filter(np.where(garment & ~contour, de, 0.0), size=5)
    garment &= ~(contour & (inner > 0) & (de < 0.5 * inner))
    # enclosed, background-coloured and large: a hole through the garment
    area = garment.sum()
    holes, n = ndimage.label(garment & (de < max(1.0, 3.0 * sigma)))
    if n:
        sizes = ndimage.sum_labels(np.ones_like(holes), holes, np.arange(1, n + 1))
        big = np.nonzero(sizes >= HOLE_FRACTION * area)[0] + 1
        garment &= ~np.isin(holes, big)
    pieces, n = ndimage.label(garment)
    if n > 1:
        sizes = ndimage.sum_labels(np.ones_like(pieces), pieces, np.arange(1, n + 1))
        keep = np.nonzero(sizes >= PIECE_FRACTION * sizes.max())[0] + 1
        garment = np.isin(pieces, keep)
    return garment


def compute_cloth_mask(image: ImageSource) -> ClothMask:
    """The garment mask of a garment photo, with where it came from (see the module docstring).

    Args:
        image: the garment photo (any size; RGBA uses its alpha channel).

    Returns:
        ``ClothMask`` at the photo's size.

    Raises:
        InputError: the photo is unreadable, or the garment found (or the opaque part of a transparent photo)
            covers less than ``MIN_GARMENT_FRACTION`` of it.
    """
    img = load_image(image, "garment photo", keep_alpha=True)
    if img.mode == "RGBA":
        alpha = np.asarray(img.getchannel("A"))
        if alpha.min() < 128:
            if alpha.max() < 128:
                raise InputError(
                    "the garment photo is transparent everywhere (its alpha channel is below 128 at every pixel): "
                    "there is no garment to see; give a photo where the garment is opaque"
                )
            mask = check_cloth_mask(alpha >= 128, "garment photo's opaque part (alpha ≥ 128)")
            return ClothMask(mask, "alpha")
        img = img.convert("RGB")
    w, h = img.size
    s = min(1.0, WORK_MAX_SIDE / max(w, h))
    work = img if s == 1.0 else img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BOX)
    rgb = np.asarray(work.convert("RGB"))
    garment = _separate(rgb)
    if garment.sum() < MIN_GARMENT_FRACTION * garment.size:
        found = "nothing" if not garment.any() else f"only {100 * garment.mean():.2f} % of the photo"
        raise InputError(
            f"no garment found in the garment photo ({found} differs from the background; at least "
            f"{100 * MIN_GARMENT_FRACTION:g} % is needed): it should show one garment filling much of the photo on "
            "a plain light background (or be a PNG with transparency), or give the garment mask yourself"
        )
    bgc = np.median(rgb[~garment], 0) if (~garment).any() else np.full(3, 255)
    if s != 1.0:
        garment = cv2.resize(garment.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) >= 0.5
    return ClothMask(garment, "background", tuple(int(v) for v in bgc))


def cloth_mask(image: ImageSource) -> np.ndarray:
    """``(H, W) bool`` garment mask (True = garment) of a garment photo; see ``compute_cloth_mask``."""
    return compute_cloth_mask(image).mask
