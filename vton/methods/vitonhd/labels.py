"""VITON-HD's label sets and our LIP → VITON-HD conversion.

Choi et al., CVPR 2021, shadow2496/VITON-HD@02afa4b5: ``datasets.py`` reads a 20-label parse (LIP's ids, except
that id 10 is the neck, not LIP's jumpsuits) and groups it into the 13 classes the segmentation generator predicts;
``test.py`` groups those into the 7 classes the ALIAS generator is conditioned on. Code names labels, never numbers.
"""

from __future__ import annotations

import numpy as np

from vton.labels import LIP, LabelSet

__all__ = [
    "VITONHD_PARSE", "SEG_LABELS", "ALIAS_LABELS", "PARSE_TO_SEG", "SEG_TO_ALIAS", "LIP_TO_VITONHD",
    "grouping_table", "lip_to_vitonhd",
]

# The 20 labels of VITON-HD's image-parse files: LIP's, with "neck" where LIP has "jumpsuits".
VITONHD_PARSE = LabelSet(
    "VITON-HD parse",
    (
        "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat", "socks", "pants",
        "neck", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe",
        "right_shoe",
    ),
)

# The segmentation generator's 13 classes.
SEG_LABELS = LabelSet(
    "VITON-HD 13",
    ("background", "hair", "face", "upper", "bottom", "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe",
     "right_shoe", "socks", "noise"),
)

# The ALIAS generator's 7 classes ("paste": what is copied from the person: face, lower body, shoes, socks).
ALIAS_LABELS = LabelSet("VITON-HD 7", ("background", "paste", "upper", "hair", "left_arm", "right_arm", "noise"))

# datasets.py: parse label → segmentation class.
PARSE_TO_SEG: dict[str, tuple[str, ...]] = {
    "background": ("background", "neck"),
    "hair": ("hat", "hair"),
    "face": ("sunglasses", "face"),
    "upper": ("upper_clothes", "dress", "coat"),
    "bottom": ("pants", "skirt"),
    "left_arm": ("left_arm",),
    "right_arm": ("right_arm",),
    "left_leg": ("left_leg",),
    "right_leg": ("right_leg",),
    "left_shoe": ("left_shoe",),
    "right_shoe": ("right_shoe",),
    "socks": ("socks",),
    "noise": ("glove", "scarf"),
}

# test.py: segmentation class → ALIAS class.
SEG_TO_ALIAS: dict[str, tuple[str, ...]] = {
    "background": ("background",),
    "paste": ("face", "bottom", "left_leg", "right_leg", "left_shoe", "right_shoe", "socks"),
    "upper": ("upper",),
    "hair": ("hair",),
    "left_arm": ("left_arm",),
    "right_arm": ("right_arm",),
    "noise": ("noise",),
}

# Our choice, not the authors' (they parse with their own 20-label model): every LIP label keeps its name, except
# LIP's jumpsuits, which VITON-HD's set lacks: a one-piece garment over the torso, treated as a dress (an upper
# garment, removed from the person like the others). VITON-HD's "neck" has no LIP counterpart and never appears:
# the neck is masked by the agnostic image's square around the neck keypoint anyway.
LIP_TO_VITONHD: dict[str, str] = {name: name for name in LIP.names if name != "jumpsuits"} | {"jumpsuits": "dress"}


def grouping_table(src: LabelSet, dst: LabelSet, groups: dict[str, tuple[str, ...]]) -> np.ndarray:
    """``(len(src),) int64`` lookup table ``table[src_id] = dst_id`` of a ``{dst name: src names}`` grouping.

    Raises:
        ValueError: a source label in no group or in two.
    """
    table = np.full(len(src), -1, dtype=np.int64)
    for dst_name, names in groups.items():
        for name in names:
            if table[src.id(name)] >= 0:
                raise ValueError(f"{src.name} label {name!r} is in two groups")
            table[src.id(name)] = dst.id(dst_name)
    if (table < 0).any():
        missing = [src.names[i] for i in np.flatnonzero(table < 0)]
        raise ValueError(f"{src.name} labels in no group: {missing}")
    return table


def lip_to_vitonhd(labels: np.ndarray) -> np.ndarray:
    """A LIP-20 label map → VITON-HD's 20-label parse (:data:`LIP_TO_VITONHD`; our documented choice).

    Raises:
        ValueError: ids outside 0..19.
    """
    arr = np.asarray(labels)
    if arr.size and (arr.min() < 0 or arr.max() >= len(LIP)):
        raise ValueError(f"LIP label map has values outside 0..{len(LIP) - 1}")
    table = np.array([VITONHD_PARSE.id(LIP_TO_VITONHD[name]) for name in LIP.names], dtype=np.uint8)
    return table[arr.astype(np.int64)]
