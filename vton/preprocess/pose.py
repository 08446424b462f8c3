"""Body pose from a photo: the OpenPose body model (Cao et al., "Realtime Multi-Person 2D Pose Estimation using
Part Affinity Fields", CVPR 2017) as controlnet-aux 0.0.10 runs it (huggingface/controlnet_aux, ``open_pose``).

The network definition is controlnet-aux's ``bodypose_model``, loaded from its file without importing the
controlnet-aux package (whose ``__init__`` imports every detector and needs torchvision). Everything around it is
ours, written from the published facts: the input (BGR, one scale ``0.5 · 368 / H``, padded right/bottom to a
multiple of 8 with 128, ``x / 256 − 0.5``) and the post-processing, which keeps every keypoint's score:

1. ``find_peaks``: each of the 18 heatmaps smoothed with a Gaussian (σ = 3); a peak is a pixel ≥ its four
   neighbours and > 0.1; its score is the unsmoothed heatmap value there;
2. ``connect_limbs``: every candidate pair of a limb is scored by the mean projection of the limb's PAF on the
   pair's unit vector over 10 samples, plus the distance prior ``min(0.5 · H / length − 1, 0)``; a pair is kept
   when more than 80 % of the samples exceed 0.05 and the score is positive; pairs are taken greedily, best first,
   each candidate used once;
3. ``assemble_people``: limbs are merged into people in the network's limb order; a person with fewer than 4
   parts or a mean score below 0.4 is dropped.

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
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

from ..annotations import Pose
from ..errors import PersonNotFoundError, WeightsError
from ..images import ImageSource, load_image
from ..labels import COCO18

__all__ = [
    "LIMBS", "MAX_ASPECT_RATIO", "PersonCandidate", "PoseEstimator", "estimate_pose", "build_body_model",
    "convert_openpose_state_dict", "check_photo_shape", "network_input_size", "prepare_input", "maps_to_image",
    "maps_at_network", "network_sigma", "postprocess", "find_peaks", "connect_limbs", "assemble_people",
    "extract_people", "select_person",
]

N_PARTS = len(COCO18)  # 18; the 19th heatmap channel is the background
BOX_SIZE = 368
STRIDE = 8
PAD_VALUE = 128
PEAK_THRESHOLD = 0.1
PAF_THRESHOLD = 0.05
PAF_SAMPLES = 10
HEATMAP_SIGMA = 3.0
WORK_MAX_SIDE = 768  # σ is 3 px of the photo scaled to at most this long side
MAX_ASPECT_RATIO = 4.0  # longer side / shorter side beyond which a photo is refused (network input <= 184 x 736)

# (part A, part B, PAF x channel, PAF y channel), COCO-18 indices, in the order the body model's people are
# assembled. The last two (ear–shoulder) only join existing people.
LIMBS: tuple[tuple[int, int, int, int], ...] = (
    (1, 2, 12, 13), (1, 5, 20, 21), (2, 3, 14, 15), (3, 4, 16, 17), (5, 6, 22, 23), (6, 7, 24, 25),
    (1, 8, 0, 1), (8, 9, 2, 3), (9, 10, 4, 5), (1, 11, 6, 7), (11, 12, 8, 9), (12, 13, 10, 11),
    (1, 0, 28, 29), (0, 14, 30, 31), (14, 16, 34, 35), (0, 15, 32, 33), (15, 17, 36, 37),
    (2, 16, 18, 19), (5, 17, 26, 27),
)
_LIMBS_THAT_START_PEOPLE = len(LIMBS) - 2


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


def _bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``img (H, W[, C]) float`` sampled at float ``x``, ``y`` (equal shapes) → ``x.shape [+ (C,)] float32``.

    Bilinear (OpenCV's ``remap``, 1/32-pixel weights), clamped to the border.
    """
    n = x.size
    cols = 256
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = x.ravel(), y.ravel()
    src = np.ascontiguousarray(img, dtype=np.float32)
    out = cv2.remap(src, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)  # (rows, cols[, C])
    tail = img.shape[2:]
    return out.reshape(rows * cols, *tail)[:n].reshape(*x.shape, *tail)


def _parabola_offset(left: np.ndarray, mid: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sub-pixel offset of a peak from three samples (vertex of the parabola through them), within ±0.5."""
    curv = left - 2.0 * mid + right
    safe = np.where(curv < 0, curv, -1.0)
    return np.where(curv < 0, np.clip(0.5 * (left - right) / safe, -0.5, 0.5), 0.0)


def find_peaks(
    heatmaps: np.ndarray, threshold: float = PEAK_THRESHOLD, sigma: float = HEATMAP_SIGMA, subpixel: bool = False
) -> list[np.ndarray]:
    """Keypoint candidates of each part.

    Args:
        heatmaps: ``(H, W, >=18)`` heatmaps (channel i = COCO-18 part i).
        threshold: minimum smoothed value of a peak.
        sigma: Gaussian smoothing before the peak search.
        subpixel: refine each peak by a parabola per axis through the smoothed values, and take the score from
            the unsmoothed map interpolated there (bilinear). Without it (controlnet-aux): integer pixels, the
            unsmoothed value at the pixel.

    Returns:
        18 arrays ``(k, 4) float64`` of ``(x, y, score, id)``; ids number all candidates consecutively.
    """
    if subpixel:
        return _find_peaks_subpixel(heatmaps, threshold, sigma)
    out, next_id = [], 0
    for part in range(N_PARTS):
        raw = heatmaps[:, :, part].astype(np.float64)
        sm = gaussian_filter(raw, sigma=sigma)
        pad = np.pad(sm, 1, constant_values=0.0)
        peak = (
            (sm >= pad[:-2, 1:-1]) & (sm >= pad[2:, 1:-1]) & (sm >= pad[1:-1, :-2]) & (sm >= pad[1:-1, 2:])
            & (sm > threshold)
        )
        ys, xs = np.nonzero(peak)  # row-major order
        ids = np.arange(next_id, next_id + len(xs))
        out.append(np.stack([xs, ys, raw[ys, xs], ids], 1).astype(np.float64).reshape(-1, 4))
        next_id += len(xs)
    return out


def _find_peaks_subpixel(heatmaps: np.ndarray, threshold: float, sigma: float) -> list[np.ndarray]:
    """``find_peaks(..., subpixel=True)``: all parts at once, float32, OpenCV's Gaussian (scipy's kernel and
    reflective border)."""
    raw = np.ascontiguousarray(heatmaps[:, :, :N_PARTS], dtype=np.float32)  # (H, W, 18)
    r = int(4.0 * sigma + 0.5)  # scipy's truncation at 4 σ
    sm = cv2.GaussianBlur(raw, (2 * r + 1, 2 * r + 1), sigma, sigma, borderType=cv2.BORDER_REFLECT)
    sm = sm.reshape(raw.shape)  # (H, W, 18)
    pad = np.pad(sm, ((1, 1), (1, 1), (0, 0)))
    peak = (
        (sm >= pad[:-2, 1:-1]) & (sm >= pad[2:, 1:-1]) & (sm >= pad[1:-1, :-2]) & (sm >= pad[1:-1, 2:])
        & (sm > threshold)
    )
    parts, ys, xs = np.nonzero(peak.transpose(2, 0, 1))  # part, then row-major
    py, px = ys + 1, xs + 1  # in the zero-padded map
    mid = pad[py, px, parts]
    fx = xs + _parabola_offset(pad[py, px - 1, parts], mid, pad[py, px + 1, parts])
    fy = ys + _parabola_offset(pad[py - 1, px, parts], mid, pad[py + 1, px, parts])
    score = _bilinear(raw, fx, fy)[np.arange(len(parts)), parts] if len(parts) else np.zeros(0)
    table = np.stack([fx, fy, score, np.arange(len(parts))], 1).astype(np.float64).reshape(-1, 4)
    bounds = np.searchsorted(parts, np.arange(N_PARTS + 1))
    return [table[bounds[i] : bounds[i + 1]] for i in range(N_PARTS)]


def connect_limbs(peaks: list[np.ndarray], pafs: np.ndarray, image_height: int,
                  threshold: float = PAF_THRESHOLD, samples: int = PAF_SAMPLES,
                  bilinear: bool = False) -> list[np.ndarray]:
    """Score candidate pairs of every limb on the PAFs and keep the best one-to-one pairs.

    Args:
        peaks: ``find_peaks`` output.
        pafs: ``(H, W, 38)`` part affinity fields, in the peaks' pixels.
        image_height: H, for the distance prior.
        bilinear: sample the PAFs bilinearly at the sample points (for sub-pixel peaks at the network's
            resolution) instead of at the nearest pixel (controlnet-aux).

    Returns:
        One ``(c, 5)`` array per limb of ``LIMBS``: ``(id A, id B, score, index in A, index in B)``.
    """
    h, w = pafs.shape[:2]
    out = []
    for a, b, cx, cy in LIMBS:
        ca, cb = peaks[a], peaks[b]
        if len(ca) == 0 or len(cb) == 0:
            out.append(np.zeros((0, 5)))
            continue
        pa, pb = ca[:, None, :2], cb[None, :, :2]  # (nA, 1, 2), (1, nB, 2)
        vec = pb - pa  # (nA, nB, 2)
        norm = np.maximum(np.sqrt((vec**2).sum(-1)), 1e-3)  # (nA, nB)
        unit = vec / norm[..., None]
        t = np.linspace(0.0, 1.0, samples)
        pts = pa[..., None, :] + vec[..., None, :] * t[:, None]  # (nA, nB, S, 2)
        if bilinear:
            field = _bilinear(pafs[:, :, [cx, cy]], pts[..., 0], pts[..., 1])  # (nA, nB, S, 2)
            fx, fy = field[..., 0], field[..., 1]
        else:
            xi = np.clip(np.rint(pts[..., 0]).astype(np.int64), 0, w - 1)
            yi = np.clip(np.rint(pts[..., 1]).astype(np.int64), 0, h - 1)
            fx, fy = pafs[yi, xi, cx], pafs[yi, xi, cy]
        proj = fx * unit[..., None, 0] + fy * unit[..., None, 1]  # (nA, nB, S)
        score = proj.mean(-1) + np.minimum(0.5 * image_height / norm - 1.0, 0.0)
        ok = ((proj > threshold).sum(-1) > 0.8 * samples) & (score > 0)
        ii, jj = np.nonzero(ok)  # row-major: i outer, j inner
        order = np.argsort(-score[ii, jj], kind="stable")
        used_a, used_b, rows = set(), set(), []
        for i, j in zip(ii[order], jj[order], strict=True):
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            rows.append((ca[i, 3], cb[j, 3], score[i, j], i, j))
            if len(rows) >= min(len(ca), len(cb)):
                break
        out.append(np.asarray(rows, dtype=np.float64).reshape(-1, 5))
    return out


def assemble_people(peaks: list[np.ndarray], connections: list[np.ndarray],
                    min_parts: int = 4, min_mean_score: float = 0.4) -> np.ndarray:
    """Merge limbs into people.

    Returns:
        ``(n, 20)``: columns 0–17 the candidate id of each part (−1 missing), 18 the total score (candidate scores
        plus limb scores), 19 the number of parts.
    """
    cand_score = np.concatenate([p[:, 2] for p in peaks]) if peaks else np.zeros(0)
    people: list[np.ndarray] = []
    for k, (a, b, _, _) in enumerate(LIMBS):
        for ida, idb, s, _, _ in connections[k]:
            hits = [p for p in people if p[a] == ida or p[b] == idb][:2]
            if len(hits) == 2 and not ((hits[0][:N_PARTS] >= 0) & (hits[1][:N_PARTS] >= 0)).any():
                p1, p2 = hits
                p1[:N_PARTS] += p2[:N_PARTS] + 1
                p1[N_PARTS:] += p2[N_PARTS:]
                p1[N_PARTS] += s
                people = [p for p in people if p is not p2]
            elif hits:
                p = hits[0]
                if p[b] != idb:
                    p[b] = idb
                    p[N_PARTS + 1] += 1
                    p[N_PARTS] += cand_score[int(idb)] + s
            elif k < _LIMBS_THAT_START_PEOPLE:
                row = -np.ones(N_PARTS + 2)
                row[a], row[b] = ida, idb
                row[N_PARTS + 1] = 2
                row[N_PARTS] = cand_score[int(ida)] + cand_score[int(idb)] + s
                people.append(row)
    kept = [p for p in people if p[N_PARTS + 1] >= min_parts and p[N_PARTS] / p[N_PARTS + 1] >= min_mean_score]
    return np.asarray(kept, dtype=np.float64).reshape(-1, N_PARTS + 2)


@dataclass(frozen=True)
class PersonCandidate:
    """One assembled person: ``keypoints (18, 2)`` px ((0, 0) missing), ``scores (18,)`` in [0, 1], totals."""

    keypoints: np.ndarray
    scores: np.ndarray
    total_score: float
    parts: int


def extract_people(heatmaps: np.ndarray, pafs: np.ndarray, sigma: float = HEATMAP_SIGMA,
                   subpixel: bool = False) -> list[PersonCandidate]:
    """Peaks, limbs and people from ``(H, W, >=18)`` heatmaps and ``(H, W, 38)`` PAFs of the same pixels.

    Args:
        sigma: the heatmap smoothing, in these pixels.
        subpixel: sub-pixel peaks and bilinear PAF sampling (for maps at the network's resolution).
    """
    if heatmaps.ndim != 3 or heatmaps.shape[2] < N_PARTS:
        raise ValueError(f"heatmaps must be (H, W, >=18), got shape {heatmaps.shape}")
    if pafs.shape != (*heatmaps.shape[:2], 2 * len(LIMBS)):
        raise ValueError(f"PAFs must be (H, W, 38) like the heatmaps, got shape {pafs.shape}")
    peaks = find_peaks(heatmaps, sigma=sigma, subpixel=subpixel)
    people = assemble_people(peaks, connect_limbs(peaks, pafs, heatmaps.shape[0], bilinear=subpixel))
    cands = np.concatenate(peaks) if peaks else np.zeros((0, 4))
    out = []
    for row in people:
        ids = row[:N_PARTS].astype(np.int64)
        kp = np.zeros((N_PARTS, 2), np.float32)
        sc = np.zeros(N_PARTS, np.float32)
        have = ids >= 0
        kp[have] = cands[ids[have], :2]
        sc[have] = np.clip(cands[ids[have], 2], 0.0, 1.0)
        out.append(PersonCandidate(kp, sc, float(row[N_PARTS]), int(row[N_PARTS + 1])))
    return out


def select_person(people: list[PersonCandidate], size: tuple[int, int]) -> Pose:
    """The most confident person (highest total score) as a ``Pose`` of an image of ``size = (W, H)``.

    Keypoints at x <= 1 or y <= 1 are reported missing, so that ``Pose.present`` agrees with the scores.

    Raises:
        PersonNotFoundError: nobody was found.
    """
    if not people:
        raise PersonNotFoundError(
            "no person found in the photo; use a photo of one person standing, facing the camera, "
            "with the upper body visible"
        )
    best = max(people, key=lambda p: p.total_score)
    # a point within 1 px of the top/left edge would read as missing (the datasets' x > 1 and y > 1 rule): drop it
    found = (best.scores > 0) & (best.keypoints[:, 0] > 1) & (best.keypoints[:, 1] > 1)
    kp = np.where(found[:, None], best.keypoints, 0.0)
    return Pose(kp, np.where(found, best.scores, 0.0), size, people_found=len(people))


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
