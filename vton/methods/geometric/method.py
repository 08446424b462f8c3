"""The training-free geometric try-on as a ``vton.methods`` method (after VITON's shape-context TPS step: Han et al.,
"VITON: An Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON). The work is in ``warp.py``; this module
times its phases and records the card's stages."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageFilter

from vton.errors import InputError
from vton.images import to_tensor
from vton.methods.base import Method, MethodOutput, Trace
from vton.methods.geometric.draw import (
    draw_composition,
    draw_garment_outline,
    draw_matches,
    draw_target_outline,
    draw_tps_grid,
)
from vton.methods.geometric.warp import GeometricConfig, geometric_tryon


class Geometric(Method):
    """No networks: ``load`` has nothing to do."""

    def run(self, pre, trace: Trace) -> MethodOutput:
        person = np.asarray(pre.person.convert("RGB"))
        cloth = np.asarray(pre.cloth.convert("RGB"))
        partial: dict = {}
        try:
            res = geometric_tryon(person, pre.parsing, pre.pose, cloth, pre.cloth_mask,
                                  config=GeometricConfig(**self.network_overrides), step=trace.step, partial=partial)
        except InputError:  # a refusal: record what was computed (region, outlines, matches) so the user sees why
            if "garment" in partial:
                trace.record("garment_outline", draw_garment_outline(cloth, partial["garment"]))
            if "region" in partial:
                trace.record("target_outline", draw_target_outline(person, None, region=partial["region"],
                                                                   outline=partial.get("target")))
            if "matching" in partial:
                trace.record("matches", draw_matches(cloth, person, partial["matching"]))
            raise
        # drawn when first shown (``Trace.record``): a garment swap nobody looks at draws nothing
        trace.record("garment_outline", lambda: draw_garment_outline(cloth, res))
        trace.record("target_outline", lambda: draw_target_outline(person, res))
        trace.record("matches", lambda: draw_matches(cloth, person, res.matching))
        trace.record("tps_grid", lambda: draw_tps_grid(res, (cloth.shape[1], cloth.shape[0])))
        trace.record("warped_cloth", lambda: np.where(res.warped_mask[..., None], res.warped_cloth,
                                                      np.uint8(255)).astype(np.uint8))
        trace.record("composition_mask", lambda: draw_composition(res))
        trace.record("tryon", res.tryon)
        changed = res.fill_mask | (res.composition_mask > 0)
        region = Image.fromarray((changed * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
        m = res.matching
        matched = [{"pair": i, "garment_x": round(float(g[0]), 2), "garment_y": round(float(g[1]), 2),
                    "person_x": round(float(t[0]), 2), "person_y": round(float(t[1]), 2)}
                   for i, (g, t) in enumerate(zip(m.garment_pairs, m.target_pairs, strict=True))]
        lam = {k: ["affine" if np.isinf(v) else float(v) for v in pair] for k, pair in res.fit.regularization.items()}
        data = {"pairs": len(m.target_pairs), "matched_pairs": matched,
                "warp": {"pieces": sorted(lam), "regularization_xy": lam,
                         "residual_px": {k: round(v, 3) for k, v in res.fit.residual.items()},
                         "tolerance_px": round(res.fit.tolerance, 3)},
                "landmarks": {"garment": dict(zip(m.garment.landmark_names, m.garment.landmarks.tolist(),
                                                  strict=True)),
                              "target": dict(zip(m.target.landmark_names, m.target.landmarks.tolist(),
                                                 strict=True))}}
        tensors = {"grid": res.grid, "warped_mask": torch.from_numpy(res.warped_mask),
                   "target_region": torch.from_numpy(res.target_region),
                   "composition_mask": torch.from_numpy(res.composition_mask)}
        return MethodOutput(to_tensor(res.tryon), np.asarray(region, np.float32) / 255.0, data, tensors)
