"""The try-on pipeline: two photos in, the try-on and every stage in between out.

It chains the preprocessing (OpenPose COCO-18 pose, SCHP LIP parsing, cloth mask, framing to 256 × 192) with a
method's networks — CP-VTON (Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network",
ECCV 2018, sergeywong/cp-vton) or CP-VTON+ (Minar et al., CVPR Workshops 2020, minar09/cp-vton-plus) — and keeps
every intermediate as data. Any annotation may be supplied instead of estimated; the result records which.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import visualize as vis
from .annotations import Parsing, Pose
from .errors import InputError
from .images import load_image, to_pil
from .labels import COCO18

__all__ = ["METHODS", "MethodInfo", "Stage", "Preprocessed", "TryOnResult", "TryOnPipeline", "method_info",
           "save_stages"]

FRAME_SIZE = (192, 256)  # (W, H) of the methods' person frame

Progress = Callable[[str, int, int], None]

# The timed steps, in order; progress reports (step, done, total) against these counts.
PREPROCESS_STEPS = ("pose", "framing", "parsing", "cloth_mask", "cloth_framing")
TRYON_STEPS = ("load_gmm", "load_tom", *PREPROCESS_STEPS, "representation", "gmm", "warp", "tom", "composition",
               "paste_back")


@dataclass(frozen=True)
class MethodInfo:
    """What a user should know about a method before choosing it."""

    id: str
    title: str
    paper: str
    repo: str
    licence: str
    networks: tuple[str, ...]
    needs: tuple[str, ...]


METHODS: dict[str, MethodInfo] = {
    "cp-vton": MethodInfo(
        "cp-vton", "CP-VTON", "Wang et al., Toward Characteristic-Preserving Image-based Virtual Try-On Network, "
        "ECCV 2018", "https://github.com/sergeywong/cp-vton", "MIT (code and released checkpoints)",
        ("gmm", "tom"), ("pose", "parsing", "cloth_mask"),
    ),
    "cp-vton+": MethodInfo(
        "cp-vton+", "CP-VTON+", "Minar et al., CP-VTON+: Clothing Shape and Texture Preserving Image-Based Virtual "
        "Try-On, CVPR Workshops 2020", "https://github.com/minar09/cp-vton-plus",
        "MIT (code and released checkpoints)", ("gmm", "tom"), ("pose", "parsing", "cloth_mask", "body_mask"),
    ),
}


def _check_method(method: str) -> MethodInfo:
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; vton has: {', '.join(METHODS)}")
    return METHODS[method]


def method_info(method: str, weights_dir: str | Path | None = None) -> dict[str, Any]:
    """The method's description, licence and where each of its networks' weights would come from."""
    from .weights import availability

    info = _check_method(method)
    avail = availability(weights_dir)
    nets = {net: avail.get(f"{method}/{net}", "unknown") for net in info.networks}
    ready = all(v in ("local", "cached") for v in nets.values())
    return {"id": info.id, "title": info.title, "paper": info.paper, "repo": info.repo, "licence": info.licence,
            "weights": nets, "ready": ready}


@dataclass(frozen=True)
class Stage:
    """One stage for display: ``image`` is ``(H, W, 3) uint8``; ``seconds`` is the time the stage took."""

    key: str
    title: str
    caption: str
    image: np.ndarray
    seconds: float


def save_stages(stages: list[Stage], folder: str | Path) -> list[Path]:
    """Write each stage's image as ``NN_<key>.png`` (NN = its position) into ``folder``; the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, stage in enumerate(stages):
        p = folder / f"{i:02d}_{stage.key}.png"
        Image.fromarray(stage.image).save(p)
        paths.append(p)
    return paths


class _Clock:
    """Times named stages and reports progress."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self.timings: dict[str, float] = {}
        self._progress, self._total, self._done = progress, total, 0

    def run(self, key: str, fn: Callable[[], Any]) -> Any:
        if self._progress is not None:
            self._progress(key, self._done, self._total)
        t0 = time.perf_counter()
        out = fn()
        self.timings[key] = time.perf_counter() - t0
        self._done += 1
        if self._progress is not None:
            self._progress(key, self._done, self._total)
        return out


@dataclass(frozen=True)
class Preprocessed:
    """Everything the networks read, in the 256 × 192 frame, and how it was obtained.

    Attributes:
        photo: the person photo as uploaded (upright RGB, its own size).
        garment_photo: the garment photo as uploaded (RGB or RGBA).
        person: ``PIL`` RGB 192 × 256, the framed person.
        cloth: ``PIL`` RGB 192 × 256, the framed garment on white.
        pose: COCO-18 pose in frame pixels.
        parsing: LIP parse in the frame.
        cloth_mask: ``(256, 192) bool`` garment silhouette in the frame.
        body_mask: ``(256, 192) bool`` person silhouette (CP-VTON+ shape channel).
        transform: photo → frame mapping (``vton.preprocess.framing.FrameTransform``).
        sources: for pose, parsing, cloth_mask, body_mask: "estimated", "supplied", "alpha", "background", "parsing".
        timings: seconds per preprocessing stage.
    """

    photo: Image.Image
    garment_photo: Image.Image
    person: Image.Image
    cloth: Image.Image
    pose: Pose
    parsing: Parsing
    cloth_mask: np.ndarray
    body_mask: np.ndarray
    transform: Any
    sources: dict[str, str]
    timings: dict[str, float]
    photo_pose: Pose | None = None

    def keypoint_table(self) -> list[dict[str, Any]]:
        """One row per COCO-18 keypoint: name, x, y (frame pixels), score, present."""
        present = self.pose.present
        return [
            {"name": name, "x": round(float(self.pose.keypoints[i, 0]), 2),
             "y": round(float(self.pose.keypoints[i, 1]), 2), "score": round(float(self.pose.scores[i]), 4),
             "present": bool(present[i])}
            for i, name in enumerate(COCO18)
        ]

    def stages(self) -> list[Stage]:
        t = self.timings
        src = self.sources
        return [
            Stage("person", "Person (framed 256 × 192)",
                  "The photo scaled and centred into the 192 × 256 frame the networks read.", np.asarray(self.person),
                  t.get("framing", 0.0)),
            Stage("pose", "Pose keypoints (COCO-18)",
                  f"OpenPose body keypoints ({src['pose']}); {int(self.pose.present.sum())} of 18 found.",
                  vis.draw_pose(self.person, self.pose), t.get("pose", 0.0)),
            Stage("parsing", "Human parsing (LIP-20)",
                  f"SCHP LIP labels ({src['parsing']}), coloured with the legend of labels present.",
                  vis.parse_with_legend(self.parsing), t.get("parsing", 0.0)),
            Stage("cloth", "Garment (framed 256 × 192)", "The garment photo fitted into the frame on white.",
                  np.asarray(self.cloth), t.get("cloth_framing", 0.0)),
            Stage("cloth_mask", "Garment mask", f"Binary garment silhouette ({src['cloth_mask']}).",
                  vis.mask_image(self.cloth_mask), t.get("cloth_mask", 0.0)),
        ]

    def dataset_zip(self, name: str = "vton_000001") -> bytes:
        """The preprocessing in the CP-VTON / VITON dataset layout, as zip bytes."""
        from .datasets import export_dataset_zip

        buf = io.BytesIO()
        export_dataset_zip(buf, name, self.person, self.cloth, self.cloth_mask, self.parsing, self.pose,
                           body_mask=self.body_mask)
        return buf.getvalue()


@dataclass(frozen=True)
class TryOnResult:
    """Every stage of one try-on as data (tensors are ``(1, C, 256, 192)`` on the CPU).

    Attributes:
        method: method id.
        pre: the preprocessing (``Preprocessed``).
        representation_gmm / representation_tom: ``vton.representation.PersonRepresentation`` read by each network
            (they differ in the head labels for CP-VTON+).
        cloth_tensor: garment in [-1, 1]; cloth_mask_tensor: {0, 1}.
        theta: ``(50,)`` TPS offsets, 25 x then 25 y. control_points: ``(25, 2)`` regular lattice (normalised);
            source_points: ``(25, 2)`` where the warp samples the garment for each control point (normalised).
        grid: ``(1, 256, 192, 2)`` sampling grid (x, y), align_corners=True convention.
        warped_cloth: [-1, 1]; warped_mask: [0, 1]; rendered: [-1, 1]; composition_mask: [0, 1]; tryon: [-1, 1].
        pasted_image: the try-on pasted back into the photo at the photo's resolution.
        timings: seconds per stage, preprocessing included.
    """

    method: str
    pre: Preprocessed
    representation_gmm: Any
    representation_tom: Any
    cloth_tensor: torch.Tensor
    cloth_mask_tensor: torch.Tensor
    theta: np.ndarray
    control_points: np.ndarray
    source_points: np.ndarray
    grid: torch.Tensor
    warped_cloth: torch.Tensor
    warped_mask: torch.Tensor
    rendered: torch.Tensor
    composition_mask: torch.Tensor
    tryon: torch.Tensor
    pasted_image: Image.Image
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sources(self) -> dict[str, str]:
        return self.pre.sources

    @property
    def tryon_image(self) -> Image.Image:
        return to_pil(self.tryon)

    def keypoint_table(self) -> list[dict[str, Any]]:
        return self.pre.keypoint_table()

    def stages(self) -> list[Stage]:
        """Every stage in pipeline order, each with a display image, a caption and its time."""
        t = self.timings
        rep = self.representation_gmm
        title = METHODS[self.method].title
        return self.pre.stages() + [
            Stage("representation_shape", "Representation: body shape",
                  "Blurred body silhouette (down to 12 × 16 and back up): coarse shape, no clothing detail.",
                  vis.shape_image(rep.shape), t.get("representation", 0.0)),
            Stage("representation_head", "Representation: head",
                  "The photo kept only on the identity labels (GMM stage); −1 (black) elsewhere.",
                  vis.tensor_image(rep.head), t.get("representation", 0.0)),
            Stage("representation_pose", "Representation: pose map",
                  "18 channels, an 11 × 11 square per keypoint (+1 on −1), shown in one image.",
                  vis.pose_map_image(rep.pose), t.get("representation", 0.0)),
            Stage("tps_control_points", "TPS control points on the garment",
                  "Where the 5 × 5 thin-plate-spline control points sample the garment (θ from the GMM).",
                  vis.control_points_image(self.cloth_tensor, self.source_points), t.get("gmm", 0.0)),
            Stage("tps_grid", "Deformed grid over the warped garment",
                  "The garment photo's regular lattice carried through the TPS warp.",
                  vis.deformed_grid_image(self.warped_cloth, self.grid), t.get("warp", 0.0)),
            Stage("warped_cloth", "Warped garment", f"{title} GMM: garment warped by the TPS grid (border padding).",
                  vis.tensor_image(self.warped_cloth), t.get("warp", 0.0)),
            Stage("warped_mask", "Warped garment mask", "The garment mask warped by the same grid (zero padding).",
                  vis.mask_image(self.warped_mask), t.get("warp", 0.0)),
            Stage("rendered", "Rendered person", f"{title} TOM: the person rendered without the garment's texture.",
                  vis.tensor_image(self.rendered), t.get("tom", 0.0)),
            Stage("composition_mask", "Composition mask",
                  "Where the try-on takes the warped garment (white) rather than the rendered person.",
                  vis.mask_image(self.composition_mask), t.get("tom", 0.0)),
            Stage("tryon", "Try-on (256 × 192)", "warped garment · m + rendered · (1 − m).",
                  vis.tensor_image(self.tryon), t.get("composition", 0.0)),
            Stage("pasted", "Try-on in the photo", "The try-on pasted back into the photo at its own resolution.",
                  np.asarray(self.pasted_image.convert("RGB")), t.get("paste_back", 0.0)),
        ]

    def summary(self) -> dict[str, Any]:
        """JSON-ready facts of the run: method, sources, timings, θ, keypoints."""
        return {
            "method": self.method,
            "sources": self.sources,
            "timings_s": {k: round(v, 6) for k, v in self.timings.items()},
            "total_s": round(sum(self.timings.values()), 6),
            "theta": [round(float(v), 7) for v in self.theta],
            "keypoints": self.keypoint_table(),
            "photo_size": list(self.pre.photo.size),
        }

    def save(self, folder: str | Path) -> list[Path]:
        """Write every stage as ``NN_<key>.png`` plus ``result.json`` (summary) and ``timings.json``."""
        folder = Path(folder)
        paths = save_stages(self.stages(), folder)
        summary = self.summary()
        for name, data in (("result.json", summary), ("timings.json", summary["timings_s"])):
            p = folder / name
            p.write_text(json.dumps(data, indent=2))
            paths.append(p)
        return paths

    def stages_zip(self) -> bytes:
        """Every stage PNG plus result.json, as zip bytes."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, stage in enumerate(self.stages()):
                png = io.BytesIO()
                Image.fromarray(stage.image).save(png, format="PNG")
                zf.writestr(f"{i:02d}_{stage.key}.png", png.getvalue())
            zf.writestr("result.json", json.dumps(self.summary(), indent=2))
        return buf.getvalue()

    def dataset_zip(self, name: str = "vton_000001") -> bytes:
        return self.pre.dataset_zip(name)


def _pick_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TryOnPipeline:
    """Photos in, ``TryOnResult`` out. Networks and estimators are loaded on first use and kept.

    Args:
        method: "cp-vton" or "cp-vton+".
        weights_dir: local weights folder (else ``$VTON_WEIGHTS_DIR``, else the Hub).
        device: torch device; None picks CUDA when available.
    """

    def __init__(self, method: str = "cp-vton+", weights_dir: str | Path | None = None,
                 device: str | torch.device | None = None) -> None:
        self.info = _check_method(method)
        self.method = method
        self.weights_dir = weights_dir
        self.device = _pick_device(device)
        self._nets: dict[str, torch.nn.Module] = {}
        self._pose_estimator = None
        self._parser = None

    # -- loading -------------------------------------------------------------------------------------------------
    def network(self, name: str) -> torch.nn.Module:
        """The method's network ``name`` ("gmm", "tom") with its weights, loaded once."""
        if name not in self._nets:
            from .models import build_network
            from .weights import load_network

            net = build_network(self.method, name)
            load_network(net, f"{self.method}/{name}", self.weights_dir)
            self._nets[name] = net.to(self.device).eval()
        return self._nets[name]

    def _estimate_pose(self, photo: Image.Image) -> Pose:
        if self._pose_estimator is None:
            from .preprocess.pose import PoseEstimator

            self._pose_estimator = PoseEstimator.from_weights(self.weights_dir, device=self.device)
        return self._pose_estimator(photo)

    def _estimate_parsing(self, photo: Image.Image) -> Parsing:
        if self._parser is None:
            from .preprocess.parsing import HumanParser

            self._parser = HumanParser.from_weights("lip", self.weights_dir)
        return self._parser(photo)

    # -- preprocessing -------------------------------------------------------------------------------------------
    def preprocess(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                   body_mask: Any = None, progress: Progress | None = None, _clock: _Clock | None = None
                   ) -> Preprocessed:
        """Photos (and any supplied annotations, in the photo's pixels) → the networks' inputs in the frame."""
        from .datasets import read_mask_png, read_openpose_json, read_parse_png
        from .preprocess.cloth_mask import cloth_mask as compute_cloth_mask
        from .preprocess.framing import frame_labels, frame_person

        clock = _clock or _Clock(progress, len(PREPROCESS_STEPS))
        photo = load_image(person, "person photo")
        garment = load_image(cloth, "garment photo", keep_alpha=True)
        sources: dict[str, str] = {}

        def get_pose() -> Pose:
            if pose is None:
                sources["pose"] = "estimated"
                return self._estimate_pose(photo)
            sources["pose"] = "supplied"
            p = pose if isinstance(pose, Pose) else read_openpose_json(pose, size=photo.size)
            return p

        photo_pose = clock.run("pose", get_pose)
        framed, transform = clock.run("framing", lambda: frame_person(photo, photo_pose, size=FRAME_SIZE))
        frame_pose = transform.frame_pose(photo_pose)  # points that leave the frame become missing

        def get_parsing() -> Parsing:
            if parsing is None:
                sources["parsing"] = "estimated"
                p = self._estimate_parsing(photo)
            else:
                sources["parsing"] = "supplied"
                p = parsing if isinstance(parsing, Parsing) else read_parse_png(parsing)
            _same_size(p.size, photo.size, "parse map", "person photo")
            return Parsing(frame_labels(p.labels, transform), p.label_set)

        frame_parsing = clock.run("parsing", get_parsing)

        def get_body_mask() -> np.ndarray:
            if body_mask is None:
                sources["body_mask"] = "parsing"
                return frame_parsing.labels > 0
            sources["body_mask"] = "supplied"
            if isinstance(body_mask, np.ndarray):
                m = body_mask
            else:  # CP-VTON+ counts every non-zero pixel of image-mask as body
                m = read_mask_png(body_mask, what="body mask", threshold=1)
            _same_size((m.shape[1], m.shape[0]), photo.size, "body mask", "person photo")
            return frame_labels(m.astype(np.uint8), transform) > 0

        frame_body = get_body_mask()

        def get_cloth_mask() -> np.ndarray:
            if cloth_mask is None:
                res = compute_cloth_mask(garment)
                mask = getattr(res, "mask", res)
                sources["cloth_mask"] = getattr(res, "source", "alpha" if garment.mode == "RGBA" else "background")
            else:
                sources["cloth_mask"] = "supplied"
                mask = cloth_mask if isinstance(cloth_mask, np.ndarray) else read_mask_png(cloth_mask)
            mask = np.asarray(mask)
            _same_size((mask.shape[1], mask.shape[0]), garment.size, "cloth mask", "garment photo")
            return mask > 0

        garment_mask = clock.run("cloth_mask", get_cloth_mask)

        def frame_cloth() -> tuple[Image.Image, np.ndarray]:
            on_white = load_image(garment, "garment photo")  # transparency composited on white
            framed_cloth, ctf = frame_person(on_white, None, size=FRAME_SIZE)
            return framed_cloth, frame_labels(garment_mask.astype(np.uint8), ctf) > 0

        framed_cloth, frame_cloth_mask = clock.run("cloth_framing", frame_cloth)
        return Preprocessed(photo, garment, framed, framed_cloth, frame_pose, frame_parsing, frame_cloth_mask,
                            frame_body, transform, sources, dict(clock.timings), photo_pose)

    # -- the whole chain -----------------------------------------------------------------------------------------
    @torch.inference_mode()
    def __call__(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                 body_mask: Any = None, progress: Progress | None = None) -> TryOnResult:
        """Run the whole chain. Annotations not supplied are estimated. See ``preprocess`` for the arguments."""
        from .geometry.tps import control_points as tps_control_points
        from .geometry.tps import warped_control_points
        from .models import METHOD_VARIANT
        from .models.cpvton import compose, tom_outputs, warp_cloth, warp_mask
        from .preprocess.framing import paste_back
        from .representation import build_representation, cloth_tensors

        clock = _Clock(progress, len(TRYON_STEPS))
        # load the networks first: a missing-weights error should come before minutes of preprocessing
        gmm = clock.run("load_gmm", lambda: self.network("gmm"))
        tom = clock.run("load_tom", lambda: self.network("tom"))
        pre = self.preprocess(person, cloth, pose=pose, parsing=parsing, cloth_mask=cloth_mask, body_mask=body_mask,
                              _clock=clock)
        variant = METHOD_VARIANT[self.method]
        dev = self.device

        def representation():
            kw = dict(variant=variant, body_mask=pre.body_mask)
            return (build_representation(pre.person, pre.parsing, pre.pose, stage="gmm", **kw),
                    build_representation(pre.person, pre.parsing, pre.pose, stage="tom", **kw))

        rep_gmm, rep_tom = clock.run("representation", representation)
        c, cm = cloth_tensors(pre.cloth, pre.cloth_mask)
        c, cm = c.to(dev), cm.to(dev)
        cloth_in = cm if variant == "plus" else c
        grid, theta = clock.run("gmm", lambda: gmm(rep_gmm.tensor().to(dev), cloth_in))
        warped_c, warped_m = clock.run("warp", lambda: (warp_cloth(c, grid), warp_mask(cm, grid)))

        def run_tom():
            parts = [rep_tom.tensor().to(dev), warped_c]
            if variant == "plus":
                parts.append((warped_m >= 0.5).float())  # CP-VTON+ feeds the re-binarised warped mask
            return tom_outputs(tom(torch.cat(parts, 1)))

        rendered, m = clock.run("tom", run_tom)
        tryon = clock.run("composition", lambda: compose(warped_c, rendered, m))
        pasted = clock.run("paste_back", lambda: paste_back(to_pil(tryon.cpu()), pre.transform, pre.photo))

        base = tps_control_points(5, device=theta.device, dtype=theta.dtype)  # (25, 2) (x, y)
        source = warped_control_points(theta, 5)[0]  # (25, 2): where each control point samples the garment
        timings = {**clock.timings}
        cpu = lambda t: t.detach().float().cpu()  # noqa: E731
        return TryOnResult(
            self.method, pre, rep_gmm, rep_tom, cpu(c), cpu(cm), cpu(theta[0]).numpy(), cpu(base).numpy(),
            cpu(source).numpy(), cpu(grid), cpu(warped_c), cpu(warped_m), cpu(rendered), cpu(m), cpu(tryon),
            pasted, timings,
        )


def _same_size(a: tuple[int, int], b: tuple[int, int], what_a: str, what_b: str) -> None:
    if tuple(a) != tuple(b):
        raise InputError(f"the {what_a} is {a[0]} × {a[1]} but the {what_b} is {b[0]} × {b[1]}; "
                         f"an annotation must have the size of the photo it belongs to")

