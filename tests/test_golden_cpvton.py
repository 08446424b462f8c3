"""CP-VTON / CP-VTON+ against the authors' code: golden fixtures made by running it (see the golden README).

Weights come from the fixtures' own generator (``make_weights.py`` beside the fixture folder) and the seed and
digest in their metadata, so these tests hold for any ``VTON_GOLDEN_DIR`` in the same format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import atol_of

from vton.geometry.tps import TpsGridGen, tps_grid
from vton.methods import build_network
from vton.methods.cpvton.networks import compose, tom_outputs, warp_cloth, warp_mask

pytestmark = pytest.mark.golden

VARIANTS = [("cpvton", "cp-vton"), ("cpvtonplus", "cp-vton+")]


def _loaded_network(method, network, meta, layouts_dir, make_weights):
    with open(Path(layouts_dir) / Path(meta["layout"]).name) as f:
        layout = json.load(f)
    sd = make_weights.make_state_dict(layout, int(meta["weight_seed"]))
    assert make_weights.digest(sd) == meta["state_dict_sha256"], "the weight generator gives another RNG stream"
    net = build_network(method, network)
    net.load_state_dict(sd, strict=True)
    return net


def _rtol(meta, default=1e-4):
    return float(meta.get("suggested_rtol", default))


def test_tps_grid_matches_authors_tps_grid_gen(golden):
    t, meta = golden("cpvton_tps")
    theta, expected = t["in.theta"], t["out.grid"]
    b, h, w, _ = expected.shape
    atol, rtol = atol_of(meta, "grid", 1e-5), _rtol(meta, 1e-5)
    torch.testing.assert_close(tps_grid(theta, h, w), expected, atol=atol, rtol=rtol)
    torch.testing.assert_close(TpsGridGen(h, w)(theta), expected, atol=atol, rtol=rtol)


@pytest.mark.parametrize(("family", "method"), VARIANTS)
def test_gmm_matches_authors_grid_theta_and_warps(golden, layouts_dir, make_weights, family, method):
    t, meta = golden(f"{family}_gmm")
    gmm = _loaded_network(method, "gmm", meta, layouts_dir, make_weights)
    agnostic = torch.cat([t["in.agnostic.shape"], t["in.agnostic.head"], t["in.agnostic.pose"]], dim=1)
    cloth_in = t["in.cloth"] if gmm.cfg.variant == "original" else t["in.cloth_mask"]
    with torch.no_grad():
        grid, theta = gmm(agnostic, cloth_in)
    rtol = _rtol(meta)
    torch.testing.assert_close(theta, t["out.theta"], atol=atol_of(meta, "theta", 1e-5), rtol=rtol)
    torch.testing.assert_close(grid, t["out.grid"], atol=atol_of(meta, "grid", 1e-4), rtol=rtol)
    atol_img = atol_of(meta, "warped_cloth", 2e-3)
    for align_corners, prefix in ((False, "out."), (True, "out.legacy_ac.")):
        cloth = warp_cloth(t["in.cloth"], grid, align_corners=align_corners)
        mask = warp_mask(t["in.cloth_mask"], grid, align_corners=align_corners)
        torch.testing.assert_close(cloth, t[prefix + "warped_cloth"], atol=atol_img, rtol=0)
        torch.testing.assert_close(mask, t[prefix + "warped_mask"], atol=atol_of(meta, "warped_mask", 2e-3), rtol=0)


@pytest.mark.parametrize(("family", "method"), VARIANTS)
def test_tom_matches_authors_output_and_composition(golden, layouts_dir, make_weights, family, method):
    t, meta = golden(f"{family}_tom")
    tom = _loaded_network(method, "tom", meta, layouts_dir, make_weights)
    x = torch.cat([t[f"in.{name}"] for name in json.loads(meta["input_concat"])], dim=1)
    assert x.shape[1] == tom.cfg.tom_in_channels
    with torch.no_grad():
        raw = tom(x)
    torch.testing.assert_close(raw, t["out.output"], atol=atol_of(meta, "output", 1e-3), rtol=1e-4)
    rendered, m = tom_outputs(raw)
    tryon = compose(t["in.cloth"], rendered, m)
    for name, value in (("p_rendered", rendered), ("m_composite", m), ("p_tryon", tryon)):
        torch.testing.assert_close(value, t[f"out.{name}"], atol=atol_of(meta, name, 2e-3), rtol=0)
