"""The annotations every method reads, as data: a body pose (COCO-18 keypoints with scores) and a parse map.

Convention: pixel coordinates of the image they belong to, x to the right and y down, origin at the top-left
pixel's corner as OpenPose writes them. A keypoint is *present* when x > 1 and y > 1 (the datasets' rule:
OpenPose writes a missing point as (0, 0, 0)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .labels import COCO18, LIP, LabelSet

__all__ = ["Pose", "Parsing"]


@dataclass(frozen=True)
class Pose:
    """18 COCO-18 keypoints of one person.

    Attributes:
        keypoints: ``(18, 2) float32`` pixel (x, y) in an image of ``size``; a missing point is (0, 0).
        scores: ``(18,) float32`` confidence in [0, 1]; 0 for a missing point.
        size: ``(width, height)`` of the image the coordinates refer to.
        people_found: how many people the estimator saw (1 for a supplied annotation).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    size: tuple[int, int]
    people_found: int = 1

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        sc = np.asarray(self.scores, dtype=np.float32)
        if kp.shape != (len(COCO18), 2):
            raise InputError(f"a pose needs {len(COCO18)} (x, y) keypoints, got an array of shape {kp.shape}")
        if sc.shape != (len(COCO18),):
            raise InputError(f"a pose needs {len(COCO18)} scores, got an array of shape {sc.shape}")
        if not (np.isfinite(kp).all() and np.isfinite(sc).all()):
            raise InputError("pose keypoints and scores must be finite numbers")
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "scores", sc)
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    @property
    def present(self) -> np.ndarray:
        """``(18,) bool``: x > 1 and y > 1."""
        return (self.keypoints[:, 0] > 1) & (self.keypoints[:, 1] > 1)

    def point(self, name: str) -> tuple[float, float] | None:
        """(x, y) of the keypoint called ``name``, or None when it is missing."""
        i = COCO18.index(name)
        return (float(self.keypoints[i, 0]), float(self.keypoints[i, 1])) if self.present[i] else None

    def transformed(self, scale: float, offset: tuple[float, float], size: tuple[int, int]) -> Pose:
        """The same pose in another frame: ``p' = scale · p + offset``; missing points stay missing."""
        kp = self.keypoints * float(scale) + np.asarray(offset, dtype=np.float32)
        kp = np.where(self.present[:, None], kp, 0.0)
        return Pose(kp, np.where(self.present, self.scores, 0.0), size, self.people_found)

    def as_openpose_triples(self) -> list[float]:
        """Flat ``[x0, y0, c0, x1, …]`` as OpenPose JSON stores them."""
        return [float(v) for row in np.concatenate([self.keypoints, self.scores[:, None]], 1) for v in row]


@dataclass(frozen=True)
class Parsing:
    """A human-parsing label map.

    Attributes:
        labels: ``(H, W) uint8`` label ids of ``label_set``.
        label_set: the label set (LIP by default).
    """

    labels: np.ndarray
    label_set: LabelSet = field(default=LIP)

    def __post_init__(self) -> None:
        lab = np.asarray(self.labels)
        if lab.ndim != 2:
            raise InputError(f"a parse map must be 2-D (H, W), got shape {lab.shape}")
        if lab.size and (lab.min() < 0 or lab.max() >= len(self.label_set)):
            raise InputError(
                f"a {self.label_set.name} parse map holds labels 0..{len(self.label_set) - 1}, "
                f"found values {int(lab.min())}..{int(lab.max())}"
            )
        object.__setattr__(self, "labels", lab.astype(np.uint8))

    @property
    def size(self) -> tuple[int, int]:
        return (self.labels.shape[1], self.labels.shape[0])

    def mask(self, *names: str) -> np.ndarray:
        """``(H, W) bool`` where the label is one of ``names``."""
        return self.label_set.mask(self.labels, *names)

    def colorize(self) -> np.ndarray:
        return self.label_set.colorize(self.labels)
