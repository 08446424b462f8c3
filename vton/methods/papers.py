"""Where the published scores on the method cards come from: the test split and the papers' tables, named once.

A card's ``published`` scores (``vton.methods.base.PublishedScore``) cite a split and a source; several cards
cite the same ones (ACGPN's and PF-AFN's Table 1 report the earlier methods too), so the strings live here and
``python -m vton evaluate`` shows them beside vton's own numbers exactly as written.
"""

from __future__ import annotations

__all__ = ["VITON_TEST", "ACGPN_TABLE", "PFAFN_TABLE", "CPVTONPLUS_PAPER"]

VITON_TEST = "VITON test, original split (2,032 pairs, 256 × 192)"
"""The test split every published VITON-dataset score here was measured on."""

ACGPN_TABLE = "Yang et al., ACGPN, CVPR 2020, Table 1"
"""ACGPN's comparison table (SSIM of VITON, CP-VTON and ACGPN)."""

PFAFN_TABLE = "Ge et al., PF-AFN, CVPR 2021, Table 1"
"""PF-AFN's comparison table (FID of VITON, CP-VTON, CP-VTON+, ACGPN and PF-AFN)."""

CPVTONPLUS_PAPER = "Minar et al., CP-VTON+, CVPR-W 2020"
"""The CP-VTON+ paper (its own SSIM)."""
