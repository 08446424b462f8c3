"""The preprocessing runner: two photos (and any supplied annotations) → a method's inputs in its card's frame.

It computes what a method card ``needs`` (:data:`vton.run.NEEDS`: OpenPose COCO-18 pose, SCHP LIP parsing, garment
mask, body mask) and frames both photos to ``card.frame``. Any annotation may be supplied instead of estimated;
``sources`` records which. The person side (pose, parsing, framing, body mask) and the garment side (mask,
framing) are cached by content and frame (``vton.preprocess.cache``), so a garment swap on the same person, or a
second method with the same frame on the same pair, reuses them (those steps say "cached" and 0 s).
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

from ..annotations import Parsing, Pose
from ..errors import InputError
from ..images import load_image
from ..run import FRAME, NEEDS, Trace, preprocess_steps
from .cache import CACHE_BYTES, CACHE_ENTRIES, LRU, content
from .sides import GarmentSide, PersonSide, Preprocessed

__all__ = ["Preprocessor", "MethodFacts", "check_weights_dir"]

_PERSON_STEPS = frozenset({"pose", "framing", "parsing", "body_mask"})
_GARMENT_STEPS = ("cloth_mask", "cloth_framing")


class MethodFacts(Protocol):
    """What the runner reads of a method card (``vton.methods.MethodCard`` has these)."""

    title: str
    needs: frozenset[str]
    frame: tuple[int, int]
    min_pose_points: int
    required_keypoints: tuple[str, ...]
    body_mask_threshold: int


def check_weights_dir(weights_dir: Any) -> None:
    if weights_dir is not None and not isinstance(weights_dir, (str, os.PathLike)):
        raise InputError(f"weights_dir must be a folder path (str or pathlib.Path) or None, got "
                         f"{type(weights_dir).__name__}")


class Preprocessor:
    """Estimators (loaded on first use) and the content-addressed cache of the person and garment sides.

    One instance may serve every method and every request of a process (the app keeps one per weights folder).
    Each side's cache keeps at most ``cache_size`` entries and ``cache_bytes`` bytes (least recently used first
    out), keyed by the sha256 of the inputs' content.
    """

    def __init__(self, weights_dir: str | Path | None = None, device: str | torch.device | None = None,
                 cache_size: int = CACHE_ENTRIES, cache_bytes: int = CACHE_BYTES) -> None:
        from ..devices import pick_device

        check_weights_dir(weights_dir)
        self.weights_dir = weights_dir
        self.device = pick_device(device)
        self._pose_estimator = None
        self._parser = None
        self._lock = threading.Lock()
        self._person_cache = LRU(cache_size, cache_bytes)
        self._garment_cache = LRU(cache_size, cache_bytes)

    def cache_info(self) -> dict[str, dict[str, int]]:
        """Entries and bytes held by the person and garment caches."""
        return {name: {"entries": len(c), "bytes": c.nbytes}
                for name, c in (("person", self._person_cache), ("garment", self._garment_cache))}

    def clear_cache(self) -> None:
        self._person_cache.clear()
        self._garment_cache.clear()

    def estimator_weights(self, needs: frozenset[str], supplied: set[str]) -> list[str]:
        """Manifest keys of the estimators a run will use (for licences and provenance)."""
        return [n.estimator for n in NEEDS.values() if n.estimator and n.key in needs and n.key not in supplied]

    def _estimate_pose(self, photo: Image.Image) -> Pose:
        with self._lock:
            if self._pose_estimator is None:
                from .pose import PoseEstimator

                self._pose_estimator = PoseEstimator.from_weights(self.weights_dir, device=self.device)
        return self._pose_estimator(photo)

    def _estimate_parsing(self, photo: Image.Image) -> Parsing:
        with self._lock:
            if self._parser is None:
                from .parsing import HumanParser

                self._parser = HumanParser.from_weights("lip", self.weights_dir)
        return self._parser(photo)

    def __call__(self, person: Any, cloth: Any, trace: Trace, *, needs: frozenset[str], pose: Any = None,
                 parsing: Any = None, cloth_mask: Any = None, body_mask: Any = None,
                 card: MethodFacts | None = None) -> Preprocessed:
        """Photos (and any supplied annotations, in the photo's pixels) → a method's inputs in its card's frame
        (the datasets' 192 × 256 without a card)."""
        frame = tuple(card.frame) if card is not None else FRAME
        given = {"person": person, "cloth": cloth, "pose": pose, "parsing": parsing, "cloth_mask": cloth_mask,
                 "body_mask": body_mask}
        hashes = {}
        for k, v in given.items():  # every input read once; the readers below decode exactly these bytes
            given[k], digest = content(k, v)
            if digest is not None:
                hashes[k] = digest
        cacheable = all(hashes.get(k) is not None for k, v in given.items() if v is not None)
        # framing depends on whether a pose is used, so that is part of the key; a body mask is derived on demand
        person_key = (hashes.get("person"), hashes.get("pose"), hashes.get("parsing"), hashes.get("body_mask"),
                      tuple(sorted(needs & {"pose", "parsing"})), frame)
        garment_key = (hashes.get("cloth"), hashes.get("cloth_mask"), frame)
        cached: set[str] = set()
        side = self._person(given, trace, needs, card, frame, person_key if cacheable else None, cached)
        garment = self._garment_cache.get(garment_key) if cacheable else None
        if garment is None:
            garment = self._garment_side(given["cloth"], trace, given["cloth_mask"], frame)
            if cacheable:
                self._garment_cache.put(garment_key, garment)
        else:
            for step in _GARMENT_STEPS:
                trace.cached(step)
                cached.add(step)
        sources = {**side.sources, **garment.sources}
        body = side.body if "body_mask" in needs else None
        if body is None:
            sources.pop("body_mask", None)
        timings = {k: trace.timings.get(k, 0.0) for k in preprocess_steps(needs)}
        notes = [*side.warnings, *garment.warnings,
                 *_unused_annotations(card, needs, pose=pose, parsing=parsing, body_mask=body_mask)]
        return Preprocessed(
            side.photo, side.framed, garment.framed, side.pose, side.parsing, garment.mask, body, side.transform,
            sources, timings, frozenset(cached), side.photo_pose, hashes, tuple(dict.fromkeys(notes)), side.derived)

    def account(self, pre: Preprocessed) -> None:
        """Count what methods added to a cached person side (``pre.person_cache``: features, drawings) in the
        person cache's byte bound."""
        self._person_cache.remeasure(lambda side: side.derived is pre.person_cache)

    def _person(self, given: dict[str, Any], trace: Trace, needs: frozenset[str], card: MethodFacts | None,
                frame: tuple[int, int], key: Any, cached: set[str]) -> PersonSide:
        """The person side: from the cache (checked to serve this method, a body mask added when it lacks one) or
        computed; ``key`` is None when the inputs cannot be cached."""
        side = self._person_cache.get(key) if key is not None else None
        if side is None:
            side = self._person_side(given, trace, needs, card, frame)
            if key is not None:
                self._person_cache.put(key, side)
            return side
        if side.photo_pose is not None:  # cached for another method: check it serves this one
            _check_pose_for(card, side.photo_pose, side.photo.size)
        fresh = set()
        if "body_mask" in needs and side.body is None:  # cached for a method that needed none
            side = self._with_body_mask(side, trace, given["body_mask"], card)
            fresh.add("body_mask")
            if key is not None:
                self._person_cache.put(key, side)
        for step in preprocess_steps(needs):
            if step in _PERSON_STEPS and step not in fresh:
                trace.cached(step)
                cached.add(step)
        return side

    def _person_side(self, given: dict[str, Any], trace: Trace, needs: frozenset[str], card: MethodFacts | None,
                     frame: tuple[int, int]) -> PersonSide:
        from ..consistency import check_parsing, check_pose_on_parsing, check_pose_scores
        from ..formats import read_openpose_json, read_parse_png
        from .framing import frame_labels, frame_person

        pose, parsing = given["pose"], given["parsing"]
        photo = load_image(given["person"], "person photo")
        sources: dict[str, str] = {}
        notes: list[str] = []
        photo_pose = None
        if "pose" in needs:
            def get_pose() -> Pose:
                if pose is None:
                    sources["pose"] = "estimated"
                    return self._estimate_pose(photo)
                sources["pose"] = "supplied"
                p = pose if isinstance(pose, Pose) else read_openpose_json(pose, size=photo.size)
                notes.extend(check_pose_scores(p))
                return p

            photo_pose = trace.step("pose", get_pose)
            _check_pose_for(card, photo_pose, photo.size)
        framed, transform = trace.step("framing", lambda: frame_person(photo, photo_pose, size=frame))
        sources["framing"] = "pose-driven (neck-centred, VITON-like scale)" if photo_pose is not None else \
            "letterbox (whole photo, no pose)"
        frame_pose = transform.frame_pose(photo_pose) if photo_pose is not None else None

        frame_parsing = None
        if "parsing" in needs:
            def get_parsing() -> Parsing:
                if parsing is None:
                    sources["parsing"] = "estimated"
                    p = self._estimate_parsing(photo)
                else:
                    sources["parsing"] = "supplied"
                    p = parsing if isinstance(parsing, Parsing) else read_parse_png(parsing)
                _same_size(p.size, photo.size, "parse map", "person photo")
                if parsing is not None:
                    check_parsing(p)
                if photo_pose is not None and (pose is not None or parsing is not None):
                    notes.extend(check_pose_on_parsing(photo_pose, p, refuse=pose is not None and parsing is not None))
                return Parsing(frame_labels(p.labels, transform), p.label_set)

            frame_parsing = trace.step("parsing", get_parsing)

        side = PersonSide(photo, framed, transform, frame_pose, photo_pose, frame_parsing, None, sources,
                          tuple(notes))
        if "body_mask" in needs:
            side = self._with_body_mask(side, trace, given["body_mask"], card)
        return side

    def _with_body_mask(self, side: PersonSide, trace: Trace, body_mask: Any, card: MethodFacts | None) -> PersonSide:
        """``side`` with its body mask in the frame: the supplied one, else the parse's foreground (the step
        ``body_mask``). A supplied mask counts as body from the card's ``body_mask_threshold``."""
        from ..consistency import check_body_mask
        from ..formats import mask_array, read_mask_png
        from .framing import frame_labels

        sources = dict(side.sources)
        threshold = card.body_mask_threshold if card is not None else 128
        notes: list[str] = []

        def get_body_mask() -> np.ndarray:
            if body_mask is None:
                if side.parsing is None:
                    raise InputError("a body mask is needed; supply one (or a parse map it can come from)")
                sources["body_mask"] = "parsing"
                return side.parsing.labels > 0
            sources["body_mask"] = "supplied"
            if isinstance(body_mask, np.ndarray):  # NaN, out-of-range values refused; 0/1, 0..255, [0, 1] read
                m = mask_array(body_mask, "body mask", threshold=threshold)
            else:
                m = read_mask_png(body_mask, what="body mask", threshold=threshold)
            _same_size((m.shape[1], m.shape[0]), side.photo.size, "body mask", "person photo")
            framed = frame_labels(m.astype(np.uint8), side.transform) > 0
            notes.extend(check_body_mask(framed, side.parsing, refuse=sources.get("parsing") == "supplied"))
            return framed

        body = trace.step("body_mask", get_body_mask)
        return replace(side, body=body, sources=sources, warnings=(*side.warnings, *notes))

    def _garment_side(self, cloth: Any, trace: Trace, cloth_mask: Any, frame: tuple[int, int]) -> GarmentSide:
        from ..consistency import check_garment_mask
        from ..formats import check_cloth_mask, read_mask_png
        from .cloth_mask import compute_cloth_mask
        from .framing import frame_labels, frame_person

        garment = load_image(cloth, "garment photo", keep_alpha=True)
        sources: dict[str, str] = {}
        notes: list[str] = []

        def get_cloth_mask() -> np.ndarray:
            if cloth_mask is None:
                res = compute_cloth_mask(garment)
                mask, sources["cloth_mask"] = res.mask, res.source
            else:
                sources["cloth_mask"] = "supplied"
                mask = cloth_mask if isinstance(cloth_mask, np.ndarray) else read_mask_png(cloth_mask)
            mask = np.asarray(mask)
            _same_size((mask.shape[1], mask.shape[0]), garment.size, "garment mask", "garment photo")
            mask = check_cloth_mask(mask)
            if cloth_mask is not None:
                try:
                    seen = compute_cloth_mask(garment)
                    photo_mask, how = seen.mask, ("its transparency" if seen.source == "alpha"
                                                  else "separated from its background")
                except InputError:  # no separable garment: only the mask's coverage can be checked
                    photo_mask, how = None, ""
                notes.extend(check_garment_mask(mask, photo_mask, estimated_from=how))
            return mask

        garment_mask = trace.step("cloth_mask", get_cloth_mask)

        def frame_cloth() -> tuple[Image.Image, np.ndarray]:
            on_white = load_image(garment, "garment photo")  # transparency composited on white
            framed_cloth, ctf = frame_person(on_white, None, size=frame, what="garment photo")
            return framed_cloth, frame_labels(garment_mask.astype(np.uint8), ctf) > 0

        framed_cloth, frame_mask = trace.step("cloth_framing", frame_cloth)
        return GarmentSide(garment, framed_cloth, frame_mask, sources, tuple(notes))


def _unused_annotations(card: MethodFacts | None, needs: frozenset[str], **given: Any) -> list[str]:
    """Warnings for annotations given to a method that does not read them (they are neither read nor checked)."""
    who = card.title if card is not None else "this method"
    return [f"a {NEEDS[k].annotation} was given, but {who} does not use one; it was ignored (neither read nor "
            "checked)" for k, v in given.items() if v is not None and k not in needs]


def _check_pose_for(card: MethodFacts | None, pose: Pose, size: tuple[int, int]) -> None:
    """Refuse a pose that does not belong to the photo or cannot serve the method (too few or missing points)."""
    from ..annotations import check_pose

    who = f" ({card.title})" if card is not None else ""
    check_pose(pose, size, min_points=card.min_pose_points if card else 1,
               required=card.required_keypoints if card else (), what=f"pose{who}")


def _same_size(a: tuple[int, int], b: tuple[int, int], what_a: str, what_b: str) -> None:
    if tuple(a) != tuple(b):
        raise InputError(f"the {what_a} is {a[0]} × {a[1]} but the {what_b} is {b[0]} × {b[1]}; "
                         f"an annotation must have the size of the photo it belongs to")
