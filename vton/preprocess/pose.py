"""Body pose from a photo: the OpenPose body model (Cao et al., "Realtime Multi-Person 2D Pose Estimation using
Part Affinity Fields", CVPR 2017) as controlnet-aux 0.0.10 runs it (huggingface/controlnet_aux, ``open_pose``).

The network definition is controlnet-aux's ``bodypose_model``, loaded from its file without importing the
controlnet-aux package (whose ``__init__`` imports every detector and needs torchvision). Everything around it is
ours, written from the published facts: the input (BGR, one scale ``0.5 · 368 / H``, padded right/bottom to a
multiple of 8 with 128, ``x / 256 − 0.5``) and the post-processing, which keeps every keypoint's score:

1. ``find_peaks``, 2. ``connect_limbs``, 3. ``assemble_people`` (all in :mod:`vton.preprocess.pose_assembly`).
``extract_people`` runs all three, ``select_person`` picks the most confident person (by total score) as a
``vton.annotations.Pose``.

The estimator runs them at the network's own resolution (the maps ×8, cut to the 184-px scaled photo), not at
the photo's: the Gaussian's σ is 3 px of the photo analysed at ≤ 768 px on its longer side (controlnet-aux
analyses at the photo's size; vton has always analysed large photos at 768 px), i.e. ``3 · 184 / H_768`` px
there; each peak is refined to sub-pixel precision by a parabola through it and its neighbours (per axis), its
score is the unsmoothed heatmap interpolated there, and the PAFs are sampled bilinearly. The keypoints are then
scaled to the photo's pixels (pixel centres at integers), clipped to the photo. On a 2-core CPU this takes
15–20 ms instead of ~0.3 s at 768 px (random-network maps with ~400 candidates, a worst case). On maps of one
person it agrees with the photo-resolution analysis within one of that analysis's pixels; on rough maps with
dozens of candidates per part the peaks agree (93 % within 1 px) but the greedy assembly may choose differently.

Bounded input: photos more elongated than ``MAX_ASPECT_RATIO`` (4:1) are refused with an ``InputError``; every
other photo reaches the network as 184 rows of at most 736 columns.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from ..annotations import Pose
from ..errors import WeightsError
from ..images import ImageSource, load_image
from .pose_assembly import HEATMAP_SIGMA, PersonCandidate, extract_people, select_person

__all__ = [
    "MAX_ASPECT_RATIO", "PoseEstimator", "estimate_pose", "build_body_model", "convert_openpose_state_dict",
    "check_photo_shape", "network_input_size", "prepare_input", "maps_to_image", "maps_at_network", "network_sigma",
    "postprocess",
]

BOX_SIZE = 368
STRIDE = 8
PAD_VALUE = 128
WORK_MAX_SIDE = 768  # σ is 3 px of the photo scaled to at most this long side
MAX_ASPECT_RATIO = 4.0  # longer side / shorter side beyond which a photo is refused (network input <= 184 x 736)


def _controlnet_aux_openpose(name: str) -> ModuleType:
    """``controlnet_aux.open_pose.<name>`` imported without executing the controlnet-aux package ``__init__`` files.

    ``import controlnet_aux`` imports every detector (and torchvision). Bare package modules whose ``__path__``
    point at the installed folders are registered in ``sys.modules`` for the duration of the import, so the
    submodule's relative imports resolve; everything this import added to ``sys.modules`` is removed afterwards,
    so a later ordinary ``import controlnet_aux`` behaves as usual. The module is cached here.
    """
    if name in _CONTROLNET_AUX:
        return _CONTROLNET_AUX[name]
    spec = importlib.util.find_spec("controlnet_aux")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            "the OpenPose body network needs controlnet-aux 0.0.10 (pip install --no-deps controlnet-aux==0.0.10)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    before = set(sys.modules)
    try:
        for pkg, folder in (("controlnet_aux", root), ("controlnet_aux.open_pose", root / "open_pose")):
            if pkg not in sys.modules:
                bare = ModuleType(pkg)
                bare.__path__ = [str(folder)]
                bare.__package__ = pkg
                sys.modules[pkg] = bare
        if name in ("body", "util"):  # util imports body, which needs util half-initialised: util first
            importlib.import_module("controlnet_aux.open_pose.util")
        module = importlib.import_module(f"controlnet_aux.open_pose.{name}")
    finally:
        for key in set(sys.modules) - before:
            if key == "controlnet_aux" or key.startswith("controlnet_aux."):
                del sys.modules[key]
    _CONTROLNET_AUX[name] = module
    return module


_CONTROLNET_AUX: dict[str, ModuleType] = {}


def build_body_model():
    """controlnet-aux's ``bodypose_model`` (random weights, eval mode)."""
    return _controlnet_aux_openpose("model").bodypose_model().eval()


def convert_openpose_state_dict(state_dict: dict, model) -> dict:
    """Checkpoint keys (``conv1_1.weight``) → the model's keys (``model0.conv1_1.weight``), every shape checked.

    Raises:
        WeightsError: a key is missing or a tensor has the wrong shape.
    """
    out = {}
    for key, ref in model.state_dict().items():
        src = key.split(".", 1)[1]
        if src not in state_dict:
            raise WeightsError(f"the OpenPose body weights lack {src!r}; is this body_pose_model.pth?")
        t = state_dict[src]
        if tuple(t.shape) != tuple(ref.shape):
            raise WeightsError(
                f"the OpenPose body weight {src!r} has shape {tuple(t.shape)}, the network needs {tuple(ref.shape)}"
            )
        out[key] = t
    extra = len(state_dict) - len(out)
    if extra:
        raise WeightsError(f"the OpenPose body weights hold {extra} tensors the body network does not have")
    return out


def _resize(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``(H, W[, C])`` to ``size = (W, H)``: area when shrinking, Lanczos when enlarging (as controlnet-aux)."""
    h, w = x.shape[:2]
    shrink = (size[0] + size[1]) < (w + h)
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
    if x.ndim == 3 and x.shape[2] > 4 and shrink:  # OpenCV's area resize takes at most 4 channels
        parts = [cv2.resize(x[:, :, i : i + 4], size, interpolation=interpolation) for i in range(0, x.shape[2], 4)]
        return np.concatenate([q.reshape(size[1], size[0], -1) for q in parts], axis=2)
    return cv2.resize(x, size, interpolation=interpolation)


def check_photo_shape(size: tuple[int, int], what: str = "person photo") -> None:
    """Refuse a photo no estimator should see: empty, or more elongated than ``MAX_ASPECT_RATIO`` (4 : 1) either
    way (``vton.images.check_image_size``, the same rule every photo reader applies).

    Args:
        size: the photo's ``(width, height)``.

    Raises:
        InputError: an empty photo, or one more elongated than 4 : 1.
    """
    from vton.images import check_image_size

    check_image_size(tuple(size), what, min_side=1, max_aspect=MAX_ASPECT_RATIO)


def network_input_size(size: tuple[int, int]) -> tuple[int, int]:
    """``(h, w)``: the photo scaled to 184 rows (``0.5 · 368 / H``), before the padding to multiples of 8.

    Args:
        size: the photo's ``(width, height)``.

    Raises:
        InputError: the photo is more elongated than ``MAX_ASPECT_RATIO`` (so ``w <= 736`` always).
    """
    check_photo_shape(size)
    w0, h0 = size
    scale = 0.5 * BOX_SIZE / h0
    return int(h0 * scale), max(1, int(w0 * scale))


def prepare_input(bgr: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The network input for an ``(H, W, 3) uint8`` BGR image.

    Returns:
        ``(1, 3, h8, w8) float32`` = padded image / 256 − 0.5, and ``(h, w)``: the scaled image's size before the
        padding (scale ``0.5 · 368 / H``; right/bottom padding to a multiple of 8 with 128).

    Raises:
        InputError: the image is more elongated than ``MAX_ASPECT_RATIO``.
    """
    h, w = network_input_size((bgr.shape[1], bgr.shape[0]))
    return _pad_input(_resize(bgr, (w, h)))


def _pad_input(scaled: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The scaled BGR image → the padded, normalised network input and its ``(h, w)``."""
    h, w = scaled.shape[:2]
    ph, pw = -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE
    padded = np.full((ph, pw, 3), PAD_VALUE, dtype=np.uint8)
    padded[:h, :w] = scaled
    x = padded.astype(np.float32).transpose(2, 0, 1)[None] / 256.0 - 0.5  # (1, 3, ph, pw)
    return np.ascontiguousarray(x), (h, w)


def maps_at_network(maps: np.ndarray, scaled_hw: tuple[int, int]) -> np.ndarray:
    """Network output ``(C, h8/8, w8/8)`` → ``(h, w, C) float32``: ×8 (Lanczos), the padding cut off."""
    m = np.ascontiguousarray(maps.transpose(1, 2, 0), dtype=np.float32)  # (h8/8, w8/8, C)
    m = _resize(m, (m.shape[1] * STRIDE, m.shape[0] * STRIDE)).reshape(m.shape[0] * STRIDE, -1, maps.shape[0])
    return np.ascontiguousarray(m[: scaled_hw[0], : scaled_hw[1]])


def maps_to_image(maps: np.ndarray, scaled_hw: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Network output ``(C, h8/8, w8/8)`` → ``(H, W, C) float32`` at the image's ``size = (W, H)``.

    ×8 (Lanczos), the padding cut off, then resized to the image (controlnet-aux's photo-resolution analysis).
    """
    m = maps_at_network(maps, scaled_hw)
    return _resize(m, size).reshape(size[1], size[0], maps.shape[0])


def network_sigma(size: tuple[int, int], scaled_hw: tuple[int, int]) -> float:
    """The heatmap smoothing at the network's resolution: σ = 3 px of the photo scaled to ≤ 768 px (long side)."""
    w, h = size
    work_h = h * min(1.0, WORK_MAX_SIDE / max(w, h))
    return HEATMAP_SIGMA * scaled_hw[0] / work_h


class PoseEstimator:
    """Photo → ``Pose`` with the OpenPose body network.

    Args:
        model: a ``bodypose_model`` with weights loaded (see ``from_weights``).
        device: torch device for the forward pass.
    """

    def __init__(self, model, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.device = device

    @classmethod
    def from_weights(cls, weights_dir: str | Path | None = None, device: str = "cpu") -> PoseEstimator:
        """Build the body network and load ``openpose/body`` through ``vton.weights`` (strict, shapes checked)."""
        import torch

        from .. import weights

        state = weights.load_state_dict("openpose/body", weights_dir=weights_dir)
        with torch.device("meta"):  # no random initialisation of 52 M parameters that are overwritten at once
            model = build_body_model()
        state = convert_openpose_state_dict(state, model)
        wrong = weights.check_tensor_dtypes({k: v.dtype for k, v in model.state_dict().items()}, state)
        if wrong:
            raise WeightsError(f"the OpenPose body weights do not fit the network: {wrong}")
        model.load_state_dict(state, strict=True, assign=True)
        return cls(model, device)

    def forward(self, image: ImageSource) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """The network's raw output for a photo: PAFs ``(38, h8/8, w8/8)``, heatmaps ``(19, h8/8, w8/8)`` and the
        scaled photo's ``(h, w)`` (184 rows) inside the padded input.

        Raises:
            InputError: the photo is more elongated than ``MAX_ASPECT_RATIO``.
        """
        return self._forward(load_image(image, "person photo"))

    def _forward(self, img) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        import torch

        h, w = network_input_size(img.size)
        x, scaled_hw = _pad_input(_resize(np.asarray(img), (w, h))[:, :, ::-1])  # resized, then RGB → BGR
        with torch.no_grad():
            paf, heat = self.model(torch.from_numpy(x).to(self.device))
        return paf[0].float().cpu().numpy(), heat[0].float().cpu().numpy(), scaled_hw

    def maps(self, image: ImageSource) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Heatmaps ``(h, w, 19)`` and PAFs ``(h, w, 38)`` at the network's resolution (184 rows), and the scale
        ``(W / w, H / h)`` from their pixels to the photo's."""
        img = load_image(image, "person photo")
        paf, heat, hw = self._forward(img)
        return maps_at_network(heat, hw), maps_at_network(paf, hw), (img.size[0] / hw[1], img.size[1] / hw[0])

    def people(self, image: ImageSource) -> list[PersonCandidate]:
        """Every person found, keypoints in the photo's pixels (pixel centres at integers)."""
        img = load_image(image, "person photo")
        return postprocess(*self._forward(img), img.size)

    def __call__(self, image: ImageSource) -> Pose:
        """The most confident person's 18 keypoints, in the photo's pixels, with scores.

        Raises:
            InputError: the photo is more elongated than ``MAX_ASPECT_RATIO`` (4:1).
            PersonNotFoundError: nobody was found.
        """
        img = load_image(image, "person photo")
        return select_person(postprocess(*self._forward(img), img.size), img.size)


def postprocess(paf: np.ndarray, heat: np.ndarray, scaled_hw: tuple[int, int],
                size: tuple[int, int]) -> list[PersonCandidate]:
    """Network output → people with keypoints in the photo's pixels, analysed at the network's resolution.

    Args:
        paf: ``(38, h8/8, w8/8)`` PAFs.
        heat: ``(19, h8/8, w8/8)`` heatmaps.
        scaled_hw: the scaled photo's ``(h, w)`` inside the padded input.
        size: the photo's ``(width, height)``.
    """
    heat_n, paf_n = maps_at_network(heat, scaled_hw), maps_at_network(paf, scaled_hw)
    people = extract_people(heat_n, paf_n, sigma=network_sigma(size, scaled_hw), subpixel=True)
    k = np.array([size[0] / scaled_hw[1], size[1] / scaled_hw[0]])  # network px → photo px, per axis
    last = np.array([size[0] - 1, size[1] - 1], dtype=np.float64)
    out = []
    for p in people:
        kp = np.clip((p.keypoints + 0.5) * k - 0.5, 0.0, last)  # a sub-pixel peak may sit half a pixel outside
        out.append(PersonCandidate(np.where(p.scores[:, None] > 0, kp, 0.0).astype(np.float32), p.scores,
                                   p.total_score, p.parts))
    return out


_CACHE: dict[str | None, PoseEstimator] = {}
_CACHE_LOCK = threading.Lock()


def estimate_pose(image: ImageSource, weights_dir: str | Path | None = None) -> Pose:
    """``PoseEstimator.from_weights(weights_dir)(image)`` with the estimator built once per weights folder."""
    key = None if weights_dir is None else str(Path(weights_dir).resolve())
    with _CACHE_LOCK:
        est = _CACHE.get(key)
        if est is None:
            est = _CACHE[key] = PoseEstimator.from_weights(weights_dir)
    return est(image)
