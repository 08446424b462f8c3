"""The card of VITON-HD (Choi et al., "VITON-HD: High-Resolution Virtual Try-On via Misalignment-Aware
Normalization", CVPR 2021, shadow2496/VITON-HD@02afa4b5): the first method here whose frame is 1024 × 768."""

from __future__ import annotations

from dataclasses import replace

from vton.methods.base import PASTED_STAGE, TRYON_STAGE, MethodCard, OverlaySpec, StageSpec, StepSpec

FRAME = (768, 1024)  # (W, H): the released weights' load size

CARDS = (
    MethodCard(
        id="viton-hd", title="VITON-HD",
        summary="High resolution (1024 × 768): a generated segmentation of the person in the new garment, a TPS "
                "warp at full size, the misalignment mask, and the ALIAS generator that normalises the misaligned "
                "region apart; needs pose and parsing (LIP mapped to VITON-HD's labels).",
        paper="Choi et al., VITON-HD: High-Resolution Virtual Try-On via Misalignment-Aware Normalization, CVPR 2021",
        repo="https://github.com/shadow2496/VITON-HD (02afa4b5)",
        licence="CC BY-NC 4.0 (the authors' licence for code and released checkpoints): non-commercial use, "
                "with attribution",
        needs=frozenset({"pose", "parsing", "cloth_mask"}),
        weights=(("seg", "viton-hd/seg"), ("gmm", "viton-hd/gmm"), ("alias", "viton-hd/alias")),
        steps=(StepSpec("agnostic", "parse-agnostic map and agnostic image"), StepSpec("pose_image", "pose image"),
               StepSpec("noise", "noise draws"), StepSpec("segmentation", "segmentation generator, blur, argmax"),
               StepSpec("gmm", "GMM (TPS grid at full size)"), StepSpec("warp", "warping at full size"),
               StepSpec("misalign", "misalignment mask"), StepSpec("alias", "ALIAS generator")),
        stages=(
            StageSpec("vitonhd_parse", "Person in VITON-HD's parse labels",
                      "The LIP parse in VITON-HD's 20 labels (vton's documented choice: same names, LIP's jumpsuits "
                      "as a dress; VITON-HD's neck label has no LIP counterpart).", "representation", "agnostic"),
            StageSpec("parse_agnostic", "Parse-agnostic map", "Upper clothes and neck removed, the arms removed "
                      "inside masks drawn from the pose; grouped into the 13 segmentation classes.",
                      "representation", "agnostic"),
            StageSpec("img_agnostic", "Agnostic image", "The garment region painted gray from the pose (shoulders, "
                      "arms, torso, neck); face and lower body pasted back.", "representation", "agnostic"),
            StageSpec("pose_image", "Pose image", "The OpenPose-style BODY_25 skeleton picture the networks read "
                      "(our drawing: OpenPose's colours, limbs at 60 %).", "representation", "pose_image"),
            StageSpec("seg_noise", "Segmentation noise", "The binary noise map (about 16 % ones, OpenCV's RNG "
                      "from the run's seed) the segmentation generator reads at 256 × 192.", "representation",
                      "noise"),
            StageSpec("segmentation", "Generated segmentation", "The generator's 13 sigmoid maps at 256 × 192, "
                      "upsampled to full size, Gaussian-blurred (15 × 15, σ 3), argmax.", "representation",
                      "segmentation"),
            StageSpec("alias_parse", "ALIAS classes", "The segmentation grouped into the 7 classes ALIAS is "
                      "conditioned on (face, lower body, shoes and socks become 'paste').", "representation",
                      "segmentation"),
            StageSpec("gmm_inputs", "GMM inputs (256 × 192)", "Nearest-downsampled: the predicted upper-clothes "
                      "region, the pose image, the agnostic image, and the garment.", "warp", "gmm"),
            StageSpec("tps_grid", "TPS grid at full size", "The garment's regular lattice carried through the TPS "
                      f"grid the GMM's θ makes directly at {FRAME[1]} × {FRAME[0]} (control points on ±0.9).",
                      "warp", "gmm"),
            StageSpec("warped_cloth", "Warped garment", "The garment sampled at the grid (bilinear, border padding).",
                      "warp", "warp"),
            StageSpec("warped_mask", "Warped garment mask", "The garment mask sampled at the same grid (border "
                      "padding).", "warp", "warp"),
            StageSpec("misalign_mask", "Misalignment mask", "Where the predicted garment region is not covered by "
                      "the warped garment: relu(upper − warped mask); ALIAS normalises it apart.", "rendering",
                      "misalign"),
            StageSpec("alias_inputs", "ALIAS inputs", "The agnostic image, the pose image and the warped garment, "
                      "concatenated (9 channels) at full size.", "rendering", "misalign"),
            replace(TRYON_STAGE, caption=f"tanh of the ALIAS generator, at {FRAME[1]} × {FRAME[0]}.", step="alias"),
            PASTED_STAGE,
        ),
        section_notes={
            "representation": "The person without the garment (parse-agnostic map, agnostic image), the pose image, "
                              "and the segmentation generated for the new garment.",
            "warp": f"A CP-VTON-style GMM at 256 × 192 whose TPS grid is made at {FRAME[1]} × {FRAME[0]}.",
            "rendering": "The misalignment mask and what ALIAS reads.",
        },
        frame=FRAME,
        min_pose_points=5, required_keypoints=("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip"),
        factory="vton.methods.vitonhd.method:VITONHD", order=50,
        overlay=OverlaySpec("warped_cloth", over="person"),
        test_overrides={"ngf": 4, "norm_hidden": 8},
    ),
)
