"""VITON-HD (Choi et al., CVPR 2021, shadow2496/VITON-HD@02afa4b5) as a ``vton.methods`` method: the authors'
dataset code and test loop (:mod:`vton.methods.vitonhd.assembly`) on the person framed at the card's 1024 × 768.

Our inputs differ from the authors' in three documented ways: the parse is SCHP's LIP mapped to VITON-HD's labels
(:data:`vton.methods.vitonhd.labels.LIP_TO_VITONHD`), the pose is COCO-18 turned into BODY_25
(:func:`~vton.methods.vitonhd.assembly.body25_from_pose`), and the pose image is our drawing of OpenPose's render
(:func:`~vton.methods.vitonhd.assembly.render_pose`). The noise is drawn from the run's seed (the segmentation noise
with OpenCV's RNG as the authors' ``gen_noise``, the 23 ALIAS draws with a ``torch.Generator``), recorded in
``result.json``, or injected with ``VITONHD.seg_noise`` / ``VITONHD.alias_noise`` to repeat a run bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from vton import visualize as vis
from vton.annotations import Parsing
from vton.errors import InputError
from vton.images import mask_to_tensor, to_tensor
from vton.methods.base import Method, MethodOutput, Trace
from vton.methods.vitonhd.assembly import (
    PARSE_TO_SEG_TABLE,
    VITONHDInputs,
    body25_from_pose,
    group_labels,
    img_agnostic,
    one_hot,
    parse_agnostic,
    render_pose,
    run_vitonhd,
    seg_noise,
)
from vton.methods.vitonhd.labels import ALIAS_LABELS, SEG_LABELS, VITONHD_PARSE, lip_to_vitonhd
from vton.methods.vitonhd.networks import VITONHDConfig, build_vitonhd_network, draw_alias_noise


def _labels_image(labels: np.ndarray | torch.Tensor, label_set) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels[0, 0].cpu().numpy()
    return vis.parse_with_legend(Parsing(np.asarray(labels, np.uint8), label_set))


class VITONHD(Method):
    seg_noise: torch.Tensor | None = None  # (1, 1, h, w) {0, 1}: set to inject the segmentation noise
    alias_noise: dict[str, torch.Tensor] | None = None  # every ALIASNorm's draw (networks.alias_noise_shapes)

    def build_network(self, name: str, **overrides: Any) -> torch.nn.Module:
        w, h = self.card.frame
        try:
            return build_vitonhd_network(name, VITONHDConfig(**{"load_height": h, "load_width": w, **overrides}))
        except (TypeError, ValueError) as e:
            raise InputError(f"VITON-HD has the networks seg, gmm and alias; {name!r} with {overrides}: {e}") from None

    def run(self, pre, trace: Trace) -> MethodOutput:
        dev = next(self.nets["seg"].parameters()).device
        cfg: VITONHDConfig = self.nets["alias"].cfg
        w, h = self.card.frame
        if pre.person.size != (w, h) or (cfg.load_width, cfg.load_height) != (w, h):
            raise InputError(f"VITON-HD runs on a {w} × {h} frame; got a {pre.person.size[0]} × "
                             f"{pre.person.size[1]} person for networks at {cfg.load_width} × {cfg.load_height}")
        if pre.parsing.label_set.name != "LIP":
            raise InputError(f"VITON-HD reads a LIP parse (mapped to its labels); got {pre.parsing.label_set.name}")

        def agnostic():
            parse = lip_to_vitonhd(pre.parsing.labels)
            body = body25_from_pose(pre.pose)
            try:
                img = img_agnostic(pre.person, parse, body)
            except ValueError as e:
                raise InputError(f"VITON-HD cannot build its agnostic image: {e}") from None
            return parse, body, parse_agnostic(parse, body), img

        parse, body, agn_parse, agn_img = trace.step("agnostic", agnostic)
        pose_img = trace.step("pose_image", lambda: render_pose(body, (w, h)))

        seed = int(getattr(self, "seed", 0))

        def noise():
            sn = self.seg_noise if self.seg_noise is not None else seg_noise((1, 1, *cfg.low_res), seed)
            an = self.alias_noise or draw_alias_noise(cfg, torch.Generator().manual_seed(seed))
            return sn, an

        s_noise, a_noise = trace.step("noise", noise)
        inputs = VITONHDInputs(
            img_agnostic=to_tensor(agn_img).to(dev),
            parse_agnostic=one_hot(torch.from_numpy(group_labels(agn_parse, PARSE_TO_SEG_TABLE))[None, None],
                                   len(SEG_LABELS)).to(dev),
            pose=to_tensor(pose_img).to(dev),
            cloth=to_tensor(pre.cloth).to(dev),
            cloth_mask=mask_to_tensor(pre.cloth_mask).to(dev),
        )
        s = run_vitonhd(self.nets, inputs, s_noise.to(dev), {k: v.to(dev) for k, v in a_noise.items()},
                        step=trace.step)

        trace.record("vitonhd_parse", lambda: _labels_image(parse, VITONHD_PARSE))
        trace.record("parse_agnostic",
                     lambda: _labels_image(group_labels(agn_parse, PARSE_TO_SEG_TABLE), SEG_LABELS))
        trace.record("img_agnostic", lambda: np.asarray(agn_img))
        trace.record("pose_image", lambda: np.asarray(pose_img))
        trace.record("seg_noise", lambda: vis.mask_image(s_noise))
        trace.record("segmentation", lambda: _labels_image(s["parse_pred"], SEG_LABELS))
        trace.record("alias_parse", lambda: _labels_image(s["parse_alias"], ALIAS_LABELS))
        trace.record("gmm_inputs", lambda: np.concatenate(
            [vis.mask_image(s["parse_cloth_gmm"]), vis.tensor_image(s["pose_gmm"]),
             vis.tensor_image(s["agnostic_gmm"]), vis.tensor_image(s["c_gmm"])], 1))
        trace.record("tps_grid", lambda: vis.deformed_grid_image(s["warped_c"].cpu(), s["warped_grid"].cpu(),
                                                                 align_corners=False))
        trace.record("warped_cloth", lambda: vis.tensor_image(s["warped_c"]))
        trace.record("warped_mask", lambda: vis.mask_image(s["warped_cm"]))
        trace.record("misalign_mask", lambda: vis.mask_image(s["misalign_mask"]))
        trace.record("alias_inputs", lambda: np.concatenate(
            [vis.tensor_image(inputs.img_agnostic), vis.tensor_image(inputs.pose), vis.tensor_image(s["warped_c"])],
            1))
        trace.record("tryon", vis.tensor_image(s["output"]))

        person = s["parse_pred"][0, 0] != SEG_LABELS.id("background")
        region = Image.fromarray((person.cpu().numpy() * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(9))
        data = {
            "noise_seed": None if (self.seg_noise is not None and self.alias_noise) else seed,
            "noise_injected": {"seg": self.seg_noise is not None, "alias": bool(self.alias_noise)},
            "seg_noise_ones_fraction": round(float(s_noise.float().mean()), 6),
            "theta": s["theta"][0].detach().cpu().numpy(),
            "misalign_pixels": int((s["misalign_mask"] > 0).sum()),
            "segmentation_histogram": {SEG_LABELS.names[i]: int(c) for i, c in enumerate(
                torch.bincount(s["parse_pred"].flatten().cpu(), minlength=len(SEG_LABELS)).tolist()) if c},
            "label_mapping": "LIP -> VITON-HD's 20 labels (vton's documented choice: jumpsuits as dress)",
            "pose_conversion": "COCO-18 -> BODY_25 (mid hip = hips' midpoint; feet missing)",
        }
        keep = ("parse_pred_down", "parse_pred", "parse_alias", "theta", "warped_grid", "warped_c", "warped_cm",
                "misalign_mask", "pre_tanh", "output")
        tensors = {k: s[k].detach().cpu() for k in keep}
        tensors |= {"seg_noise": s_noise.cpu(), "img_agnostic": inputs.img_agnostic.cpu(), "pose": inputs.pose.cpu()}
        return MethodOutput(s["output"].detach().float().cpu(), np.asarray(region, np.float32) / 255.0, data,
                            tensors)
