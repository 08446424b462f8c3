"""PF-AFN: Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2.

The parser-free student at test time: an appearance-flow warping module (:class:`networks.AFWM`) and a residual
U-Net generator (:class:`networks.ResUnetGenerator`); :mod:`assembly` holds the test-loop tensor steps around them.
Released checkpoints under the authors' non-commercial research licence.
"""
