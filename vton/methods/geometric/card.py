"""The card of the training-free geometric try-on, after VITON's shape-context TPS step (Han et al., "VITON: An
Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON)."""

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
        id="geometric",
        title="Geometric TPS warp (training-free)",
        summary="Geometric TPS warp, training-free, after VITON's shape-context step: the garment's outline is "
                "matched to the person's clothing region (shape contexts + landmarks), the smoothest thin-plate "
                "spline per garment piece (torso, sleeves) carries it there, and the old garment is inpainted away. "
                "No learned weights.",
        paper="After Han et al., VITON: An Image-based Virtual Try-on Network, CVPR 2018 (its shape-context TPS "
              "step); vton's own training-free method",
        repo="https://github.com/xthan/VITON (0370ca3, shape_context_warp.m)",
        licence="MIT (vton's own code; no weights)",
        needs=frozenset({"pose", "parsing", "cloth_mask"}),
        weights=(),
        steps=(StepSpec("outlines", "garment and target outlines"), StepSpec("matching", "shape-context matching"),
               StepSpec("tps", "TPS fit and warp"), StepSpec("composition", "composition and inpainting")),
        stages=(
            StageSpec("garment_outline", "Garment outline", "The garment mask's outline sampled by arc length "
                      "(red) with its landmarks (yellow): collar, shoulders, sleeve ends, armpits, hem corners.",
                      "representation", "outlines"),
            StageSpec("target_outline", "Target region", "The person's upper-body garment region from the LIP "
                      "parse (upper clothes, coat, top of a dress), its sampled outline and the landmarks placed "
                      "with the neck and shoulder keypoints.", "representation", "outlines"),
            StageSpec("matches", "Matched pairs", "Shape-context correspondences (log-polar histograms, χ² cost, "
                      "optimal assignment) anchored by the landmark pairs, drawn as lines from garment to person.",
                      "warp", "matching"),
            StageSpec("tps_grid", "TPS grid over the warped garment", "The garment's regular lattice carried "
                      "through the thin-plate splines, one per garment piece (torso, sleeves; the lattice breaks at "
                      "their seams), each as smooth as the outlines allow (sampled with align_corners=True).", "warp",
                      "tps"),
            StageSpec("warped_cloth", "Warped garment", "The garment resampled into the person frame by the TPS.",
                      "warp", "tps"),
            StageSpec("composition_mask", "Composition mask", "The new garment's opacity: inside the target "
                      "region, 0 on face, hair and arms (they stay in front), a soft edge of about a pixel.",
                      "composition", "composition"),
            replace(TRYON_STAGE, caption="The old garment inpainted away, the warped garment composited in front "
                                         "of it and behind the arms."),
            PASTED_STAGE,
        ),
        section_notes={
            "representation": "The garment's outline and the person's clothing region, each with landmarks.",
            "warp": "Outline correspondences and the thin-plate spline fitted to them.",
            "composition": "The warped garment composited in front of the inpainted person.",
        },
        min_pose_points=3, required_keypoints=("neck", "right_shoulder", "left_shoulder"),
        factory="vton.methods.geometric.method:Geometric", order=10,
        overlay=OverlaySpec("warped_cloth", over="person"),
        point_table=PointTable("matched_pairs",
                               "The matched pairs the TPS is fitted to: garment point → person point"),
        published=(  # VITON itself (learned): this method is only its training-free shape-context TPS step
            PublishedScore("ssim", 0.783, "paired", VITON_TEST, ACGPN_TABLE,
                           note="VITON (the full, learned method), not this training-free step"),
            PublishedScore("fid", 55.71, "unpaired", VITON_TEST, PFAFN_TABLE,
                           note="VITON (the full, learned method), not this training-free step"),
        ),
    ),
)
