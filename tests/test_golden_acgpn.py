"""ACGPN against the authors' code: golden fixtures made by running it (see the golden README).

Weights come from the fixtures' own generator (``make_weights.py`` beside the fixture folder) with the seed, layout
and digest in their metadata; U's three TPS constants are not generated (``constant_keys``): the model's own are
used. The pipeline is compared stage by stage, feeding each step the stored inputs of that stage and the stored
noise: argmax, ``> 0.5`` and the dilations make an end-to-end tolerance meaningless.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from tolerances import (
    FAKE_C,
    FP16_IMAGE,
    GRID,
    LOGITS,
    LOSS,
    REDUCTION,
    THETA,
    TPS,
    TPS_INVERSE,
    U_CONV9,
    assert_mostly_close,
    atol_of,
    rtol_of,
)

from vton.methods.acgpn.assembly import (
    NOISE_KEYS,
    ACGPNInputs,
    arm_fixup,
    changearm,
    cloth_mask_from_g2,
    clothes_mask,
    diagnostic_loss,
    foreground_mask,
    fuse_cloth,
    gen_noise_maps,
    hole_image,
    layout_from_g1,
    one_hot,
    prepare_cloth,
    run_acgpn,
    skin_color,
    tryon_from_g,
)
from vton.methods.acgpn.networks import (
    CONSTANT_KEYS,
    ACGPNConfig,
    TPSGridGen,
    UOutput,
    build_acgpn_network,
    target_control_points,
    warp_zero_canvas,
)

pytestmark = pytest.mark.golden

REFINE = ("G1", "G2", "G")


def _layout(layouts_dir, meta) -> dict:
    with open(Path(layouts_dir) / Path(meta["layout"]).name) as f:
        return json.load(f)


def _loaded(network, meta, layouts_dir, make_weights, cfg=None):
    layout = _layout(layouts_dir, meta)
    assert float(layout.get("weight_scale", 1.0)) == float(meta.get("weight_scale", 1.0))
    sd = make_weights.make_state_dict(layout, int(meta["weight_seed"]))
    assert make_weights.digest(sd) == meta["state_dict_sha256"], "the weight generator gives another RNG stream"
    net = build_acgpn_network(network, cfg)
    result = net.load_state_dict(sd, strict=False)
    assert sorted(result.missing_keys) == sorted(layout.get("constant_keys", [])) and not result.unexpected_keys
    return net


def _concat(t, meta):
    return torch.cat([t[f"in.{name}"] for name in json.loads(meta["input_concat"])], dim=1)


# ------------------------------------------------------------------------------------------- layouts, constants


@pytest.mark.parametrize("network", ["G1", "G2", "G", "U"])
def test_state_dict_keys_and_shapes_equal_the_released_layout(layouts_dir, network):
    with open(Path(layouts_dir) / f"acgpn_{network}.json") as f:
        layout = json.load(f)
    net = build_acgpn_network(network)
    ours = [(k, list(v.shape)) for k, v in net.state_dict().items()]
    assert ours == [(k, [int(s) for s in shape]) for k, shape, _ in layout["params"]]
    assert sum(p.numel() for p in net.parameters()) == layout["num_params"]
    assert sorted(layout.get("constant_keys", [])) == (sorted(CONSTANT_KEYS) if network == "U" else [])


def test_computed_tps_constants_equal_the_authors(golden):
    t, meta = golden("acgpn_tps")
    h, w = t["out.sampling_grid"].shape[1:3]
    target = target_control_points(ACGPNConfig(fine_height=h, fine_width=w))
    tps = TPSGridGen(h, w, target)  # what U holds as stn.tps
    atol, rtol = atol_of(meta, "sampling_grid", TPS), rtol_of(meta, TPS)
    # exact: ±0.9, ±0.45, 0 rounded once to float32 on both sides
    torch.testing.assert_close(target.float(), t["out.target_control_points"], atol=0, rtol=0)
    repr_ = t["out.target_coordinate_repr"]
    torch.testing.assert_close(tps.target_coordinate_repr[: repr_.shape[0]], repr_, atol=atol, rtol=rtol)
    # the authors invert the 28 × 28 system in float32 (entries up to ~6); ours is float64, rounded once
    torch.testing.assert_close(tps.inverse_kernel, t["out.inverse_kernel"], atol=TPS_INVERSE, rtol=TPS_INVERSE)
    assert not tps.padding_matrix.any()
    grid = tps(t["in.control_points"])
    torch.testing.assert_close(grid, t["out.sampling_grid"], atol=atol, rtol=rtol)


# ------------------------------------------------------------------------------------------------- the networks


@pytest.mark.slow
@pytest.mark.parametrize("network", REFINE)
def test_refine_logits_match_the_authors(golden, layouts_dir, make_weights, network):
    t, meta = golden(f"acgpn_{network}")
    x = _concat(t, meta)
    cfg = ACGPNConfig(fine_height=x.shape[2], fine_width=x.shape[3])
    net = _loaded(network, meta, layouts_dir, make_weights, cfg)
    with torch.no_grad():
        out = net(x)
    torch.testing.assert_close(out, t["out.output"], atol=atol_of(meta, "output", LOGITS), rtol=rtol_of(meta))


@pytest.fixture(scope="module")
def u_run(golden, layouts_dir, make_weights):
    """U (align_corners=False, as the fixture's out.*) on the fixture's inputs; then the legacy warps; and U's warp +
    U-Net fed the authors' stored sampling grid (the stage after their float32 TPS)."""
    t, meta = golden("acgpn_U")
    h, w = t["in.clothes"].shape[2:]
    u = _loaded("U", meta, layouts_dir, make_weights, ACGPNConfig(fine_height=h, fine_width=w, align_corners=False))
    with torch.no_grad():
        out = u(t["in.clothes"], t["in.refer"], t["in.mask"], t["in.grid"])
        on_their_grid = u.unet(torch.cat([t["in.refer"], warp_zero_canvas(t["in.clothes"], t["out.sampling_grid"],
                                                                           align_corners=False)], 1))
        u.cfg.align_corners = True
        legacy = u(t["in.clothes"], t["in.refer"], t["in.mask"], t["in.grid"])
    return t, meta, out, legacy, on_their_grid


@pytest.mark.slow
def test_u_control_points_grid_and_conv9_match_the_authors(u_run):
    """Stage by stage with tight tolerances, then end to end with the bulk/outlier rule of ``tolerances.U_CONV9``:
    the authors' TPS rounds in float32 and their sharp mask edges amplify that ~300–600× in conv9."""
    t, meta, out, _, on_their_grid = u_run
    rtol = rtol_of(meta)
    torch.testing.assert_close(out.control_points, t["out.control_points"],
                               atol=atol_of(meta, "control_points", THETA), rtol=rtol)
    torch.testing.assert_close(out.sampling_grid, t["out.sampling_grid"],
                               atol=atol_of(meta, "sampling_grid", GRID), rtol=rtol)
    torch.testing.assert_close(on_their_grid, t["out.conv9"], atol=LOGITS, rtol=rtol)
    assert_mostly_close(out.conv9, t["out.conv9"], atol_of(meta, "conv9", U_CONV9), what="conv9 end to end")


@pytest.mark.slow
def test_u_warps_match_the_authors_default_and_legacy_align_corners(u_run):
    """Warped with the authors' stored grid: within the fp16 storage tolerance. Warped with vton's own grid (a few
    1e-5 away from theirs, see ``tolerances.U_CONV9``): the same tolerance for all but a few edge pixels."""
    t, meta, out, legacy, _ = u_run
    grid = t["out.sampling_grid"]
    for name, key in (("warped_clothes", "clothes"), ("warped_mask", "mask"), ("warped_grid", "grid")):
        for prefix, ac in (("out.", False), ("out.legacy_ac.", True)):
            if prefix + name in t:
                ours = warp_zero_canvas(t[f"in.{key}"], grid, align_corners=ac)
                torch.testing.assert_close(ours, t[prefix + name], atol=atol_of(meta, name, FP16_IMAGE), rtol=0)
    for name, ours in (("warped_clothes", out.warped_cloth), ("warped_mask", out.warped_mask),
                       ("warped_grid", out.warped_grid)):
        assert_mostly_close(ours, t[f"out.{name}"], atol_of(meta, name, FP16_IMAGE), what=name)
    for name, ours in (("warped_clothes", legacy.warped_cloth), ("warped_mask", legacy.warped_mask)):
        assert_mostly_close(ours, t[f"out.legacy_ac.{name}"], atol_of(meta, name, FP16_IMAGE), what=f"legacy {name}")
    assert not torch.equal(t["out.warped_clothes"], t["out.legacy_ac.warped_clothes"])  # the flag matters


# ---------------------------------------------------------------------------------------- the pipeline, by stage


@pytest.fixture(scope="module")
def stages(golden):
    return {name: golden(f"acgpn_{name}") for name in ("pipeline", "G1", "G2", "U", "G")}


def _noise_seed(meta: dict) -> int:
    """The ``cv2.setRNGSeed`` seed the fixture's metadata records for its noise draws."""
    found = re.findall(r"setRNGSeed\((\d+)\)", meta.get("noise", ""))
    assert len(found) == 1, f"the pipeline fixture's metadata names no single noise seed: {meta.get('noise')!r}"
    return int(found[0])


def test_noise_reproduces_the_authors_draws(stages):
    p, meta = stages["pipeline"]
    draws = gen_noise_maps(tuple(p["in.noise.G1"].shape), seed=_noise_seed(meta))
    for k in NOISE_KEYS:  # {0, 1} draws: exact
        assert torch.equal(draws[k], p[f"in.noise.{k}"]), k
        assert torch.equal(p[f"in.noise.{k}"], stages[k][0]["in.noise"]), k


def test_test_py_assembly_matches(stages):
    p, _ = stages["pipeline"]
    label = p["in.label"]
    assert torch.equal(changearm(label), p["out.assembly.all_clothes_label"])
    assert torch.equal(clothes_mask(label), p["out.assembly.mask_clothes"])
    assert torch.equal(foreground_mask(label), p["out.assembly.mask_fore"])
    # exact by construction: the stored image times a {0, 1} mask
    assert torch.equal(p["in.image"] * foreground_mask(label), p["out.assembly.img_fore"])


def test_g1_input_assembly_matches(stages):
    p, _ = stages["pipeline"]
    g1, _ = stages["G1"]
    cloth, mask = prepare_cloth(p["in.color"], p["in.edge"])
    # exact by construction: the stored cloth times its binarised {0, 1} mask
    assert torch.equal(cloth, g1["in.clothes"]) and torch.equal(mask, g1["in.pre_clothes_mask"])
    assert torch.equal(one_hot(changearm(p["in.label"])), g1["in.all_clothes_label_onehot"])
    assert torch.equal(p["in.pose"], g1["in.pose"])


def test_layout_from_stored_g1_logits_is_the_g2_input(stages):
    g1, _ = stages["G1"]
    g2, _ = stages["G2"]
    _, layout = layout_from_g1(g1["out.output"])
    assert torch.equal(one_hot(layout), g2["in.dis_label_onehot"])
    for k in ("clothes", "pre_clothes_mask", "pose"):  # the same stored tensor in two files: exact
        assert torch.equal(g1[f"in.{k}"], g2[f"in.{k}"])


def test_cloth_mask_from_stored_g2_logits_is_the_u_refer_input(stages):
    p, meta = stages["pipeline"]
    _, layout = layout_from_g1(stages["G1"][0]["out.output"])
    prob, mask = cloth_mask_from_g2(stages["G2"][0]["out.output"], layout, p["in.label"])
    torch.testing.assert_close(prob, p["out.fake_cl"], atol=atol_of(meta, "fake_cl", FP16_IMAGE), rtol=0)
    u, _ = stages["U"]
    assert torch.equal(mask, u["in.refer"])
    # the same stored tensors in two files: exact
    assert torch.equal(u["in.clothes"], stages["G1"][0]["in.clothes"])
    assert torch.equal(u["in.mask"], stages["G1"][0]["in.pre_clothes_mask"])
    assert torch.equal(u["in.grid"], p["in.image"])


def test_arm_fixup_skin_and_hole_are_the_g_inputs(stages):
    p, _ = stages["pipeline"]
    g, _ = stages["G"]
    label = p["in.label"]
    _, layout = layout_from_g1(stages["G1"][0]["out.output"])
    fake_cl_dis = stages["U"][0]["in.refer"]
    refined, occlusion = arm_fixup(layout, label, fake_cl_dis)
    assert torch.equal(refined, p["out.dis_label_argmax"])
    assert torch.equal(one_hot(refined), g["in.dis_label_onehot"])
    assert occlusion.any()  # the fixture exercises the occlusion path
    # exact by construction: the stored image times products of {0, 1} masks
    assert torch.equal(hole_image(p["in.image"], label, occlusion, fake_cl_dis), g["in.img_hole_hand"])
    torch.testing.assert_close(skin_color(label, p["in.image"]), g["in.skin_color"], atol=REDUCTION, rtol=0)


def test_fused_cloth_from_stored_u_outputs_is_the_g_input(stages):
    p, meta = stages["pipeline"]
    u, _ = stages["U"]
    # the stored warps are fp16-rounded: redo the (deterministic) warp from the stored float32 grid
    warped = warp_zero_canvas(u["in.clothes"], u["out.sampling_grid"], align_corners=False)
    fused, m = fuse_cloth(u["out.conv9"], warped, u["in.refer"])
    torch.testing.assert_close(fused, stages["G"][0]["in.fake_c"], atol=atol_of(meta, "fake_c", FAKE_C), rtol=0)
    assert float(m.min()) >= 0 and float(m.max()) <= 1 and not m[u["in.refer"] == 0].any()


def test_tryon_and_loss_from_stored_logits_match(stages):
    p, meta = stages["pipeline"]
    torch.testing.assert_close(tryon_from_g(stages["G"][0]["out.output"]), p["out.fake_image"],
                               atol=atol_of(meta, "fake_image", FP16_IMAGE), rtol=0)
    prob1, _ = layout_from_g1(stages["G1"][0]["out.output"])
    prob2 = torch.sigmoid(stages["G2"][0]["out.output"])
    torch.testing.assert_close(diagnostic_loss(prob1, p["in.label"], prob2), p["out.CE_loss"],
                               atol=atol_of(meta, "CE_loss", LOSS), rtol=rtol_of(meta))


# How each stored G1 / G2 / G input is compared when run_acgpn feeds it: exact for discrete maps (one-hots, pose,
# masks, noise) and for images multiplied by {0, 1} masks (bit-identical by construction); with a tolerance for the
# floats that went through sigmoid / tanh / grid_sample / a mean (their last bits depend on the CPU's vector width).
_REPLAY_FLOATS = {"fake_c": FAKE_C, "skin_color": REDUCTION}


class _Replay(torch.nn.Module):
    """A stand-in network that checks it is fed the stored stage input and returns the stored stage output.

    ``expected``: one ``[(name, tensor, atol or None for exact)]`` per positional argument; a concatenated input is
    split back into its named channel groups.
    """

    def __init__(self, expected: list[list[tuple[str, torch.Tensor, float | None]]], output):
        super().__init__()
        self.expected, self.output, self.calls = expected, output, 0

    def forward(self, *args):
        assert len(args) == len(self.expected)
        for got, parts in zip(args, self.expected, strict=True):
            sizes = [want.shape[1] for _, want, _ in parts]
            assert got.shape[1] == sum(sizes), (got.shape, sizes)
            for piece, (name, want, atol) in zip(got.split(sizes, dim=1), parts, strict=True):
                if atol is None:
                    assert torch.equal(piece, want), name
                else:
                    torch.testing.assert_close(piece, want, atol=atol, rtol=0, msg=lambda m, n=name: f"{n}: {m}")
        self.calls += 1
        return self.output


def _replay_parts(t: dict, meta: dict, pipeline_meta: dict) -> list[tuple[str, torch.Tensor, float | None]]:
    names = json.loads(meta["input_concat"])
    return [(n, t[f"in.{n}"], atol_of(pipeline_meta, n, _REPLAY_FLOATS[n]) if n in _REPLAY_FLOATS else None)
            for n in names]


def test_run_acgpn_chains_every_stage_like_the_authors(stages):
    """run_acgpn with replayed networks: every assembly step between them reproduces the fixture (exactly where
    the data is discrete)."""
    p, meta = stages["pipeline"]
    nets = {k: _Replay([_replay_parts(*stages[k], meta)], stages[k][0]["out.output"]) for k in REFINE}
    u, _ = stages["U"]
    grid = u["out.sampling_grid"]
    warps = [warp_zero_canvas(u[f"in.{k}"], grid, align_corners=False) for k in ("clothes", "mask", "grid")]
    # U's inputs: the predicted cloth mask {0, 1}, and the stored cloth / mask / person passed through unchanged
    nets["U"] = _Replay([[(k, u[f"in.{k}"], None)] for k in ("clothes", "refer", "mask", "grid")],
                        UOutput(u["out.conv9"], *warps, u["out.control_points"], grid))
    inputs = ACGPNInputs(p["in.label"], p["in.color"], p["in.edge"], p["in.image"], p["in.pose"])
    s = run_acgpn(nets, inputs, {k: p[f"in.noise.{k}"] for k in NOISE_KEYS})
    assert all(n.calls == 1 for n in nets.values())
    assert torch.equal(s["refined_layout"], p["out.dis_label_argmax"])
    assert torch.equal(s["all_clothes_label"], p["out.assembly.all_clothes_label"])
    assert torch.equal(s["image_foreground"], p["out.assembly.img_fore"])  # image × {0, 1}: exact
    for key, ref in (("tryon", "fake_image"), ("cloth_mask_prob", "fake_cl")):
        torch.testing.assert_close(s[key], p[f"out.{ref}"], atol=atol_of(meta, ref, FP16_IMAGE), rtol=0)
    torch.testing.assert_close(s["diagnostic_loss"], p["out.CE_loss"], atol=atol_of(meta, "CE_loss", LOSS),
                               rtol=0)
