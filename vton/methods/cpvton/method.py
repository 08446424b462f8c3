"""CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton) and CP-VTON+ (Minar et al., CVPR-W 2020,
minar09/cp-vton-plus) as ``vton.methods`` methods: representation → GMM (TPS) → warp → TOM → composition.

The test-time chain is the authors' ``test_gmm`` / ``test_tom``: the garment is warped with border padding and its
mask with zero padding by the GMM's grid (``align_corners=True``, the convention the checkpoints were trained
in); CP-VTON+'s TOM also reads the warped mask re-binarised at 0.5.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from vton import visualize as vis
from vton.encodings import cloth_tensors
from vton.errors import InputError
from vton.geometry.tps import control_points as tps_control_points
from vton.geometry.tps import warped_control_points
from vton.methods.base import Method, MethodOutput, Trace
from vton.methods.cpvton.networks import GMM, TOM, CPVTONConfig, compose, tom_outputs, warp_cloth, warp_mask
from vton.methods.cpvton.representation import Variant, build_representation

_BUILDERS = {"gmm": GMM, "tom": TOM}


class _CPVTONBase(Method):
    variant: Variant = "original"

    def build_network(self, name: str, **overrides: Any) -> torch.nn.Module:
        if name not in _BUILDERS:
            raise InputError(f"{self.card.title} has the networks gmm and tom, not {name!r}")
        if "variant" in overrides:
            raise InputError(f"the variant is set by the method ({self.card.id} -> {self.variant!r})")
        try:
            cfg = CPVTONConfig(variant=self.variant, **overrides)
        except TypeError as e:
            raise InputError(f"bad network option for {self.card.id}/{name}: {e}") from None
        return _BUILDERS[name](cfg).eval()

    def run(self, pre, trace: Trace) -> MethodOutput:
        gmm, tom = self.nets["gmm"], self.nets["tom"]
        dev = next(gmm.parameters()).device
        plus = self.variant == "plus"

        def representation():  # the person's side: computed once per person, drawings included
            kw = dict(variant=self.variant, body_mask=pre.body_mask)
            rep_gmm = build_representation(pre.person, pre.parsing, pre.pose, stage="gmm", **kw)
            # drawn when first shown, then shared by every result of this person (read-only)
            drawings = {"representation_shape": _drawn_once(vis.shape_image, rep_gmm.shape),
                        "representation_head": _drawn_once(vis.tensor_image, rep_gmm.head),
                        "representation_pose": _drawn_once(vis.pose_map_image, rep_gmm.pose)}
            return (rep_gmm, build_representation(pre.person, pre.parsing, pre.pose, stage="tom", **kw), drawings)

        rep_gmm, rep_tom, drawings = trace.step("representation",
                                                lambda: self.person_cached(pre, ("representation",), representation))
        for key, draw in drawings.items():
            trace.record(key, draw)

        c, cm = cloth_tensors(pre.cloth, pre.cloth_mask)
        c, cm = c.to(dev), cm.to(dev)
        agnostic = rep_gmm.tensor().to(dev)

        def run_gmm():
            weights_id = (self.loaded["gmm"].sha256 if "gmm" in self.loaded else id(gmm), str(dev))
            features = self.person_cached(pre, ("gmm_person_features", *weights_id),
                                          lambda: gmm.person_features(agnostic))
            return gmm(agnostic, cm if plus else c, person_features=features)

        grid, theta = trace.step("gmm", run_gmm)  # the stages below are drawn when first shown (``Trace.record``)
        source = warped_control_points(theta, 5)[0].cpu().numpy()  # (25, 2): where each point samples the garment
        trace.record("tps_control_points", lambda: vis.control_points_image(c.cpu(), source))
        warped_c, warped_m = trace.step("warp", lambda: (warp_cloth(c, grid), warp_mask(cm, grid)))
        trace.record("tps_grid", lambda: vis.deformed_grid_image(warped_c.cpu(), grid.cpu()))
        trace.record("warped_cloth", lambda: vis.tensor_image(warped_c))
        trace.record("warped_mask", lambda: vis.mask_image(warped_m))
        trace.record("warped_overlay", lambda: vis.overlay_image(pre.person, warped_c.cpu(), warped_m.cpu()))

        def run_tom():
            parts = [rep_tom.tensor().to(dev), warped_c]
            if plus:
                parts.append((warped_m >= 0.5).float())  # CP-VTON+ feeds the re-binarised warped mask
            return tom_outputs(tom(torch.cat(parts, 1)))

        rendered, m = trace.step("tom", run_tom)
        trace.record("rendered", lambda: vis.tensor_image(rendered))
        trace.record("composition_mask", lambda: vis.mask_image(m))
        tryon = trace.step("composition", lambda: compose(warped_c, rendered, m))
        trace.record("tryon", lambda: vis.tensor_image(tryon))

        base = tps_control_points(5, dtype=torch.float64).numpy()
        points = [{"i": i, "x": round(float(base[i, 0]), 4), "y": round(float(base[i, 1]), 4),
                   "dx": round(float(theta[0, i]), 6), "dy": round(float(theta[0, 25 + i]), 6),
                   "source_x": round(float(source[i, 0]), 6), "source_y": round(float(source[i, 1]), 6)}
                  for i in range(25)]
        cpu = lambda t: t.detach().float().cpu()  # noqa: E731
        tensors = {"representation_gmm": rep_gmm, "representation_tom": rep_tom, "cloth": cpu(c), "cloth_mask": cpu(cm),
                   "theta": cpu(theta), "grid": cpu(grid), "warped_cloth": cpu(warped_c), "warped_mask": cpu(warped_m),
                   "rendered": cpu(rendered), "composition_mask": cpu(m)}
        return MethodOutput(cpu(tryon), _person_region(pre, warped_m),
                            {"theta": theta[0].detach().cpu(), "control_points": points}, tensors)


def _person_region(pre, warped_mask: torch.Tensor) -> np.ndarray:
    """The TOM re-renders the whole frame; paste back only the person (parsing) and the warped garment, grown by
    a few pixels so the new garment's edge is not cut."""
    body = pre.body_mask if pre.body_mask is not None else pre.parsing.labels > 0
    region = body | (warped_mask[0, 0].detach().cpu().numpy() >= 0.5)
    img = Image.fromarray((region * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
    return np.asarray(img, np.float32) / 255.0


class CPVTON(_CPVTONBase):
    variant: Variant = "original"


class CPVTONPlus(_CPVTONBase):
    variant: Variant = "plus"


def _drawn_once(draw, value):
    """A function that draws ``draw(value)`` on its first call and returns that same read-only picture after."""

    @functools.cache
    def picture():
        image = draw(value)
        image.flags.writeable = False
        return image

    return picture
