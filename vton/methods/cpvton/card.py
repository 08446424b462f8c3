"""The cards of CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton) and CP-VTON+ (Minar et al., CVPR-W 2020,
minar09/cp-vton-plus): what the app, the CLI and the docs show before any network is built."""

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
from vton.methods.papers import ACGPN_TABLE, CPVTONPLUS_PAPER, PFAFN_TABLE, VITON_TEST

STEPS = (
    StepSpec("representation", "person representation"),
    StepSpec("gmm", "GMM (TPS regression)"),
    StepSpec("warp", "warping the garment"),
    StepSpec("tom", "TOM (rendering)"),
    StepSpec("composition", "composition"),
)


def _stages(title: str, cloth_in: str, tom_in: str) -> tuple[StageSpec, ...]:
    return (
        StageSpec("representation_shape", "Representation: body shape",
                  "Blurred body silhouette (down to 12 × 16 and back up): coarse shape, no clothing detail.",
                  "representation", "representation"),
        StageSpec("representation_head", "Representation: head",
                  "The photo kept only on the identity labels (GMM stage); −1 (black) elsewhere.",
                  "representation", "representation"),
        StageSpec("representation_pose", "Representation: pose map",
                  "18 channels, an 11 × 11 square per keypoint (+1 on −1), shown in one image.",
                  "representation", "representation"),
        StageSpec("tps_control_points", "TPS control points on the garment",
                  f"Where the 5 × 5 thin-plate-spline control points sample the garment (θ regressed by the GMM "
                  f"from the representation and the {cloth_in}).", "warp", "gmm"),
        StageSpec("tps_grid", "Deformed grid over the warped garment",
                  "The garment photo's regular lattice carried through the TPS warp.", "warp", "warp"),
        StageSpec("warped_cloth", "Warped garment", f"{title} GMM: garment warped by the TPS grid (border padding).",
                  "warp", "warp"),
        StageSpec("warped_mask", "Warped garment mask", "The garment mask warped by the same grid (zero padding).",
                  "warp", "warp"),
        StageSpec("warped_overlay", "Warped garment over the person",
                  "The warped garment laid over the framed person where its warped mask is on.", "warp", "warp"),
        StageSpec("rendered", "Rendered person",
                  f"{title} TOM ({tom_in}): the person rendered without the garment's texture (tanh of channels "
                  "0–2).", "rendering", "tom"),
        StageSpec("composition_mask", "Composition mask",
                  "Sigmoid of the TOM's 4th channel: where the try-on takes the warped garment (white) rather than "
                  "the rendered person.", "rendering", "tom"),
        replace(TRYON_STAGE, caption="warped garment · m + rendered · (1 − m)."),
        PASTED_STAGE,
    )


_OVERLAY = OverlaySpec("warped_overlay")
_THETA_TABLE = PointTable("control_points", "θ: the warp's control points, one row per point")
_NOTES = {
    "representation": "What the networks see of the person (22 channels): a blurred body shape, the head, 18 pose "
                      "maps.",
    "warp": "The GMM regresses a 5 × 5 thin-plate-spline warp that fits the garment to the body.",
    "rendering": "The TOM renders the person and a composition mask that blends in the warped garment.",
}

CARDS = (
    MethodCard(
        id="cp-vton", title="CP-VTON",
        summary="Learned TPS warp (GMM) + U-Net rendering and composition (TOM); needs pose and parsing.",
        paper="Wang et al., Toward Characteristic-Preserving Image-based Virtual Try-On Network, ECCV 2018",
        repo="https://github.com/sergeywong/cp-vton (fbaf333b)",
        licence="MIT (code and released checkpoints)",
        needs=frozenset({"pose", "parsing", "cloth_mask"}),
        weights=(("gmm", "cp-vton/gmm"), ("tom", "cp-vton/tom")),
        steps=STEPS, stages=_stages("CP-VTON", "garment RGB", "25 channels: representation + warped garment"),
        section_notes=_NOTES, min_pose_points=4, required_keypoints=("neck",),
        factory="vton.methods.cpvton.method:CPVTON", order=20, point_table=_THETA_TABLE,
        overlay=_OVERLAY,
        test_overrides={"ngf": 8},
        published=(
            PublishedScore("ssim", 0.745, "paired", VITON_TEST, ACGPN_TABLE),
            PublishedScore("fid", 24.43, "unpaired", VITON_TEST, PFAFN_TABLE),
        ),
    ),
    MethodCard(
        id="cp-vton+", title="CP-VTON+",
        summary="CP-VTON with a mask-driven GMM, a body-mask shape channel and a TOM that also reads the warped "
                "mask; needs pose and parsing.",
        paper="Minar et al., CP-VTON+: Clothing Shape and Texture Preserving Image-Based Virtual Try-On, CVPR "
              "Workshops 2020",
        repo="https://github.com/minar09/cp-vton-plus (5d7a8997)",
        licence="MIT (code and released checkpoints)",
        needs=frozenset({"pose", "parsing", "cloth_mask", "body_mask"}),
        weights=(("gmm", "cp-vton+/gmm"), ("tom", "cp-vton+/tom")),
        steps=STEPS, stages=_stages("CP-VTON+", "garment mask", "26 channels: + the re-binarised warped mask"),
        section_notes=_NOTES, min_pose_points=4, required_keypoints=("neck",),
        factory="vton.methods.cpvton.method:CPVTONPlus", order=21, point_table=_THETA_TABLE,
        overlay=_OVERLAY,
        test_overrides={"ngf": 8},
        # CP-VTON+'s data loader counts every non-zero pixel of ``image-mask`` as body
        body_mask_threshold=1,
        preprocess_captions={"body_mask": "The person's silhouette (CP-VTON+'s shape channel)."},
        published=(
            PublishedScore("ssim", 0.816, "paired", VITON_TEST, CPVTONPLUS_PAPER,
                           note="to be checked against the paper"),
            PublishedScore("fid", 21.08, "unpaired", VITON_TEST, PFAFN_TABLE,
                           note="to be checked against the paper"),
        ),
    ),
)
