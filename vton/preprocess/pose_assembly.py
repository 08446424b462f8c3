"""OpenPose's post-processing: from heatmaps and part affinity fields to people (Cao et al., "Realtime Multi-Person
2D Pose Estimation using Part Affinity Fields", CVPR 2017), as controlnet-aux 0.0.10 does it
(huggingface/controlnet_aux, ``open_pose``), written from the published facts; every keypoint's score is kept:

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

``vton.preprocess.pose`` runs the network and calls these (at the network's resolution, with sub-pixel peaks and
bilinear PAF sampling: see there).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

from ..annotations import Pose
from ..errors import PersonNotFoundError
from ..labels import COCO18

__all__ = [
    "LIMBS", "HEATMAP_SIGMA", "PersonCandidate", "find_peaks", "connect_limbs", "assemble_people", "extract_people",
    "select_person",
]

N_PARTS = len(COCO18)  # 18; the 19th heatmap channel is the background
PEAK_THRESHOLD = 0.1
PAF_THRESHOLD = 0.05
PAF_SAMPLES = 10
HEATMAP_SIGMA = 3.0

# (part A, part B, PAF x channel, PAF y channel), COCO-18 indices, in the order the body model's people are
# assembled. The last two (ear–shoulder) only join existing people.
LIMBS: tuple[tuple[int, int, int, int], ...] = (
    (1, 2, 12, 13), (1, 5, 20, 21), (2, 3, 14, 15), (3, 4, 16, 17), (5, 6, 22, 23), (6, 7, 24, 25),
    (1, 8, 0, 1), (8, 9, 2, 3), (9, 10, 4, 5), (1, 11, 6, 7), (11, 12, 8, 9), (12, 13, 10, 11),
    (1, 0, 28, 29), (0, 14, 30, 31), (14, 16, 34, 35), (0, 15, 32, 33), (15, 17, 36, 37),
    (2, 16, 18, 19), (5, 17, 26, 27),
)
_LIMBS_THAT_START_PEOPLE = len(LIMBS) - 2


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
