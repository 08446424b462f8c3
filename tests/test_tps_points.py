"""TPS from arbitrary control points (vton.geometry.tps): properties, and ACGPN's convention against its golden."""

from __future__ import annotations

import pytest
import torch
from tolerances import TPS, TPS_INVERSE, atol_of, rtol_of

from vton.geometry.tps import (
    identity_grid,
    tps_basis,
    tps_fit,
    tps_grid,
    tps_system,
    tps_transform,
    tps_warp_grid,
)


def _random_points(n: int, seed: int, batch: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, n, 2, generator=g, dtype=torch.float64) * 1.8 - 0.9


def test_fit_interpolates_the_control_points_exactly():
    ctrl = _random_points(12, 0, batch=2)
    values = _random_points(12, 1, batch=2)
    coeffs = tps_fit(ctrl, values)
    assert torch.allclose(tps_transform(ctrl, ctrl, coeffs), values, atol=1e-10)


def test_affine_maps_are_reproduced_everywhere():
    ctrl = _random_points(9, 2)
    a = torch.tensor([[0.8, 0.3], [-0.2, 1.1]], dtype=torch.float64)
    t = torch.tensor([0.1, -0.05], dtype=torch.float64)
    coeffs = tps_fit(ctrl, ctrl @ a.T + t)
    assert coeffs[0, :9].abs().max() < 1e-10  # no bending
    pts = _random_points(50, 3)[0]
    assert torch.allclose(tps_transform(pts, ctrl, coeffs)[0], pts @ a.T + t, atol=1e-10)


def test_identity_pairs_give_the_identity_grid():
    ctrl = _random_points(16, 4).float()
    grid = tps_warp_grid(ctrl, ctrl, 32, 24)
    assert grid.shape == (1, 32, 24, 2) and grid.dtype == torch.float32
    assert torch.allclose(grid[0], identity_grid(32, 24), atol=1e-6)


def test_regularization_trades_exactness_for_smoothness():
    ctrl = _random_points(20, 5)
    noisy = ctrl + 0.05 * torch.randn(ctrl.shape, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    exact = tps_fit(ctrl, noisy)
    smooth = tps_fit(ctrl, noisy, regularization=1.0)
    assert torch.allclose(tps_transform(ctrl, ctrl, exact), noisy, atol=1e-10)
    residual = (tps_transform(ctrl, ctrl, smooth) - noisy).abs().max()
    assert residual > 1e-3  # no longer interpolates
    assert smooth[0, :20].abs().sum() < exact[0, :20].abs().sum()  # less bending energy in the kernel weights


def test_cpvton_lattice_is_the_special_case_of_the_general_fit():
    theta = 0.1 * torch.randn(2, 50, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    from vton.geometry.tps import control_points, warped_control_points

    base = control_points(5, dtype=torch.float64).expand(2, -1, -1)
    general = tps_warp_grid(base, warped_control_points(theta, 5), 64, 48)
    assert torch.allclose(general, tps_grid(theta, 64, 48), atol=1e-10)


@pytest.mark.parametrize("bad", ["collinear", "repeated", "nan", "too_few"])
def test_degenerate_or_invalid_point_sets_are_refused(bad):
    if bad == "collinear":
        ctrl = torch.stack([torch.linspace(-1, 1, 6), torch.linspace(-1, 1, 6)], 1)[None].double()
        match = "singular"
    elif bad == "repeated":
        ctrl = torch.zeros(1, 5, 2, dtype=torch.float64)
        match = "singular"
    elif bad == "nan":
        ctrl = _random_points(6, 8)
        ctrl[0, 2, 0] = float("nan")
        match = "NaN"
    else:
        ctrl = _random_points(2, 9)
        match = "at least 3"
    with pytest.raises(ValueError, match=match):
        tps_fit(ctrl, torch.zeros(ctrl.shape, dtype=torch.float64))


def test_shape_errors_name_the_bad_shape():
    with pytest.raises(ValueError, match=r"\(B, N, 2\)"):
        tps_fit(torch.zeros(5, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="values must have shape"):
        tps_fit(_random_points(5, 1), torch.zeros(1, 4, 2, dtype=torch.float64))


@pytest.mark.golden
def test_acgpn_convention_matches_the_authors_tps(golden):
    """ACGPN's TPSGridGen: target points on ±0.9, kernel 0.5·r²·ln r², backward map target → source."""
    t, meta = golden("acgpn_tps")
    target = t["out.target_control_points"].double()  # (25, 2)
    atol = atol_of(meta, "sampling_grid", TPS)
    rtol = rtol_of(meta, TPS)
    h, w = t["out.sampling_grid"].shape[1:3]
    pix = identity_grid(h, w, dtype=torch.float64).view(-1, 2)
    repr_ = tps_basis(pix, target, kernel_scale=0.5).float()
    ref_repr = t["out.target_coordinate_repr"]
    assert torch.allclose(repr_[: ref_repr.shape[0]], ref_repr, rtol=rtol, atol=atol)
    # the authors invert the 28 × 28 system in float32 (entries up to ~6); ours is float64, rounded once
    inv = torch.linalg.inv(tps_system(target, kernel_scale=0.5)).float()
    assert torch.allclose(inv, t["out.inverse_kernel"], rtol=TPS_INVERSE, atol=TPS_INVERSE)
    cp = t["in.control_points"]
    grid = tps_warp_grid(target.float().expand(cp.shape[0], -1, -1), cp, h, w, kernel_scale=0.5)
    assert torch.allclose(grid, t["out.sampling_grid"], rtol=rtol, atol=atol)
