"""VITON-HD: Choi et al., "VITON-HD: High-Resolution Virtual Try-On via Misalignment-Aware Normalization", CVPR 2021,
shadow2496/VITON-HD@02afa4b5 (CC BY-NC 4.0).

``networks`` holds the segmentation generator, the GMM and the ALIAS generator with the released checkpoints' keys,
``labels`` the label sets and our LIP → VITON-HD mapping, ``assembly`` the dataset code and the test-time steps
between the networks, at 1024 × 768.
"""
