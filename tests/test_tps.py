"""TPS grids in the CP-VTON convention: identity, affine reproduction, an independent numpy solve, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vton.geometry.tps import (
    TpsGridGen,
    control_points,
    identity_grid,
    tps_grid,
    tps_kernel,
    tps_system,
    warped_control_points,
)


def _numpy_tps_grid(theta: np.ndarray, out_h: int, out_w: int, grid_size: int = 5) -> np.ndarray:
    """Reference: solve L [W; A] = [Q; 0] per axis with numpy float64 and evaluate on linspace grids."""
    a = np.linspace(-1.0, 1.0, grid_size)
    n = grid_size * grid_size
    px = np.array([a[k // grid_size] for k in range(n)])
    py = np.array([a[k % grid_size] for k in range(n)])

    def u(d2):
        return np.where(d2 > 0, d2 * np.log(np.where(d2 > 0, d2, 1.0)), 0.0)

    k = u((px[:, None] - px[None]) ** 2 + (py[:, None] - py[None]) ** 2)
    p = np.stack([np.ones(n), px, py], 1)
    big_l = np.block([[k, p], [p.T, np.zeros((3, 3))]])
    gy, gx = np.meshgrid(np.linspace(-1, 1, out_h), np.linspace(-1, 1, out_w), indexing="ij")
    ux = u((gx[..., None] - px) ** 2 + (gy[..., None] - py) ** 2)  # (H, W, N)
    out = np.zeros((theta.shape[0], out_h, out_w, 2))
    for b in range(theta.shape[0]):
        for axis, base in ((0, px), (1, py)):
            q = base + theta[b, axis * n : (axis + 1) * n]
            coef = np.linalg.solve(big_l, np.concatenate([q, np.zeros(3)]))
            w, aff = coef[:n], coef[n:]
            out[b, ..., axis] = ux @ w + aff[0] + aff[1] * gx + aff[2] * gy
    return out


def test_control_points_x_is_outer_index_y_fastest():
    pts = control_points(5, dtype=torch.float64)
    assert pts.shape == (25, 2)
    a = torch.linspace(-1, 1, 5, dtype=torch.float64)
    for k in range(25):
        assert pts[k, 0] == a[k // 5] and pts[k, 1] == a[k % 5]
    assert pts[1].tolist() == [-1.0, -0.5]
    assert pts[5].tolist() == [-0.5, -1.0]


def test_kernel_is_d2_log_d2_and_zero_at_zero():
    d2 = torch.tensor([0.0, 1.0, 2.0, 0.25], dtype=torch.float64)
    expected = torch.tensor([0.0, 0.0, 2.0 * np.log(2.0), 0.25 * np.log(0.25)], dtype=torch.float64)
    torch.testing.assert_close(tps_kernel(d2), expected, atol=1e-15, rtol=0)


def test_system_matrix_is_symmetric_with_zero_corner():
    big_l = tps_system(control_points(5, dtype=torch.float64))
    assert big_l.shape == (28, 28)
    torch.testing.assert_close(big_l, big_l.T, atol=0, rtol=0)  # U(|p_i − p_j|) is symmetric in float: exact
    assert torch.count_nonzero(big_l[25:, 25:]) == 0
    assert torch.all(big_l[:25, 25] == 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identity_theta_gives_identity_grid(dtype):
    theta = torch.zeros(2, 50, dtype=dtype)
    grid = tps_grid(theta, 256, 192)
    assert grid.shape == (2, 256, 192, 2) and grid.dtype == dtype
    xs = torch.linspace(-1, 1, 192, dtype=dtype)
    ys = torch.linspace(-1, 1, 256, dtype=dtype)
    # exact by construction: theta = 0 adds zeros to the linspace base grid
    assert torch.equal(grid[0, 7, :, 0], xs)
    assert torch.equal(grid[1, :, 11, 1], ys)
    assert torch.equal(grid[0], identity_grid(256, 192, dtype=dtype))
    assert torch.equal(TpsGridGen(256, 192)(theta.float())[0], identity_grid(256, 192))


def test_affine_only_theta_reproduces_the_affine_map_everywhere():
    # offsets that are an affine function of the control points: Q = P + c + M P
    pts = control_points(5, dtype=torch.float64)  # (25, 2)
    c = torch.tensor([0.1, -0.05], dtype=torch.float64)
    m = torch.tensor([[0.2, -0.1], [0.15, -0.3]], dtype=torch.float64)
    offsets = c + pts @ m.T  # (25, 2)
    theta = torch.cat([offsets[:, 0], offsets[:, 1]]).unsqueeze(0)  # (1, 50)
    grid = tps_grid(theta, 33, 17)
    p = identity_grid(33, 17, dtype=torch.float64)  # (H, W, 2)
    expected = p + c + p @ m.T
    torch.testing.assert_close(grid[0], expected, atol=1e-12, rtol=0)
    grid32 = TpsGridGen(33, 17)(theta.float())
    torch.testing.assert_close(grid32[0], expected.float(), atol=2e-6, rtol=0)


def test_grid_matches_independent_numpy_solve():
    g = torch.Generator().manual_seed(3)
    theta = 0.15 * torch.randn(3, 50, generator=g, dtype=torch.float64)
    ref = _numpy_tps_grid(theta.numpy(), 21, 15)
    torch.testing.assert_close(tps_grid(theta, 21, 15), torch.from_numpy(ref), atol=1e-12, rtol=0)
    torch.testing.assert_close(TpsGridGen(21, 15)(theta.float()).double(), torch.from_numpy(ref), atol=5e-6, rtol=0)


def test_grid_interpolates_the_warped_control_points():
    g = torch.Generator().manual_seed(4)
    theta = 0.2 * torch.randn(2, 50, generator=g, dtype=torch.float64)
    grid = tps_grid(theta, 9, 13)  # linspace(-1, 1, 9/13) contains the 5 control coordinates at steps 2 / 3
    q = warped_control_points(theta)  # (B, 25, 2)
    for k in range(25):
        ix, iy = k // 5, k % 5
        torch.testing.assert_close(grid[:, 2 * iy, 3 * ix], q[:, k], atol=1e-12, rtol=0)


def test_warped_control_points_are_points_plus_offsets():
    theta = torch.zeros(1, 50)
    theta[0, 7] = 0.3  # x offset of point 7
    theta[0, 25 + 7] = -0.2  # y offset of point 7
    q = warped_control_points(theta)
    base = control_points(5)
    torch.testing.assert_close(q[0, 7], base[7] + torch.tensor([0.3, -0.2]), atol=1e-7, rtol=0)
    torch.testing.assert_close(q[0, :7], base[:7], atol=0, rtol=0)  # + 0 offsets: exact


def test_gridgen_holds_no_state_and_follows_input_dtype():
    gen = TpsGridGen(16, 12)
    assert gen.state_dict() == {}
    theta = 0.1 * torch.randn(1, 50, dtype=torch.float64)
    out = gen(theta)
    assert out.dtype == torch.float64 and out.shape == (1, 16, 12, 2)
    torch.testing.assert_close(out, tps_grid(theta, 16, 12), atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: tps_grid(torch.zeros(50), 8, 8),
        lambda: tps_grid(torch.zeros(1, 49), 8, 8),
        lambda: tps_grid(torch.zeros(1, 50), 0, 8),
        lambda: tps_grid(torch.zeros(1, 50), 8, 8, grid_size=4),
        lambda: tps_grid(torch.zeros(1, 50, dtype=torch.int64), 8, 8),
        lambda: control_points(1),
        lambda: tps_system(torch.zeros(25, 3)),
        lambda: warped_control_points(torch.zeros(2, 25, 2)),
        lambda: TpsGridGen(8, 8)(torch.zeros(1, 32)),
    ],
)
def test_bad_shapes_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_value_error_names_the_bad_shape():
    with pytest.raises(ValueError, match=r"\(1, 49\)"):
        tps_grid(torch.zeros(1, 49), 8, 8)


def test_gradcheck_on_tiny_grid():
    theta = (0.1 * torch.randn(2, 18, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: tps_grid(t, 4, 3, grid_size=3), (theta,))
    gen = TpsGridGen(4, 3, grid_size=3).double()
    assert torch.autograd.gradcheck(gen, (theta,))
