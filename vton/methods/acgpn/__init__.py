"""ACGPN: Yang et al., "Towards Photo-Realistic Virtual Try-On by Adaptively Generating↔Preserving Image Content",
CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f (ACGPN_inference; non-commercial research licence).

``networks`` holds the four networks (G1, G2, G: the shared Refine U-Net; U: the TPS STN + UnetMask) with the
released checkpoints' keys, ``labels`` the 14-label layout, ``assembly`` the test-time steps between the networks.
"""
