"""PF-AFN against the authors' code (golden fixtures, see the golden README) and its unit properties.

Weights come from the fixtures' own generator (``make_weights.py`` beside the fixture folder) with the seed, layout
and digest in their metadata, so the golden tests hold for any ``VTON_GOLDEN_DIR`` in the same format.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tolerances import FP16_IMAGE, FUSED, GRID, LOGITS, assert_mostly_close, atol_of, rtol_of

from vton.errors import WeightsError
from vton.methods.pfafn.assembly import generator_input, generator_outputs, prepare_cloth, warp_edge
from vton.methods.pfafn.flow import local_correlation, offset_to_grid, warp_by_flow
from vton.methods.pfafn.networks import AFWM, PFAFNConfig, ResUnetGenerator, adapt_state_dict, build_pfafn_network

NETWORKS = {"warp": "pfafn_warp", "gen": "pfafn_gen"}
TINY = dict(num_filters=(4, 8, 8), fpn_dim=8, ngf=4, fine_height=64, fine_width=32)

# ----------------------------------------------------------------------------------------------- golden helpers


def _layout(meta, layouts_dir) -> dict:
    with open(Path(layouts_dir) / Path(meta["layout"]).name) as f:
        return json.load(f)


def _golden_network(network, t, meta, layouts_dir, make_weights, align_corners):
    """Our network with the fixture's weights: generated, digest checked, loaded with strict=False."""
    layout = _layout(meta, layouts_dir)
    sd = make_weights.make_state_dict(layout, int(meta["weight_seed"]))
    assert make_weights.digest(sd) == meta["state_dict_sha256"], "the weight generator gives another RNG stream"
    h, w = next(v for k, v in t.items() if k.startswith("in.")).shape[2:]
    net = build_pfafn_network(network, PFAFNConfig(fine_height=h, fine_width=w, align_corners=align_corners))
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert sorted(missing) == sorted(layout.get("constant_keys", []))
    assert unexpected == []
    return net


def _close(actual, expected, atol, rtol=0.0, what=""):
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=lambda m: f"{what}: {m}")


@pytest.fixture(scope="module")
def warp_runs(golden, layouts_dir, make_weights):
    """The test-loop warp stage on the fixture inputs, for align_corners False (``out.*``) and True (``legacy``)."""
    t, meta = golden("pfafn_warp")
    runs = {}
    for ac in (False, True):
        net = _golden_network("warp", t, meta, layouts_dir, make_weights, ac)
        with torch.no_grad():
            clothes, edge = prepare_cloth(t["in.clothes_raw"], t["in.edge_raw"])
            out = net(t["in.real_image"], clothes)
            runs[ac] = dict(clothes=clothes, edge=edge, out=out, warped_edge=warp_edge(edge, out.flow, ac))
    return t, meta, runs


# ------------------------------------------------------------------------------------------------ golden tests


@pytest.mark.golden
@pytest.mark.parametrize("network", list(NETWORKS))
def test_state_dict_keys_and_shapes_equal_the_authors_layout(golden, layouts_dir, network):
    _, meta = golden(NETWORKS[network])
    layout = _layout(meta, layouts_dir)
    with torch.device("meta"):
        net = build_pfafn_network(network)
    ours = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in net.state_dict().items()]
    assert ours == [[k, list(s), d] for k, s, d in layout["params"]]
    assert sum(p.numel() for p in net.parameters()) == layout["num_params"]


@pytest.mark.golden
@pytest.mark.slow
def test_afwm_matches_authors_flows_warped_cloth_and_edge(warp_runs):
    t, meta, runs = warp_runs
    run = runs[False]
    rtol = rtol_of(meta)
    # exact by construction: the stored cloth times its binarised {0, 1} edge, and that edge
    _close(run["clothes"], t["out.assembly.clothes"], 0.0, what="assembly.clothes")
    _close(run["edge"], t["out.assembly.edge"], 0.0, what="assembly.edge")
    _close(run["out"].flow, t["out.last_flow"], atol_of(meta, "last_flow", GRID), rtol, "last_flow")
    levels = sorted(k for k in t if k.startswith("out.level_flow."))
    assert levels and len(levels) == len(run["out"].level_flows)
    for i, flow in enumerate(run["out"].level_flows):
        _close(flow, t[f"out.level_flow.{i}"], atol_of(meta, "level_flow", GRID), rtol, f"level_flow.{i}")
    # warped by our flow (within GRID of theirs; a sharp edge turns that into more at a few pixels)
    assert_mostly_close(run["out"].warped_cloth, t["out.warped_cloth"], atol_of(meta, "warped_cloth", FP16_IMAGE),
                        what="warped_cloth")
    assert_mostly_close(run["warped_edge"], t["out.warped_edge"], atol_of(meta, "warped_edge", FP16_IMAGE),
                        what="warped_edge")


@pytest.mark.golden
@pytest.mark.slow
def test_afwm_align_corners_true_matches_legacy_ac(warp_runs):
    t, meta, runs = warp_runs
    run = runs[True]
    rtol = rtol_of(meta)
    _close(run["out"].flow, t["out.legacy_ac.last_flow"], atol_of(meta, "last_flow", GRID), rtol, "legacy last_flow")
    assert_mostly_close(run["out"].warped_cloth, t["out.legacy_ac.warped_cloth"],
                        atol_of(meta, "warped_cloth", FP16_IMAGE), what="legacy warped_cloth")
    assert_mostly_close(run["warped_edge"], t["out.legacy_ac.warped_edge"], atol_of(meta, "warped_edge", FP16_IMAGE),
                        what="legacy warped_edge")
    assert (run["out"].flow - runs[False]["out"].flow).abs().max() > 1e-3  # the two conventions do differ


@pytest.mark.golden
@pytest.mark.slow
def test_warp_stage_feeds_the_generator_fixture(golden, warp_runs):
    """The gen fixture stores the float32 warp-stage tensors: ours match them well below the fp16 tolerance.

    The flows agree to ~5e-6 (thread-dependent reductions, see the README); on a sharp cloth edge (a step of 2 per
    pixel) that moves the warped values by up to ~1e-3, hence half the fp16 tolerance here, for all but a few edge
    pixels (``tolerances.assert_mostly_close``).
    """
    t_gen, _ = golden("pfafn_gen")
    _, meta, runs = warp_runs
    atol = atol_of(meta, "warped_cloth", FP16_IMAGE) / 2
    assert_mostly_close(runs[False]["out"].warped_cloth, t_gen["in.warped_cloth"], atol, what="warped_cloth (float32)")
    assert_mostly_close(runs[False]["warped_edge"], t_gen["in.warped_edge"], atol, what="warped_edge (float32)")


@pytest.mark.golden
@pytest.mark.slow
def test_generator_matches_authors_output_and_composition(golden, layouts_dir, make_weights):
    t, meta = golden("pfafn_gen")
    net = _golden_network("gen", t, meta, layouts_dir, make_weights, align_corners=False)
    assert json.loads(meta["input_concat"]) == ["real_image", "warped_cloth", "warped_edge"]
    x = generator_input(t["in.real_image"], t["in.warped_cloth"], t["in.warped_edge"])
    with torch.no_grad():
        raw = net(x)
    _close(raw, t["out.output"], atol_of(meta, "output", LOGITS), rtol_of(meta), "output")
    rendered, m, tryon = generator_outputs(raw, t["in.warped_cloth"], t["in.warped_edge"])
    for name, value in (("p_rendered", rendered), ("m_composite", m), ("p_tryon", tryon)):
        _close(value, t[f"out.{name}"], atol_of(meta, name, FP16_IMAGE), what=name)


@pytest.mark.golden
@pytest.mark.slow
def test_whole_loop_with_align_corners_true_matches_legacy_tryon(golden, layouts_dir, make_weights, warp_runs):
    t, meta = golden("pfafn_gen")
    t_warp, _, runs = warp_runs
    torch.testing.assert_close(t["in.real_image"], t_warp["in.real_image"], atol=0, rtol=0)  # one stored input, twice
    net = _golden_network("gen", t, meta, layouts_dir, make_weights, align_corners=True)
    run = runs[True]
    warped_cloth, warped_edge = run["out"].warped_cloth, run["warped_edge"]
    with torch.no_grad():
        raw = net(generator_input(t["in.real_image"], warped_cloth, warped_edge))
    _, _, tryon = generator_outputs(raw, warped_cloth, warped_edge)
    _close(tryon, t["out.legacy_ac.p_tryon"], atol_of(meta, "p_tryon", FP16_IMAGE), what="legacy_ac.p_tryon")


# --------------------------------------------------------------------------------------------------- unit tests


def _naive_correlation(a: torch.Tensor, b: torch.Tensor, d: int) -> torch.Tensor:
    bsz, c, h, w = a.shape
    k = 2 * d + 1
    out = torch.zeros(bsz, k * k, h, w, dtype=torch.float64)
    for n in range(bsz):
        for y in range(h):
            for x in range(w):
                for dy in range(-d, d + 1):
                    for dx in range(-d, d + 1):
                        yy, xx = y + dy, x + dx
                        if 0 <= yy < h and 0 <= xx < w:
                            v = sum(float(a[n, i, y, x]) * float(b[n, i, yy, xx]) for i in range(c)) / c
                            out[n, (dy + d) * k + (dx + d), y, x] = v
    return out.float()


@pytest.mark.parametrize("d", [1, 3])
def test_local_correlation_equals_naive_per_pixel_reference(d):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 2, 5, 6, 4, generator=g).unbind(0)
    torch.testing.assert_close(local_correlation(a, b, d), _naive_correlation(a, b, d), atol=1e-6, rtol=1e-5)


def _shifted_correlation(a: torch.Tensor, b: torch.Tensor, d: int) -> torch.Tensor:
    """The correlation as (2d+1)² shifted products (the formulation of the authors' kernel), in float64."""
    a, b = a.double(), b.double()
    h, w = a.shape[2:]
    k = 2 * d + 1
    padded = F.pad(b, (d, d, d, d))
    return torch.stack([(a * padded[:, :, i : i + h, j : j + w]).mean(1) for i in range(k) for j in range(k)], 1)


@pytest.mark.parametrize("shape, d", [((2, 3, 19, 11), 3), ((1, 8, 16, 24), 2), ((1, 4, 8, 6), 3), ((3, 2, 1, 9), 1)])
def test_local_correlation_over_several_and_partial_tiles_equals_the_shifted_products(shape, d):
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, *shape, generator=g).unbind(0)
    torch.testing.assert_close(local_correlation(a, b, d).double(), _shifted_correlation(a, b, d), atol=1e-6,
                               rtol=1e-5)


def test_local_correlation_channel_is_the_displacement_of_the_second_map():
    g = torch.Generator().manual_seed(1)
    a = F.normalize(torch.randn(1, 16, 12, 10, generator=g), dim=1)  # unit vectors: a·b is largest where b = a
    dx, dy = 2, -1
    b = torch.roll(a, shifts=(dy, dx), dims=(2, 3))  # b[y + dy, x + dx] = a[y, x]
    corr = local_correlation(a, b, 3)
    best = corr[0, :, 4:8, 4:6].argmax(0)  # interior pixels
    assert (best == (dy + 3) * 7 + (dx + 3)).all()


def test_zero_offset_grid_warps_to_identity():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 8, 6, generator=g)
    flow = offset_to_grid(torch.zeros(2, 2, 8, 6)).permute(0, 3, 1, 2)  # (B, 2, H, W)
    torch.testing.assert_close(warp_by_flow(x, flow, "border", align_corners=True), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(warp_by_flow(x, flow, "zeros", align_corners=True), x, atol=1e-6, rtol=0)
    assert flow[0, 0, 0, 0] == -1 and flow[0, 0, 0, -1] == 1 and flow[0, 1, -1, 0] == 1  # channel 0 = x


def test_one_pixel_x_offset_samples_the_right_neighbour():
    x = torch.arange(48.0).view(1, 1, 8, 6)
    offset = torch.zeros(1, 2, 8, 6)
    offset[:, 0] = 1.0
    flow = offset_to_grid(offset).permute(0, 3, 1, 2)
    warped = warp_by_flow(x, flow, "border", align_corners=True)
    torch.testing.assert_close(warped[..., :-1], x[..., 1:])
    torch.testing.assert_close(warped[..., -1], x[..., -1])  # border padding


def test_tiny_afwm_and_generator_give_documented_shapes():
    torch.manual_seed(0)
    cfg = PFAFNConfig(**TINY)
    afwm, gen = AFWM(cfg).eval(), ResUnetGenerator(cfg).eval()
    person, cloth = torch.rand(2, 3, 64, 32) * 2 - 1, torch.rand(2, 3, 64, 32) * 2 - 1
    clothes, edge = prepare_cloth(cloth, torch.rand(2, 1, 64, 32))
    with torch.no_grad():
        warped, flow, levels = afwm(person, clothes)
        raw = gen(generator_input(person, warped, warp_edge(edge, flow)))
    assert warped.shape == (2, 3, 64, 32) and flow.shape == (2, 2, 64, 32) and raw.shape == (2, 4, 64, 32)
    assert [tuple(f.shape[2:]) for f in levels] == [(16, 8), (32, 16)]
    with pytest.raises(ValueError, match="multiples of 8"):
        afwm(person[:, :, :60], clothes[:, :, :60])
    with pytest.raises(ValueError, match="generator input"):
        gen(person)


def test_prepare_cloth_binarises_the_mask_and_blanks_the_cloth():
    cloth = torch.full((1, 3, 2, 2), 0.5)
    mask = torch.tensor([[[[0.2, 0.5], [0.51, 1.0]]]])
    clothes, edge = prepare_cloth(cloth, mask)
    assert edge.tolist() == [[[[0.0, 0.0], [1.0, 1.0]]]]
    assert clothes[0, :, 0].abs().sum() == 0 and (clothes[0, :, 1] == 0.5).all()


def test_generator_outputs_compose_cloth_only_inside_the_warped_edge():
    raw = torch.tensor([0.3, -0.2, 0.1, 2.0]).view(1, 4, 1, 1).expand(1, 4, 1, 2)
    warped_cloth = torch.full((1, 3, 1, 2), 0.9)
    warped_edge = torch.tensor([[[[0.0, 1.0]]]])
    rendered, m, tryon = generator_outputs(raw, warped_cloth, warped_edge)
    torch.testing.assert_close(rendered[..., 0], torch.tanh(raw[:, :3, :, 0]))
    assert m[0, 0, 0, 0] == 0 and m[0, 0, 0, 1] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    torch.testing.assert_close(tryon[..., 0], rendered[..., 0])  # outside the edge: the rendered person
    mm = m[0, 0, 0, 1]
    torch.testing.assert_close(tryon[..., 1], 0.9 * mm + rendered[..., 1] * (1 - mm))


def test_adapt_state_dict_strips_module_prefix_and_drops_unknown_keys():
    cfg = PFAFNConfig(**TINY)
    for network in ("warp", "gen"):
        net = build_pfafn_network(network, cfg)
        ckpt = {f"module.{k}": v.clone() for k, v in net.state_dict().items()}
        ckpt["module.extra.weight"] = torch.zeros(3)
        sd, dropped = adapt_state_dict(network, ckpt, cfg)
        assert dropped == ["extra.weight"]
        assert list(sd) == list(net.state_dict())
        net.load_state_dict(sd, strict=True)
        plain, none_dropped = adapt_state_dict(network, dict(net.state_dict()), cfg)
        assert none_dropped == [] and list(plain) == list(sd)
    bad = dict(build_pfafn_network("gen", cfg).state_dict())
    bad["model.model.0.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError, match="model.model.0.weight"):
        adapt_state_dict("gen", bad, cfg)
    with pytest.raises(ValueError):
        adapt_state_dict("tom", {}, cfg)


def test_config_rejects_a_frame_that_the_pyramid_cannot_halve():
    with pytest.raises(ValueError, match="multiple of 32"):
        PFAFNConfig(fine_height=250)
    assert PFAFNConfig().correlation_channels == 49


def test_no_convolution_of_the_pfafn_networks_takes_the_slow_native_path():
    """torch routes small batch-1 convolutions to ``_slow_conv2d_forward``; every convolution of the networks takes
    oneDNN (``mkldnn_convolution``, or ``_convolution_pointwise`` where the fused inference path runs it with the
    BatchNorm, activation or residual sum after it): one oneDNN call per ``Conv2d``, none native."""
    from torch.profiler import ProfilerActivity, profile

    from vton.methods.pfafn.networks import PFAFNConfig, build_pfafn_network

    cfg = PFAFNConfig(num_filters=(8, 16, 16, 16, 16), fpn_dim=16, ngf=4, fine_height=64, fine_width=32)
    warp, gen = build_pfafn_network("warp", cfg), build_pfafn_network("gen", cfg)
    x = torch.rand(1, 3, 64, 32) * 2 - 1
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        out = warp(x, x)
        gen(torch.cat([x, out.warped_cloth, x[:, :1]], 1))
    counts = {e.key: e.count for e in prof.key_averages()}
    onednn = counts.get("aten::mkldnn_convolution", 0) + counts.get("mkldnn::_convolution_pointwise", 0)
    convs = sum(isinstance(m, torch.nn.Conv2d) for net in (warp, gen) for m in net.modules())  # each runs once
    assert onednn == convs, counts
    assert not any("slow_conv" in n or "thnn_conv" in n or n == "aten::convolution" for n in counts), counts


FUSED_CFG = dict(num_filters=(8, 16, 16), fpn_dim=32, ngf=4, fine_height=64, fine_width=64)


def _randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Convolutions re-drawn at their initial scale, BatchNorms away from the identity (so that folding matters)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * m.weight.abs().max())
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


def _both_paths(net, *inputs):
    """``(fused, plain, oneDNN fused calls)``: the fused CPU path (no autograd) and the plain modules (autograd on,
    nothing requiring grad), on the same weights."""
    from torch.profiler import ProfilerActivity, profile

    net.requires_grad_(False)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU]) as prof:
        fused = net(*inputs)
    with torch.enable_grad():
        plain = net(*inputs)
    calls = {e.key: e.count for e in prof.key_averages()}.get("mkldnn::_convolution_pointwise", 0)
    return fused, plain, calls


def test_fused_cpu_path_equals_the_plain_modules():
    cfg = PFAFNConfig(**FUSED_CFG)
    g = torch.Generator().manual_seed(1)
    person = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    clothes = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    warp = _randomise(build_pfafn_network("warp", cfg), 2)
    fused, plain, calls = _both_paths(warp, person, clothes)
    assert calls > 0
    torch.testing.assert_close(fused.flow, plain.flow, atol=FUSED, rtol=0)
    for f, p in zip(fused.level_flows, plain.level_flows, strict=True):
        torch.testing.assert_close(f, p, atol=FUSED, rtol=0)
    with torch.no_grad():
        pf = warp.cond_FPN(warp.cond_features(person))
    with torch.enable_grad():
        pp = warp.cond_FPN(warp.cond_features(person))
    for f, p in zip(pf, pp, strict=True):  # the finest level takes the composed convolution
        torch.testing.assert_close(f, p, atol=FUSED, rtol=0)
    gen = _randomise(build_pfafn_network("gen", cfg), 3)
    x = torch.rand(1, cfg.gen_in_channels, 64, 64, generator=g) * 2 - 1
    fused, plain, calls = _both_paths(gen, x)
    assert calls > 0
    torch.testing.assert_close(fused, plain, atol=FUSED, rtol=0)


def test_fused_path_follows_new_weights():
    """The folded weights are cached; loading a state dict or editing a parameter in place refreshes them."""
    cfg = PFAFNConfig(**FUSED_CFG)
    x = torch.rand(1, cfg.gen_in_channels, 64, 64) * 2 - 1
    gen = _randomise(build_pfafn_network("gen", cfg), 4)
    first, _, _ = _both_paths(gen, x)
    gen.load_state_dict(_randomise(build_pfafn_network("gen", cfg), 5).state_dict())
    fused, plain, _ = _both_paths(gen, x)
    assert (fused - first).abs().max() > 100 * FUSED
    torch.testing.assert_close(fused, plain, atol=FUSED, rtol=0)
    with torch.no_grad():
        gen.model.model[0].weight.mul_(0.5)
        next(m for m in gen.modules() if isinstance(m, torch.nn.BatchNorm2d)).running_mean.add_(0.3)
    edited, plain, _ = _both_paths(gen, x)
    assert (edited - fused).abs().max() > 100 * FUSED
    torch.testing.assert_close(edited, plain, atol=FUSED, rtol=0)
    warp = _randomise(build_pfafn_network("warp", cfg), 6)
    person = torch.rand(1, 3, 64, 64) * 2 - 1
    before, _, _ = _both_paths(warp, person, person)
    warp.load_state_dict(_randomise(build_pfafn_network("warp", cfg), 7).state_dict())
    after, plain, _ = _both_paths(warp, person, person)
    assert (after.flow - before.flow).abs().max() > 100 * FUSED
    torch.testing.assert_close(after.flow, plain.flow, atol=FUSED, rtol=0)


@pytest.mark.golden
def test_fused_path_equals_the_plain_modules_on_the_golden_weights(golden, layouts_dir, make_weights, warp_runs):
    """On the fixtures' weights and inputs the fused CPU path (what a try-on runs) stays within float rounding of
    the plain modules, for every flow level and the generator's raw output."""
    t, meta, runs = warp_runs
    net = _golden_network("warp", t, meta, layouts_dir, make_weights, True).requires_grad_(False)
    with torch.enable_grad():
        plain = net(t["in.real_image"], runs[True]["clothes"])
    torch.testing.assert_close(runs[True]["out"].flow, plain.flow, atol=FUSED, rtol=0)
    for fused_level, plain_level in zip(runs[True]["out"].level_flows, plain.level_flows, strict=True):
        torch.testing.assert_close(fused_level, plain_level, atol=FUSED, rtol=0)
    t_gen, meta_gen = golden("pfafn_gen")
    gen = _golden_network("gen", t_gen, meta_gen, layouts_dir, make_weights, True).requires_grad_(False)
    x = generator_input(t_gen["in.real_image"], t_gen["in.warped_cloth"], t_gen["in.warped_edge"])
    fused, plain_raw, calls = _both_paths(gen, x)
    assert calls > 0
    torch.testing.assert_close(fused, plain_raw, atol=FUSED, rtol=0)
