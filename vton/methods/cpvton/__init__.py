"""CP-VTON and CP-VTON+: a geometric matching module (TPS warp) and a try-on module (rendering + composition).

CP-VTON: Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network", ECCV 2018,
sergeywong/cp-vton@fbaf333b. CP-VTON+: Minar et al., "CP-VTON+: Clothing Shape and Texture Preserving Image-Based
Virtual Try-On", CVPR Workshops 2020, minar09/cp-vton-plus@5d7a8997. Cards in ``card.py``, networks in
``networks.py``, the person representation in ``representation.py``, the method in ``method.py``.
"""
