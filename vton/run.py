"""The vocabulary of a try-on run, below everything that runs one: frames, needs, steps, stages, the trace.

Every other layer reads these definitions instead of keeping its own copy: the method cards (:mod:`vton.methods`)
declare their steps and stages with :class:`StepSpec` / :class:`StageSpec`; the preprocessing runner
(:mod:`vton.preprocess.runner`) computes the :data:`NEEDS` a card names, each with its estimator, its timed step,
its stage and the name of the annotation that replaces it; the pipeline, the CLI and the page show the
:class:`Stage` values a :class:`Trace` collects. A stage's picture is drawn lazily: only when something asks for it
(a file written, a gallery shown), so a run whose stages nobody looks at spends no time drawing them.

This module imports nothing of vton (floor 0 of the layering): every layer above may read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

__all__ = [
    "FRAME", "Progress", "Section", "SECTIONS", "StepSpec", "StageSpec", "TRYON_STAGE", "PASTED_STAGE", "Need",
    "NEEDS", "PERSON_STAGE", "CLOTH_STAGE", "PREPROCESS_STAGES", "preprocess_steps", "Stage", "Trace",
]

# (W, H) of the VITON / CP-VTON datasets (the authors' code does not resize): the default frame of a method card,
# of the dataset layout (``vton.datasets``), of the synthetic figures and of the CP-VTON encodings. A method with
# another frame declares it on its card (``MethodCard.frame``); the runner frames for the card.
FRAME: tuple[int, int] = (192, 256)

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: called before and after each timed step of a run."""


@dataclass(frozen=True)
class Section:
    """A row of the stage display. The ids are shared by every method so rows of different methods align."""

    id: str
    title: str


# The shared sections, in display order; a card's stages each name one of them.
SECTIONS: tuple[Section, ...] = (
    Section("inputs", "Inputs & preprocessing"),
    Section("representation", "Person representation"),
    Section("warp", "Garment warp"),
    Section("rendering", "Rendering"),
    Section("composition", "Composition & result"),
)


@dataclass(frozen=True)
class StepSpec:
    """A timed step of a method's run (progress reports them in order)."""

    key: str
    label: str


@dataclass(frozen=True)
class StageSpec:
    """A stage a method shows: ``step`` is the timed step whose time it shows (several stages may share one)."""

    key: str
    title: str
    caption: str
    section: str
    step: str


TRYON_STAGE = StageSpec("tryon", "Try-on (frame)", "The method's output in its frame.", "composition",
                        "composition")
PASTED_STAGE = StageSpec("pasted", "Try-on in the photo",
                         "The try-on pasted back into the photo at its own resolution, only where the method "
                         "changed the person (feathered edge).", "composition", "paste_back")


@dataclass(frozen=True)
class Need:
    """Something a method may need from the preprocessing, in its frame (a card's ``needs`` name these).

    Attributes:
        key: the need's id (``MethodCard.needs``).
        description: what it is and where it comes from.
        annotation: the name of the annotation a user may supply instead ("parse map"), for messages.
        step: the timed preprocessing step that computes it.
        stage: the stage that shows it.
        side: ``"person"`` or ``"garment"``: the cached side it belongs to.
        estimator: manifest key of the network that estimates it when it is not supplied, or None.
        estimator_title: that estimator's name in words ("OpenPose body").
        supply: the annotation that avoids running the estimator, in words ("a pose JSON (OpenPose COCO-18)").
    """

    key: str
    description: str
    annotation: str
    step: str
    stage: StageSpec
    side: str
    estimator: str | None = None
    estimator_title: str = ""
    supply: str = ""


PERSON_STAGE = StageSpec("person", "Person (framed)", "The photo scaled and centred into the frame the networks read.",
                         "inputs", "framing")
CLOTH_STAGE = StageSpec("cloth", "Garment (framed)", "The garment photo fitted into the frame on white.", "inputs",
                        "cloth_framing")

NEEDS: Mapping[str, Need] = {n.key: n for n in (
    Need("pose", "COCO-18 body keypoints (OpenPose, or a supplied OpenPose JSON)", "pose", "pose",
         StageSpec("pose", "Pose keypoints (COCO-18)", "OpenPose body keypoints.", "inputs", "pose"), "person",
         "openpose/body", "OpenPose body", "a pose JSON (OpenPose COCO-18)"),
    Need("parsing", "LIP human parsing (SCHP, or a supplied parse PNG)", "parse map", "parsing",
         StageSpec("parsing", "Human parsing (LIP-20)", "SCHP LIP labels, coloured, with the legend of labels present.",
                   "inputs", "parsing"), "person",
         "schp/lip", "SCHP LIP parsing", "a parse PNG (LIP labels)"),
    Need("cloth_mask", "the garment's silhouette (computed from alpha or background, or a supplied mask PNG)",
         "garment mask", "cloth_mask",
         StageSpec("cloth_mask", "Garment mask", "Binary garment silhouette.", "inputs", "cloth_mask"), "garment"),
    Need("body_mask", "the person's silhouette (a supplied body mask PNG, else from the parsing)", "body mask",
         "body_mask", StageSpec("body_mask", "Body mask", "The person's silhouette.", "inputs", "body_mask"),
         "person"),
)}

# The preprocessing stages, shown before each method's own; a stage appears only when its step ran.
PREPROCESS_STAGES: tuple[StageSpec, ...] = (
    PERSON_STAGE, NEEDS["pose"].stage, NEEDS["parsing"].stage, NEEDS["body_mask"].stage, CLOTH_STAGE,
    NEEDS["cloth_mask"].stage,
)


def preprocess_steps(needs: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The timed preprocessing steps for a card's ``needs``, in order: the pose first (framing reads it), the
    framing, what is read in the frame, then the garment side."""
    steps = [NEEDS["pose"].step] if "pose" in needs else []
    steps.append(PERSON_STAGE.step)
    steps += [NEEDS[k].step for k in ("parsing", "body_mask") if k in needs]
    steps += [NEEDS["cloth_mask"].step, CLOTH_STAGE.step]
    return tuple(steps)


Picture = np.ndarray | Callable[[], np.ndarray]


def _display(key: str, image: Any) -> np.ndarray:
    """A recorded picture as ``(H, W, 3) uint8`` (a grey ``(H, W)`` one repeated), or a clear error."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"stage {key!r}: an image must be (H, W[, 3]) uint8, got {img.dtype} {img.shape}")
    return np.repeat(img[..., None], 3, 2) if img.ndim == 2 else img[..., :3]


@dataclass(frozen=True)
class Stage:
    """One stage for display; ``image`` is ``(H, W, 3) uint8``, drawn on first access (``Trace.record`` may be given
    a function that draws it) and kept.

    ``seconds`` is the time of ``step``; ``shared_with`` names the other stages shown with that same step's time
    (empty when the stage has its step to itself); ``cached`` marks a stage reused from an earlier run (0 s).
    """

    key: str
    title: str
    caption: str
    section: str
    picture: Picture = field(repr=False, compare=False)
    seconds: float
    step: str
    shared_with: tuple[str, ...] = ()
    cached: bool = False

    @cached_property
    def image(self) -> np.ndarray:
        pic = self.picture
        return _display(self.key, pic() if callable(pic) else pic)

    @property
    def drawn(self) -> bool:
        """Whether the picture exists already (it was given as an array, or asked for)."""
        return "image" in self.__dict__ or not callable(self.picture)

    def time_text(self) -> str:
        if self.cached:
            return "cached, 0 s"
        t = f"{self.seconds * 1000:.0f} ms" if self.seconds < 1 else f"{self.seconds:.2f} s"
        return f"{t}, step shared with {', '.join(self.shared_with)}" if self.shared_with else t

    def summary(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "caption": self.caption, "section": self.section,
                "step": self.step, "seconds": round(float(self.seconds), 6), "shared_with": list(self.shared_with),
                "cached": self.cached, "size": [int(self.image.shape[1]), int(self.image.shape[0])]}


class Trace:
    """Times a run's steps, reports progress, and collects the stages a card declares.

    Args:
        progress: ``progress(step, done, total)`` callback, or None.
        total: how many steps the run will report (the pipeline derives it from the plan).
        stage_specs: the stages that may be recorded (others are refused).
    """

    def __init__(self, progress: Progress | None, total: int, stage_specs: tuple[StageSpec, ...] = ()) -> None:
        self.timings: dict[str, float] = {}
        self.cached_steps: set[str] = set()
        self._progress, self._total, self._done = progress, total, 0
        self._specs = {s.key: s for s in stage_specs}
        self._pictures: dict[str, Picture] = {}
        self._captions: dict[str, str] = {}

    def allow(self, specs: tuple[StageSpec, ...]) -> None:
        """Declare more stages (the pipeline adds the preprocessing stages it computes)."""
        for s in specs:
            self._specs[s.key] = s

    def step(self, key: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` as the timed step ``key``; returns its result."""
        if self._progress is not None:
            self._progress(key, self._done, self._total)
        t0 = time.perf_counter()
        out = fn()
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0
        self._done += 1
        if self._progress is not None:
            self._progress(key, self._done, self._total)
        return out

    def cached(self, key: str) -> None:
        """Mark step ``key`` as reused from an earlier run (0 s) and count it for progress."""
        self.timings[key] = 0.0
        self.cached_steps.add(key)
        self._done += 1
        if self._progress is not None:
            self._progress(key, self._done, self._total)

    def record(self, key: str, image: Picture, caption: str | None = None) -> None:
        """Keep stage ``key``'s display image (``(H, W, 3)`` or ``(H, W)`` uint8), or a function without arguments
        that draws it when it is first shown; ``caption`` overrides the card's.

        A drawing function must read only values that stay as they are after the step (it may run much later).
        """
        if key not in self._specs:
            raise KeyError(f"stage {key!r} is not declared by the method's card; declared: {sorted(self._specs)}")
        self._pictures[key] = image if callable(image) else _display(key, image)
        if caption is not None:
            self._captions[key] = caption

    @property
    def recorded(self) -> tuple[str, ...]:
        return tuple(self._pictures)

    def stages(self, order: tuple[StageSpec, ...]) -> list[Stage]:
        """The recorded stages in ``order``, each with its step's time and the stages it shares the step with."""
        present = [s for s in order if s.key in self._pictures]
        by_step: dict[str, list[str]] = {}
        for s in present:
            by_step.setdefault(s.step, []).append(s.key)
        return [Stage(s.key, s.title, self._captions.get(s.key, s.caption), s.section, self._pictures[s.key],
                      self.timings.get(s.step, 0.0), s.step, tuple(k for k in by_step[s.step] if k != s.key),
                      s.step in self.cached_steps)
                for s in present]
