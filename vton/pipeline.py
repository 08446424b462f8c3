"""The try-on pipeline: two photos in, the try-on and every stage in between out, for any registered method.

It chains the preprocessing a method's card asks for (OpenPose COCO-18 pose, SCHP LIP parsing, garment mask, body
mask, framing to the frame its card declares, ``MethodCard.frame``) with the method's own ``run``
(:mod:`vton.methods`), and keeps every intermediate as data. Any annotation may be supplied instead of estimated; the
result records which, and ``result.json`` records the provenance of every input and every weight file. The person
side (pose, parsing, framing) and the garment side (mask, framing) are cached by content and frame, so a garment swap
on the same person or a second method with the same frame on the same pair reuses them (those stages say "cached"
and 0 s).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import methods
from . import visualize as vis
from .annotations import Parsing, Pose
from .errors import InputError, VtonError
from .images import load_image, to_pil
from .labels import COCO18
from .methods.base import Method, MethodCard, MethodOutput, Progress, Stage, StageSpec, Trace

__all__ = ["Preprocessed", "Preprocessor", "TryOnResult", "TryOnPipeline", "save_stages", "PREPROCESS_STAGES",
           "preprocess_steps"]

log = logging.getLogger(__name__)

MAX_SEED = 2**64 - 1  # torch.manual_seed's range (its generator is 64-bit)

# The preprocessing stages, shown before each method's own; a stage appears only when its step ran.
PREPROCESS_STAGES: tuple[StageSpec, ...] = (
    StageSpec("person", "Person (framed)", "The photo scaled and centred into the frame the networks read.",
              "inputs", "framing"),
    StageSpec("pose", "Pose keypoints (COCO-18)", "OpenPose body keypoints.", "inputs", "pose"),
    StageSpec("parsing", "Human parsing (LIP-20)", "SCHP LIP labels, coloured, with the legend of labels present.",
              "inputs", "parsing"),
    StageSpec("body_mask", "Body mask", "The person's silhouette (CP-VTON+'s shape channel).", "inputs",
              "body_mask"),
    StageSpec("cloth", "Garment (framed)", "The garment photo fitted into the frame on white.", "inputs",
              "cloth_framing"),
    StageSpec("cloth_mask", "Garment mask", "Binary garment silhouette.", "inputs", "cloth_mask"),
)
_STEP_OF = {"pose": "pose", "parsing": "parsing", "body_mask": "body_mask"}


def preprocess_steps(needs: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The timed preprocessing steps for a card's ``needs``, in order."""
    steps = ["pose"] if "pose" in needs else []
    steps.append("framing")
    steps += [s for s in ("parsing", "body_mask") if s in needs]
    steps += ["cloth_mask", "cloth_framing"]
    return tuple(steps)


def save_stages(stages: list[Stage], folder: str | Path) -> list[Path]:
    """Write each stage's image as ``NN_<key>.png`` (NN = its position) into ``folder``; the paths written."""
    from .datasets import check_output_dir

    folder = check_output_dir(folder)
    paths = []
    for i, stage in enumerate(stages):
        p = folder / f"{i:02d}_{stage.key}.png"
        Image.fromarray(stage.image).save(p)
        paths.append(p)
    return paths


# ---------------------------------------------------------------------------------------------------------------
# preprocessing


@dataclass(frozen=True)
class Preprocessed:
    """Everything a method reads, in its card's frame (``MethodCard.frame``, W × H), and how it was obtained.

    Fields a method's card does not need are None (they were not computed).

    Attributes:
        photo: the person photo as uploaded (upright RGB, its own size).
        garment_photo: the garment photo as uploaded (RGB or RGBA).
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
    garment_photo: Image.Image
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

    def record_stages(self, trace: Trace) -> None:
        """Draw the preprocessing stages that were computed onto ``trace``."""
        trace.allow(PREPROCESS_STAGES)
        src = self.sources
        trace.record("person", np.asarray(self.person),
                     f"The photo scaled into the {self.person.size[0]} × {self.person.size[1]} frame "
                     f"({src.get('framing', 'framed')}).")
        drawn = self.person_cache.setdefault(("preprocess", "drawings"), {})  # drawn once per cached person
        if self.pose is not None:
            if "pose" not in drawn:
                drawn["pose"] = _frozen(vis.draw_pose(self.person, self.pose))
            trace.record("pose", drawn["pose"],
                         f"OpenPose body keypoints ({src['pose']}); {int(self.pose.present.sum())} of 18 found.")
        if self.parsing is not None:
            if "parsing" not in drawn:
                drawn["parsing"] = _frozen(vis.parse_with_legend(self.parsing))
            trace.record("parsing", drawn["parsing"],
                         f"SCHP LIP labels ({src['parsing']}), coloured, with the legend of labels present.")
        if self.body_mask is not None:
            trace.record("body_mask", vis.mask_image(self.body_mask),
                         f"The person's silhouette ({src['body_mask']}).")
        trace.record("cloth", np.asarray(self.cloth))
        trace.record("cloth_mask", vis.mask_image(self.cloth_mask),
                     f"Binary garment silhouette ({src['cloth_mask']}).")

    def stages(self) -> list[Stage]:
        """The preprocessing stages alone (for ``preprocess``)."""
        trace = Trace(None, 0)
        trace.timings.update(self.timings)
        trace.cached_steps.update(self.cached)
        self.record_stages(trace)
        return trace.stages(PREPROCESS_STAGES)

    @property
    def has_dataset_layout(self) -> bool:
        """Whether ``dataset_zip`` can write this preprocessing: the CP-VTON / VITON dataset layout holds a pose
        and a parse map at that dataset's frame (a method with another frame, e.g. 1024 × 768, has none)."""
        from .datasets import FRAME

        return self.pose is not None and self.parsing is not None and tuple(self.person.size) == tuple(FRAME)

    def dataset_zip(self, name: str = "vton_000001") -> bytes:
        """The preprocessing in the CP-VTON / VITON dataset layout, as zip bytes (needs pose and parsing)."""
        from .datasets import export_dataset_zip

        if self.pose is None or self.parsing is None:
            raise InputError("the dataset layout holds a pose and a parse map; this method's preprocessing computed "
                             "neither (it does not need them)")
        buf = io.BytesIO()
        export_dataset_zip(buf, name, self.person, self.cloth, self.cloth_mask, self.parsing, self.pose,
                           body_mask=self.body_mask)
        return buf.getvalue()


def _frozen(image: np.ndarray) -> np.ndarray:
    """A drawing shared by every result of a cached person: read-only, so no result can change another's."""
    image = np.asarray(image)
    image.flags.writeable = False
    return image


_WHAT = {"person": "person photo", "cloth": "garment photo", "pose": "pose file", "parsing": "parse map",
         "cloth_mask": "garment mask", "body_mask": "body mask"}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))  # length-prefixed: no two inputs share a byte stream
        h.update(part)
    return h.hexdigest()


def _pose_dict_bytes(src: Any) -> bytes:
    """A decoded pose dict as canonical JSON bytes; a self-reference or an integer of thousands of digits is
    refused here with the reason (not with json's own error)."""
    try:
        return json.dumps(src, sort_keys=True, default=repr, allow_nan=True).encode()
    except (ValueError, RecursionError, TypeError) as e:
        text = str(e).lower()
        if "circular" in text or isinstance(e, RecursionError):
            why = "it refers to itself (a self-reference) or nests too deeply"
        elif "digits" in text or "integer" in text:
            why = "it holds an integer of thousands of digits, which is no pixel coordinate"
        else:
            why = f"it cannot be written as JSON ({type(e).__name__})"
        raise InputError(f"the pose dict cannot be used: {why}; give the OpenPose JSON file as written") from None


def _content(key: str, src: Any) -> tuple[Any, str | None]:
    """``(the input to hand to the readers, sha256 of its content)`` for one input of a run.

    Paths, bytes and file objects are read once here (regular files only, the size checked before reading:
    ``vton.images.read_source_bytes``) and the readers decode those very bytes, so every cache is keyed by the
    content it was given, never by an object's identity or text. In-memory images and arrays are keyed by their
    pixels, poses and parses by their values. The hash is None only when the input is refused later anyway
    (a wrong type, too many pixels) — such a run is not cached.
    """
    from .formats import MAX_POSE_JSON_BYTES
    from .images import MAX_PIXELS, read_source_bytes

    if src is None:
        return None, None
    what = _WHAT[key]
    if key == "pose":
        if isinstance(src, Pose):
            return src, _digest(b"Pose", np.ascontiguousarray(src.keypoints, np.float64).tobytes(),
                                np.ascontiguousarray(src.scores, np.float64).tobytes(),
                                repr((tuple(src.size), src.people_found)).encode())
        if isinstance(src, dict):
            return src, _digest(b"pose-dict", _pose_dict_bytes(src))
        if isinstance(src, str) and src.lstrip().startswith(("{", "[")):
            text = src.encode("utf-8", errors="replace")
            if len(text) > MAX_POSE_JSON_BYTES:
                return src, None  # the reader refuses it with the cap's message
            return src, hashlib.sha256(text).hexdigest()
        if isinstance(src, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(src, "read"):
            data = read_source_bytes(src, what, MAX_POSE_JSON_BYTES, "MAX_POSE_JSON_BYTES")
            return data, hashlib.sha256(data).hexdigest()
        return src, None
    if key == "parsing" and isinstance(src, Parsing):
        return src, _digest(b"Parsing", repr(src.label_set.name if hasattr(src.label_set, "name") else
                                             src.label_set).encode(),
                            repr((src.labels.dtype.str, src.labels.shape)).encode(),
                            np.ascontiguousarray(src.labels).tobytes())
    if isinstance(src, Image.Image):
        try:
            src.im  # noqa: B018 - raises for a closed image
        except ValueError:
            raise InputError(f"the {what} is a closed PIL image; pass it before closing it (or its path or "
                             "bytes)") from None
        w, h = src.size
        if w * h > MAX_PIXELS:
            return src, None  # refused by the reader from its size, without decoding
        try:
            pixels = src.tobytes()
        except Exception as e:  # noqa: BLE001 - a lazily opened image whose data is damaged
            from .images import decode_image

            decode_image(src, f"the {what}")  # the readers' own message for a damaged image
            raise InputError(f"the {what} cannot be decoded ({type(e).__name__})") from None
        return src, _digest(b"PIL", repr((src.mode, src.size)).encode(), pixels)
    if isinstance(src, np.ndarray):
        if src.dtype.kind not in "biuf" or src.size > 4 * MAX_PIXELS:
            return src, None  # refused by the reader
        return src, _digest(b"array", repr((src.dtype.str, src.shape)).encode(), np.ascontiguousarray(src).tobytes())
    if isinstance(src, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(src, "read"):
        data = read_source_bytes(src, what)
        return data, hashlib.sha256(data).hexdigest()
    return src, None


def _nbytes(x: Any, seen: set[int] | None = None) -> int:
    """Approximate bytes held by a cache entry: arrays, images, tensors and the containers holding them."""
    seen = set() if seen is None else seen
    if id(x) in seen:
        return 0
    seen.add(id(x))
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, torch.Tensor):
        return int(x.numel() * x.element_size())
    if isinstance(x, Image.Image):
        return x.size[0] * x.size[1] * max(len(x.getbands()), 1)
    if isinstance(x, (bytes, bytearray)):
        return len(x)
    if isinstance(x, dict):
        return 64 + sum(_nbytes(v, seen) for v in x.values())
    if isinstance(x, (list, tuple, set, frozenset)):
        return 64 + sum(_nbytes(v, seen) for v in x)
    if hasattr(x, "__dataclass_fields__"):
        return 64 + sum(_nbytes(getattr(x, f), seen) for f in x.__dataclass_fields__)
    return 64


class _LRU:
    """A thread-safe least-recently-used cache bounded by entries and by bytes (``_nbytes`` of each value).

    A value larger than the byte bound alone is not kept.
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        self._d: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._size = max(int(size), 0)
        self._max_bytes = max(int(max_bytes), 0)
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key][0]
        return None

    def put(self, key: Any, value: Any) -> None:
        n = _nbytes(value)
        with self._lock:
            if key in self._d:
                self._bytes -= self._d.pop(key)[1]
            if n > self._max_bytes or self._size == 0:
                return
            self._d[key] = (value, n)
            self._bytes += n
            while len(self._d) > self._size or self._bytes > self._max_bytes:
                _, (_, m) = self._d.popitem(last=False)
                self._bytes -= m

    def remeasure(self, match: Any) -> None:
        """Measure again the entries for which ``match(value)`` holds (values that grew after their ``put``) and
        evict down to the bounds."""
        with self._lock:
            for key, (value, n) in list(self._d.items()):
                if match(value):
                    m = _nbytes(value)
                    self._d[key] = (value, m)
                    self._bytes += m - n
            while self._d and (len(self._d) > self._size or self._bytes > self._max_bytes):
                _, (_, m) = self._d.popitem(last=False)
                self._bytes -= m

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0


CACHE_ENTRIES = 16  # person sides (and, separately, garment sides) a Preprocessor keeps
CACHE_BYTES = 128 * 1024**2  # and at most this many bytes of images and arrays in each of the two caches


def _check_weights_dir(weights_dir: Any) -> None:
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
        _check_weights_dir(weights_dir)
        self.weights_dir = weights_dir
        self.device = _pick_device(device)
        self._pose_estimator = None
        self._parser = None
        self._lock = threading.Lock()
        self._person_cache = _LRU(cache_size, cache_bytes)
        self._garment_cache = _LRU(cache_size, cache_bytes)

    def cache_info(self) -> dict[str, dict[str, int]]:
        """Entries and bytes held by the person and garment caches."""
        return {name: {"entries": len(c), "bytes": c.nbytes}
                for name, c in (("person", self._person_cache), ("garment", self._garment_cache))}

    def clear_cache(self) -> None:
        self._person_cache.clear()
        self._garment_cache.clear()

    def estimator_weights(self, needs: frozenset[str], supplied: set[str]) -> list[str]:
        """Manifest keys of the estimators a run will use (for licences and provenance)."""
        keys = []
        if "pose" in needs and "pose" not in supplied:
            keys.append("openpose/body")
        if "parsing" in needs and "parsing" not in supplied:
            keys.append("schp/lip")
        return keys

    def _estimate_pose(self, photo: Image.Image) -> Pose:
        with self._lock:
            if self._pose_estimator is None:
                from .preprocess.pose import PoseEstimator

                self._pose_estimator = PoseEstimator.from_weights(self.weights_dir, device=self.device)
        return self._pose_estimator(photo)

    def _estimate_parsing(self, photo: Image.Image) -> Parsing:
        with self._lock:
            if self._parser is None:
                from .preprocess.parsing import HumanParser

                self._parser = HumanParser.from_weights("lip", self.weights_dir)
        return self._parser(photo)

    def __call__(self, person: Any, cloth: Any, trace: Trace, *, needs: frozenset[str], pose: Any = None,
                 parsing: Any = None, cloth_mask: Any = None, body_mask: Any = None,
                 card: MethodCard | None = None) -> Preprocessed:
        """Photos (and any supplied annotations, in the photo's pixels) → a method's inputs in its card's frame
        (the datasets' 192 × 256 without a card)."""
        from .preprocess.framing import FRAME_SIZE

        frame = tuple(card.frame) if card is not None else FRAME_SIZE
        given = {"person": person, "cloth": cloth, "pose": pose, "parsing": parsing, "cloth_mask": cloth_mask,
                 "body_mask": body_mask}
        hashes = {}
        for k, v in given.items():  # every input read once; the readers below decode exactly these bytes
            given[k], digest = _content(k, v)
            if digest is not None:
                hashes[k] = digest
        person, cloth, pose, parsing = given["person"], given["cloth"], given["pose"], given["parsing"]
        cloth_mask, body_mask = given["cloth_mask"], given["body_mask"]
        cacheable = all(hashes.get(k) is not None for k, v in given.items() if v is not None)
        # framing depends on whether a pose is used, so that is part of the key; a body mask is derived on demand
        person_key = (hashes.get("person"), hashes.get("pose"), hashes.get("parsing"), hashes.get("body_mask"),
                      tuple(sorted(needs & {"pose", "parsing"})), frame)
        garment_key = (hashes.get("cloth"), hashes.get("cloth_mask"), frame)
        person_side = self._person_cache.get(person_key) if cacheable else None
        garment_side = self._garment_cache.get(garment_key) if cacheable else None
        cached: set[str] = set()

        if person_side is None:
            person_side = self._person_side(person, trace, needs, pose, parsing, body_mask, card, frame)
            if cacheable:
                self._person_cache.put(person_key, person_side)
        else:
            if person_side["photo_pose"] is not None:  # cached for another method: check it serves this one
                _check_pose_for(card, person_side["photo_pose"], person_side["photo"].size)
            fresh = set()
            if "body_mask" in needs and person_side["body"] is None:  # cached for a method that needed none
                person_side = dict(person_side, sources=dict(person_side["sources"]))
                person_side["body"] = self._body_mask(person_side, trace, body_mask)
                fresh.add("body_mask")
                if cacheable:
                    self._person_cache.put(person_key, person_side)
            for step in preprocess_steps(needs):
                if step not in ("cloth_mask", "cloth_framing", *fresh):
                    trace.cached(step)
                    cached.add(step)
        if garment_side is None:
            garment_side = self._garment_side(cloth, trace, cloth_mask, frame)
            if cacheable:
                self._garment_cache.put(garment_key, garment_side)
        else:
            for step in ("cloth_mask", "cloth_framing"):
                trace.cached(step)
                cached.add(step)
        sources = {**person_side["sources"], **garment_side["sources"]}
        body = person_side["body"] if "body_mask" in needs else None
        if body is None:
            sources.pop("body_mask", None)
        timings = {k: trace.timings.get(k, 0.0) for k in preprocess_steps(needs)}
        notes = [*person_side.get("warnings", ()), *garment_side.get("warnings", ()),
                 *_unused_annotations(card, needs, pose=pose, parsing=parsing, body_mask=body_mask)]
        return Preprocessed(
            person_side["photo"], garment_side["garment"], person_side["framed"], garment_side["framed"],
            person_side["pose"], person_side["parsing"], garment_side["mask"], body,
            person_side["transform"], sources, timings, frozenset(cached), person_side["photo_pose"], hashes,
            tuple(dict.fromkeys(notes)), person_side.setdefault("derived", {}))

    def account(self, pre: Preprocessed) -> None:
        """Count what methods added to a cached person side (``pre.person_cache``: features, drawings) in the
        person cache's byte bound."""
        self._person_cache.remeasure(lambda side: side.get("derived") is pre.person_cache)

    def _person_side(self, person: Any, trace: Trace, needs: frozenset[str], pose: Any, parsing: Any,
                     body_mask: Any, card: MethodCard | None, frame: tuple[int, int]) -> dict[str, Any]:
        from .consistency import check_parsing, check_pose_on_parsing, check_pose_scores
        from .formats import read_openpose_json, read_parse_png
        from .preprocess.framing import frame_labels, frame_person

        photo = load_image(person, "person photo")
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

        side = {"photo": photo, "framed": framed, "transform": transform, "pose": frame_pose, "photo_pose": photo_pose,
                "parsing": frame_parsing, "body": None, "sources": sources, "warnings": notes}
        if "body_mask" in needs:
            side["body"] = self._body_mask(side, trace, body_mask)
        return side

    def _body_mask(self, side: dict[str, Any], trace: Trace, body_mask: Any) -> np.ndarray:
        """The body mask in the frame: the supplied one, else the parse's foreground (the step ``body_mask``)."""
        from .consistency import check_body_mask
        from .formats import mask_array, read_mask_png
        from .preprocess.framing import frame_labels

        sources = side["sources"]

        def get_body_mask() -> np.ndarray:
            if body_mask is None:
                if side["parsing"] is None:
                    raise InputError("a body mask is needed; supply one (or a parse map it can come from)")
                sources["body_mask"] = "parsing"
                return side["parsing"].labels > 0
            sources["body_mask"] = "supplied"
            if isinstance(body_mask, np.ndarray):  # NaN, out-of-range values refused; 0/1, 0..255, [0, 1] read
                m = mask_array(body_mask, "body mask", threshold=1)
            else:  # CP-VTON+ counts every non-zero pixel of image-mask as body
                m = read_mask_png(body_mask, what="body mask", threshold=1)
            photo = side["photo"]
            _same_size((m.shape[1], m.shape[0]), photo.size, "body mask", "person photo")
            framed = frame_labels(m.astype(np.uint8), side["transform"]) > 0
            side.setdefault("warnings", []).extend(
                check_body_mask(framed, side["parsing"], refuse=sources.get("parsing") == "supplied"))
            return framed

        return trace.step("body_mask", get_body_mask)


    def _garment_side(self, cloth: Any, trace: Trace, cloth_mask: Any, frame: tuple[int, int]) -> dict[str, Any]:
        from .consistency import check_garment_mask
        from .formats import check_cloth_mask, read_mask_png
        from .preprocess.cloth_mask import compute_cloth_mask
        from .preprocess.framing import frame_labels, frame_person

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
        return {"garment": garment, "framed": framed_cloth, "mask": frame_mask, "sources": sources, "warnings": notes}


_ANNOTATION_NAMES = {"pose": "pose", "parsing": "parse map", "body_mask": "body mask"}


def _unused_annotations(card: MethodCard | None, needs: frozenset[str], **given: Any) -> list[str]:
    """Warnings for annotations given to a method that does not read them (they are neither read nor checked)."""
    who = card.title if card is not None else "this method"
    return [f"a {_ANNOTATION_NAMES[k]} was given, but {who} does not use one; it was ignored (neither read nor checked)"
            for k, v in given.items() if v is not None and k not in needs]


def _check_pose_for(card: MethodCard | None, pose: Pose, size: tuple[int, int]) -> None:
    """Refuse a pose that does not belong to the photo or cannot serve the method (too few or missing points)."""
    from .annotations import check_pose

    who = f" ({card.title})" if card is not None else ""
    check_pose(pose, size, min_points=card.min_pose_points if card else 1,
               required=card.required_keypoints if card else (), what=f"pose{who}")


# ---------------------------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class TryOnResult:
    """One try-on: the preprocessing, the method's output, every stage and the provenance.

    Attributes:
        card: the method's card.
        pre: the preprocessing (``Preprocessed``).
        output: the method's ``MethodOutput`` (try-on tensor, region, raw data).
        pasted_image: the try-on pasted back into the photo at the photo's resolution.
        stage_list: every stage in display order (preprocessing, then the method's).
        timings: seconds per step.
        provenance: what ``result.json`` records besides the stages (version, weights, inputs, sources).
    """

    card: MethodCard
    pre: Preprocessed
    output: MethodOutput
    pasted_image: Image.Image
    stage_list: tuple[Stage, ...]
    timings: dict[str, float]
    provenance: dict[str, Any]

    @property
    def method(self) -> str:
        return self.card.id

    @property
    def sources(self) -> dict[str, str]:
        return self.pre.sources

    @property
    def tryon(self) -> torch.Tensor:
        return self.output.tryon

    @property
    def tryon_image(self) -> Image.Image:
        return to_pil(self.output.tryon)

    def keypoint_table(self) -> list[dict[str, Any]]:
        return self.pre.keypoint_table()

    def stages(self) -> list[Stage]:
        return list(self.stage_list)

    def stage(self, key: str) -> Stage:
        for s in self.stage_list:
            if s.key == key:
                return s
        raise KeyError(key)

    def summary(self, files: dict[str, str] | None = None) -> dict[str, Any]:
        """JSON-ready facts of the run (``result.json``): provenance, timings, stages, keypoints, method data."""
        stages = []
        for i, s in enumerate(self.stage_list):
            row = s.summary()
            row["file"] = (files or {}).get(s.key, f"{i:02d}_{s.key}.png")
            stages.append(row)
        return {
            **self.provenance,
            "timings_s": {k: round(v, 6) for k, v in self.timings.items()},
            "total_s": round(sum(self.timings.values()), 6),
            "stages": stages,
            "keypoints": self.keypoint_table(),
            "data": _jsonable(self.output.data),
        }

    def save(self, folder: str | Path) -> list[Path]:
        """Write every stage as ``NN_<key>.png`` plus ``result.json``; the paths written."""
        paths = save_stages(self.stages(), folder)
        p = Path(folder) / "result.json"
        p.write_text(json.dumps(self.summary(), indent=2))
        return [*paths, p]

    def stages_zip(self) -> bytes:
        """Every stage PNG plus result.json, as zip bytes."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, stage in enumerate(self.stage_list):
                png = io.BytesIO()
                Image.fromarray(stage.image).save(png, format="PNG")
                zf.writestr(f"{i:02d}_{stage.key}.png", png.getvalue())
            zf.writestr("result.json", json.dumps(self.summary(), indent=2))
        return buf.getvalue()

    def dataset_zip(self, name: str = "vton_000001") -> bytes:
        return self.pre.dataset_zip(name)


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return np.round(x.astype(np.float64), 7).tolist() if x.dtype.kind == "f" else x.tolist()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return round(float(x), 7)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _pick_device(device: str | torch.device | None) -> torch.device:
    from .devices import pick_device

    return pick_device(device)


class TryOnPipeline:
    """Photos in, ``TryOnResult`` out, for one registered method.

    Args:
        method: a method id (``vton.methods.ids()``).
        weights_dir: local weights folder (else ``$VTON_WEIGHTS_DIR``, else the Hub).
        device: torch device; None picks CUDA when available.
        preprocessor: a shared ``Preprocessor`` (estimators and the content cache); a new one by default.
        seed: seed of any randomness a method draws (recorded in ``result.json``).
        network_overrides: network config changes (the card's ``test_overrides`` make tiny networks for tests).
        compile_networks: the fast path (``Method.compile``: ``torch.compile`` of every network; the first run
            pays the compile time).
    """

    def __init__(self, method: str, weights_dir: str | Path | None = None,
                 device: str | torch.device | None = None, preprocessor: Preprocessor | None = None,
                 seed: int = 0, network_overrides: dict[str, Any] | None = None,
                 compile_networks: bool = False) -> None:
        self.card = methods.card(method)
        _check_weights_dir(weights_dir)
        self.method: Method = methods.create(method, network_overrides)
        self.weights_dir = weights_dir
        self.device = _pick_device(device)
        self.preprocessor = preprocessor or Preprocessor(weights_dir, self.device)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InputError(f"the seed must be an integer, got {type(seed).__name__}")
        if not 0 <= seed <= MAX_SEED:
            shown = str(seed) if seed.bit_length() <= 100 else f"an integer of {seed.bit_length():,} bits"
            raise InputError(f"the seed must be an integer from 0 to 2**64 - 1 (torch's seed range), got {shown}")
        self.seed = seed
        self.compile_networks = bool(compile_networks)
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Build the method's networks and load their weights (strict); done once, before any preprocessing."""
        with self._load_lock:
            self.method.load(self.weights_dir, self.device)
            if self.compile_networks:
                if self.card.compile_note:
                    log.warning("--compile with %s: %s", self.card.title, self.card.compile_note)
                self.method.compile()

    def check_ready(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None,
                    networks: bool = True) -> None:
        """Fail early, inputs first: the two photos must be images (a text file is "not an image", whatever else is
        missing), then every weight file the run needs and cannot get now is named in one ``WeightsError`` (the
        method's networks unless ``networks`` is False, and the estimators of what is not supplied).

        Raises:
            InputError: a photo is not a readable image. WeightsError: weights missing (all of them, at once).
        """
        from .images import open_image
        from .weights import missing_weights_error

        for src, what in ((person, "person photo"), (cloth, "garment photo")):
            if isinstance(src, (str, os.PathLike, bytes)):
                img, _ = open_image(src, what)
                img.close()
        supplied = {k for k, v in (("pose", pose), ("parsing", parsing)) if v is not None}
        keys = [key for _, key in self.card.weights] if networks and not self.method.loaded else []
        estimators = self.preprocessor.estimator_weights(self.card.needs, supplied)
        avoid = {"openpose/body": "a pose JSON (OpenPose COCO-18)", "schp/lip": "a parse PNG (LIP labels)"}
        error = missing_weights_error([*keys, *estimators], self.card.title, self.weights_dir,
                                      {k: v for k, v in avoid.items() if k in estimators})
        if error is not None:
            raise error

    def preprocess(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                   body_mask: Any = None, progress: Progress | None = None) -> Preprocessed:
        """The method's preprocessing alone (see ``__call__`` for the arguments)."""
        self.check_ready(person, cloth, pose=pose, parsing=parsing, networks=False)
        trace = Trace(progress, len(preprocess_steps(self.card.needs)))
        return self.preprocessor(person, cloth, trace, needs=self.card.needs, pose=pose, parsing=parsing,
                                 cloth_mask=cloth_mask, body_mask=body_mask, card=self.card)

    def plan(self) -> tuple[str, ...]:
        """Every step a run reports, in order (progress totals come from this)."""
        loads = tuple(f"load_{name}" for name, _ in self.card.weights)
        return (*loads, *preprocess_steps(self.card.needs), *(s.key for s in self.card.steps), "paste_back")

    @torch.inference_mode()
    def __call__(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                 body_mask: Any = None, progress: Progress | None = None) -> TryOnResult:
        """Run the whole chain.

        Args:
            person, cloth: photos (path, bytes, PIL image or ``(H, W, 3)`` uint8 array).
            pose: OpenPose JSON (path, bytes, text, dict) or a ``Pose`` in the photo's pixels; estimated when None
                (only if the method needs a pose).
            parsing: LIP parse PNG (path, bytes, array) or ``Parsing`` of the photo; estimated when None.
            cloth_mask: garment mask (path, bytes, array); computed when None.
            body_mask: body mask (path, bytes, array); from the parsing when None.
            progress: ``progress(step, done, total)``.
        """
        self.check_ready(person, cloth, pose=pose, parsing=parsing)
        trace = Trace(progress, len(self.plan()), self.card.stages)
        for name, _ in self.card.weights:  # a missing-weights error comes before minutes of preprocessing
            trace.step(f"load_{name}", self.load)
        pre = self.preprocessor(person, cloth, trace, needs=self.card.needs, pose=pose, parsing=parsing,
                                cloth_mask=cloth_mask, body_mask=body_mask, card=self.card)
        pre.record_stages(trace)
        torch.manual_seed(self.seed)
        self.method.seed = self.seed
        try:
            out = self.method.run(pre, trace)
        except VtonError as e:  # a refusal keeps the stages computed so far, so the user sees why
            e.stages = tuple(trace.stages(PREPROCESS_STAGES + self.card.stages))
            raise
        self.preprocessor.account(pre)  # person features the method kept now count in the cache's byte bound
        _check_output(self.card, out)
        pasted = trace.step("paste_back", lambda: _paste(out, pre))
        trace.record("pasted", np.asarray(pasted.convert("RGB")))
        missing = [s.key for s in self.card.stages if s.key not in trace.recorded]
        if missing:
            raise RuntimeError(f"method {self.card.id} did not record the stages {missing} its card declares")
        stages = tuple(trace.stages(PREPROCESS_STAGES + self.card.stages))
        supplied = {k for k, v in (("pose", pose), ("parsing", parsing)) if v is not None}
        provenance = _provenance(self, pre, supplied)
        return TryOnResult(self.card, pre, out, pasted, stages, dict(trace.timings), provenance)


def _check_output(card: MethodCard, out: MethodOutput) -> None:
    w, h = card.frame
    if not isinstance(out, MethodOutput) or tuple(out.tryon.shape) != (1, 3, h, w):
        got = tuple(out.tryon.shape) if isinstance(out, MethodOutput) else type(out).__name__
        raise RuntimeError(f"method {card.id} returned {got}; a try-on is (1, 3, {h}, {w})")
    if np.asarray(out.region).shape != (h, w):
        raise RuntimeError(f"method {card.id} returned a region of shape {np.asarray(out.region).shape}")


def _paste(out: MethodOutput, pre: Preprocessed) -> Image.Image:
    from .preprocess.framing import paste_back

    region = np.clip(np.asarray(out.region, np.float32), 0.0, 1.0)
    return paste_back(to_pil(out.tryon.detach().float().cpu()), pre.transform, pre.photo, mask=region, feather=1.5)


def _provenance(pipe: TryOnPipeline, pre: Preprocessed, supplied: set[str]) -> dict[str, Any]:
    from . import __version__
    from .weights import availability

    card = pipe.card
    status = availability(pipe.weights_dir)
    estimators = {key: status.get(key, "unknown") for key in pipe.preprocessor.estimator_weights(card.needs, supplied)}
    nets = {name: info.as_dict() for name, info in pipe.method.loaded.items()}
    return {
        "vton_version": __version__,
        "method": card.id,
        "method_title": card.title,
        "licence": card.licence,
        "device": _device_used(pipe),
        "device_requested": str(pipe.device),
        "seed": pipe.seed,
        "compiled": pipe.compile_networks,
        **({"compile_note": card.compile_note} if pipe.compile_networks and card.compile_note else {}),
        "networks": nets,
        "random_weights": any(n["random"] for n in nets.values()),
        "unverified_weights": [k for k, n in nets.items() if not n["verified"]],
        "estimators": estimators,
        "inputs_sha256": dict(pre.input_sha256),
        "sources": dict(pre.sources),
        "cached_steps": sorted(pre.cached),
        "warnings": list(pre.warnings),
        "photo_size": list(pre.photo.size),
    }


def _device_used(pipe: TryOnPipeline) -> str:
    """The device the method's networks ran on; a method without networks computes on the CPU."""
    from .devices import device_used

    nets = getattr(pipe.method, "nets", {}) or {}
    params = (next(iter(net.parameters()), None) for net in nets.values())
    return device_used(p.device for p in params if p is not None)


def _same_size(a: tuple[int, int], b: tuple[int, int], what_a: str, what_b: str) -> None:
    if tuple(a) != tuple(b):
        raise InputError(f"the {what_a} is {a[0]} × {a[1]} but the {what_b} is {b[0]} × {b[1]}; "
                         f"an annotation must have the size of the photo it belongs to")
