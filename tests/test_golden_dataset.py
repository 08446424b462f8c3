"""vton's representation and dataset readers equal the authors' ``CPDataset.__getitem__`` (CP-VTON, CP-VTON+).

The raw files in ``<golden>/raw/`` are what the authors' dataset code read; the fixtures hold what it returned.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tolerances import DATASET, atol_of

from vton.encodings import body_shape, cloth_tensors, pose_map, worn_cloth
from vton.formats import read_mask_png, read_openpose_json, read_parse_png
from vton.images import load_image, to_tensor
from vton.methods.cpvton.representation import build_representation

pytestmark = pytest.mark.golden

FAMILIES = {
    # family: (variant, parse file, uses the separate body mask)
    "cpvton": ("original", "lip_parse_P.png", False),
    "cpvtonplus": ("plus", "lip_parse_L.png", True),
}


def _inputs(root, family):
    variant, parse_file, with_body = FAMILIES[family]
    raw = root / "raw"
    person = load_image(raw / "person.png", "person photo")
    parsing = read_parse_png(raw / parse_file)
    pose = read_openpose_json(raw / "keypoints.json")
    body = read_mask_png(raw / "body_mask.png", "body mask", threshold=1) if with_body else None
    return variant, person, parsing, pose, body


def _close(ours: torch.Tensor, ref: torch.Tensor, atol: float, what: str) -> None:
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    diff = float((ours.half().float() - ref).abs().max())
    assert diff <= atol, f"{what}: max |diff| {diff} > {atol}"


@pytest.mark.parametrize("family", ["cpvton", "cpvtonplus"])
@pytest.mark.parametrize("stage", ["gmm", "tom"])
def test_representation_equals_authors_agnostic(golden_root, golden, family, stage):
    variant, person, parsing, pose, body = _inputs(golden_root, family)
    ref, _ = golden(f"{family}_{stage}")
    rep = build_representation(person, parsing, pose, variant, stage, body_mask=body)
    _close(rep.shape, ref["in.agnostic.shape"], DATASET, "shape")
    _close(rep.head, ref["in.agnostic.head"], DATASET, "head")
    assert torch.equal(rep.pose, ref["in.agnostic.pose"]), "pose map differs"  # ±1 squares: discrete
    parts = [ref[f"in.agnostic.{k}"] for k in ("shape", "head", "pose")]
    assert rep.tensor().shape == (*parts[0].shape[:1], sum(p.shape[1] for p in parts), *parts[0].shape[2:])


@pytest.mark.parametrize("family", ["cpvton", "cpvtonplus"])
def test_gmm_cloth_inputs_equal_authors(golden_root, golden, family):
    raw = golden_root / "raw"
    ref, _ = golden(f"{family}_gmm")
    cloth, mask = cloth_tensors(load_image(raw / "cloth.png", "garment photo"), read_mask_png(raw / "cloth_mask.png"))
    _close(cloth, ref["in.cloth"], DATASET, "cloth")
    assert torch.equal(mask, ref["in.cloth_mask"]), "cloth mask differs"  # {0, 1}: discrete


@pytest.mark.parametrize("family", ["cpvton", "cpvtonplus"])
def test_tom_cloth_inputs_equal_authors(golden_root, golden, family):
    raw = golden_root / "raw"
    ref, _ = golden(f"{family}_tom")
    warped = load_image(raw / "warp_cloth.png", "warped cloth")
    cloth, mask = cloth_tensors(warped, read_mask_png(raw / "warp_mask.png"))
    _close(cloth, ref["in.cloth"], DATASET, "warped cloth")
    assert torch.equal(mask, ref["in.cloth_mask"]), "warped cloth mask differs"  # {0, 1}: discrete


@pytest.mark.parametrize("family", ["cpvton", "cpvtonplus"])
def test_dataset_items_equal_authors(golden_root, golden, family):
    variant, person, parsing, pose, body = _inputs(golden_root, family)
    ref, meta = golden(f"{family}_dataset")
    atol = atol_of(meta, "image", DATASET)
    image = to_tensor(person)
    _close(image, ref["out.gmm.image"][None], atol, "image")
    parse_cloth, parse_cloth_mask = worn_cloth(person, parsing)
    _close(parse_cloth, ref["out.gmm.parse_cloth"][None], atol, "parse_cloth")
    pose_image = pose_map(pose).amax(dim=1, keepdim=True)  # all squares on one canvas
    assert torch.equal(pose_image, ref["out.gmm.pose_image"][None]), "pose_image differs"  # ±1: discrete
    if "out.gmm.parse_cloth_mask" in ref:
        assert torch.equal(parse_cloth_mask, ref["out.gmm.parse_cloth_mask"][None]), "parse_cloth_mask differs"  # {0,1}
    if "out.gmm.shape_ori" in ref:
        _close(body_shape(body, blur=False), ref["out.gmm.shape_ori"][None], atol, "shape_ori")


def test_plus_reads_L_parse_and_original_reads_P_parse_to_the_same_labels(golden_root):
    p = read_parse_png(golden_root / "raw" / "lip_parse_P.png")
    l_ = read_parse_png(golden_root / "raw" / "lip_parse_L.png")
    assert np.array_equal(p.labels, l_.labels)
