"""Geometric TPS warp, training-free, after VITON's shape-context step.

VITON (Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON@0370ca3) warped the
garment onto the person with a thin-plate spline fitted between the garment's outline and the person's clothing
region (shape-context matching, its MATLAB step ``shape_context_warp.m``). This package builds that idea with no
learned weights: the target region comes from the person's LIP parse, landmarks from the COCO-18 pose and the
garment mask's geometry (outlines in :mod:`.outline`, landmarks in :mod:`.landmarks`, the person's outline with
sleeves parted along the arms in :mod:`.person` and :mod:`.sleeves`), correspondences from shape contexts and an
optimal assignment anchored by the landmarks (:mod:`.matching`), the warp from the smoothest TPS per garment
piece, torso and sleeves (:mod:`.fit`, kernel from :mod:`vton.geometry.tps`), and the result from inpainting and
composition (:mod:`.warp`); :mod:`.draw` draws each stage and :mod:`.family` generates drawn people it was not tuned
on and scores a try-on on them. Entry point: :func:`.warp.geometric_tryon`.
"""
