"""The annotations every method reads, as data: a body pose (COCO-18 keypoints with scores) and a parse map.

Convention: pixel coordinates of the image they belong to, x to the right and y down, origin at the top-left
pixel's corner as OpenPose writes them. A keypoint is *present* when x > 1 and y > 1 (the datasets' rule:
OpenPose writes a missing point as (0, 0, 0)) and its score is above 0 (a point given score 0 is absent everywhere).

A pose read from a file may belong to another photo (another size, another scale) or hold too few points for a
method: ``check_pose`` (also ``Pose.check_fits``) refuses keypoints outside the photo beyond ``POSE_TOLERANCE``
and poses with fewer present points than a method needs, naming the counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .labels import COCO18, LIP, LabelSet

__all__ = ["POSE_TOLERANCE", "Pose", "Parsing", "check_pose"]

POSE_TOLERANCE = 0.02  # how far (a fraction of the photo's longer side, plus 2 px) a keypoint may lie outside it


def _size_pair(size: object, what: str) -> tuple[int, int]:
    """``(width, height)`` as two positive ints, or an ``InputError``."""
    try:
        w, h = size  # type: ignore[misc]
        ok = all(isinstance(v, (int, np.integer)) or (isinstance(v, float) and v.is_integer()) for v in (w, h))
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(w, bool) or isinstance(h, bool) or int(w) < 1 or int(h) < 1:
        raise InputError(f"the {what} must be a (width, height) pair of positive whole numbers, got {size!r}")
    return int(w), int(h)


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
        try:
            with np.errstate(over="ignore"):  # a too large number becomes infinity, refused below
                kp = np.asarray(self.keypoints, dtype=np.float32)
                sc = np.asarray(self.scores, dtype=np.float32)
        except (TypeError, ValueError, OverflowError, RecursionError) as e:
            reason = str(e) if len(str(e)) < 200 else type(e).__name__
            raise InputError(f"pose keypoints and scores must be arrays of numbers ({reason})") from None
        if kp.shape != (len(COCO18), 2):
            raise InputError(f"a pose needs {len(COCO18)} (x, y) keypoints, got an array of shape {kp.shape}")
        if sc.shape != (len(COCO18),):
            raise InputError(f"a pose needs {len(COCO18)} scores, got an array of shape {sc.shape}")
        if not (np.isfinite(kp).all() and np.isfinite(sc).all()):
            raise InputError("pose keypoints and scores must be finite numbers (no NaN, infinity or huge values)")
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "scores", sc)
        object.__setattr__(self, "size", _size_pair(self.size, "pose's image size"))

    @property
    def present(self) -> np.ndarray:
        """``(18,) bool``: x > 1, y > 1 and a score above 0 (a point given score 0 is absent everywhere: drawings,
        tables, the representation and matching)."""
        return (self.keypoints[:, 0] > 1) & (self.keypoints[:, 1] > 1) & (self.scores > 0)

    def point(self, name: str) -> tuple[float, float] | None:
        """(x, y) of the keypoint called ``name``, or None when it is missing."""
        i = COCO18.index(name)
        return (float(self.keypoints[i, 0]), float(self.keypoints[i, 1])) if self.present[i] else None

    def transformed(self, scale: float, offset: tuple[float, float], size: tuple[int, int]) -> Pose:
        """The same pose in another frame: ``p' = scale · p + offset``; missing points stay missing."""
        kp = self.keypoints * float(scale) + np.asarray(offset, dtype=np.float32)
        kp = np.where(self.present[:, None], kp, 0.0)
        return Pose(kp, np.where(self.present, self.scores, 0.0), size, self.people_found)

    def check_fits(self, size: tuple[int, int], min_points: int = 0, required: Sequence[str] = (),
                   what: str = "pose") -> Pose:
        """This pose, checked against a photo of ``size`` and a method's needs; see ``check_pose``."""
        return check_pose(self, size, min_points=min_points, required=required, what=what)

    def as_openpose_triples(self) -> list[float]:
        """Flat ``[x0, y0, c0, x1, …]`` as OpenPose JSON stores them."""
        return [float(v) for row in np.concatenate([self.keypoints, self.scores[:, None]], 1) for v in row]


def _names(indices: np.ndarray) -> str:
    return ", ".join(COCO18[i] for i in indices) or "none"


def check_pose(pose: Pose, photo_size: tuple[int, int], *, min_points: int = 0, required: Sequence[str] = (),
               what: str = "pose") -> Pose:
    """Refuse a pose that does not belong to the photo, or that has too few points for a method.

    A keypoint given with coordinates other than (0, 0) must lie inside the photo, up to ``POSE_TOLERANCE`` ×
    the longer side + 2 pixels; a pose of another size, scaled, or in the coordinates of a larger photo is
    refused. Then at least ``min_points`` keypoints must be present (x > 1, y > 1, score > 0), including every name in
    ``required``.

    Args:
        pose: the pose, in the photo's pixels.
        photo_size: the photo's ``(width, height)``.
        min_points: the fewest present keypoints the method works with.
        required: COCO-18 names the method cannot do without (e.g. ``("neck", "right_shoulder",
            "left_shoulder")``).
        what: how messages name the pose.

    Returns:
        ``pose`` unchanged.

    Raises:
        InputError: another image size, points outside the photo, too few points or a required point missing;
            the message names the counts and the points.
        ValueError: ``required`` names a point that is not a COCO-18 keypoint (a programming error).
    """
    unknown = [n for n in required if n not in COCO18]
    if unknown:
        raise ValueError(f"not COCO-18 keypoint names: {unknown}")
    if not isinstance(pose, Pose):
        raise InputError(f"the {what} must be a vton Pose or an OpenPose JSON file, got {type(pose).__name__}")
    w, h = _size_pair(photo_size, "photo size")
    if tuple(pose.size) != (w, h):
        raise InputError(
            f"the {what} is for a {pose.size[0]} × {pose.size[1]} image, but the photo is {w} × {h}; give the "
            "pose of this photo, in its pixels (or leave it out to have it estimated)"
        )
    kp = pose.keypoints.astype(np.float64)
    tol = POSE_TOLERANCE * max(w, h) + 2.0
    given = (kp != 0).any(1)
    outside = given & ((kp[:, 0] < -tol) | (kp[:, 1] < -tol) | (kp[:, 0] > w + tol) | (kp[:, 1] > h + tol))
    if outside.any():
        idx = np.nonzero(outside)[0]
        examples = ", ".join(f"{COCO18[i]} at ({kp[i, 0]:.0f}, {kp[i, 1]:.0f})" for i in idx[:3])
        raise InputError(
            f"the {what} has {len(idx)} of {int(given.sum())} given keypoints outside the {w} × {h} photo "
            f"({examples}); it belongs to another photo or another image size. Give the pose of this photo, in "
            "its pixels, or leave it out to have it estimated"
        )
    present = pose.present
    missing = [n for n in required if not present[COCO18.index(n)]]
    if int(present.sum()) < min_points or missing:
        need = f"at least {min_points}" + (f", including {', '.join(required)}" if required else "")
        lacking = f" ({', '.join(missing)} missing)" if missing else ""
        raise InputError(
            f"the {what} has {int(present.sum())} of {len(COCO18)} keypoints present "
            f"({_names(np.nonzero(present)[0])}); this method needs {need}{lacking}. Use a photo where the "
            "person's head, shoulders and hips are visible, or give a complete pose"
        )
    return pose


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
        if lab.dtype.kind == "f":
            if not np.isfinite(lab).all() or (lab != np.round(lab)).any():
                raise InputError("a parse map holds whole-number labels; this float array has fractions, NaN or "
                                 "infinity")
        elif lab.dtype.kind not in "uib":
            raise InputError(f"a parse map must be an integer array of labels, got dtype {lab.dtype}")
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
