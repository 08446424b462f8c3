"""The person's outline for the training-free geometric try-on: the target region's contour, placed with the pose.

After VITON's shape-context TPS step (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018,
xthan/VITON@0370ca3, ``shape_context_warp.m``), which matched the garment's outline to the person's clothing region.
Our own formulation, not a port: arms in front of the garment are bridged, the collar and shoulders come from the
pose, the other landmarks as on the garment (:mod:`.landmarks`), and a sleeve hanging against the body is parted
from the torso along its arm (:mod:`.sleeves`) so that it is matched as a sleeve, not folded into the torso.

Convention: points are pixel-index ``(x, y)`` (x right, y down, pixel centres at integers); "left" and "right" in
landmark names are the image's sides (a person facing the camera has their right shoulder on the image's left).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ...annotations import Pose
from ...errors import InputError
from .landmarks import find_landmarks, nearest, top_in_column
from .outline import Contour, outline_contour
from .sleeves import arm_axis, sleeve_slit, thin_line

__all__ = ["person_contour"]


def person_contour(region: np.ndarray, pose: Pose, occluders: np.ndarray | None = None, *,
                   close_fraction: float = 0.03, bridge_fraction: float = 0.25) -> Contour:
    """The outline of the person's target region and its landmarks, placed with the pose.

    Occluder pixels (arms, hands in front of the garment) count as garment where they are sandwiched between garment
    pixels, vertically or horizontally, within ``bridge_fraction`` of the region's height, so a forearm across the
    torso does not cut the outline in two; then the shape is closed with a disc of ``close_fraction`` × its height.
    The collar is the outline point nearest the neck keypoint; the shoulders are the top of the shape above each
    shoulder keypoint (above a raised arm's, where that top is the sleeve: as deep below the top as the other one);
    hem corners, sleeve ends and armpits as for the garment (:func:`.landmarks.garment_contour`), with the neck's x
    as the centre line.

    Args:
        region: ``(H, W) bool`` the garment region (:func:`.outline.target_region`).
        pose: the person's pose (neck and both shoulders needed).
        occluders: ``(H, W) bool`` parts that may hide the garment (None: none).

    Raises:
        InputError: an empty region, a pose without neck or shoulders, or landmarks out of order.
    """
    what = "the person's garment region"
    if region.shape != (pose.size[1], pose.size[0]):
        raise InputError(f"the parse map is {region.shape[1]}×{region.shape[0]} but the pose is for a "
                         f"{pose.size[0]}×{pose.size[1]} image")
    if not region.any():
        raise InputError(f"{what} is empty: the parse has no upper clothes, coat or dress to replace")
    neck = _pose_point(pose, "neck")
    rs, ls = _pose_point(pose, "right_shoulder"), _pose_point(pose, "left_shoulder")
    right, left = (rs, ls) if rs[0] > ls[0] else (ls, rs)  # image sides
    shape = _closed_shape(region, occluders, close_fraction, bridge_fraction)
    parting = _Parting(what, neck, right, left, _raised(pose, right, left, rs))
    out = parting.contour(shape)
    # a sleeve hanging against the body merges with the torso: no concavity parts them. Where the pose shows that
    # arm, the shape is slit along the sleeve's inner edge (from the sleeve's end up to about the armpit) so the
    # sleeve becomes a sleeve of the outline and is mapped along the arm, not folded into the torso
    sleeves = None
    arm_of = {"right": "right" if rs[0] > ls[0] else "left", "left": "left" if rs[0] > ls[0] else "right"}
    for side, sign in (("right", 1.0), ("left", -1.0)):
        axis = arm_axis(pose, arm_of[side])
        slit = None if axis is None else sleeve_slit(region, axis, sign)
        if slit is None:
            continue
        top, outward = slit[1], slit[4]
        if f"armpit_{side}" in out.found and out.c[out.found[f"armpit_{side}"], 1] <= top[1] + 2 * top[2]:
            continue  # the outline has its armpit where the arm leaves the body: the sleeve stands out already
        if not outward:
            out = parting.hide(shape, sleeves, out, side, slit[3])
            continue
        parted = parting.part(shape, sleeves, side, axis, slit)
        if parted is not None:
            shape, sleeves, out = parted
    return out


def _pose_point(pose: Pose, name: str) -> np.ndarray:
    p = pose.point(name)
    if p is None:
        raise InputError(f"the pose has no {name.replace('_', ' ')}: the garment cannot be placed without the neck "
                         "and both shoulders")
    return np.asarray(p, np.float64) - 0.5  # corner origin → pixel-index coordinates


def _closed_shape(region: np.ndarray, occluders: np.ndarray | None, close_fraction: float,
                  bridge_fraction: float) -> np.ndarray:
    """``(H, W) bool``: the region with the occluder pixels sandwiched in it, closed (see :func:`person_contour`)."""
    rows = np.flatnonzero(region.any(1))
    height = rows[-1] - rows[0] + 1
    reg = region.astype(np.uint8)
    shape = region.copy()
    if occluders is not None and occluders.any():
        n = max(3, int(round(bridge_fraction * height)) | 1)
        vertical = cv2.morphologyEx(reg, cv2.MORPH_CLOSE, np.ones((n, 1), np.uint8)) > 0
        horizontal = cv2.morphologyEx(reg, cv2.MORPH_CLOSE, np.ones((1, n), np.uint8)) > 0
        shape |= occluders & (vertical | horizontal)
    r = max(1, int(round(close_fraction * height)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return (cv2.morphologyEx(shape.astype(np.uint8), cv2.MORPH_CLOSE, disc) > 0) | shape


def _raised(pose: Pose, right: np.ndarray, left: np.ndarray, rs: np.ndarray) -> dict[str, bool]:
    """Image side → whether its arm is raised above the shoulder (its sleeve stands over the shoulder)."""
    raised = {}
    for side, kp in (("right", right), ("left", left)):
        arm = "right" if kp is rs else "left"
        elbow = pose.point(f"{arm}_elbow")
        raised[side] = elbow is not None and elbow[1] - 0.5 < kp[1] - 0.5 * abs(elbow[0] - 0.5 - kp[0])
    return raised


@dataclass
class _Parting:
    """The person's outline while its sleeves are parted: the landmarks, given the sleeves found so far.

    Attributes:
        what: how messages name the region.
        neck: the neck keypoint (pixel-index x, y): the collar, and the centre line's x.
        right, left: the image-right and image-left shoulder keypoints.
        raised: image side → whether its arm is raised (:func:`_raised`).
        hidden: ``(H, W) bool`` sleeves hanging across the body (in front of the torso), or None.
        across: their sides: no sleeve or armpit landmark there.
        cuffs: side → the cuff of a sleeve parted along its arm.
    """

    what: str
    neck: np.ndarray
    right: np.ndarray
    left: np.ndarray
    raised: dict[str, bool]
    hidden: np.ndarray | None = None
    across: set[str] = field(default_factory=set)
    cuffs: dict[str, np.ndarray] = field(default_factory=dict)

    def contour(self, m: np.ndarray, sleeves: np.ndarray | None = None) -> Contour:
        """The outline of the shape ``m`` and its landmarks (``sleeves``: pixels known to be sleeve)."""
        what, right, left = self.what, self.right, self.left
        shoulders = [top_in_column(m, right[0], what), top_in_column(m, left[0], what)]
        if self.raised["right"] != self.raised["left"]:
            # the top above a raised arm's shoulder is its sleeve: the shoulder sits as deep below the top of the
            # shape as the other one does (the shoulders' own keypoints give their heights)
            i, o = (0, 1) if self.raised["right"] else (1, 0)
            kp, other = (right, left) if i == 0 else (left, right)
            shoulders[i] = np.array([kp[0], kp[1] - (other[1] - shoulders[o][1])])
        if self.hidden is not None:
            sleeves = self.hidden if sleeves is None else sleeves | self.hidden
        c, found = find_landmarks(outline_contour(m, what), m, float(self.neck[0]), self.neck, shoulders, what,
                                  sleeves)
        for side, cuff in self.cuffs.items():  # a sleeve parted earlier keeps its cuff (found down its arm)
            if f"sleeve_{side}" in found and f"armpit_{side}" in found:
                lo, hi = sorted((found[f"shoulder_{side}"], found[f"armpit_{side}"]))
                found[f"sleeve_{side}"] = lo + 1 + nearest(c[lo + 1:hi], cuff) if hi - lo > 1 else found[
                    f"sleeve_{side}"]
        return Contour(c, {k: v for k, v in found.items() if k.rsplit("_", 1)[-1] not in self.across
                           or k.startswith(("shoulder", "hem"))})

    def hide(self, shape: np.ndarray, sleeves: np.ndarray | None, out: Contour, side: str,
             polygon: np.ndarray) -> Contour:
        """The outline once the sleeve in ``polygon``, on an arm hanging across the body, is known to be hidden.

        Its sleeve lies in front of the torso, which the torso's warp covers (the garment's sleeve is cut at the
        region's edge); a concavity low on this side is the cuff's, not an armpit, and the hem corner is the
        torso's, not the cuff's (a sleeve ending above the hem would pull the garment's hem up at the side and bow
        its lines).
        """
        inward = np.zeros(shape.shape, np.uint8)
        cv2.fillPoly(inward, [np.round(polygon * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        self.hidden = inward > 0 if self.hidden is None else self.hidden | (inward > 0)
        self.across.add(side)
        try:
            return self.contour(shape, sleeves)
        except InputError:
            return Contour(out.c, {k: v for k, v in out.found.items() if k not in (f"sleeve_{side}", f"armpit_{side}")})

    def part(self, shape: np.ndarray, sleeves: np.ndarray | None, side: str, axis: np.ndarray,
             slit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]
             ) -> tuple[np.ndarray, np.ndarray, Contour] | None:
        """``(shape, sleeves, outline)`` with the sleeve on ``side`` slit from the torso along ``axis`` (the arm),
        or None where the slit does not make the sleeve stand out (see :func:`.sleeves.sleeve_slit`)."""
        line, top, end, polygon, _ = slit
        cut = shape & ~thin_line(line, shape.shape)
        sleeve = np.zeros(shape.shape, np.uint8)
        cv2.fillPoly(sleeve, [np.round(polygon * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
        sleeve = sleeve > 0 if sleeves is None else sleeves | (sleeve > 0)
        try:
            candidate = self.contour(cut, sleeve)
        except InputError:
            return None
        f = dict(candidate.found)
        if f"sleeve_{side}" not in f or f"armpit_{side}" not in f:
            return None
        # the sleeve's end is the cuff: the outline's farthest point down the arm (not the farthest from the centre
        # line, which on a hanging arm may be its shoulder)
        lo, hi = sorted((f[f"shoulder_{side}"], f[f"armpit_{side}"]))
        seg = np.arange(lo + 1, hi)
        u = (end - axis[0]) / max(float(np.hypot(*(end - axis[0]))), 1e-9)
        along = (candidate.c[seg] - axis[0]) @ u
        near = seg[along >= along.max() - 1.5]
        f[f"sleeve_{side}"] = int(near[len(near) // 2])
        # taken only where the new concavity is the slit's: the armpit near its top, the cuff near the sleeve's end
        if (np.hypot(*(candidate.c[f[f"armpit_{side}"]] - top[:2])) <= 2 * top[2] + 2
                and np.hypot(*(candidate.c[f[f"sleeve_{side}"]] - end)) <= 2 * top[2] + 2):
            self.cuffs[side] = candidate.c[f[f"sleeve_{side}"]]
            return cut, sleeve, Contour(candidate.c, f)
        return None
