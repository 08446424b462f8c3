"""VITON-HD's dataset code and test-time assembly: everything between the photos and the three networks.

Choi et al., CVPR 2021, shadow2496/VITON-HD@02afa4b5: ``datasets.py`` (``VITONDataset.get_parse_agnostic``,
``get_img_agnostic``, ``__getitem__``), ``test.py`` (the ``test()`` loop body) and ``utils.py`` (``gen_noise``).
Written from the facts in ``../shared/golden/README.md`` (VITON-HD section) and checked stage by stage against it.

Conventions: the frame is the load size ``(H, W)`` (1024 × 768 for the released weights); keypoints are OpenPose
BODY_25 ``(25, 2) float64`` pixel coordinates of the frame with ``(0, 0)`` = not detected (the authors' JSON);
parse maps are ``(H, W) uint8`` in :data:`VITONHD_PARSE`; tensors are ``(B, C, H, W) float32``, images in [-1, 1],
masks {0, 1}, one-hots {0, 1}. PIL draws the agnostic masks on fractional coordinates exactly as the authors' code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from vton.annotations import Pose
from vton.labels import COCO18
from vton.methods.acgpn.assembly import gen_noise
from vton.methods.vitonhd.labels import (
    ALIAS_LABELS,
    PARSE_TO_SEG,
    SEG_LABELS,
    SEG_TO_ALIAS,
    VITONHD_PARSE,
    grouping_table,
)

__all__ = [
    "BODY25", "BODY25_LIMBS", "BODY25_COLORS", "body25_from_pose", "parse_agnostic", "img_agnostic", "render_pose",
    "one_hot", "group_labels", "seg_inputs", "seg_noise", "gaussian_blur", "segmentation", "gmm_inputs", "warp",
    "misalign_mask", "parse_div", "alias_input", "VITONHDInputs", "run_vitonhd",
]

# OpenPose BODY_25 keypoint names (the authors' openpose-json files).
BODY25: tuple[str, ...] = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye",
    "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
    "right_small_toe", "right_heel",
)

# OpenPose's BODY_25 rendering (its openpose-img files): limbs drawn in the colour of their second keypoint at 60 %,
# then every keypoint as a disc in its own colour, on black.
BODY25_LIMBS: tuple[tuple[str, str], ...] = (
    ("neck", "mid_hip"), ("neck", "right_shoulder"), ("neck", "left_shoulder"), ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("mid_hip", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("mid_hip", "left_hip"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("neck", "nose"), ("nose", "right_eye"),
    ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"), ("left_ankle", "left_big_toe"),
    ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
    ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"),
)
BODY25_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255),
    (255, 0, 170), (170, 0, 255), (255, 0, 255), (85, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255),
    (0, 255, 255), (0, 255, 255), (0, 255, 255),
)
LIMB_WIDTH, JOINT_RADIUS = 9, 6  # pixels at a frame height of 1024 (scaled with the frame)

_P = {name: i for i, name in enumerate(BODY25)}
GRAY = (128, 128, 128)  # PIL's "gray"


def body25_from_pose(pose: Pose) -> np.ndarray:
    """A COCO-18 pose → BODY_25 ``(25, 2) float64`` with ``(0, 0)`` for what is missing.

    Our choice (the authors ran OpenPose's BODY_25 model): the 18 shared points keep their coordinates, the mid hip
    is the hips' midpoint when both are present, the six foot points are missing.
    """
    out = np.zeros((len(BODY25), 2), dtype=np.float64)
    kp, present = pose.keypoints.astype(np.float64), pose.present
    for i, name in enumerate(COCO18):
        if present[i]:
            out[_P[name]] = kp[i]
    r, lh = COCO18.index("right_hip"), COCO18.index("left_hip")
    if present[r] and present[lh]:
        out[_P["mid_hip"]] = (kp[r] + kp[lh]) / 2
    return out


def _missing(p: np.ndarray) -> bool:
    return bool(p[0] == 0.0 and p[1] == 0.0)


def _xy(p: np.ndarray) -> tuple[float, float]:
    return float(p[0]), float(p[1])


def _disc(draw: ImageDraw.ImageDraw, p: np.ndarray, rx: float, ry: float, fill) -> None:
    x, y = _xy(p)
    draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill, fill)


def parse_agnostic(parse: np.ndarray, body25: np.ndarray) -> np.ndarray:
    """The parse with the garment region removed (``get_parse_agnostic``): upper clothes, dress, coat and neck
    become background; each arm label is removed inside a mask of its arm drawn from the pose.

    The arm masks: for the left arm the chain right shoulder → left shoulder → left elbow → left wrist, for the
    right arm left shoulder → right shoulder → right elbow → right wrist; each segment a line of width 100 and a
    disc of radius 150 at its end (40 at the wrist); a segment with a missing end is skipped (and the chain goes on
    from its last drawn point). Sizes in pixels of the frame, as the authors' (for 768 × 1024).

    Args:
        parse: ``(H, W) uint8`` in :data:`VITONHD_PARSE`.
        body25: ``(25, 2) float64`` keypoints in the parse's pixels.

    Returns:
        ``(H, W) uint8``, same label set.
    """
    parse = np.asarray(parse)
    h, w = parse.shape
    out = parse.copy()
    for arm, chain in (("left_arm", ("right_shoulder", "left_shoulder", "left_elbow", "left_wrist")),
                       ("right_arm", ("left_shoulder", "right_shoulder", "right_elbow", "right_wrist"))):
        mask = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(mask)
        prev = body25[_P[chain[0]]]
        for name in chain[1:]:
            p = body25[_P[name]]
            if _missing(prev) or _missing(p):
                continue
            draw.line([_xy(prev), _xy(p)], 255, width=100)
            r = 40 if name == chain[-1] else 150
            _disc(draw, p, r, r, 255)
            prev = p
        out[(np.asarray(mask) > 0) & VITONHD_PARSE.mask(parse, arm)] = VITONHD_PARSE.id("background")
    out[VITONHD_PARSE.mask(parse, "upper_clothes", "dress", "coat", "neck")] = VITONHD_PARSE.id("background")
    return out


def img_agnostic(img: Image.Image, parse: np.ndarray, body25: np.ndarray) -> Image.Image:
    """The person with the garment region painted gray (``get_img_agnostic``).

    The hips are first moved to the shoulders' width about their midpoint; then gray: a line shoulder to shoulder
    (width 200) with discs (r 100) at both shoulders, each arm segment (width 200) with a disc (r 100) at its end
    (skipped if an end is missing), ellipses (half-axes 60 × 120) at the hips, lines shoulder–hip (width 120) and
    hip–hip (width 240), the polygon shoulders–hips and a square of ±140 around the neck. Finally the photo's face
    (sunglasses, face) and lower body (pants, skirt, legs, shoes) are pasted back; the hair is not.

    Args:
        img: the framed person, RGB, the parse's size.
        parse: ``(H, W) uint8`` in :data:`VITONHD_PARSE`.
        body25: ``(25, 2) float64`` keypoints (not modified).

    Raises:
        ValueError: a hip or shoulder is missing, or the hips coincide (the authors' code divides by their distance).
    """
    kp = np.array(body25, dtype=np.float64)
    for name in ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip"):
        if _missing(kp[_P[name]]):
            raise ValueError(f"the agnostic image needs the {name.replace('_', ' ')} keypoint")
    rs, ls, rh, lh = (_P[n] for n in ("right_shoulder", "left_shoulder", "right_hip", "left_hip"))
    shoulders = np.linalg.norm(kp[ls] - kp[rs])
    hips = np.linalg.norm(kp[lh] - kp[rh])
    if hips == 0:
        raise ValueError("the two hip keypoints coincide")
    mid = (kp[rh] + kp[lh]) / 2
    kp[rh] = mid + (kp[rh] - mid) / hips * shoulders
    kp[lh] = mid + (kp[lh] - mid) / hips * shoulders

    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    draw.line([_xy(kp[rs]), _xy(kp[ls])], GRAY, width=200)
    for i in (rs, ls):
        _disc(draw, kp[i], 100, 100, GRAY)
    for a, b in (("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                 ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist")):
        if _missing(kp[_P[a]]) or _missing(kp[_P[b]]):
            continue
        draw.line([_xy(kp[_P[a]]), _xy(kp[_P[b]])], GRAY, width=200)
        _disc(draw, kp[_P[b]], 100, 100, GRAY)
    for i in (rh, lh):
        _disc(draw, kp[i], 60, 120, GRAY)
    draw.line([_xy(kp[rs]), _xy(kp[rh])], GRAY, width=120)
    draw.line([_xy(kp[ls]), _xy(kp[lh])], GRAY, width=120)
    draw.line([_xy(kp[rh]), _xy(kp[lh])], GRAY, width=240)
    draw.polygon([_xy(kp[i]) for i in (rs, ls, lh, rh)], GRAY, GRAY)
    nx, ny = _xy(kp[_P["neck"]])
    draw.rectangle((nx - 140, ny - 140, nx + 140, ny + 140), GRAY, GRAY)

    keep = VITONHD_PARSE.mask(np.asarray(parse), "sunglasses", "face", "pants", "skirt", "left_leg", "right_leg",
                              "left_shoe", "right_shoe")
    arr = np.asarray(out).copy()
    arr[keep] = np.asarray(img.convert("RGB"))[keep]
    return Image.fromarray(arr)


def render_pose(body25: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The OpenPose-style skeleton picture the authors read as ``openpose-img`` (our drawing of it).

    Limbs (:data:`BODY25_LIMBS`, width ``LIMB_WIDTH``) in 60 % of their second keypoint's colour, then discs
    (radius ``JOINT_RADIUS``) in each keypoint's colour (:data:`BODY25_COLORS`), on black; both scaled with the
    frame height from 1024. A limb with a missing end is not drawn.

    Args:
        body25: ``(25, 2)`` keypoints; size: ``(W, H)``.
    """
    w, h = size
    scale = h / 1024
    width, radius = max(1, round(LIMB_WIDTH * scale)), max(1, round(JOINT_RADIUS * scale))
    img = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    for a, b in BODY25_LIMBS:
        pa, pb = body25[_P[a]], body25[_P[b]]
        if _missing(pa) or _missing(pb):
            continue
        color = tuple(int(round(0.6 * c)) for c in BODY25_COLORS[_P[b]])
        draw.line([_xy(pa), _xy(pb)], color, width=width)
    for i, p in enumerate(body25):
        if not _missing(p):
            _disc(draw, p, radius, radius, BODY25_COLORS[i])
    return img


# ------------------------------------------------------------------------------------------------ tensors


def one_hot(labels: torch.Tensor, num_labels: int) -> torch.Tensor:
    """``(B, 1, H, W)`` integer-valued ids → ``(B, num_labels, H, W)`` float {0, 1} (the authors' ``scatter_``)."""
    if labels.ndim != 4 or labels.shape[1] != 1:
        raise ValueError(f"a label map must be (B, 1, H, W), got {tuple(labels.shape)}")
    out = torch.zeros(labels.shape[0], num_labels, *labels.shape[2:], device=labels.device)
    return out.scatter_(1, labels.long(), 1.0)


def group_labels(labels: torch.Tensor | np.ndarray, table: np.ndarray):
    """Relabel with a lookup table (:func:`vton.methods.vitonhd.labels.grouping_table`)."""
    if isinstance(labels, torch.Tensor):
        return torch.as_tensor(table, device=labels.device)[labels.long()].to(labels.dtype)
    return table[np.asarray(labels).astype(np.int64)]


PARSE_TO_SEG_TABLE = grouping_table(VITONHD_PARSE, SEG_LABELS, PARSE_TO_SEG)
SEG_TO_ALIAS_TABLE = grouping_table(SEG_LABELS, ALIAS_LABELS, SEG_TO_ALIAS)


def seg_inputs(parse_agnostic: torch.Tensor, pose: torch.Tensor, cloth: torch.Tensor, cloth_mask: torch.Tensor,
               low_res: tuple[int, int]) -> dict[str, torch.Tensor]:
    """The four maps the segmentation generator reads, bilinearly downsampled (align_corners=False, no antialias).

    Args:
        parse_agnostic: ``(B, 13, H, W)`` one-hot; pose: ``(B, 3, H, W)`` pose image; cloth ``(B, 3, H, W)``;
        cloth_mask ``(B, 1, H, W)``; low_res: ``(h, w)``.

    Returns:
        ``{"cm_down", "c_masked_down" (cloth · mask), "parse_agnostic_down", "pose_down"}``, each ``(B, C, h, w)``.
    """
    def down(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t, size=low_res, mode="bilinear", align_corners=False)

    return {"cm_down": down(cloth_mask), "c_masked_down": down(cloth * cloth_mask),
            "parse_agnostic_down": down(parse_agnostic), "pose_down": down(pose)}


def seg_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The segmentation generator's binary noise (``utils.gen_noise``: OpenCV normal noise saturated into uint8,
    ÷ 255 truncated: ≈ 16 % ones) drawn after ``cv2.setRNGSeed(seed)`` (test.py does not seed it)."""
    return gen_noise(shape, seed)


def gaussian_blur(x: torch.Tensor, size: int = 15, sigma: float = 3.0) -> torch.Tensor:
    """torchgeometry 0.1.2's ``GaussianBlur((size, size), (sigma, sigma))``: the float32 kernel ``outer(g, g)``,
    ``g = exp(−(i − size // 2)² / (2σ²)) / Σ``, depthwise with **zero** padding ``size // 2``.

    Applied as its two separable passes (rows, then columns): the same sum with zero padding, some 7× faster than
    the 15 × 15 conv on a CPU; the float32 results differ from the 2-D conv by rounding only (≈ 1e-7).
    """
    g = torch.tensor([math.exp(-((i - size // 2) ** 2) / float(2 * sigma**2)) for i in range(size)],
                     dtype=torch.float32)
    g = (g / g.sum()).to(x)
    c, pad = x.shape[1], size // 2
    x = F.conv2d(x, g.view(1, 1, size, 1).expand(c, 1, size, 1), padding=(pad, 0), groups=c)  # along H
    return F.conv2d(x, g.view(1, 1, 1, size).expand(c, 1, 1, size), padding=(0, pad), groups=c)  # along W


def segmentation(probs: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's low-resolution probabilities → the full-size segmentation.

    Bilinear upsampling to ``size`` (align_corners=False), :func:`gaussian_blur`, argmax over classes (the first
    index wins ties).

    Returns:
        ``(blurred (B, 13, H, W), labels (B, 1, H, W) int64)``.
    """
    blurred = gaussian_blur(F.interpolate(probs, size=size, mode="bilinear", align_corners=False))
    return blurred, blurred.argmax(dim=1, keepdim=True)


def gmm_inputs(parse: torch.Tensor, pose: torch.Tensor, agnostic: torch.Tensor, cloth: torch.Tensor,
               low_res: tuple[int, int]) -> dict[str, torch.Tensor]:
    """The GMM's inputs, nearest-downsampled (legacy nearest: source index ``floor(dst · in / out)``).

    Args:
        parse: ``(B, 7, H, W)`` ALIAS one-hot (its "upper" channel is read); pose, agnostic, cloth ``(B, 3, H, W)``.

    Returns:
        ``{"parse_cloth_gmm", "pose_gmm", "agnostic_gmm", "c_gmm"}`` and ``"person"`` = the first three
        concatenated in that order (7 channels).
    """
    upper = ALIAS_LABELS.id("upper")

    def down(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t, size=low_res, mode="nearest")

    out = {"parse_cloth_gmm": down(parse[:, upper:upper + 1]), "pose_gmm": down(pose), "agnostic_gmm": down(agnostic),
           "c_gmm": down(cloth)}
    out["person"] = torch.cat([out["parse_cloth_gmm"], out["pose_gmm"], out["agnostic_gmm"]], 1)
    return out


def warp(cloth: torch.Tensor, cloth_mask: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cloth and mask sampled by the TPS grid: bilinear, border padding for both, ``align_corners=False``."""
    wc = F.grid_sample(cloth, grid, mode="bilinear", padding_mode="border", align_corners=False)
    wm = F.grid_sample(cloth_mask, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return wc, wm


def misalign_mask(parse: torch.Tensor, warped_cm: torch.Tensor) -> torch.Tensor:
    """Where the predicted garment region is not covered by the warped garment: ``relu(parse["upper"] − warped_cm)``
    ``(B, 1, H, W)``."""
    upper = ALIAS_LABELS.id("upper")
    return (parse[:, upper:upper + 1] - warped_cm).clamp_(min=0.0)


def parse_div(parse: torch.Tensor, misalign: torch.Tensor) -> torch.Tensor:
    """``(B, 8, H, W)``: the 7-class one-hot plus the misalignment mask, removed from the "upper" channel."""
    upper = ALIAS_LABELS.id("upper")
    out = torch.cat([parse, misalign], 1)
    out[:, upper:upper + 1] -= misalign
    return out


def alias_input(agnostic: torch.Tensor, pose: torch.Tensor, warped_c: torch.Tensor) -> torch.Tensor:
    """``(B, 9, H, W)`` = agnostic image, pose image, warped cloth."""
    return torch.cat([agnostic, pose, warped_c], 1)


@dataclass(frozen=True)
class VITONHDInputs:
    """What the loader returns, at the load size: ``img_agnostic``, ``pose`` ``(1, 3, H, W)`` in [-1, 1];
    ``parse_agnostic`` ``(1, 13, H, W)`` one-hot; ``cloth`` ``(1, 3, H, W)``; ``cloth_mask`` ``(1, 1, H, W)``."""

    img_agnostic: torch.Tensor
    parse_agnostic: torch.Tensor
    pose: torch.Tensor
    cloth: torch.Tensor
    cloth_mask: torch.Tensor


def run_vitonhd(nets: Mapping[str, torch.nn.Module], inputs: VITONHDInputs, noise: torch.Tensor,
                alias_noise: Mapping[str, torch.Tensor],
                step: Callable[[str, Callable[[], Any]], Any] | None = None) -> dict[str, torch.Tensor]:
    """test.py's loop body: segmentation, clothes deformation, try-on synthesis.

    Args:
        nets: ``{"seg", "gmm", "alias"}``, configured for the inputs' size.
        noise: the segmentation generator's binary noise ``(1, 1, h, w)`` at ``low_res``.
        alias_noise: every ALIASNorm's draw (:func:`vton.methods.vitonhd.networks.alias_noise_shapes`).
        step: ``step(key, fn)`` runs ``fn`` as a timed step (``Trace.step``): ``segmentation``, ``gmm``, ``warp``,
            ``misalign``, ``alias``.

    Returns:
        Every intermediate by test.py's names, plus ``output`` (tanh) and ``pre_tanh``.
    """
    run = step or (lambda key, fn: fn())
    cfg = nets["alias"].cfg
    size, low = (cfg.load_height, cfg.load_width), cfg.low_res
    s: dict[str, torch.Tensor] = {}

    def seg_step():
        s.update(seg_inputs(inputs.parse_agnostic, inputs.pose, inputs.cloth, inputs.cloth_mask, low))
        s["noise"] = noise.to(inputs.cloth)
        x = torch.cat([s["cm_down"], s["c_masked_down"], s["parse_agnostic_down"], s["pose_down"], s["noise"]], 1)
        s["parse_pred_down"] = nets["seg"](x)
        _, s["parse_pred"] = segmentation(s["parse_pred_down"], size)  # the blurred map is not kept (41 MB)
        s["parse_alias"] = group_labels(s["parse_pred"], SEG_TO_ALIAS_TABLE)
        s["parse"] = one_hot(s["parse_alias"], len(ALIAS_LABELS))

    def gmm_step():
        g = gmm_inputs(s["parse"], inputs.pose, inputs.img_agnostic, inputs.cloth, low)
        s.update({k: v for k, v in g.items() if k != "person"})
        s["theta"], s["warped_grid"] = nets["gmm"](g["person"], g["c_gmm"])

    def warp_step():
        s["warped_c"], s["warped_cm"] = warp(inputs.cloth, inputs.cloth_mask, s["warped_grid"])

    def misalign_step():
        s["misalign_mask"] = misalign_mask(s["parse"], s["warped_cm"])
        s["parse_div"] = parse_div(s["parse"], s["misalign_mask"])

    def alias_step():
        x = alias_input(inputs.img_agnostic, inputs.pose, s["warped_c"])
        s["pre_tanh"] = nets["alias"](x, s["parse"], s["parse_div"], s["misalign_mask"], alias_noise)
        s["output"] = torch.tanh(s["pre_tanh"])

    run("segmentation", seg_step)
    run("gmm", gmm_step)
    run("warp", warp_step)
    run("misalign", misalign_step)
    run("alias", alias_step)
    return s
