"""The test-only toy method: the framed garment where the body mask and the garment mask are both on."""

from __future__ import annotations

import numpy as np

from vton import visualize as vis
from vton.images import to_tensor
from vton.methods.base import Method, MethodOutput, Trace


class FramedToy(Method):
    """No networks. Records its picture lazily (a function), as a method whose stages are costly to draw would."""

    def run(self, pre, trace: Trace) -> MethodOutput:
        where = trace.step("mix", lambda: pre.body_mask & pre.cloth_mask)
        trace.record("toy_mix", lambda: vis.mask_image(where))

        def compose():
            person, cloth = np.asarray(pre.person), np.asarray(pre.cloth)
            return to_tensor(np.where(where[..., None], cloth, person).astype(np.uint8))

        tryon = trace.step("composition", compose)
        trace.record("tryon", vis.tensor_image(tryon))
        return MethodOutput(tryon, where.astype(np.float32), {"frame": list(pre.person.size)})
