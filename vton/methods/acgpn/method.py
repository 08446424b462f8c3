"""ACGPN (Yang et al., CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f, ACGPN_inference) as a
``vton.methods`` method: the authors' test pipeline (``run_acgpn``) on the LIP parse mapped to ACGPN's 14 labels.

The three binary noise maps are inputs: drawn from the run's seed (recorded in ``result.json``), or injected with
``ACGPN.noise`` so a run can be repeated bit for bit. The authors' dataset code resizes every input to width 512
and back; no fixture pins that step, so it is not applied (the inputs are used at 256 × 192 as framed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from vton import visualize as vis
from vton.annotations import Parsing
from vton.encodings import cloth_tensors, person_tensor, pose_map
from vton.errors import InputError
from vton.methods.acgpn.assembly import ACGPNInputs, gen_noise_maps, run_acgpn
from vton.methods.acgpn.labels import ACGPN_LABELS, lip_to_acgpn
from vton.methods.acgpn.networks import ACGPNConfig, adapt_state_dict, build_acgpn_network
from vton.methods.base import Method, MethodOutput, Trace


def _labels_image(ids: torch.Tensor) -> np.ndarray:
    return vis.parse_with_legend(Parsing(ids[0, 0].round().to(torch.uint8).cpu().numpy(), ACGPN_LABELS))


class ACGPN(Method):
    noise: dict[str, torch.Tensor] | None = None  # set to inject the three noise maps {"G1", "G2", "G"}

    def build_network(self, name: str, **overrides: Any) -> torch.nn.Module:
        try:
            return build_acgpn_network(name, ACGPNConfig(**overrides))
        except (TypeError, ValueError) as e:
            raise InputError(f"ACGPN has the networks G1, G2, G and U; {name!r} with {overrides}: {e}") from None

    def adapt_state_dict(self, name, sd):
        return adapt_state_dict(name, sd)

    def run(self, pre, trace: Trace) -> MethodOutput:
        dev = next(self.nets["G1"].parameters()).device
        if pre.parsing.label_set.name != "LIP":
            raise InputError(f"ACGPN reads a LIP parse (mapped to its 14 labels); got {pre.parsing.label_set.name}")
        label = torch.from_numpy(lip_to_acgpn(pre.parsing.labels).astype(np.float32))[None, None].to(dev)
        c, cm = cloth_tensors(pre.cloth, pre.cloth_mask)
        inputs = ACGPNInputs(label, c.to(dev), cm.to(dev), person_tensor(pre.person).to(dev),
                             pose_map(pre.pose).to(dev))
        seed = int(getattr(self, "seed", 0))
        noise = self.noise or gen_noise_maps(tuple(label.shape), seed=seed)
        noise = {k: v.to(dev) for k, v in noise.items()}
        s = run_acgpn(self.nets, inputs, noise, step=trace.step)

        trace.record("acgpn_labels", lambda: _labels_image(label))
        trace.record("all_clothes", lambda: _labels_image(s["all_clothes_label"]))
        trace.record("layout", lambda: _labels_image(s["layout"]))
        trace.record("cloth_mask_pred", lambda: vis.mask_image(s["predicted_cloth_mask"]))
        trace.record("arm_fixup", lambda: np.concatenate([_labels_image(s["refined_layout"])[:, : label.shape[3]],
                                                          vis.mask_image(s["occlusion"])], 1))
        cp = s["control_points"][0].detach().cpu().numpy()  # (25, 2) (x, y) normalised
        trace.record("stn_control_points", lambda: vis.control_points_image(s["cloth"].cpu(), cp))
        trace.record("tps_grid", lambda: vis.deformed_grid_image(s["warped_cloth"].cpu(), s["sampling_grid"].cpu()))
        trace.record("warped_cloth", lambda: vis.tensor_image(s["warped_cloth"]))
        trace.record("fused_cloth", lambda: vis.tensor_image(s["fused_cloth"]))
        trace.record("skin_color", lambda: vis.tensor_image(s["skin_color"]))
        trace.record("hole_image", lambda: vis.tensor_image(s["hole_image"]))
        trace.record("tryon", vis.tensor_image(s["tryon"]))

        fg = (label[0, 0] > 0) | (s["predicted_cloth_mask"][0, 0] > 0.5)
        region = Image.fromarray((fg.cpu().numpy() * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
        points = [{"i": i, "x": round(float(x), 6), "y": round(float(y), 6)} for i, (x, y) in enumerate(cp)]
        data = {"noise_seed": None if self.noise else seed, "noise_injected": bool(self.noise),
                "noise_ones_fraction": {k: round(float(v.mean()), 6) for k, v in noise.items()},
                "control_points": points, "label_mapping": "LIP -> ACGPN 14 labels (vton's documented choice)"}
        tensors = {k: v.detach().float().cpu() for k, v in s.items()}
        tensors |= {f"noise_{k}": v.cpu() for k, v in noise.items()}
        return MethodOutput(tensors["tryon"], np.asarray(region, np.float32) / 255.0, data, tensors)
