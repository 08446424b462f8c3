"""The clothing-agnostic person representation of CP-VTON and CP-VTON+, made as their dataset code makes it.

Papers: Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network" (CP-VTON, ECCV 2018),
code sergeywong/cp-vton; Minar et al., "CP-VTON+: Clothing Shape and Texture Preserving Image-Based Virtual
Try-On" (CVPR Workshops 2020), code minar09/cp-vton-plus. Both build the 22-channel network input in
``CPDataset.__getitem__``; this module reproduces it value for value (checked against golden fixtures written
by running that code).

Convention: frame 256 × 192 (H × W), tensors ``(1, C, H, W) float32``, images in [-1, 1] = (x/255 − 0.5)/0.5,
masks in {0, 1}. Channel order of the representation: shape (1), head (3), pose map (18).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw

from .annotations import Parsing, Pose
from .errors import InputError
from .images import mask_to_tensor, to_tensor

__all__ = [
    "HEIGHT", "WIDTH", "POSE_RADIUS", "HEAD_LABELS", "CLOTH_LABELS", "Variant", "Stage",
    "PersonRepresentation", "pose_map", "head_labels", "body_shape", "build_representation", "cloth_tensors",
    "worn_cloth",
]

HEIGHT, WIDTH = 256, 192
POSE_RADIUS = 5
SHAPE_DOWNSAMPLE = 16  # the body mask is blurred by a bilinear trip through (W/16) × (H/16)

Variant = Literal["original", "plus"]
Stage = Literal["gmm", "tom"]

# Parsing labels kept as "head" (identity to preserve), by method variant and network stage.
HEAD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("original", "gmm"): ("hat", "hair", "sunglasses", "face"),
    ("original", "tom"): ("hat", "hair", "sunglasses", "face"),
    ("plus", "gmm"): ("hat", "sunglasses", "face"),
    ("plus", "tom"): ("hat", "hair", "sunglasses", "pants", "skirt", "face", "left_leg", "right_leg"),
}

# Parsing labels of the garment worn in the photo (the GMM's training target ``parse_cloth``).
CLOTH_LABELS: tuple[str, ...] = ("upper_clothes", "dress", "coat")


@dataclass(frozen=True)
class PersonRepresentation:
    """The clothing-agnostic person representation fed to GMM and TOM.

    Attributes:
        shape: ``(1, 1, H, W) float32`` in [-1, 1]: the body mask blurred by a bilinear trip through
            (W/16) × (H/16); +1 inside the body, −1 outside, soft in between.
        head: ``(1, 3, H, W) float32`` in [-1, 1]: the RGB photo where the parse has a head label of the
            variant/stage (see ``HEAD_LABELS``), exactly −1 elsewhere.
        pose: ``(1, 18, H, W) float32`` in {−1, +1}: one channel per COCO-18 keypoint, a (2r+1)-pixel square
            of +1 around the point on −1; a missing point leaves its channel −1.

    All three are in the person frame (256 × 192, pixel (0, 0) top-left).
    """

    shape: torch.Tensor
    head: torch.Tensor
    pose: torch.Tensor

    def tensor(self) -> torch.Tensor:
        """``(1, 22, H, W)``: shape, head, pose concatenated in the networks' channel order."""
        return torch.cat([self.shape, self.head, self.pose], dim=1)


def _gray_to_tensor(img: Image.Image) -> torch.Tensor:
    """An 8-bit grayscale image → ``(1, 1, H, W) float32`` in [-1, 1] (ToTensor then Normalize(0.5, 0.5))."""
    arr = np.asarray(img, dtype=np.float32)
    return torch.from_numpy((arr / 255.0 - 0.5) / 0.5)[None, None].contiguous()


def _check_variant_stage(variant: str, stage: str) -> None:
    if variant not in ("original", "plus"):
        raise InputError(f"variant must be 'original' (CP-VTON) or 'plus' (CP-VTON+), got {variant!r}")
    if stage not in ("gmm", "tom"):
        raise InputError(f"stage must be 'gmm' or 'tom', got {stage!r}")


def head_labels(variant: Variant, stage: Stage) -> tuple[str, ...]:
    """The parsing label names kept in the head channels for ``variant`` ("original"/"plus") and ``stage``."""
    _check_variant_stage(variant, stage)
    return HEAD_LABELS[(variant, stage)]


def pose_map(pose: Pose, height: int = HEIGHT, width: int = WIDTH, radius: int = POSE_RADIUS) -> torch.Tensor:
    """The 18-channel pose map of the CP-VTON dataset code.

    Each present keypoint (x > 1 and y > 1) becomes a filled square drawn with PIL
    ``ImageDraw.rectangle((x − r, y − r, x + r, y + r))`` on its fractional coordinates (PIL truncates them to
    whole pixels and clips at the image border), +1 on a −1 background.

    Args:
        pose: keypoints in the pixels of a ``width`` × ``height`` frame.
        height, width: the frame.
        radius: r, 5 in CP-VTON and CP-VTON+.

    Returns:
        ``(1, 18, height, width) float32`` in {−1, +1}.

    Raises:
        InputError: the pose belongs to a frame of another size.
    """
    if tuple(pose.size) != (width, height):
        raise InputError(
            f"the pose's keypoints are in a {pose.size[0]} × {pose.size[1]} frame but the pose map is "
            f"{width} × {height}; bring the pose into this frame first (Pose.transformed)"
        )
    maps = np.full((len(pose.keypoints), height, width), -1.0, dtype=np.float32)
    for i, ((x, y), present) in enumerate(zip(pose.keypoints.tolist(), pose.present.tolist(), strict=True)):
        if not present:
            continue
        canvas = Image.new("L", (width, height), 0)
        ImageDraw.Draw(canvas).rectangle((x - radius, y - radius, x + radius, y + radius), fill=255, outline=255)
        maps[i] = (np.asarray(canvas, dtype=np.float32) / 255.0 - 0.5) / 0.5
    return torch.from_numpy(maps)[None]


def body_shape(mask: np.ndarray, *, blur: bool = True) -> torch.Tensor:
    """A body mask as the representation's shape channel.

    Args:
        mask: ``(H, W)`` bool (or any array: non-zero counts as body).
        blur: downsample to (W/16) × (H/16) and back up with PIL BILINEAR, as the dataset code does; without it
            the sharp mask (CP-VTON+'s ``shape_ori``).

    Returns:
        ``(1, 1, H, W) float32`` in [-1, 1].
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a body mask must be 2-D (H, W), got shape {m.shape}")
    h, w = m.shape
    img = Image.fromarray(((m > 0).astype(np.float32) * 255).astype(np.uint8), mode="L")
    if blur:
        small = (max(w // SHAPE_DOWNSAMPLE, 1), max(h // SHAPE_DOWNSAMPLE, 1))
        img = img.resize(small, Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    return _gray_to_tensor(img)


def _person_tensor(person: Image.Image | np.ndarray) -> torch.Tensor:
    if isinstance(person, Image.Image):
        if person.size != (WIDTH, HEIGHT):
            raise InputError(
                f"the person photo must be {WIDTH} × {HEIGHT} (W × H), got {person.size[0]} × {person.size[1]}; "
                "frame it first"
            )
        return to_tensor(person.convert("RGB"))
    arr = np.asarray(person)
    if arr.shape != (HEIGHT, WIDTH, 3):
        raise InputError(f"the person photo array must be ({HEIGHT}, {WIDTH}, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise InputError(f"the person photo array must be uint8, got {arr.dtype}")
    return to_tensor(arr)


def _check_parsing(parsing: Parsing) -> None:
    if parsing.labels.shape != (HEIGHT, WIDTH):
        raise InputError(
            f"the parse map must be {HEIGHT} × {WIDTH} (H × W) like the person photo, "
            f"got {parsing.labels.shape[0]} × {parsing.labels.shape[1]}"
        )


def _names_mask(parsing: Parsing, names: tuple[str, ...]) -> np.ndarray:
    try:
        return parsing.mask(*names)
    except KeyError as e:
        raise InputError(f"the parse map's label set cannot express this: {e.args[0]}") from None


def build_representation(
    person: Image.Image | np.ndarray,
    parsing: Parsing,
    pose: Pose,
    variant: Variant,
    stage: Stage,
    body_mask: np.ndarray | None = None,
) -> PersonRepresentation:
    """The 22-channel person representation of CP-VTON ("original") or CP-VTON+ ("plus") for one network stage.

    shape: the body mask — ``parse > 0`` for "original"; for "plus" the separate body mask (``image-mask > 0``),
    or ``parse > 0`` when none is given (CP-VTON+'s dataset always has one; without it the shape channel is
    CP-VTON's) — blurred as in ``body_shape``. head: ``photo · m − (1 − m)`` with m the head labels of
    ``HEAD_LABELS[(variant, stage)]``. pose: ``pose_map(pose)``.

    Args:
        person: the 192 × 256 (W × H) RGB photo, PIL or ``(256, 192, 3) uint8``.
        parsing: its 256 × 192 parse map (LIP labels, or any label set that names the head labels).
        pose: its keypoints in the same frame.
        variant: "original" (CP-VTON) or "plus" (CP-VTON+).
        stage: "gmm" or "tom" (CP-VTON+ keeps different head labels per stage).
        body_mask: ``(256, 192)`` body mask for "plus" (non-zero = body); ignored by "original".

    Returns:
        A ``PersonRepresentation``.

    Raises:
        InputError: wrong sizes, variant or stage.
    """
    _check_variant_stage(variant, stage)
    im = _person_tensor(person)
    _check_parsing(parsing)
    if variant == "plus" and body_mask is not None:
        bm = np.asarray(body_mask)
        if bm.shape != (HEIGHT, WIDTH):
            raise InputError(f"the body mask must be {HEIGHT} × {WIDTH} (H × W), got shape {bm.shape}")
        body = bm > 0
    else:
        body = parsing.labels > 0
    head_mask = mask_to_tensor(_names_mask(parsing, HEAD_LABELS[(variant, stage)]))
    head = im * head_mask - (1 - head_mask)
    return PersonRepresentation(shape=body_shape(body), head=head, pose=pose_map(pose, HEIGHT, WIDTH))


def worn_cloth(person: Image.Image | np.ndarray, parsing: Parsing) -> tuple[torch.Tensor, torch.Tensor]:
    """The garment worn in the photo, the GMM's training target (``parse_cloth`` of the dataset code).

    Returns:
        ``(image (1, 3, H, W) in [-1, 1], mask (1, 1, H, W) in {0, 1})``: the photo where the parse is
        upper-clothes, dress or coat, +1 (white) elsewhere, and that region's mask.
    """
    im = _person_tensor(person)
    _check_parsing(parsing)
    m = mask_to_tensor(_names_mask(parsing, CLOTH_LABELS))
    return im * m + (1 - m), m


def _mask_array(mask: np.ndarray | Image.Image) -> np.ndarray:
    """A cloth mask in any common form → ``(H, W) bool``.

    bool arrays are taken as they are, integer arrays holding only {0, 1} too; other uint8/integer arrays and
    PIL images are mask-image values (on where ≥ 128, CP-VTON's threshold); float arrays in [0, 1] are on
    where ≥ 0.5.
    """
    if isinstance(mask, Image.Image):
        return np.asarray(mask.convert("L")) >= 128
    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"the cloth mask must be 2-D (H, W), got shape {m.shape}")
    if m.dtype == bool:
        return m
    if m.dtype.kind in "ui":
        if m.size and (m.min() < 0 or m.max() > 255):
            raise InputError(f"an integer cloth mask must hold 0..255, found {int(m.min())}..{int(m.max())}")
        return m > 0 if m.size and m.max() <= 1 else m >= 128
    if m.dtype.kind == "f":
        if m.size and (not np.isfinite(m).all() or m.min() < 0 or m.max() > 1):
            raise InputError("a float cloth mask must hold values in [0, 1]")
        return m >= 0.5
    raise InputError(f"the cloth mask must be a bool, integer or float array, got {m.dtype}")


def cloth_tensors(cloth: Image.Image, mask: np.ndarray | Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
    """The in-shop garment and its mask as the dataset code feeds them (the cloth is *not* multiplied by the mask).

    Args:
        cloth: the 192 × 256 (W × H) garment photo.
        mask: its ``(256, 192)`` mask (see ``_mask_array`` for the accepted forms; a mask image is thresholded
            at 128 like CP-VTON's ``cloth-mask`` files).

    Returns:
        ``(cloth (1, 3, H, W) in [-1, 1], mask (1, 1, H, W) in {0, 1})``.
    """
    if not isinstance(cloth, Image.Image):
        raise InputError(f"the garment photo must be a PIL image, got {type(cloth).__name__}")
    if cloth.size != (WIDTH, HEIGHT):
        raise InputError(
            f"the garment photo must be {WIDTH} × {HEIGHT} (W × H), got {cloth.size[0]} × {cloth.size[1]}"
        )
    m = _mask_array(mask)
    if m.shape != (HEIGHT, WIDTH):
        raise InputError(f"the cloth mask must be {HEIGHT} × {WIDTH} (H × W), got shape {m.shape}")
    return to_tensor(cloth.convert("RGB")), mask_to_tensor(m)
