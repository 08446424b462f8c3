"""PF-AFN test-time assembly: the tensor steps of the authors' test loop around the two networks.

Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2
(``PF-AFN_test/test.py``). Pure tensor functions, frame ``(B, C, H, W)``, images in [-1, 1], masks {0, 1}:

    clothes, edge = prepare_cloth(cloth, cloth_mask)
    warped_cloth, flow, _ = afwm(person, clothes)
    warped_edge = warp_edge(edge, flow)
    raw = generator(generator_input(person, warped_cloth, warped_edge))
    rendered, m, tryon = generator_outputs(raw, warped_cloth, warped_edge)
"""

from __future__ import annotations

import torch

from vton.methods.pfafn.flow import warp_by_flow

__all__ = ["prepare_cloth", "warp_edge", "generator_input", "generator_outputs"]


def prepare_cloth(cloth: torch.Tensor, cloth_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Binarise the cloth mask and blank the cloth outside it.

    Args:
        cloth: ``(B, 3, H, W)`` RGB in [-1, 1].
        cloth_mask: ``(B, 1, H, W)`` in [0, 1] (the authors' ``edge``).

    Returns:
        ``(clothes, edge)``: ``edge = (cloth_mask > 0.5)`` as float ``(B, 1, H, W)``, ``clothes = cloth · edge``.
    """
    if cloth.ndim != 4 or cloth_mask.ndim != 4 or cloth_mask.shape[1] != 1:
        raise ValueError(f"cloth must be (B, C, H, W) and cloth_mask (B, 1, H, W), got {tuple(cloth.shape)}, "
                         f"{tuple(cloth_mask.shape)}")  # fmt: skip
    if cloth.shape[0] != cloth_mask.shape[0] or cloth.shape[2:] != cloth_mask.shape[2:]:
        raise ValueError(f"cloth {tuple(cloth.shape)} and cloth_mask {tuple(cloth_mask.shape)} differ in batch or size")
    edge = (cloth_mask > 0.5).to(cloth.dtype)
    return cloth * edge, edge


def warp_edge(edge: torch.Tensor, flow: torch.Tensor, align_corners: bool = True) -> torch.Tensor:
    """The cloth edge ``(B, 1, H, W)`` sampled at the AFWM flow ``(B, 2, H, W)`` with zero padding (in [0, 1]).

    ``align_corners=True`` is how the checkpoints were trained; pass the AFWM's ``cfg.align_corners``.
    """
    return warp_by_flow(edge, flow, "zeros", align_corners)


def generator_input(person: torch.Tensor, warped_cloth: torch.Tensor, warped_edge: torch.Tensor) -> torch.Tensor:
    """``cat(person 3, warped cloth 3, warped edge 1)`` → ``(B, 7, H, W)``, the generator's channel order."""
    return torch.cat([person, warped_cloth, warped_edge], dim=1)


def generator_outputs(
    raw: torch.Tensor, warped_cloth: torch.Tensor, warped_edge: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split and compose the generator output.

    Args:
        raw: ``(B, 4, H, W)`` generator output (3 rgb logits, 1 mask logit).
        warped_cloth: ``(B, 3, H, W)``; warped_edge: ``(B, 1, H, W)``.

    Returns:
        ``(rendered, m, tryon)``: ``rendered = tanh(rgb)`` in [-1, 1]; ``m = sigmoid(raw[:, 3]) · warped_edge``
        ``(B, 1, H, W)`` in [0, 1]; ``tryon = warped_cloth · m + rendered · (1 − m)``.
    """
    if raw.ndim != 4 or raw.shape[1] != 4:
        raise ValueError(f"generator output must be (B, 4, H, W), got {tuple(raw.shape)}")
    rendered = torch.tanh(raw[:, :3])
    m = torch.sigmoid(raw[:, 3:]) * warped_edge
    return rendered, m, warped_cloth * m + rendered * (1 - m)
