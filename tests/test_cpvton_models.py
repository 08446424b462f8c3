"""CP-VTON / CP-VTON+ networks: checkpoint layouts, shapes, correlation order and the warp/compose helpers."""

from __future__ import annotations

import json

import pytest
import torch

from vton.errors import InputError
from vton.geometry.tps import identity_grid
from vton.methods import build_network, card
from vton.methods.cpvton.networks import (
    GMM,
    TOM,
    CPVTONConfig,
    compose,
    feature_correlation,
    feature_l2norm,
    tom_outputs,
    warp_cloth,
    warp_mask,
)

LAYOUTS = [
    ("cp-vton", "gmm", "cpvton_gmm.json", 19_057_650),
    ("cp-vton+", "gmm", "cpvtonplus_gmm.json", 19_055_602),
    ("cp-vton", "tom", "cpvton_tom.json", 21_349_252),
    ("cp-vton+", "tom", "cpvtonplus_tom.json", 21_350_276),
]


def _layout(layouts_dir, name):
    with open(layouts_dir / name) as f:
        return json.load(f)


@pytest.mark.parametrize(("method", "network", "layout", "n_params"), LAYOUTS)
def test_state_dict_keys_and_shapes_equal_the_checkpoint_layout(layouts_dir, method, network, layout, n_params):
    sd = build_network(method, network).state_dict()
    params = _layout(layouts_dir, layout)["params"]
    assert [(k, list(v.shape)) for k, v in sd.items()] == [(k, [int(s) for s in shape]) for k, shape, _ in params]
    dtypes = {k: str(v.dtype).removeprefix("torch.") for k, v in sd.items()}
    assert dtypes == {k: dt for k, _, dt in params}


@pytest.mark.parametrize(("method", "network", "layout", "n_params"), LAYOUTS)
def test_parameter_counts_equal_the_released_checkpoints(method, network, layout, n_params):
    net = build_network(method, network)
    assert sum(p.numel() for p in net.parameters()) == n_params


@pytest.mark.parametrize(("method", "network", "layout", "n_params"), LAYOUTS)
def test_checkpoint_loads_strictly_and_every_value_lands(layouts_dir, method, network, layout, n_params):
    net = build_network(method, network)
    g = torch.Generator().manual_seed(0)
    sd = {}
    for key, shape, dtype in _layout(layouts_dir, layout)["params"]:
        if dtype == "int64":
            sd[key] = torch.full(shape, 7, dtype=torch.int64)
        else:
            sd[key] = torch.randn(shape, generator=g)
    net.load_state_dict(sd, strict=True)
    for k, v in net.state_dict().items():  # loaded as given: exact
        assert torch.equal(v, sd[k]), k
    with pytest.raises(RuntimeError, match="Unexpected"):
        net.load_state_dict({**sd, "gridGen.grid_X": torch.zeros(1)}, strict=True)


def test_gmm_state_dict_holds_no_tps_constants():
    assert not [k for k in GMM().state_dict() if "grid" in k.lower()]


@pytest.mark.parametrize("variant", ["original", "plus"])
def test_small_gmm_maps_inputs_to_grid_and_theta(variant):
    cfg = CPVTONConfig(variant=variant, ngf=8)
    gmm = GMM(cfg).eval()
    agnostic = torch.randn(2, 22, 256, 192)
    cloth_in = torch.randn(2, cfg.cloth_channels, 256, 192)
    with torch.no_grad():
        grid, theta = gmm(agnostic, cloth_in)
    assert grid.shape == (2, 256, 192, 2) and theta.shape == (2, 50)
    assert theta.abs().max() <= 1.0
    assert gmm.correlation(agnostic, cloth_in).shape == (2, 192, 16, 12)


@pytest.mark.parametrize(("variant", "in_ch"), [("original", 25), ("plus", 26)])
def test_small_tom_maps_input_to_four_raw_channels(variant, in_ch):
    cfg = CPVTONConfig(variant=variant, ngf=8)
    assert cfg.tom_in_channels == in_ch
    with torch.no_grad():
        raw = TOM(cfg).eval()(torch.randn(1, in_ch, 256, 192))
    assert raw.shape == (1, 4, 256, 192)
    # the outermost level ends with a non-affine InstanceNorm: each raw channel is standardised
    torch.testing.assert_close(raw.mean(dim=(2, 3)), torch.zeros(1, 4), atol=1e-4, rtol=0)
    torch.testing.assert_close(raw.std(dim=(2, 3), unbiased=False), torch.ones(1, 4), atol=1e-3, rtol=0)


def test_tom_handles_a_deeper_unet_config():
    cfg = CPVTONConfig(ngf=4, num_downs=7, fine_height=256, fine_width=256)
    with torch.no_grad():
        assert TOM(cfg).eval()(torch.randn(1, 25, 256, 256)).shape == (1, 4, 256, 256)


def test_gmm_with_zero_regressor_gives_identity_grid():
    gmm = GMM(CPVTONConfig(ngf=8)).eval()
    with torch.no_grad():
        gmm.regression.linear.weight.zero_()
        gmm.regression.linear.bias.zero_()
        grid, theta = gmm(torch.randn(1, 22, 256, 192), torch.randn(1, 3, 256, 192))
    # exact by construction: theta = tanh(0 · x + 0) = 0, and the TPS adds 0 to the base grid
    assert torch.equal(theta, torch.zeros(1, 50))
    assert torch.equal(grid[0], identity_grid(256, 192))


def test_correlation_channel_is_person_x_times_h_plus_person_y():
    g = torch.Generator().manual_seed(1)
    b, c, h, w = 2, 5, 4, 3
    person = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    cloth = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    corr = feature_correlation(person, cloth)
    assert corr.shape == (b, h * w, h, w)
    for xp in range(w):
        for yp in range(h):
            for yc in range(h):
                for xc in range(w):
                    expected = (person[:, :, yp, xp] * cloth[:, :, yc, xc]).sum(1)
                    torch.testing.assert_close(corr[:, xp * h + yp, yc, xc], expected, atol=1e-12, rtol=0)


def test_l2norm_divides_by_sqrt_of_sum_of_squares_plus_eps():
    x = torch.tensor([[3.0, 4.0]], dtype=torch.float64).view(1, 2, 1, 1)
    expected = x / (25.0 + 1e-6) ** 0.5
    torch.testing.assert_close(feature_l2norm(x), expected, atol=1e-15, rtol=0)


def test_warp_with_identity_grid_is_exact_only_with_align_corners_true():
    cloth = torch.rand(1, 3, 16, 12) * 2 - 1
    grid = identity_grid(16, 12).unsqueeze(0)
    torch.testing.assert_close(warp_cloth(cloth, grid), cloth, atol=1e-5, rtol=0)
    assert (warp_cloth(cloth, grid, align_corners=False) - cloth).abs().max() > 1e-2


def test_warp_cloth_pads_with_border_and_warp_mask_with_zeros():
    img = torch.rand(1, 1, 8, 6) + 0.5
    grid = torch.full((1, 8, 6, 2), 3.0)  # far outside, bottom-right
    torch.testing.assert_close(warp_cloth(img, grid), img[:, :, -1:, -1:].expand(1, 1, 8, 6), atol=1e-6, rtol=0)
    assert torch.equal(warp_mask(img, grid), torch.zeros(1, 1, 8, 6))  # only zero padding is sampled: exact


def test_tom_outputs_and_compose_values():
    raw = torch.tensor([0.5, -1.0, 2.0, 0.0]).view(1, 4, 1, 1)
    rendered, m = tom_outputs(raw)
    torch.testing.assert_close(rendered.flatten(), torch.tanh(torch.tensor([0.5, -1.0, 2.0])), atol=1e-7, rtol=0)
    torch.testing.assert_close(m.flatten(), torch.tensor([0.5]), atol=1e-7, rtol=0)
    warped = torch.tensor([1.0, 1.0, -1.0]).view(1, 3, 1, 1)
    out = compose(warped, rendered, m)
    torch.testing.assert_close(out, 0.5 * warped + 0.5 * rendered, atol=1e-7, rtol=0)
    with pytest.raises(ValueError):
        tom_outputs(torch.zeros(1, 3, 2, 2))


def test_build_network_returns_eval_modules_of_the_method_variant():
    assert card("cp-vton").weights == (("gmm", "cp-vton/gmm"), ("tom", "cp-vton/tom"))
    assert card("cp-vton+").weights == (("gmm", "cp-vton+/gmm"), ("tom", "cp-vton+/tom"))
    assert build_network("cp-vton", "gmm", ngf=8).cfg.variant == "original"
    gmm = build_network("cp-vton+", "gmm", ngf=8)
    assert isinstance(gmm, GMM) and not gmm.training and gmm.cfg.variant == "plus"
    assert gmm.extractionB.model[0].in_channels == 1
    tom = build_network("cp-vton", "tom", ngf=8)
    assert isinstance(tom, TOM) and not tom.training and tom.model.model[0].in_channels == 25


def test_build_network_rejects_unknown_names_listing_valid_ones():
    with pytest.raises(InputError, match="cp-vton\\+"):
        build_network("viton", "gmm")
    with pytest.raises(InputError, match="gmm and tom"):
        build_network("cp-vton", "unet")
    with pytest.raises(InputError):
        build_network("cp-vton", "gmm", widthh=3)


def test_config_validates_and_derives_channels():
    assert CPVTONConfig().cloth_channels == 3 and CPVTONConfig(variant="plus").cloth_channels == 1
    assert CPVTONConfig().feature_size == (16, 12) and CPVTONConfig().theta_dim == 50
    with pytest.raises(ValueError):
        CPVTONConfig(variant="pro")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CPVTONConfig(fine_height=250)


def test_networks_reject_wrong_input_shapes():
    gmm = GMM(CPVTONConfig(variant="plus", ngf=8)).eval()
    with pytest.raises(ValueError, match="cloth mask"):
        gmm(torch.zeros(1, 22, 256, 192), torch.zeros(1, 3, 256, 192))
    with pytest.raises(ValueError, match="agnostic"):
        gmm(torch.zeros(1, 21, 256, 192), torch.zeros(1, 1, 256, 192))
    with pytest.raises(ValueError, match="26"):
        TOM(CPVTONConfig(variant="plus", ngf=8))(torch.zeros(1, 25, 256, 192))
