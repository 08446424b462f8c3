"""ACGPN's test-time assembly: the steps between its four networks, as pure tensor functions.

Yang et al., CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f (ACGPN_inference/test.py: the loop body
``t_mask .. all_clothes_label`` and ``changearm``; ACGPN_inference/models/pix2pixHD_model.py:
``Pix2PixHDModel.forward``, ``gen_noise``, ``morpho``, ``ger_average_color``, ``generate_discrete_label``).

Conventions (every function): NCHW float tensors at 256 × 192; images in [-1, 1]; masks {0, 1} as float;
label maps ``(B, 1, H, W)`` float holding ACGPN ids (:data:`vton.methods.acgpn.labels.ACGPN_LABELS`); one-hots
``(B, 14, H, W)`` {0, 1}; binary noise ``(B, 1, H, W)`` {0, 1}. Products of {0, 1} masks are exact, so every
step reproduces the authors' numbers bit for bit given the same stage inputs; only the networks carry rounding.

:func:`run_acgpn` chains the steps; the noise maps are inputs, so a run is repeatable bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vton.methods.acgpn.labels import ACGPN_LABELS

__all__ = [
    "NOISE_KEYS",
    "ACGPNInputs",
    "gen_noise",
    "gen_noise_maps",
    "one_hot",
    "changearm",
    "clothes_mask",
    "foreground_mask",
    "arms_mask",
    "prepare_cloth",
    "g1_input",
    "layout_from_g1",
    "g2_input",
    "dilate",
    "cloth_mask_from_g2",
    "arm_fixup",
    "fuse_cloth",
    "skin_color",
    "hole_image",
    "g_input",
    "tryon_from_g",
    "diagnostic_loss",
    "run_acgpn",
]

NOISE_KEYS: tuple[str, ...] = ("G1", "G2", "G")
_L = ACGPN_LABELS


# ------------------------------------------------------------------------------------------------------- noise


def gen_noise(shape: tuple[int, ...], seed: int | None = None) -> torch.Tensor:
    """One binary noise map as the authors draw it: OpenCV normal noise (mean 0, σ 255) saturated into uint8,
    divided by 255 and truncated to uint8, so a pixel is 1 where the draw rounds to 255 (about 16 %), else 0.

    Args:
        shape: e.g. ``(1, 1, 256, 192)``.
        seed: ``cv2.setRNGSeed(seed)`` first (OpenCV's thread-local RNG); None continues the current stream.

    Returns:
        float32 tensor of ``shape`` with values {0, 1}.
    """
    if seed is not None:
        cv2.setRNGSeed(int(seed))
    noise = np.zeros(tuple(int(s) for s in shape), dtype=np.uint8)
    noise = cv2.randn(noise, 0, 255)
    return torch.from_numpy(np.asarray(noise / 255, dtype=np.uint8).astype(np.float32))


def gen_noise_maps(shape: tuple[int, ...], seed: int | None = 1000) -> dict[str, torch.Tensor]:
    """The three draws of one authors' forward, in their order G1, G2, G, after ``cv2.setRNGSeed(seed)``.

    The golden fixture's ``in.noise.{G1,G2,G}`` are these with seed 1000 and shape ``(1, 1, 256, 192)``.
    """
    first = gen_noise(shape, seed)
    return {"G1": first, "G2": gen_noise(shape), "G": gen_noise(shape)}


# -------------------------------------------------------------------------------------------------- label maps


def one_hot(labels: torch.Tensor, num_labels: int = len(_L)) -> torch.Tensor:
    """``(B, 1, H, W)`` integer-valued ids → ``(B, num_labels, H, W)`` float {0, 1} (the authors' ``scatter_``)."""
    if labels.ndim != 4 or labels.shape[1] != 1:
        raise ValueError(f"label map must be (B, 1, H, W), got {tuple(labels.shape)}")
    out = torch.zeros(labels.shape[0], num_labels, *labels.shape[2:], device=labels.device)
    return out.scatter_(1, labels.long(), 1.0)


def _is(labels: torch.Tensor, *names: str) -> torch.Tensor:
    return _L.mask(labels, *names).to(torch.float32)


def changearm(labels: torch.Tensor) -> torch.Tensor:
    """The "all clothes" label map: left_arm, right_arm and noise become upper_clothes (test.py ``changearm``)."""
    upper = float(_L.id("upper_clothes"))
    out = labels
    for name in ("left_arm", "right_arm", "noise"):
        m = _is(labels, name)
        out = out * (1 - m) + m * upper
    return out


def clothes_mask(labels: torch.Tensor) -> torch.Tensor:
    """The person's upper clothes ``(B, 1, H, W)`` {0, 1} (test.py ``mask_clothes``)."""
    return _is(labels, "upper_clothes")


def foreground_mask(labels: torch.Tensor) -> torch.Tensor:
    """Every labelled pixel (label > background) (test.py ``mask_fore``)."""
    return (labels > _L.id("background")).to(torch.float32)


def arms_mask(labels: torch.Tensor) -> torch.Tensor:
    """Left or right arm ``(B, 1, H, W)`` {0, 1}."""
    return _is(labels, "left_arm", "right_arm")


def prepare_cloth(cloth: torch.Tensor, cloth_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cloth · m, m)`` with ``m = cloth_mask > 0.5`` (the model's ``pre_clothes_mask``)."""
    m = (cloth_mask > 0.5).to(cloth.dtype)
    return cloth * m, m


# ---------------------------------------------------------------------------------------------------- G1 and G2


def g1_input(cloth_mask: torch.Tensor, cloth: torch.Tensor, all_clothes_onehot: torch.Tensor, pose: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """G1's input ``(B, 37, H, W)``: [cloth mask 1, cloth 3, all-clothes one-hot 14, pose 18, noise 1]."""
    return torch.cat([cloth_mask, cloth, all_clothes_onehot, pose, noise], 1)


def layout_from_g1(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(probabilities = sigmoid(logits), layout = argmax over labels (B, 1, H, W) float ids)``."""
    prob = torch.sigmoid(logits)
    return prob, prob.max(1, keepdim=True).indices.to(logits.dtype)


def g2_input(cloth_mask: torch.Tensor, cloth: torch.Tensor, layout_onehot: torch.Tensor, pose: torch.Tensor,
             noise: torch.Tensor) -> torch.Tensor:
    """G2's input ``(B, 37, H, W)``: [cloth mask 1, cloth 3, G1 layout one-hot 14, pose 18, noise 1]."""
    return torch.cat([cloth_mask, cloth, layout_onehot, pose, noise], 1)


def dilate(mask: torch.Tensor, iterations: int = 1) -> torch.Tensor:
    """Binary dilation by OpenCV's 3 × 3 ellipse (a cross: the pixel and its 4 neighbours), ``iterations`` times.

    Equals ``cv2.dilate(mask·255 as uint8, getStructuringElement(MORPH_ELLIPSE, (3, 3)), iterations) / 255`` on
    {0, 1} masks (the border adds nothing), on any device. Input/output ``(B, C, H, W)``.
    """
    out = mask
    for _ in range(iterations):
        p = F.pad(out, (1, 1, 1, 1))  # zeros: neutral for masks >= 0
        out = torch.stack([p[..., 1:-1, 1:-1], p[..., :-2, 1:-1], p[..., 2:, 1:-1],
                           p[..., 1:-1, :-2], p[..., 1:-1, 2:]]).amax(0)  # fmt: skip
    return out


def cloth_mask_from_g2(logits: torch.Tensor, layout: torch.Tensor, labels: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """The predicted cloth mask (the model's ``fake_cl`` and ``fake_cl_dis``).

    ``prob = sigmoid(logits)``; ``mask = dilate(prob > 0.5, 1) · (1 − predicted left arm) · (1 − predicted right
    arm) · foreground(labels)``, arms read off the G1 ``layout``.

    Returns:
        ``(prob (B, 1, H, W) in (0, 1), mask (B, 1, H, W) {0, 1})``.
    """
    prob = torch.sigmoid(logits)
    mask = dilate((prob > 0.5).to(prob.dtype), 1)
    mask = mask * (1 - _is(layout, "left_arm")) * (1 - _is(layout, "right_arm"))
    return prob, mask * foreground_mask(labels)


def arm_fixup(layout: torch.Tensor, labels: torch.Tensor, predicted_cloth_mask: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Restore the person's arms in the G1 layout, and the occlusion mask of arms predicted over old clothes.

    Per arm (left, right): ``occ = clothes(labels) · predicted arm(layout)``, ``full = occ + (1 − clothes(labels)) ·
    arm(labels)``; the layout loses its predicted arms, gets ``full`` as that arm, and is cleared (background)
    under the predicted cloth mask. ``occlusion = dilate(occ_left, 10) ∪ dilate(occ_right, 10)``.

    Returns:
        ``(refined layout (B, 1, H, W) float ids, occlusion (B, 1, H, W) {0, 1})``.
    """
    clothes = clothes_mask(labels)
    refined = layout
    occ = []
    full = []
    for name in ("left_arm", "right_arm"):
        new_arm = _is(layout, name)
        occ.append(clothes * new_arm)
        full.append(occ[-1] + (1 - clothes) * _is(labels, name))
        refined = refined * (1 - new_arm)
    for name, f in zip(("left_arm", "right_arm"), full, strict=True):
        refined = refined * (1 - f) + f * float(_L.id(name))
    refined = refined * (1 - predicted_cloth_mask)
    occlusion = torch.maximum(dilate(occ[0], 10), dilate(occ[1], 10))
    return refined, occlusion


# ------------------------------------------------------------------------------------------------------ U and G


def fuse_cloth(conv9: torch.Tensor, warped_cloth: torch.Tensor, predicted_cloth_mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused cloth ``tanh(conv9[:, :3]) · (1 − m) + m · warped_cloth`` with
    ``m = sigmoid(conv9[:, 3:]) · predicted_cloth_mask``.

    Returns:
        ``(fused (B, 3, H, W) in [-1, 1], m (B, 1, H, W) in [0, 1])``.
    """
    m = torch.sigmoid(conv9[:, 3:4]) * predicted_cloth_mask
    return torch.tanh(conv9[:, :3]) * (1 - m) + m * warped_cloth, m


def skin_color(labels: torch.Tensor, image: torch.Tensor, min_pixels: int = 10) -> torch.Tensor:
    """Per-channel mean of the person's arm pixels (left ∪ right arm of ``labels``) as a constant map
    ``(B, 3, H, W)``; 0 where fewer than ``min_pixels`` arm pixels."""
    arms = arms_mask(labels)
    count = arms.flatten(1).count_nonzero(1).to(image.dtype)  # (B,)
    mean = (arms * image).sum((2, 3)) / count.clamp(min=1)[:, None]  # (B, 3)
    mean = torch.where((count >= min_pixels)[:, None], mean, torch.zeros_like(mean))
    return mean[:, :, None, None].expand_as(image).contiguous()


def hole_image(image: torch.Tensor, labels: torch.Tensor, occlusion: torch.Tensor,
               predicted_cloth_mask: torch.Tensor) -> torch.Tensor:
    """The person with holes (the model's ``img_hole_hand``): foreground × (1 − clothes) × (1 − occlusion ·
    (arms ∪ clothes)) × (1 − predicted cloth mask), masks from ``labels``; (B, 3, H, W) in [-1, 1], 0 in holes."""
    clothes = clothes_mask(labels)
    body = arms_mask(labels) + clothes  # disjoint labels: {0, 1}
    image_fore = image * foreground_mask(labels)
    return image_fore * (1 - clothes) * (1 - occlusion * body) * (1 - predicted_cloth_mask)


def g_input(hole: torch.Tensor, refined_onehot: torch.Tensor, fused_cloth: torch.Tensor, skin: torch.Tensor,
            noise: torch.Tensor) -> torch.Tensor:
    """G's input ``(B, 24, H, W)``: [hole image 3, refined layout one-hot 14, fused cloth 3, skin colour 3, noise 1]."""
    return torch.cat([hole, refined_onehot, fused_cloth, skin, noise], 1)


def tryon_from_g(logits: torch.Tensor) -> torch.Tensor:
    """The try-on image ``tanh(logits)`` (B, 3, H, W) in [-1, 1]."""
    return torch.tanh(logits)


def diagnostic_loss(layout_prob: torch.Tensor, labels: torch.Tensor, cloth_mask_prob: torch.Tensor) -> torch.Tensor:
    """The authors' reported ``CE_loss`` (a diagnostic only: it needs the person's own labels as the target).

    ``10 · cross_entropy(layout_prob as logits, labels · (1 − clothes)) + 10 · BCEWithLogits(cloth_mask_prob,
    clothes)``, both means — as written, on probabilities rather than logits. Returns a ``(1,)`` tensor.
    """
    clothes = clothes_mask(labels)
    c = layout_prob.shape[1]
    target = (labels * (1 - clothes))[:, 0].long().reshape(-1)  # (B*H*W,)
    logits = layout_prob.permute(0, 2, 3, 1).reshape(-1, c)  # (B*H*W, C)
    ce = F.cross_entropy(logits, target, ignore_index=250) * 10
    return (ce + F.binary_cross_entropy_with_logits(cloth_mask_prob, clothes) * 10).reshape(1)


# --------------------------------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class ACGPNInputs:
    """One ACGPN try-on's inputs, batch B (1 in the authors' test), frame 256 × 192.

    Attributes:
        label: ``(B, 1, H, W)`` float ACGPN ids of the person (:data:`ACGPN_LABELS`).
        cloth: ``(B, 3, H, W)`` in [-1, 1] (the authors' ``color``).
        cloth_mask: ``(B, 1, H, W)`` in [0, 1]; thresholded at 0.5 (the authors' ``edge``).
        image: ``(B, 3, H, W)`` the person in [-1, 1].
        pose: ``(B, 18, H, W)`` pose map, +1 in keypoint squares, −1 elsewhere.
    """

    label: torch.Tensor
    cloth: torch.Tensor
    cloth_mask: torch.Tensor
    image: torch.Tensor
    pose: torch.Tensor


def _untimed(key: str, fn):
    return fn()


def run_acgpn(nets: Mapping[str, nn.Module], inputs: ACGPNInputs, noise: Mapping[str, torch.Tensor], *,
              step=_untimed) -> dict[str, torch.Tensor]:
    """The authors' test-time forward (test.py assembly + ``Pix2PixHDModel.forward``) with injected noise.

    Args:
        nets: ``{"G1", "G2", "G": Refine, "U": UnetMask}`` (their ``forward``s are called; eval mode expected).
        inputs: see :class:`ACGPNInputs`.
        noise: ``{"G1", "G2", "G"}`` binary maps ``(B, 1, H, W)`` (:func:`gen_noise_maps`).
        step: ``step(key, fn) -> fn()`` around each phase: "inputs", "g1", "g2", "arm_fixup", "stn", "fuse",
            "generator" (the pipeline passes its timer).

    Returns:
        Every stage, ``(B, C, H, W)`` unless said:
        ``all_clothes_label`` (1, ids), ``clothes_mask`` (1, person's upper clothes), ``foreground`` (1),
        ``image_foreground`` (3), ``cloth`` (3, masked), ``cloth_mask`` (1, binarised), ``g1_logits`` (14),
        ``layout_prob`` (14, sigmoid), ``layout`` (1, G1 argmax ids), ``g2_logits`` (1), ``cloth_mask_prob`` (1,
        the authors' ``fake_cl``), ``predicted_cloth_mask`` (1, ``fake_cl_dis``), ``refined_layout`` (1, ids, the
        label map fed to G), ``occlusion`` (1), ``control_points`` (B, N, 2), ``sampling_grid`` (B, H, W, 2),
        ``u_output`` (4, U's raw ``conv9``), ``warped_cloth`` (3), ``warped_cloth_mask`` (1), ``warped_image`` (3,
        the person warped like the cloth, for display), ``fusion_mask`` (1), ``fused_cloth`` (3, ``fake_c``),
        ``skin_color`` (3), ``hole_image`` (3, ``img_hole_hand``), ``g_logits`` (3), ``tryon`` (3, in [-1, 1]),
        ``diagnostic_loss`` (1,).
    """
    missing = [k for k in ("G1", "G2", "G", "U") if k not in nets] + [k for k in NOISE_KEYS if k not in noise]
    if missing:
        raise ValueError(f"run_acgpn is missing {', '.join(missing)} (nets need G1, G2, G, U; noise G1, G2, G)")
    label, image, pose = inputs.label, inputs.image, inputs.pose
    s: dict[str, torch.Tensor] = {}

    def prepare():
        s["all_clothes_label"] = changearm(label)
        s["clothes_mask"] = clothes_mask(label)
        s["foreground"] = foreground_mask(label)
        s["image_foreground"] = image * s["foreground"]
        s["cloth"], s["cloth_mask"] = prepare_cloth(inputs.cloth, inputs.cloth_mask)

    def g1():
        x = g1_input(s["cloth_mask"], s["cloth"], one_hot(s["all_clothes_label"]), pose, noise["G1"])
        s["g1_logits"] = nets["G1"](x)
        s["layout_prob"], s["layout"] = layout_from_g1(s["g1_logits"])

    def g2():
        s["g2_logits"] = nets["G2"](g2_input(s["cloth_mask"], s["cloth"], one_hot(s["layout"]), pose, noise["G2"]))
        s["cloth_mask_prob"], s["predicted_cloth_mask"] = cloth_mask_from_g2(s["g2_logits"], s["layout"], label)

    def fixup():
        s["refined_layout"], s["occlusion"] = arm_fixup(s["layout"], label, s["predicted_cloth_mask"])

    def stn():
        u = nets["U"](s["cloth"], s["predicted_cloth_mask"], s["cloth_mask"], image)
        s["control_points"], s["sampling_grid"], s["u_output"] = u.control_points, u.sampling_grid, u.conv9
        s["warped_cloth"], s["warped_cloth_mask"], s["warped_image"] = u.warped_cloth, u.warped_mask, u.warped_grid

    def fuse():
        s["fused_cloth"], s["fusion_mask"] = fuse_cloth(s["u_output"], s["warped_cloth"], s["predicted_cloth_mask"])
        s["skin_color"] = skin_color(label, image)
        s["hole_image"] = hole_image(image, label, s["occlusion"], s["predicted_cloth_mask"])

    def generator():
        x = g_input(s["hole_image"], one_hot(s["refined_layout"]), s["fused_cloth"], s["skin_color"], noise["G"])
        s["g_logits"] = nets["G"](x)
        s["tryon"] = tryon_from_g(s["g_logits"])
        s["diagnostic_loss"] = diagnostic_loss(s["layout_prob"], label, s["cloth_mask_prob"])

    for key, fn in (("inputs", prepare), ("g1", g1), ("g2", g2), ("arm_fixup", fixup), ("stn", stn),
                    ("fuse", fuse), ("generator", generator)):
        step(key, fn)
    return s
