"""The clothing-agnostic person representation of CP-VTON and CP-VTON+, made as their dataset code makes it.

Papers: Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network" (CP-VTON, ECCV 2018),
code sergeywong/cp-vton@fbaf333b; Minar et al., "CP-VTON+: Clothing Shape and Texture Preserving Image-Based
Virtual Try-On" (CVPR Workshops 2020), code minar09/cp-vton-plus@5d7a8997. Both build the 22-channel network
input in ``CPDataset.__getitem__``; this module reproduces it value for value (checked against golden fixtures
written by running that code).

Convention: frame 256 × 192 (H × W), tensors ``(1, C, H, W) float32``, images in [-1, 1] = (x/255 − 0.5)/0.5,
masks in {0, 1}. Channel order of the representation: shape (1), head (3), pose map (18).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from PIL import Image

from vton.annotations import Parsing, Pose
from vton.encodings import body_shape, check_parsing, names_mask, person_tensor, pose_map
from vton.errors import InputError
from vton.images import mask_to_tensor
from vton.run import FRAME  # (W, H)

__all__ = ["HEAD_LABELS", "Variant", "Stage", "PersonRepresentation", "head_labels", "build_representation"]

Variant = Literal["original", "plus"]
Stage = Literal["gmm", "tom"]

# Parsing labels kept as "head" (identity to preserve), by method variant and network stage.
HEAD_LABELS: dict[tuple[str, str], tuple[str, ...]] = {
    ("original", "gmm"): ("hat", "hair", "sunglasses", "face"),
    ("original", "tom"): ("hat", "hair", "sunglasses", "face"),
    ("plus", "gmm"): ("hat", "sunglasses", "face"),
    ("plus", "tom"): ("hat", "hair", "sunglasses", "pants", "skirt", "face", "left_leg", "right_leg"),
}

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


def _check_variant_stage(variant: str, stage: str) -> None:
    if variant not in ("original", "plus"):
        raise InputError(f"variant must be 'original' (CP-VTON) or 'plus' (CP-VTON+), got {variant!r}")
    if stage not in ("gmm", "tom"):
        raise InputError(f"stage must be 'gmm' or 'tom', got {stage!r}")


def head_labels(variant: Variant, stage: Stage) -> tuple[str, ...]:
    """The parsing label names kept in the head channels for ``variant`` ("original"/"plus") and ``stage``."""
    _check_variant_stage(variant, stage)
    return HEAD_LABELS[(variant, stage)]


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
    im = person_tensor(person)
    check_parsing(parsing)
    if variant == "plus" and body_mask is not None:
        bm = np.asarray(body_mask)
        if bm.shape != (FRAME[1], FRAME[0]):
            raise InputError(f"the body mask must be {FRAME[1]} × {FRAME[0]} (H × W), got shape {bm.shape}")
        body = bm > 0
    else:
        body = parsing.labels > 0
    head_mask = mask_to_tensor(names_mask(parsing, HEAD_LABELS[(variant, stage)]))
    head = im * head_mask - (1 - head_mask)
    return PersonRepresentation(shape=body_shape(body), head=head, pose=pose_map(pose, FRAME[1], FRAME[0]))
