"""Drawn test people and garments with exact annotations, made by the vton project (CC0).

Used to test the training-free geometric try-on (after VITON's shape-context TPS step: Han et al., "VITON: An
Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON@0370ca3) and to draw the app's examples. Nothing here
comes from VITON's code; the people and garments are plain shapes drawn with OpenCV without anti-aliasing, so the
photo, its LIP parse and its COCO-18 pose agree exactly: every pixel of the photo has the colour of the label the
parse gives it, and the pose holds the joints the figure is drawn from.

Convention: shapes are specified in the 192 × 256 frame of the VITON / CP-VTON datasets (x right, y down) and scaled
to any output size ``(W, H)`` by ``(W / 192, H / 256)``. Keypoints are pixel coordinates with the origin at the
top-left pixel's corner (see :mod:`vton.annotations`), so a joint drawn at pixel index ``(i, j)`` is stored as
``(i + 0.5, j + 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from .annotations import Parsing, Pose
from .labels import COCO18, LIP
from .run import FRAME  # (W, H) the specs are written in

__all__ = ["PersonSpec", "SyntheticPerson", "draw_person", "place_person", "GarmentSpec", "SyntheticGarment",
           "draw_garment"]

_SHIFT = 4  # cv2 sub-pixel bits: coordinates are passed as round(v * 16)

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class PersonSpec:
    """A drawn person, in 192 × 256 frame units.

    Attributes:
        sleeves: "short" (upper arm half covered) or "long" (down to the wrist).
        shoulder_half_width: shoulder joints at ``centre_x ± shoulder_half_width``.
        waist_half_width: half width of the shirt's body below the arms.
        hem_y: y of the shirt's hem (the hips are just above it).
        arm_spread: how far elbows and wrists move outwards (0 = arms hanging close to the body).
        centre_x: x of the body's centre line.
        top_label: LIP label of the upper-body garment ("upper_clothes" or "coat").
        shirt, pants, skin, hair, background: RGB colours.
        arm_angles: None (arms as ``arm_spread`` draws them) or the (image-left, image-right) arms' angles in
            degrees away from hanging straight down (0 = down, 90 = horizontal, negative = across the body); the
            arms are straight and drawn in front of the shirt's body, under its sleeves.
    """

    sleeves: Literal["short", "long"] = "short"
    shoulder_half_width: float = 24.0
    waist_half_width: float = 19.0
    hem_y: float = 146.0
    arm_spread: float = 0.0
    centre_x: float = 96.0
    top_label: Literal["upper_clothes", "coat"] = "upper_clothes"
    shirt: Colour = (60, 150, 90)
    pants: Colour = (50, 60, 100)
    skin: Colour = (224, 180, 150)
    hair: Colour = (70, 45, 30)
    background: Colour = (238, 236, 232)
    arm_angles: tuple[float, float] | None = None


@dataclass(frozen=True)
class SyntheticPerson:
    """A drawn person and its exact annotations.

    Attributes:
        image: ``(H, W, 3) uint8`` RGB photo.
        parsing: its exact LIP parse.
        pose: its COCO-18 pose (the joints it was drawn from), size ``(W, H)``.
        garment_region: ``(H, W) bool``, the upper-body garment's pixels (the parse's ``top_label``).
        spec: what was drawn.
    """

    image: np.ndarray
    parsing: Parsing
    pose: Pose
    garment_region: np.ndarray
    spec: PersonSpec


def _joints(spec: PersonSpec) -> dict[str, tuple[float, float]]:
    """COCO-18 joints in frame units (the person faces the camera: their right is the image's left)."""
    c, sw, sp = spec.centre_x, spec.shoulder_half_width, spec.arm_spread
    hip_y = spec.hem_y - 4
    j = {"nose": (c, 42.0), "neck": (c, 62.0), "right_eye": (c - 5, 37.0), "left_eye": (c + 5, 37.0),
         "right_ear": (c - 13, 40.0), "left_ear": (c + 13, 40.0)}
    for side, s in (("right", -1.0), ("left", 1.0)):
        j[f"{side}_shoulder"] = (c + s * sw, 67.0)
        j[f"{side}_elbow"] = (c + s * (sw + 9 + sp), 104.0)
        j[f"{side}_wrist"] = (c + s * (sw + 13 + 2.2 * sp), 138.0)
        j[f"{side}_hip"] = (c + s * 12, hip_y)
        j[f"{side}_knee"] = (c + s * 14, hip_y + (234 - hip_y) * 0.52)
        j[f"{side}_ankle"] = (c + s * 15, 234.0)
    if spec.arm_angles is not None:
        for (side, s), angle in zip((("right", -1.0), ("left", 1.0)), spec.arm_angles, strict=True):
            a = np.deg2rad(angle)
            d = np.array([s * np.sin(a), np.cos(a)])
            x0, y0 = j[f"{side}_shoulder"]
            j[f"{side}_elbow"] = tuple(float(v) for v in np.array([x0 + s * 2, y0]) + 37 * d)
            j[f"{side}_wrist"] = tuple(float(v) for v in np.array([x0 + s * 2, y0]) + 72 * d)
    return j


class _Canvas:
    """Paints shapes into an RGB photo and a label map at once (no anti-aliasing, so they agree exactly)."""

    def __init__(self, size: tuple[int, int], background: Colour) -> None:
        w, h = size
        self.sx, self.sy = w / FRAME[0], h / FRAME[1]
        self.image = np.empty((h, w, 3), np.uint8)
        self.image[:] = background
        self.labels = np.zeros((h, w), np.uint8)
        self._layer = np.zeros((h, w), np.uint8)

    def _pts(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 2) * (self.sx, self.sy)
        return np.round(p * (1 << _SHIFT)).astype(np.int32)

    def _paint(self, label: str, colour: Colour) -> None:
        on = self._layer > 0
        self.image[on] = colour
        self.labels[on] = LIP.id(label)
        self._layer[:] = 0

    def polygon(self, label: str, colour: Colour, pts) -> None:
        cv2.fillPoly(self._layer, [self._pts(pts)], 255, cv2.LINE_8, _SHIFT)
        self._paint(label, colour)

    def ellipse(self, label: str, colour: Colour, centre, axes, start: float = 0, end: float = 360) -> None:
        c = self._pts(centre)[0]
        ax = np.round(np.asarray(axes, np.float64) * (self.sx, self.sy) * (1 << _SHIFT)).astype(np.int32)
        cv2.ellipse(self._layer, (int(c[0]), int(c[1])), (int(ax[0]), int(ax[1])), 0, start, end, 255, -1,
                    cv2.LINE_8, _SHIFT)
        self._paint(label, colour)

    def limb(self, label: str, colour: Colour, pts, width: float, *, round_ends: bool = True) -> None:
        """A thick polyline: one quad per segment, discs at the inner joints (and the ends if ``round_ends``)."""
        pts = [np.asarray(p, np.float64) for p in pts]
        for a, b in zip(pts[:-1], pts[1:], strict=False):
            d = b - a
            n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-9) * width / 2
            cv2.fillPoly(self._layer, [self._pts([a + n, b + n, b - n, a - n])], 255, cv2.LINE_8, _SHIFT)
        joints = pts[1:-1] + ([pts[-1]] if round_ends else [])
        for p in joints:
            c = self._pts(p)[0]
            ax = np.round(np.array([width / 2 * self.sx, width / 2 * self.sy]) * (1 << _SHIFT)).astype(np.int32)
            cv2.ellipse(self._layer, (int(c[0]), int(c[1])), (int(ax[0]), int(ax[1])), 0, 0, 360, 255, -1,
                        cv2.LINE_8, _SHIFT)
        self._paint(label, colour)


def draw_person(size: tuple[int, int] = FRAME, spec: PersonSpec = PersonSpec()) -> SyntheticPerson:
    """Draw a person (head, hair, neck, shirt, arms, trousers, shoes) on a plain background.

    Args:
        size: ``(W, H)`` of the picture (any size; the figure scales with it).
        spec: the figure.

    Returns:
        the photo with its exact LIP parse, COCO-18 pose and upper-garment region.
    """
    cv = _Canvas(size, spec.background)
    j = _joints(spec)
    c, sw, ww, hem = spec.centre_x, spec.shoulder_half_width, spec.waist_half_width, spec.hem_y
    # trousers and shoes
    cv.polygon("pants", spec.pants, [(c - ww + 1, hem - 8), (c + ww - 1, hem - 8), (c + ww, hem + 6),
                                     (c - ww, hem + 6)])
    cv.limb("pants", spec.pants, [j["right_hip"], j["right_knee"], j["right_ankle"]], 17)
    cv.limb("pants", spec.pants, [j["left_hip"], j["left_knee"], j["left_ankle"]], 17)
    for side, s in (("right", -1), ("left", 1)):
        x, y = j[f"{side}_ankle"]
        cv.ellipse(f"{side}_shoe", (40, 40, 40), (x + 3 * s, y + 9), (12, 6))
    # arms and hands (skin); the shirt's sleeves are drawn over them
    def arms() -> None:
        for side in ("right", "left"):
            arm = [j[f"{side}_shoulder"], j[f"{side}_elbow"], j[f"{side}_wrist"]]
            cv.limb(f"{side}_arm", spec.skin, arm, 11)
            (xe, ye), (xw, yw) = j[f"{side}_elbow"], j[f"{side}_wrist"]
            if spec.arm_angles is None:
                cv.ellipse(f"{side}_arm", spec.skin, (xw, yw + 6), (6, 8))
            else:  # the hand continues the arm
                d = np.array([xw - xe, yw - ye]) / max(np.hypot(xw - xe, yw - ye), 1e-9)
                cv.ellipse(f"{side}_arm", spec.skin, (xw + 6 * d[0], yw + 6 * d[1]), (6, 6))

    top = spec.top_label
    body = [(c - 10, 58), (c + 10, 58), (c + sw - 2, 61), (c + sw + 4, 68), (c + ww + 1, 84), (c + ww, hem),
            (c - ww, hem), (c - ww - 1, 84), (c - sw - 4, 68), (c - sw + 2, 61)]
    if spec.arm_angles is None:
        arms()
        cv.polygon(top, spec.shirt, body)
    else:  # straight arms at any angle: in front of the body, under the sleeves
        cv.polygon(top, spec.shirt, body)
        arms()
    for side in ("right", "left"):
        sh, el, wr = (np.asarray(j[f"{side}_{k}"]) for k in ("shoulder", "elbow", "wrist"))
        if spec.sleeves == "short":
            cv.limb(top, spec.shirt, [sh, sh + 0.55 * (el - sh)], 17, round_ends=False)
        else:
            cv.limb(top, spec.shirt, [sh, el, wr - 0.12 * (wr - el)], 15, round_ends=False)
        cv.ellipse(top, spec.shirt, sh + (0, 1), (8.5, 7))  # rounded shoulder
    # neck (LIP has no neck label: it is face) with a V of skin into the collar, head, ears, hair
    cv.polygon("face", spec.skin, [(c - 7, 48), (c + 7, 48), (c + 7, 58), (c, 66), (c - 7, 58)])
    cv.ellipse("face", spec.skin, (c, 38), (14, 17))
    cv.ellipse("face", spec.skin, (c - 13, 40), (3, 5))
    cv.ellipse("face", spec.skin, (c + 13, 40), (3, 5))
    cv.ellipse("hair", spec.hair, (c, 33), (15.5, 14), 180, 360)
    cv.polygon("hair", spec.hair, [(c - 15.5, 31), (c - 12, 31), (c - 12, 43), (c - 15.5, 43)])
    cv.polygon("hair", spec.hair, [(c + 12, 31), (c + 15.5, 31), (c + 15.5, 43), (c + 12, 43)])
    # eyes and mouth: colour only, they stay "face" in the parse
    img_before = cv.labels.copy()
    for ex in (c - 5, c + 5):
        cv.ellipse("face", (30, 30, 30), (ex, 37), (1.6, 1.6))
    cv.limb("face", (150, 70, 70), [(c - 4, 48), (c, 49.5), (c + 4, 48)], 1.2, round_ends=False)
    cv.labels[:] = img_before  # unchanged labels (face); only the colours were painted

    kp = np.zeros((len(COCO18), 2), np.float32)
    for i, name in enumerate(COCO18):
        kp[i] = (j[name][0] * cv.sx + 0.5, j[name][1] * cv.sy + 0.5)
    pose = Pose(kp, np.ones(len(COCO18), np.float32), size)
    parsing = Parsing(cv.labels.copy())
    return SyntheticPerson(cv.image, parsing, pose, parsing.mask(top), spec)


def place_person(person: SyntheticPerson, canvas: tuple[int, int], origin: tuple[int, int]) -> SyntheticPerson:
    """The drawn person pasted into a larger picture of ``canvas = (W, H)`` with its top-left corner at ``origin``
    (whole pixels; the rest is background), with its parse and pose moved along.

    Raises:
        ValueError: the person does not fit in the canvas at ``origin``.
    """
    (cw, ch), (ox, oy) = canvas, origin
    h, w = person.parsing.labels.shape
    if ox < 0 or oy < 0 or ox + w > cw or oy + h > ch:
        raise ValueError(f"a {w}×{h} person at {origin} does not fit a {cw}×{ch} canvas")
    image = np.empty((ch, cw, 3), np.uint8)
    image[:] = person.spec.background
    image[oy:oy + h, ox:ox + w] = person.image
    labels = np.zeros((ch, cw), np.uint8)
    labels[oy:oy + h, ox:ox + w] = person.parsing.labels
    pose = person.pose.transformed(1.0, (ox, oy), (cw, ch))
    parsing = Parsing(labels)
    return SyntheticPerson(image, parsing, pose, parsing.mask(person.spec.top_label), person.spec)


@dataclass(frozen=True)
class GarmentSpec:
    """A drawn garment laid flat, in 192 × 256 frame units.

    Attributes:
        kind: "tshirt" (short sleeves spread out) or "longsleeve" (long sleeves angled down).
        width, length: scales of the body's half width (38) and of its length (collar to hem).
        colour: fabric colour.
        pattern: "plain", "stripes" (horizontal bands across body and sleeves), "vstripes" (vertical bands on the
            body, between its hem corners) or "logo" (a disc on the chest).
        stripes: number of bands crossing the centre line (for "stripes") or a row of the body (for "vstripes").
        accent: colour of the bands or the logo.
        background: colour around the garment (white, as in the datasets' product photos).
    """

    kind: Literal["tshirt", "longsleeve"] = "tshirt"
    width: float = 1.0
    length: float = 1.0
    colour: Colour = (200, 50, 50)
    pattern: Literal["plain", "stripes", "vstripes", "logo"] = "stripes"
    stripes: int = 5
    accent: Colour = (240, 200, 60)
    background: Colour = (255, 255, 255)


@dataclass(frozen=True)
class SyntheticGarment:
    """A drawn garment: ``image (H, W, 3) uint8``, ``mask (H, W) bool``, ``logo (H, W) bool`` (the logo's pixels,
    empty without one) and the spec."""

    image: np.ndarray
    mask: np.ndarray
    logo: np.ndarray
    spec: GarmentSpec


def garment_outline(spec: GarmentSpec) -> np.ndarray:
    """The garment's outline polygon ``(P, 2)`` in frame units, clockwise on screen from the collar's left end."""
    c, hw = 96.0, 38.0 * spec.width
    top, hem = 36.0, 36.0 + 184.0 * spec.length
    nk = 12.0  # neck opening half width
    if spec.kind == "tshirt":
        right = [(c + nk, top), (c + hw - 4, top + 6), (c + hw + 26, top + 34), (c + hw + 12, top + 62),
                 (c + hw, top + 52), (c + hw, hem)]
    else:
        right = [(c + nk, top - 2), (c + hw - 10, top + 2), (c + hw + 4, top + 24), (c + hw + 40, top + 160),
                 (c + hw + 24, top + 166), (c + hw - 2, top + 68), (c + hw - 2, hem)]
    left = [(2 * c - x, y) for x, y in reversed(right)]
    collar = [(c, top + 12)]
    return np.asarray([left[-1]] + collar + right + left[:-1], np.float64)


def draw_garment(size: tuple[int, int] = FRAME, spec: GarmentSpec = GarmentSpec()) -> SyntheticGarment:
    """Draw a garment on a plain background, with its mask.

    The bands of a striped garment lie between the collar and the hem with a margin of half a period at each end,
    so exactly ``spec.stripes`` of them cross the centre line; vertical bands lie between the hem corners with the
    same half-period margins, so exactly ``spec.stripes`` of them cross any row of the body below the armpits.
    """
    w, h = size
    sx, sy = w / FRAME[0], h / FRAME[1]
    poly = garment_outline(spec)
    pts = np.round(poly * (sx, sy) * (1 << _SHIFT)).astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_8, _SHIFT)
    mask_b = mask > 0
    fabric = np.empty((h, w, 3), np.uint8)
    fabric[:] = spec.colour
    logo = np.zeros((h, w), bool)
    collar_y, hem_y = poly[1, 1], poly[:, 1].max()
    if spec.pattern == "stripes":
        if spec.stripes < 1:
            raise ValueError(f"a striped garment needs at least one stripe, got {spec.stripes}")
        period = (hem_y - collar_y) / (spec.stripes + 0.5)
        ys = (np.arange(h) + 0.5) / sy  # row centres in frame units
        phase = (ys - collar_y - 0.5 * period) / period
        band = (phase >= 0) & (phase < spec.stripes) & (phase % 1.0 < 0.5)
        fabric[band] = spec.accent
    elif spec.pattern == "vstripes":
        if spec.stripes < 1:
            raise ValueError(f"a striped garment needs at least one stripe, got {spec.stripes}")
        hw = 38.0 * spec.width
        period = 2 * hw / (spec.stripes + 0.5)
        xs = (np.arange(w) + 0.5) / sx
        phase = (xs - (96.0 - hw) - 0.5 * period) / period
        band = (phase >= 0) & (phase < spec.stripes) & (phase % 1.0 < 0.5)
        fabric[:, band] = spec.accent
    elif spec.pattern == "logo":
        cy = collar_y + 0.3 * (hem_y - collar_y)
        r = 15.0 * min(spec.width, spec.length)
        yy, xx = np.mgrid[0:h, 0:w]
        logo = (((xx + 0.5) / sx - 96.0) / r) ** 2 + (((yy + 0.5) / sy - cy) / r) ** 2 <= 1.0
        fabric[logo] = spec.accent
    image = np.empty((h, w, 3), np.uint8)
    image[:] = spec.background
    image[mask_b] = fabric[mask_b]
    return SyntheticGarment(image, mask_b, logo & mask_b, spec)
