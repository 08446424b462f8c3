"""The card of PF-AFN (Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021,
geyuying/PF-AFN@e2bb71e2): parser-free, so it needs neither pose nor parsing at test time."""

from __future__ import annotations

from dataclasses import replace

from vton.methods.base import PASTED_STAGE, TRYON_STAGE, MethodCard, OverlaySpec, PublishedScore, StageSpec, StepSpec
from vton.methods.papers import PFAFN_TABLE, VITON_TEST

LEVELS = 4  # flows after the four coarser pyramid levels (16 × 12 … 128 × 96); the finest is the final flow

CARDS = (
    MethodCard(
        id="pf-afn", title="PF-AFN",
        summary="Parser-free: an appearance-flow warping module (AFWM, coarse-to-fine flows from a 7 × 7 local "
                "correlation) and a residual U-Net generator; needs only the two photos and the garment mask.",
        paper="Ge et al., Parser-Free Virtual Try-on via Distilling Appearance Flows, CVPR 2021",
        repo="https://github.com/geyuying/PF-AFN (e2bb71e2, PF-AFN_test)",
        licence="Non-commercial research use only (the authors' licence for code and released checkpoints)",
        needs=frozenset({"cloth_mask"}),
        weights=(("warp", "pf-afn/warp"), ("gen", "pf-afn/gen")),
        steps=(StepSpec("inputs", "garment and edge"), StepSpec("warp", "AFWM (appearance flows)"),
               StepSpec("edge", "warping the edge"), StepSpec("gen", "generator"),
               StepSpec("composition", "composition")),
        stages=(
            StageSpec("edge", "Garment edge", "edge = (mask > 0.5); the garment is multiplied by it.",
                      "representation", "inputs"),
            *(StageSpec(f"flow_level_{i}", f"Flow after pyramid level {i + 1}",
                        f"Left: the flow after level {i + 1} of 5 (coarsest first) as a colour wheel (hue = "
                        "direction, saturation = length, key in the corner); right: arrows over the garment from "
                        "each person pixel to where it samples the garment.", "warp", "warp")
              for i in range(LEVELS)),
            StageSpec("flow", "Final flow", "The composed flow at 256 × 192 that warps the garment (colour wheel "
                      "and arrows).", "warp", "warp"),
            StageSpec("warped_cloth", "Warped garment", "The garment sampled at the final flow (border padding).",
                      "warp", "warp"),
            StageSpec("warped_edge", "Warped edge", "The edge sampled at the final flow (zero padding).", "warp",
                      "edge"),
            StageSpec("warped_overlay", "Warped garment over the person",
                      "The warped garment laid over the person where the warped edge is on.", "warp", "edge"),
            StageSpec("rendered", "Rendered person", "tanh of the generator's channels 0–2.", "rendering", "gen"),
            StageSpec("composition_mask", "Composition mask", "m = sigmoid(channel 3) × warped edge.",
                      "rendering", "gen"),
            replace(TRYON_STAGE, caption="warped garment · m + rendered · (1 − m)."),
            PASTED_STAGE,
        ),
        section_notes={
            "representation": "PF-AFN reads the person photo itself: no pose, no parsing.",
            "warp": "Appearance flows estimated coarse to fine, each level refined and composed with the last.",
            "rendering": "A residual U-Net renders the person and a composition mask.",
        },
        factory="vton.methods.pfafn.method:PFAFN", order=40, overlay=OverlaySpec("warped_overlay"),
        test_overrides={"num_filters": (8, 8, 8, 8, 8), "fpn_dim": 8, "ngf": 8},
        compile_note="torch.compile of PF-AFN's two networks took about 180 s on a 2-core CPU before the first "
                     "pair (issue 23's measurement); without --compile the first pair takes under 2 s",
        published=(
            PublishedScore("fid", 10.09, "unpaired", VITON_TEST, PFAFN_TABLE),
            PublishedScore("fid", 27.23, "unpaired", "VITON test, cleaned split (train/test duplicates removed)",
                           "Fele et al., C-VTON, WACV 2022, Table 1 (its authors on the split: "
                           "benquick123/C-VTON#7)"),
        ),
    ),
)
