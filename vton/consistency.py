"""Do the annotations belong to the photos? Invariants between a supplied annotation and what it annotates.

Each reader (``vton.formats``) checks that a file is a well-formed annotation; this module checks that it can be
the annotation *of these photos*, so that a mask, pose or parse of another image, inverted, mirrored or made of
noise is refused instead of running to a plausible-looking wrong try-on:

* garment mask vs garment photo: neither (nearly) the whole image nor disagreeing with the garment the photo
  shows (intersection over union with the garment separated from the photo's background, ``MIN_MASK_IOU``);
  an inverted mask is named as such;
* parse map statistics: one label over ``MAX_SINGLE_LABEL`` of the image (all upper clothes), labels that change
  at more than ``MAX_LABEL_CHANGES`` of the pixels (noise), no body at all;
* pose confidences in [0, ``MAX_SCORE``], and not all 0 where coordinates are given (a point of confidence 0 is
  absent, ``Pose.present``, so such a pose has no points);
* pose vs parse: most present keypoints on the body (``MIN_ON_BODY``), the face's keypoints on the head's labels,
  and arms and legs on the parse's side of the same name (a mirrored pose puts its right wrist on the left arm);
* body mask vs parse: neither (nearly) empty nor the whole image, and overlapping the parse's person
  (``MIN_BODY_IOU``).

A check of a supplied annotation against an *estimated* one (the pose or parse vton computed) gives a warning,
not a refusal: the estimate may be the one that is wrong. Every function returns the warnings it found (strings
for the page, the CLI and ``result.json``) and raises ``InputError`` for what cannot belong.
"""

from __future__ import annotations

import numpy as np

from .annotations import Parsing, Pose
from .errors import InputError
from .labels import COCO18

__all__ = [
    "MAX_MASK_FRACTION", "MIN_MASK_IOU", "WARN_MASK_IOU", "MAX_SINGLE_LABEL", "MAX_LABEL_CHANGES", "MIN_BODY_FRACTION",
    "MAX_SCORE", "MIN_ON_BODY", "MIN_BODY_IOU", "WARN_BODY_IOU",
    "check_garment_mask", "check_parsing", "check_pose_scores", "check_pose_on_parsing", "check_body_mask",
]

MAX_MASK_FRACTION = 0.97  # a garment or body mask covering more leaves no background: it is the whole image
MIN_MASK_IOU = 0.3  # garment mask vs the garment separated from the photo: below, it is another garment's or a shape
INVERTED_IOU = 0.6  # a mask whose background overlaps the photo's garment this much is inverted
WARN_MASK_IOU = 0.8  # below (and above MIN_MASK_IOU) the mask is used with a warning; masks of the photo score > 0.95
MAX_SINGLE_LABEL = 0.9  # one non-background label over this share of a parse map: not a person's parse
MAX_LABEL_CHANGES = 0.25  # share of pixels whose right or lower neighbour has another label; real parses < 0.05
MIN_BODY_FRACTION = 0.01  # a parse whose labels other than background cover less shows no person
MAX_SCORE = 1.5  # OpenPose confidences are heat-map peaks in [0, 1] (a peak may overshoot 1 a little)
MIN_ON_BODY = 0.6  # share of present keypoints that must lie on (or within a few pixels of) the parse's body
MIN_BODY_IOU = 0.5  # body mask vs the parse's person; another person's silhouette overlaps far less
WARN_BODY_IOU = 0.75
_HEAD_POINTS = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")
_HEAD_LABELS = ("face", "hair", "hat", "sunglasses")
_SIDED = {"left_arm": "right_arm", "left_leg": "right_leg", "left_shoe": "right_shoe"}
_LIMB_POINTS = ("elbow", "wrist", "knee", "ankle")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 1.0


def _coverage_checks(mask: np.ndarray, what: str, fix: str) -> None:
    share = float(mask.mean()) if mask.size else 0.0
    if share > MAX_MASK_FRACTION:
        raise InputError(f"the {what} covers {100 * share:.1f} % of the image (more than {100 * MAX_MASK_FRACTION:g} "
                         f"%, MAX_MASK_FRACTION): it marks the whole image (a uniform light or grey mask, or an "
                         f"inverted one), not the outline it should hold; {fix}")


def check_garment_mask(mask: np.ndarray, photo_mask: np.ndarray | None, *, estimated_from: str = "") -> list[str]:
    """A supplied garment mask against the garment photo.

    Args:
        mask: ``(H, W) bool`` the supplied mask, at the photo's size (already refused when nearly empty).
        photo_mask: ``(H, W) bool`` the garment separated from the photo's background or alpha, or None when the
            photo shows no separable garment (only the coverage is checked then).
        estimated_from: how ``photo_mask`` was found (for messages).

    Returns:
        Warnings (a mask that agrees only partly with the photo).

    Raises:
        InputError: the whole image, inverted, or another shape than the photo's garment.
    """
    fix = "give the mask of this garment photo (white = garment), or leave it out to have it computed"
    _coverage_checks(mask, "garment mask", fix)
    if photo_mask is None or photo_mask.shape != mask.shape:
        return []
    iou, inverse = _iou(mask, photo_mask), _iou(~mask, photo_mask)
    seen = f"the garment seen in the photo ({estimated_from or 'separated from its background'})"
    if iou < MIN_MASK_IOU:
        if inverse > INVERTED_IOU:
            raise InputError(f"the garment mask is inverted: its background matches {seen} (overlap {inverse:.2f}) "
                             f"and its garment does not (overlap {iou:.2f}); white must mark the garment and black "
                             "the background. Invert it, or leave it out to have it computed")
        raise InputError(f"the garment mask does not outline the garment in the garment photo: it overlaps {seen} "
                         f"by {iou:.2f} (intersection over union; at least {MIN_MASK_IOU:g} is needed, MIN_MASK_IOU); "
                         f"it belongs to another garment or is a made-up shape; {fix}")
    if iou < WARN_MASK_IOU:
        return [f"the garment mask agrees only partly with {seen} (overlap {iou:.2f}); it was used as given"]
    return []


def check_parsing(parsing: Parsing, what: str = "parse map") -> list[str]:
    """Label statistics a person's parse map has (see the module docstring); no warnings so far.

    Raises:
        InputError: one label everywhere, noise, or no person.
    """
    lab = parsing.labels
    if lab.size == 0:
        return []
    counts = np.bincount(lab.reshape(-1), minlength=len(parsing.label_set)) / lab.size
    body = 1.0 - counts[0]
    if body < MIN_BODY_FRACTION:
        raise InputError(f"the {what} labels {100 * body:.2f} % of the image as a person (less than "
                         f"{100 * MIN_BODY_FRACTION:g} %): it shows nobody. Give the parse of this photo, or leave it "
                         "out to have it estimated")
    top = int(np.argmax(counts[1:])) + 1
    if counts[top] > MAX_SINGLE_LABEL:
        raise InputError(f"the {what} is {parsing.label_set.names[top]!r} at {100 * counts[top]:.1f} % of its pixels "
                         f"(more than {100 * MAX_SINGLE_LABEL:g} %, MAX_SINGLE_LABEL): a person's parse has background "
                         "and several body parts. Give the parse of this photo, or leave it out to have it estimated")
    changes = (lab[:, 1:] != lab[:, :-1])[:-1] | (lab[1:, :] != lab[:-1, :])[:, :-1]
    share = float(changes.mean()) if changes.size else 0.0
    if share > MAX_LABEL_CHANGES:
        raise InputError(f"the {what}'s labels change at {100 * share:.0f} % of its pixels (more than "
                         f"{100 * MAX_LABEL_CHANGES:g} %, MAX_LABEL_CHANGES; a parse map has regions, changing at a "
                         "few %): it is noise, not a parse. Give the parse of this photo, or leave it out")
    return []


def check_pose_scores(pose: Pose, what: str = "pose") -> list[str]:
    """Confidences in [0, ``MAX_SCORE``], not all 0 where coordinates are given; no warnings so far.

    Raises:
        InputError: a confidence below 0 or above ``MAX_SCORE``, or every confidence 0.
    """
    sc = pose.scores
    bad = np.nonzero((sc < 0) | (sc > MAX_SCORE))[0]
    if bad.size:
        i = int(bad[0])
        raise InputError(f"the {what} has confidence {float(sc[i]):g} for {COCO18[i]} ({bad.size} of {sc.size} out of "
                         f"range); OpenPose confidences are in [0, 1] (up to {MAX_SCORE:g} accepted, MAX_SCORE). It is "
                         "not an OpenPose file of this photo, or its values are in the wrong order (x, y, confidence)")
    placed = (pose.keypoints[:, 0] > 1) & (pose.keypoints[:, 1] > 1)
    if placed.any() and not sc[placed].any():
        raise InputError(f"the {what} gives {int(placed.sum())} keypoints coordinates but every confidence as 0; a "
                         "point of confidence 0 is absent, so it has no points. It is not an OpenPose file of this "
                         "photo, or its confidences were lost")
    return []


def _window(labels: np.ndarray, x: float, y: float, r: int) -> np.ndarray:
    h, w = labels.shape
    xi, yi = min(max(int(x), 0), w - 1), min(max(int(y), 0), h - 1)
    return labels[max(yi - r, 0) : yi + r + 1, max(xi - r, 0) : xi + r + 1]


def check_pose_on_parsing(pose: Pose, parsing: Parsing, *, refuse: bool = True,
                          what: str = "pose and parse map") -> list[str]:
    """A pose and a parse of the same photo (same size): keypoints on the body, sides not swapped.

    Args:
        pose, parsing: in the same pixels.
        refuse: raise on a disagreement (both supplied); False: return it as a warning (one was estimated).

    Raises:
        InputError: (``refuse``) most keypoints on the background, or arms and legs on the other side's labels.
    """
    lab, ls = parsing.labels, parsing.label_set
    if tuple(pose.size) != parsing.size or not pose.present.any():
        return []
    r = max(2, round(0.02 * max(parsing.size)))
    idx = np.nonzero(pose.present)[0]
    off = [COCO18[i] for i in idx if not (_window(lab, *pose.keypoints[i], r) > 0).any()]
    problem = ""
    if len(idx) - len(off) < MIN_ON_BODY * len(idx):
        problem = (f"{len(off)} of {len(idx)} keypoints of the pose lie on the parse map's background "
                   f"({', '.join(off[:6])}{' …' if len(off) > 6 else ''}); at most {100 * (1 - MIN_ON_BODY):g} % may "
                   "(MIN_ON_BODY): they are not the same person in the same photo")
    head = [i for i in idx if COCO18[i] in _HEAD_POINTS]
    head_ids = ls.ids(*(n for n in _HEAD_LABELS if n in ls.names))
    off_head = [COCO18[i] for i in head if not np.isin(_window(lab, *pose.keypoints[i], r), head_ids).any()]
    if not problem and len(head) >= 2 and len(off_head) > len(head) / 2:
        problem = (f"{len(off_head)} of {len(head)} face keypoints of the pose ({', '.join(off_head)}) are not on the "
                   "parse map's head (face, hair, hat): the pose belongs to another person or place")
    if not problem:
        same = opposite = 0
        for i in idx:
            name = COCO18[i]
            if not name.endswith(_LIMB_POINTS):
                continue
            side = "right" if name.startswith("right") else "left"
            found = {ls.names[v] for v in np.unique(_window(lab, *pose.keypoints[i], r))}
            for left, right in _SIDED.items():
                mine, other = (right, left) if side == "right" else (left, right)
                same += mine in found and other not in found
                opposite += other in found and mine not in found
        if opposite >= 3 and opposite >= 3 * max(same, 1):
            problem = (f"{opposite} arm and leg keypoints of the pose lie on the parse map's other side ({same} on "
                       "their own): the pose is mirrored, or its left and right are swapped")
    if not problem:
        return []
    if refuse:
        raise InputError(f"the {what} do not belong together: {problem}. Give the pose and parse of this photo, or "
                         "leave one out to have it estimated")
    return [f"the {what} disagree (one of them was estimated): {problem}; both were used"]


def check_body_mask(mask: np.ndarray, parsing: Parsing | None, *, refuse: bool = True) -> list[str]:
    """A supplied body mask (in the frame) against the parse's person (in the frame).

    Raises:
        InputError: (nearly) empty, the whole image, or (``refuse``) another person's silhouette.
    """
    fix = "give the body mask of this photo (non-zero = person), or leave it out to have it made from the parse"
    share = float(mask.mean()) if mask.size else 0.0
    if share < MIN_BODY_FRACTION:
        raise InputError(f"the body mask covers {100 * share:.2f} % of the person's frame (less than "
                         f"{100 * MIN_BODY_FRACTION:g} %): it is empty; {fix}")
    _coverage_checks(mask, "body mask", fix)
    if parsing is None or parsing.labels.shape != mask.shape:
        return []
    iou = _iou(mask, parsing.labels > 0)
    if iou < MIN_BODY_IOU and refuse:
        raise InputError(f"the body mask overlaps the person of the parse map by {iou:.2f} (intersection over union; "
                         f"at least {MIN_BODY_IOU:g} is needed, MIN_BODY_IOU): it is another person's silhouette; "
                         f"{fix}")
    if iou < WARN_BODY_IOU:
        return [f"the body mask agrees only partly with the parse map's person (overlap {iou:.2f}); it was used as "
                "given"]
    return []
