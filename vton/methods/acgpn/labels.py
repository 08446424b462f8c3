"""ACGPN's 14-label person layout and our LIP → ACGPN conversion.

ACGPN: Yang et al., CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f (ACGPN_inference). The label ids are
the ones its networks were trained on: G1 predicts them, G reads their one-hot. Ids 2 and 3 are never used.
"""

from __future__ import annotations

import numpy as np
import torch

from vton.labels import LIP, LabelSet

__all__ = ["ACGPN_LABELS", "LIP_TO_ACGPN", "lip_to_acgpn", "lip_to_acgpn_table"]

ACGPN_LABELS = LabelSet(
    "ACGPN",
    (
        "background", "hair", "unused_2", "unused_3", "upper_clothes", "left_shoe", "right_shoe", "noise", "pants",
        "left_leg", "right_leg", "left_arm", "face", "right_arm",
    ),
)

# Our choice, not the authors' (their repository ships no conversion): each LIP label that has an ACGPN
# counterpart; every other LIP label (hat, glove, sunglasses, socks, jumpsuits, scarf, skirt) becomes background.
LIP_TO_ACGPN: dict[str, str] = {
    "hair": "hair",
    "upper_clothes": "upper_clothes",
    "dress": "upper_clothes",
    "coat": "upper_clothes",
    "left_shoe": "left_shoe",
    "right_shoe": "right_shoe",
    "pants": "pants",
    "left_leg": "left_leg",
    "right_leg": "right_leg",
    "left_arm": "left_arm",
    "face": "face",
    "right_arm": "right_arm",
}


def lip_to_acgpn_table() -> np.ndarray:
    """``(20,) int64`` lookup table: ``table[lip_id] = acgpn_id``."""
    table = np.full(len(LIP), ACGPN_LABELS.id("background"), dtype=np.int64)
    for lip_name, acgpn_name in LIP_TO_ACGPN.items():
        table[LIP.id(lip_name)] = ACGPN_LABELS.id(acgpn_name)
    return table


def lip_to_acgpn(labels: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Convert a LIP-20 label map to ACGPN's 14 labels (:data:`LIP_TO_ACGPN`; our documented choice).

    LIP hair → hair; upper-clothes, dress, coat → upper_clothes; shoes, pants, legs, arms, face → the same names;
    everything else → background.

    Args:
        labels: integer-valued LIP ids in 0..19, any shape (numpy array or tensor; float tensors are accepted).

    Returns:
        The ACGPN ids, same shape, type and dtype as ``labels``.

    Raises:
        ValueError: ids outside 0..19.
    """
    table = lip_to_acgpn_table()
    if isinstance(labels, torch.Tensor):
        idx = labels.long()
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= len(LIP)):
            raise ValueError(f"LIP label map has values outside 0..{len(LIP) - 1}")
        return torch.as_tensor(table, device=labels.device)[idx].to(labels.dtype)
    arr = np.asarray(labels)
    if arr.size and (arr.min() < 0 or arr.max() >= len(LIP)):
        raise ValueError(f"LIP label map has values outside 0..{len(LIP) - 1}")
    return table[arr.astype(np.int64)].astype(arr.dtype)
