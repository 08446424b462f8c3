"""Encodings the try-on networks share: the pose map, the blurred body shape, the person and garment tensors.

They are made as CP-VTON's dataset code makes them (Wang et al., "Toward Characteristic-Preserving Image-based
Virtual Try-On Network", ECCV 2018, sergeywong/cp-vton, ``CPDataset.__getitem__``), which CP-VTON+, ACGPN and
others reuse; checked value for value against golden fixtures written by running that code.

Convention: frame 256 × 192 (H × W), tensors ``(1, C, H, W) float32``, images in [-1, 1] = (x/255 − 0.5)/0.5,
masks in {0, 1}.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from .annotations import Parsing, Pose
from .errors import InputError
from .formats import mask_array
from .images import mask_to_tensor, to_tensor
from .run import FRAME  # (W, H)

__all__ = [
    "POSE_RADIUS", "CLOTH_LABELS", "pose_map", "body_shape", "cloth_tensors", "worn_cloth",
    "person_tensor", "check_parsing", "names_mask",
]

POSE_RADIUS = 5
SHAPE_DOWNSAMPLE = 16  # the body mask is blurred by a bilinear trip through (W/16) × (H/16)

# Parsing labels of the garment worn in the photo (the GMM's training target ``parse_cloth``).
CLOTH_LABELS: tuple[str, ...] = ("upper_clothes", "dress", "coat")


def _gray_to_tensor(img: Image.Image) -> torch.Tensor:
    """An 8-bit grayscale image → ``(1, 1, H, W) float32`` in [-1, 1] (ToTensor then Normalize(0.5, 0.5))."""
    arr = np.asarray(img, dtype=np.float32)
    return torch.from_numpy((arr / 255.0 - 0.5) / 0.5)[None, None].contiguous()


def pose_map(pose: Pose, height: int = FRAME[1], width: int = FRAME[0], radius: int = POSE_RADIUS) -> torch.Tensor:
    """The 18-channel pose map of the CP-VTON dataset code.

    Each present keypoint (x > 1, y > 1, score > 0) becomes a filled square drawn with PIL
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


def person_tensor(person: Image.Image | np.ndarray) -> torch.Tensor:
    if isinstance(person, Image.Image):
        if person.size != FRAME:
            raise InputError(
                f"the person photo must be {FRAME[0]} × {FRAME[1]} (W × H), got {person.size[0]} × {person.size[1]}; "
                "frame it first"
            )
        return to_tensor(person.convert("RGB"))
    arr = np.asarray(person)
    if arr.shape != (FRAME[1], FRAME[0], 3):
        raise InputError(f"the person photo array must be ({FRAME[1]}, {FRAME[0]}, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise InputError(f"the person photo array must be uint8, got {arr.dtype}")
    return to_tensor(arr)


def check_parsing(parsing: Parsing) -> None:
    if parsing.labels.shape != (FRAME[1], FRAME[0]):
        raise InputError(
            f"the parse map must be {FRAME[1]} × {FRAME[0]} (H × W) like the person photo, "
            f"got {parsing.labels.shape[0]} × {parsing.labels.shape[1]}"
        )


def names_mask(parsing: Parsing, names: tuple[str, ...]) -> np.ndarray:
    try:
        return parsing.mask(*names)
    except KeyError as e:
        raise InputError(f"the parse map's label set cannot express this: {e.args[0]}") from None


def worn_cloth(person: Image.Image | np.ndarray, parsing: Parsing) -> tuple[torch.Tensor, torch.Tensor]:
    """The garment worn in the photo, the GMM's training target (``parse_cloth`` of the dataset code).

    Returns:
        ``(image (1, 3, H, W) in [-1, 1], mask (1, 1, H, W) in {0, 1})``: the photo where the parse is
        upper-clothes, dress or coat, +1 (white) elsewhere, and that region's mask.
    """
    im = person_tensor(person)
    check_parsing(parsing)
    m = mask_to_tensor(names_mask(parsing, CLOTH_LABELS))
    return im * m + (1 - m), m


def cloth_tensors(cloth: Image.Image, mask: np.ndarray | Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
    """The in-shop garment and its mask as the dataset code feeds them (the cloth is *not* multiplied by the mask).

    Args:
        cloth: the 192 × 256 (W × H) garment photo.
        mask: its ``(256, 192)`` mask (see ``vton.formats.mask_array`` for the accepted forms; grey levels are
            thresholded at 128 like CP-VTON's ``cloth-mask`` files).

    Returns:
        ``(cloth (1, 3, H, W) in [-1, 1], mask (1, 1, H, W) in {0, 1})``.
    """
    if not isinstance(cloth, Image.Image):
        raise InputError(f"the garment photo must be a PIL image, got {type(cloth).__name__}")
    if cloth.size != FRAME:
        raise InputError(
            f"the garment photo must be {FRAME[0]} × {FRAME[1]} (W × H), got {cloth.size[0]} × {cloth.size[1]}"
        )
    m = mask_array(mask, "cloth mask")
    if m.shape != (FRAME[1], FRAME[0]):
        raise InputError(f"the cloth mask must be {FRAME[1]} × {FRAME[0]} (H × W), got shape {m.shape}")
    return to_tensor(cloth.convert("RGB")), mask_to_tensor(m)
