"""What the preprocessing hands a method: the person side and the garment side (each cached on its own) and their
join, :class:`Preprocessed`, in the method card's frame (``MethodCard.frame``).

The two sides are frozen: a side kept in the runner's cache (``vton.preprocess.runner``) serves every later run of
the same inputs and frame, so no run may change it; a run that adds to a side (a body mask computed for a method
that needs one) makes a new side. The one mutable part is ``PersonSide.derived``: values methods derive from the
person (``Method.person_cached``: features, drawings), filled in once and shared by every run of that person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from .. import visualize as vis
from ..annotations import Parsing, Pose
from ..labels import COCO18
from ..run import FRAME, PREPROCESS_STAGES, Stage, StageSpec, Trace

__all__ = ["PersonSide", "GarmentSide", "Preprocessed"]


@dataclass(frozen=True)
class PersonSide:
    """The person photo framed, with its annotations in the frame (the cached person side).

    Attributes:
        photo: the photo as uploaded (upright RGB, its own size).
        framed: ``PIL`` RGB of the frame's size.
        transform: photo → frame mapping (``vton.preprocess.framing.FrameTransform``).
        pose: COCO-18 pose in frame pixels, or None.
        photo_pose: the pose in photo pixels, or None.
        parsing: LIP parse in the frame, or None.
        body: ``(H, W) bool`` person silhouette in the frame, or None (not needed yet).
        sources: per annotation, how it was obtained ("estimated", "supplied", "parsing"); and "framing".
        warnings: what was unusual but accepted in the person's annotations.
        derived: garment-independent values methods computed from this person (shared by every run of it).
    """

    photo: Image.Image
    framed: Image.Image
    transform: Any
    pose: Pose | None
    photo_pose: Pose | None
    parsing: Parsing | None
    body: np.ndarray | None
    sources: dict[str, str]
    warnings: tuple[str, ...] = ()
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class GarmentSide:
    """The garment photo framed on white, with its silhouette in the frame (the cached garment side).

    Attributes:
        garment: the garment photo as uploaded (RGB or RGBA).
        framed: ``PIL`` RGB of the frame's size, the garment on white.
        mask: ``(H, W) bool`` garment silhouette in the frame.
        sources: how the mask was obtained ("alpha", "background", "supplied").
        warnings: what was unusual but accepted in a supplied mask.
    """

    garment: Image.Image
    framed: Image.Image
    mask: np.ndarray
    sources: dict[str, str]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preprocessed:
    """Everything a method reads, in its card's frame (``MethodCard.frame``, W × H), and how it was obtained.

    Fields a method's card does not need are None (they were not computed).

    Attributes:
        photo: the person photo as uploaded (upright RGB, its own size).
        person: ``PIL`` RGB of the frame's size, the framed person.
        cloth: ``PIL`` RGB of the frame's size, the framed garment on white.
        pose: COCO-18 pose in frame pixels, or None.
        parsing: LIP parse in the frame, or None.
        cloth_mask: ``(H, W) bool`` garment silhouette in the frame.
        body_mask: ``(H, W) bool`` person silhouette, or None.
        transform: photo → frame mapping (``vton.preprocess.framing.FrameTransform``).
        sources: per annotation: "estimated", "supplied", "alpha", "background", "parsing"; and "framing".
        timings: seconds per preprocessing step (0 for a cached one).
        cached: the steps reused from an earlier run.
        photo_pose: the pose in photo pixels, or None.
        input_sha256: sha256 of each input as given (file bytes, or the pixels of an in-memory image).
        person_cache: garment-independent values methods derive from the person (features, drawings), kept with
            the cached person side (``Method.person_cached``).
        warnings: what was unusual but accepted, or given but not used (shown in the page, the CLI and
            ``result.json``); see ``vton.consistency``.
    """

    photo: Image.Image
    person: Image.Image
    cloth: Image.Image
    pose: Pose | None
    parsing: Parsing | None
    cloth_mask: np.ndarray
    body_mask: np.ndarray | None
    transform: Any
    sources: dict[str, str]
    timings: dict[str, float]
    cached: frozenset[str] = frozenset()
    photo_pose: Pose | None = None
    input_sha256: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    person_cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def keypoint_table(self) -> list[dict[str, Any]]:
        """One row per COCO-18 keypoint: name, x, y (frame pixels), score, present; empty without a pose."""
        if self.pose is None:
            return []
        present = self.pose.present
        return [
            {"name": name, "x": round(float(self.pose.keypoints[i, 0]), 2),
             "y": round(float(self.pose.keypoints[i, 1]), 2), "score": round(float(self.pose.scores[i]), 4),
             "present": bool(present[i])}
            for i, name in enumerate(COCO18)
        ]

    def record_stages(self, trace: Trace, specs: tuple[StageSpec, ...] = PREPROCESS_STAGES) -> None:
        """Record the preprocessing stages that were computed onto ``trace`` (``specs``: as the method shows them).

        Nothing is drawn here: each picture is drawn when first shown, the pose and parse drawings once per cached
        person (a garment swap shows the drawings of the first run).
        """
        trace.allow(specs)
        src = self.sources
        trace.record("person", lambda: np.asarray(self.person),
                     f"The photo scaled into the {self.person.size[0]} × {self.person.size[1]} frame "
                     f"({src.get('framing', 'framed')}).")
        if self.pose is not None:
            trace.record("pose", self._person_drawing("pose", lambda: vis.draw_pose(self.person, self.pose)),
                         f"OpenPose body keypoints ({src['pose']}); {int(self.pose.present.sum())} of 18 found.")
        if self.parsing is not None:
            trace.record("parsing", self._person_drawing("parsing", lambda: vis.parse_with_legend(self.parsing)),
                         f"SCHP LIP labels ({src['parsing']}), coloured, with the legend of labels present.")
        if self.body_mask is not None:
            trace.record("body_mask", lambda: vis.mask_image(self.body_mask),
                         f"The person's silhouette ({src['body_mask']}).")
        trace.record("cloth", lambda: np.asarray(self.cloth))
        trace.record("cloth_mask", lambda: vis.mask_image(self.cloth_mask),
                     f"Binary garment silhouette ({src['cloth_mask']}).")

    def _person_drawing(self, key: str, draw: Any) -> Any:
        """A function giving the drawing ``key`` of this person, drawn on first use and kept with the cached person
        side (read-only, so no result can change another's)."""
        drawn = self.person_cache.setdefault(("preprocess", "drawings"), {})

        def get() -> np.ndarray:
            if key not in drawn:
                image = np.asarray(draw())
                image.flags.writeable = False
                drawn[key] = image
            return drawn[key]

        return get

    def stages(self, specs: tuple[StageSpec, ...] = PREPROCESS_STAGES) -> list[Stage]:
        """The preprocessing stages alone (for ``preprocess``)."""
        trace = Trace(None, 0)
        trace.timings.update(self.timings)
        trace.cached_steps.update(self.cached)
        self.record_stages(trace, specs)
        return trace.stages(specs)

    @property
    def has_dataset_layout(self) -> bool:
        """Whether this preprocessing fits the CP-VTON / VITON dataset layout (``vton.result.dataset_zip``): it holds a
        pose and a parse map at that dataset's frame (a method with another frame, e.g. 1024 × 768, has none)."""
        return self.pose is not None and self.parsing is not None and tuple(self.person.size) == tuple(FRAME)
