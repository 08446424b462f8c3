"""Label sets by name: COCO-18 keypoints (OpenPose), LIP-20 and ATR-18 human parsing, and their palette.

Facts from OpenPose (CMU-Perceptual-Computing-Lab/openpose), LIP (Gong et al., "Look into Person", CVPR 2017)
and SCHP (GoGoDuck912/Self-Correction-Human-Parsing). Code names labels, never numbers:
``LIP.mask(parse, "hat", "hair", "sunglasses", "face")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["COCO18", "COCO18_LIMBS", "LabelSet", "LIP", "ATR", "palette"]

COCO18: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

# Skeleton edges (pairs of COCO-18 names) drawn for display.
COCO18_LIMBS: tuple[tuple[str, str], ...] = (
    ("neck", "right_shoulder"), ("neck", "left_shoulder"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"),
    ("nose", "left_eye"), ("left_eye", "left_ear"),
)


def palette(n: int = 256) -> np.ndarray:
    """Pascal-VOC bit-interleave palette: ``(n, 3) uint8``; label j's bits spread into the top bits of R, G, B."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for j in range(n):
        lab, r, g, b = j, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (lab & 1) << shift
            g |= ((lab >> 1) & 1) << shift
            b |= ((lab >> 2) & 1) << shift
            lab >>= 3
        out[j] = (r, g, b)
    return out


@dataclass(frozen=True)
class LabelSet:
    """A parsing label set: ``names[i]`` is label ``i``."""

    name: str
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def id(self, name: str) -> int:
        """The integer label of ``name``; ``KeyError`` naming the valid names otherwise."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"{self.name} has no label {name!r}; labels: {', '.join(self.names)}") from None

    def ids(self, *names: str) -> list[int]:
        return [self.id(n) for n in names]

    def mask(self, parse, *names: str):
        """Boolean mask of ``parse`` (numpy array or torch tensor of label ids) where the label is one of ``names``."""
        ids = self.ids(*names)
        if isinstance(parse, np.ndarray):
            return np.isin(parse, ids)
        import torch

        return torch.isin(parse, torch.tensor(ids, device=parse.device, dtype=parse.dtype))

    def colors(self) -> np.ndarray:
        """``(len, 3) uint8`` display colours (Pascal-VOC palette)."""
        return palette(len(self.names))

    def colorize(self, parse: np.ndarray) -> np.ndarray:
        """``(H, W) int`` label map → ``(H, W, 3) uint8`` RGB image."""
        parse = np.asarray(parse)
        if parse.size and (parse.min() < 0 or parse.max() >= len(self.names)):
            raise ValueError(f"{self.name} label map has values outside 0..{len(self.names) - 1}")
        return self.colors()[parse.astype(np.int64)]


LIP = LabelSet(
    "LIP",
    (
        "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat", "socks", "pants",
        "jumpsuits", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe",
        "right_shoe",
    ),
)

ATR = LabelSet(
    "ATR",
    (
        "background", "hat", "hair", "sunglasses", "upper_clothes", "skirt", "pants", "dress", "belt", "left_shoe",
        "right_shoe", "face", "left_leg", "right_leg", "left_arm", "right_arm", "bag", "scarf",
    ),
)
