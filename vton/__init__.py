"""vton: an open lab for classic image-based virtual try-on that shows every stage.

Methods: CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton) and CP-VTON+ (Minar et al., CVPR-W 2020,
minar09/cp-vton-plus), rebuilt so that the authors' released checkpoints load and give the same numbers.
"""

__version__ = "0.1.0"
