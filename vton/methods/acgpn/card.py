"""The card of ACGPN (Yang et al., "Towards Photo-Realistic Virtual Try-On by Adaptively Generating↔Preserving
Image Content", CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f, ACGPN_inference)."""

from __future__ import annotations

from dataclasses import replace

from vton.methods.base import (
    PASTED_STAGE,
    TRYON_STAGE,
    MethodCard,
    OverlaySpec,
    PointTable,
    PublishedScore,
    StageSpec,
    StepSpec,
)
from vton.methods.papers import ACGPN_TABLE, PFAFN_TABLE, VITON_TEST

CARDS = (
    MethodCard(
        id="acgpn", title="ACGPN",
        summary="Semantic layout generation (G1), clothes-mask generation (G2), an STN with TPS warp (U) and "
                "content fusion (G); needs pose and parsing (LIP mapped to ACGPN's 14 labels).",
        paper="Yang et al., Towards Photo-Realistic Virtual Try-On by Adaptively Generating-Preserving Image "
              "Content, CVPR 2020",
        repo="https://github.com/switchablenorms/DeepFashion_Try_On (f5f5598f, ACGPN_inference)",
        licence="Non-commercial research use only (the authors' licence for code and released checkpoints)",
        needs=frozenset({"pose", "parsing", "cloth_mask"}),
        weights=(("G1", "acgpn/G1"), ("G2", "acgpn/G2"), ("G", "acgpn/G"), ("U", "acgpn/U")),
        steps=(StepSpec("inputs", "14-label map and inputs"), StepSpec("g1", "G1 (semantic layout)"),
               StepSpec("g2", "G2 (clothes mask)"), StepSpec("arm_fixup", "arm fix-up"),
               StepSpec("stn", "U (STN with TPS)"), StepSpec("fuse", "fusion, skin colour, hole image"),
               StepSpec("generator", "G (content fusion)")),
        stages=(
            StageSpec("acgpn_labels", "Person in ACGPN's 14 labels", "The LIP parse mapped to ACGPN's labels "
                      "(vton's documented mapping, not the authors': they ship none).", "representation",
                      "inputs"),
            StageSpec("all_clothes", "Input \"all clothes\" label", "changearm: arms and noise relabelled as "
                      "upper clothes, the label map G1 reads.", "representation", "inputs"),
            StageSpec("layout", "G1: semantic layout", "argmax of G1's 14 sigmoid maps, coloured, with the legend of "
                      "labels present.", "representation", "g1"),
            StageSpec("cloth_mask_pred", "G2: predicted clothes mask", "sigmoid > 0.5, one 3 × 3 ellipse dilation, "
                      "predicted arms removed, × foreground.", "warp", "g2"),
            StageSpec("arm_fixup", "Arm fix-up and occlusion mask", "Left: the refined layout G sees; right: the "
                      "kept arms dilated 10 times (occlusion mask).", "representation", "arm_fixup"),
            StageSpec("stn_control_points", "STN control points on the garment", "Where U's 5 × 5 TPS control "
                      "points (x fastest, on ±0.9) sample the garment.", "warp", "stn"),
            StageSpec("tps_grid", "Deformed grid", "The garment's regular lattice carried through U's TPS.",
                      "warp", "stn"),
            StageSpec("warped_cloth", "Warped garment", "The garment warped by the STN (zero padding, ones canvas).",
                      "warp", "stn"),
            StageSpec("fused_cloth", "Fused garment", "tanh(U's RGB) · (1 − m) + m · warped garment, m = sigmoid(4th "
                      "channel) × predicted clothes mask.", "rendering", "fuse"),
            StageSpec("skin_color", "Skin colour map", "Per-channel mean of the person's arm pixels as a constant "
                      "map (0 with fewer than 10 pixels).", "rendering", "fuse"),
            StageSpec("hole_image", "Hole image", "The person minus the old clothes, the occlusion mask and the "
                      "predicted clothes mask.", "rendering", "fuse"),
            replace(TRYON_STAGE, caption="tanh of G([hole image, layout, fused garment, skin colour, noise]).",
                    step="generator"),
            PASTED_STAGE,
        ),
        section_notes={
            "representation": "The person's labels and G1's semantic layout of the person in the new garment.",
            "warp": "G2 predicts where the garment goes; U fits a TPS from 25 control points.",
            "rendering": "The fused garment, skin colour and the hole image that G fills in.",
        },
        min_pose_points=4, required_keypoints=("neck",),
        factory="vton.methods.acgpn.method:ACGPN", order=30, overlay=OverlaySpec("warped_cloth", over="person"),
        point_table=PointTable("control_points", "θ: the STN's control points, one row per point"),
        test_overrides={"ngf": 4},
        published=(
            PublishedScore("ssim", 0.845, "paired", VITON_TEST, ACGPN_TABLE),
            PublishedScore("fid", 16.64, "unpaired", VITON_TEST, PFAFN_TABLE),
        ),
    ),
)
