"""From two ordinary photos to the networks' inputs: body pose, human parsing, cloth mask and the method's frame.

- ``pose``: ``PoseEstimator``, ``estimate_pose`` (OpenPose body, COCO-18 keypoints with scores);
- ``parsing``: ``HumanParser``, ``parse_human`` (SCHP, LIP or ATR labels, onnxruntime);
- ``cloth_mask``: ``cloth_mask``, ``compute_cloth_mask`` → ``ClothMask`` (alpha or light-background separation);
- ``framing``: ``FrameTransform``, ``frame_person``, ``frame_mask``, ``frame_labels``, ``paste_back``;
- ``runner``: ``Preprocessor``, which runs what a method card needs, framed to the card's frame, with the
  content-keyed cache of the person and garment sides (``cache``), and hands the method a ``Preprocessed``
  (``sides``: ``PersonSide``, ``GarmentSide``, ``Preprocessed``, frozen).

The light modules (cloth mask, framing) are imported here; pose, parsing and the runner (torch, onnxruntime) load on
first use.
``vton.preprocess.cloth_mask`` is the function; import the module's other names with
``from vton.preprocess.cloth_mask import ClothMask``.
"""

from __future__ import annotations

import importlib

from .cloth_mask import ClothMask, cloth_mask, compute_cloth_mask
from .framing import FrameTransform, frame_labels, frame_mask, frame_person, frame_transform, paste_back

__all__ = [
    "PoseEstimator", "estimate_pose", "HumanParser", "parse_human", "ClothMask", "cloth_mask", "compute_cloth_mask",
    "FrameTransform", "frame_transform", "frame_person", "frame_mask", "frame_labels", "paste_back", "Preprocessor",
    "Preprocessed", "PersonSide", "GarmentSide",
]

_LAZY = {"PoseEstimator": "pose", "estimate_pose": "pose", "HumanParser": "parsing", "parse_human": "parsing",
         "Preprocessor": "runner", "Preprocessed": "sides", "PersonSide": "sides", "GarmentSide": "sides"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
