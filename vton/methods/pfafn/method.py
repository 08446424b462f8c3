"""PF-AFN (Ge et al., CVPR 2021, geyuying/PF-AFN@e2bb71e2) as a ``vton.methods`` method: the authors' test loop
(edge = mask > 0.5, AFWM warp with border padding, warped edge with zero padding, generator, composition) on the
letterboxed person (no pose is used, so the person is framed whole).

The generator re-renders the whole frame; paste-back takes the try-on where the warped garment lies or the
rendering differs visibly from the photo (grown by a few pixels), since no parse map says where the person is.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from vton import visualize as vis
from vton.encodings import cloth_tensors, person_tensor
from vton.errors import InputError
from vton.methods.base import Method, MethodOutput, Trace
from vton.methods.pfafn.assembly import generator_input, generator_outputs, prepare_cloth, warp_edge
from vton.methods.pfafn.card import LEVELS
from vton.methods.pfafn.networks import PFAFNConfig, adapt_state_dict, build_pfafn_network

CHANGE_THRESHOLD = 0.12  # mean |try-on − photo| in [-1, 1] units above which a pixel counts as changed


class PFAFN(Method):
    def build_network(self, name: str, **overrides: Any) -> torch.nn.Module:
        try:
            cfg = PFAFNConfig(**overrides)
            # built as normal tensors even when loaded inside an inference-mode call: their version counters let the
            # fused CPU path keep its folded weights between runs (inference tensors have none: refolded each run)
            with torch.inference_mode(False):
                return build_pfafn_network(name, cfg)
        except (TypeError, ValueError) as e:
            raise InputError(f"PF-AFN has the networks warp and gen; {name!r} with {overrides}: {e}") from None

    def adapt_state_dict(self, name, sd):
        sd, dropped = adapt_state_dict(name, sd)
        notes = [f"ignored {len(dropped)} checkpoint key(s) the network lacks, as the authors' loader does: "
                 + ", ".join(dropped[:8]) + (" …" if len(dropped) > 8 else "")] if dropped else []
        return sd, notes

    def run(self, pre, trace: Trace) -> MethodOutput:
        warp_net, gen = self.nets["warp"], self.nets["gen"]
        dev = next(warp_net.parameters()).device
        ac = warp_net.cfg.align_corners
        person = person_tensor(pre.person).to(dev)

        def inputs():
            c, cm = cloth_tensors(pre.cloth, pre.cloth_mask)
            return prepare_cloth(c.to(dev), cm.to(dev))

        clothes, edge = trace.step("inputs", inputs)
        trace.record("edge", lambda: vis.mask_image(edge))
        def warp():
            weights_id = (self.loaded["warp"].sha256 if "warp" in self.loaded else id(warp_net), str(dev))
            pyramid = self.person_cached(pre, ("person_pyramid", *weights_id), lambda: warp_net.person_pyramid(person))
            return warp_net(person, clothes, person_pyramid=pyramid)

        out = trace.step("warp", warp)
        garment = functools.cache(lambda: vis.tensor_image(clothes))  # drawn once, when a flow panel is first shown
        for i, level in enumerate(out.level_flows[:LEVELS]):
            trace.record(f"flow_level_{i}", functools.partial(_level_panel, level, i, pre.person.size, garment))
        final = out.flow.permute(0, 2, 3, 1)  # (1, H, W, 2)
        trace.record("flow", lambda: vis.flow_panel(vis.grid_to_pixel_flow(final), garment(), legend="final"))
        trace.record("warped_cloth", lambda: vis.tensor_image(out.warped_cloth))
        warped_edge = trace.step("edge", lambda: warp_edge(edge, out.flow, ac))
        trace.record("warped_edge", lambda: vis.mask_image(warped_edge))
        trace.record("warped_overlay",
                     lambda: vis.overlay_image(pre.person, out.warped_cloth.cpu(), warped_edge.cpu()))
        raw = trace.step("gen", lambda: gen(generator_input(person, out.warped_cloth, warped_edge)))
        rendered, m, tryon = trace.step("composition", lambda: generator_outputs(raw, out.warped_cloth, warped_edge))
        trace.record("rendered", lambda: vis.tensor_image(rendered))
        trace.record("composition_mask", lambda: vis.mask_image(m))
        trace.record("tryon", vis.tensor_image(tryon))

        changed = (warped_edge[0, 0] > 0.5) | ((tryon - person).abs().mean(1)[0] > CHANGE_THRESHOLD)
        region = Image.fromarray((changed.cpu().numpy() * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(5))
        cpu = lambda t: t.detach().float().cpu()  # noqa: E731
        tensors = {"clothes": cpu(clothes), "edge": cpu(edge), "flow": cpu(out.flow),
                   "level_flows": [cpu(f) for f in out.level_flows], "warped_cloth": cpu(out.warped_cloth),
                   "warped_edge": cpu(warped_edge), "raw": cpu(raw), "rendered": cpu(rendered),
                   "composition_mask": cpu(m)}
        return MethodOutput(cpu(tryon), np.asarray(region, np.float32) / 255.0,
                            {"framing": pre.sources.get("framing")}, tensors)


def _level_panel(level, i: int, size: tuple[int, int], garment) -> np.ndarray:
    """The flow of pyramid level ``i`` as a panel over the garment: displacement in frame pixels, shown at frame
    ``size`` (W, H); ``garment`` draws the garment picture."""
    grid = level.permute(0, 2, 3, 1)  # (1, h, w, 2): a normalised sampling grid
    flow = vis.grid_to_pixel_flow(grid)
    up = np.asarray(Image.fromarray(flow[..., 0]).resize(size, Image.Resampling.BILINEAR))
    vp = np.asarray(Image.fromarray(flow[..., 1]).resize(size, Image.Resampling.BILINEAR))
    scale = size[0] / grid.shape[2]
    return vis.flow_panel(np.stack([up, vp], -1) * scale, garment(),
                          legend=f"level {i + 1} ({grid.shape[1]}x{grid.shape[2]})")
