"""Thin-plate-spline (TPS) sampling grids in the convention of CP-VTON's geometric matching module.

CP-VTON (Wang et al., "Toward Characteristic-Preserving Image-based Virtual Try-On Network", ECCV 2018,
sergeywong/cp-vton) and CP-VTON+ (Minar et al., CVPRW 2020, minar09/cp-vton-plus) regress ``theta`` and turn
it into a ``grid_sample`` grid with the same TPS; the functions here reproduce it from its stated convention.

Convention:
    * control points: ``grid_size × grid_size`` (5 × 5) on ``a = linspace(-1, 1, grid_size)``; point ``k`` has
      ``x = a[k // grid_size]`` and ``y = a[k % grid_size]`` (x is the outer index, y varies fastest);
    * ``theta`` is ``(B, 2N)``: N x-offsets then N y-offsets, added to the control points; ``theta = 0`` is the
      identity;
    * kernel ``U(d²) = d² · ln(d²)`` with ``U(0) = 0``; system ``L = [[K, P], [Pᵀ, 0]]`` with ``P = [1, x, y]``;
      the spline maps every control point to its moved point (``f(P_k) = P_k + offset_k``);
    * output grid ``(B, H, W, 2)`` holding ``(x, y)`` sampled on ``linspace(-1, 1, W)`` × ``linspace(-1, 1, H)``,
      i.e. ``align_corners=True`` coordinates: use it with ``F.grid_sample(..., align_corners=True)``.

The linear algebra is done once in float64 on the CPU and the result is cast to the dtype and device of the
input, so a float32 grid is at least as accurate as the authors' float32 computation.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "control_points",
    "tps_kernel",
    "tps_system",
    "tps_grid_matrix",
    "identity_grid",
    "tps_grid",
    "warped_control_points",
    "TpsGridGen",
]


def _check_grid_size(grid_size: int) -> None:
    if not isinstance(grid_size, int) or isinstance(grid_size, bool) or grid_size < 2:
        raise ValueError(f"grid_size must be an int >= 2, got {grid_size!r}")


def _check_out_size(out_h: int, out_w: int) -> None:
    for name, v in (("out_h", out_h), ("out_w", out_w)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _check_theta(theta: torch.Tensor, grid_size: int) -> int:
    _check_grid_size(grid_size)
    n = grid_size * grid_size
    if not isinstance(theta, torch.Tensor):
        raise ValueError(f"theta must be a tensor of shape (B, {2 * n}), got {type(theta).__name__}")
    if theta.ndim != 2 or theta.shape[1] != 2 * n:
        raise ValueError(
            f"theta must have shape (B, {2 * n}) for grid_size={grid_size} "
            f"({n} x-offsets then {n} y-offsets), got {tuple(theta.shape)}"
        )
    if not theta.is_floating_point():
        raise ValueError(f"theta must be a floating-point tensor, got {theta.dtype}")
    return n


def control_points(
    grid_size: int = 5, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The TPS control points.

    Args:
        grid_size: points per axis (5 in CP-VTON).
        device, dtype: of the result.

    Returns:
        ``(N, 2)`` with ``N = grid_size²``; row ``k`` is ``(x, y) = (a[k // grid_size], a[k % grid_size])``.
    """
    _check_grid_size(grid_size)
    a = torch.linspace(-1.0, 1.0, grid_size, device=device, dtype=dtype)
    x = a.repeat_interleave(grid_size)  # (N,) outer index
    y = a.repeat(grid_size)  # (N,) fastest index
    return torch.stack([x, y], dim=1)  # (N, 2)


def tps_kernel(d2: torch.Tensor) -> torch.Tensor:
    """The TPS radial kernel ``U = d² · ln(d²)`` of squared distances, with ``U(0) = 0``."""
    safe = torch.where(d2 > 0, d2, torch.ones_like(d2))
    return d2 * torch.log(safe)


def _pairwise_d2(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Squared distances ``(M, N)`` between points ``p (M, 2)`` and ``q (N, 2)``."""
    diff = p[:, None, :] - q[None, :, :]  # (M, N, 2)
    return (diff * diff).sum(-1)


def tps_system(points: torch.Tensor) -> torch.Tensor:
    """The TPS system matrix ``L = [[K, P], [Pᵀ, 0]]`` of control points.

    Args:
        points: ``(N, 2)`` control points ``(x, y)``.

    Returns:
        ``(N + 3, N + 3)`` with ``K = U(|p_i − p_j|²)`` and ``P = [1, x, y]``.
    """
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {tuple(points.shape)}")
    n = points.shape[0]
    k = tps_kernel(_pairwise_d2(points, points))  # (N, N)
    p = torch.cat([torch.ones(n, 1, dtype=points.dtype, device=points.device), points], dim=1)  # (N, 3)
    z = torch.zeros(3, 3, dtype=points.dtype, device=points.device)
    return torch.cat([torch.cat([k, p], 1), torch.cat([p.t(), z], 1)], 0)  # (N+3, N+3)


def _output_points(out_h: int, out_w: int, dtype: torch.dtype) -> torch.Tensor:
    """The output pixel centres ``(H·W, 2)`` as ``(x, y)`` in row-major (y outer) order."""
    return identity_grid(out_h, out_w, dtype=dtype).view(-1, 2)  # (H*W, 2)


def tps_grid_matrix(
    out_h: int,
    out_w: int,
    grid_size: int = 5,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The linear map from moved control points to the output grid.

    The TPS grid is linear in the moved control points ``Q (B, N, 2)``: ``grid = M @ Q``. Computed in float64.

    Returns:
        ``M`` of shape ``(H·W, N)``; row ``i`` belongs to output pixel ``(i // W, i % W)``.
    """
    _check_grid_size(grid_size)
    _check_out_size(out_h, out_w)
    n = grid_size * grid_size
    pts = control_points(grid_size, dtype=torch.float64)  # (N, 2)
    l_inv = torch.linalg.inv(tps_system(pts))  # (N+3, N+3)
    out = _output_points(out_h, out_w, torch.float64)  # (H*W, 2)
    u = tps_kernel(_pairwise_d2(out, pts))  # (H*W, N)
    basis = torch.cat([u, torch.ones(out.shape[0], 1, dtype=torch.float64), out], dim=1)  # (H*W, N+3)
    m = basis @ l_inv[:, :n]  # (H*W, N): coefficients [W; A] = L⁻¹[:, :N] @ Q
    return m.to(device=device, dtype=dtype)


def warped_control_points(theta: torch.Tensor, grid_size: int = 5) -> torch.Tensor:
    """The control points moved by ``theta``: where each control point of the output samples the source.

    Args:
        theta: ``(B, 2N)``, N x-offsets then N y-offsets.
        grid_size: points per axis.

    Returns:
        ``(B, N, 2)`` ``(x, y)`` in normalised ``align_corners=True`` coordinates.
    """
    n = _check_theta(theta, grid_size)
    base = control_points(grid_size, device=theta.device, dtype=theta.dtype)  # (N, 2)
    offsets = theta.reshape(theta.shape[0], 2, n).transpose(1, 2)  # (B, N, 2): x offsets then y offsets
    return base.unsqueeze(0) + offsets


def tps_grid(theta: torch.Tensor, out_h: int, out_w: int, grid_size: int = 5) -> torch.Tensor:
    """The TPS sampling grid of ``theta``.

    Args:
        theta: ``(B, 2N)`` offsets of the ``N = grid_size²`` control points (x offsets then y offsets).
        out_h, out_w: size of the grid.
        grid_size: control points per axis.

    Returns:
        ``(B, out_h, out_w, 2)`` ``(x, y)`` for ``F.grid_sample(..., align_corners=True)``; same dtype/device as
        ``theta``.
    """
    _check_out_size(out_h, out_w)
    n = _check_theta(theta, grid_size)
    offsets = theta.reshape(theta.shape[0], 2, n).transpose(1, 2)  # (B, N, 2): x offsets then y offsets
    m = tps_grid_matrix(out_h, out_w, grid_size, device=theta.device, dtype=theta.dtype)  # (H*W, N)
    identity = identity_grid(out_h, out_w, device=theta.device, dtype=theta.dtype)  # (H, W, 2)
    return identity.unsqueeze(0) + _apply(m, offsets, out_h, out_w)


def identity_grid(
    out_h: int, out_w: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The grid of ``theta = 0``: ``(out_h, out_w, 2)`` ``(x, y)`` on ``linspace(-1, 1)`` (align_corners=True)."""
    _check_out_size(out_h, out_w)
    ys = torch.linspace(-1.0, 1.0, out_h, device=device, dtype=dtype)
    xs = torch.linspace(-1.0, 1.0, out_w, device=device, dtype=dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) each
    return torch.stack([gx, gy], dim=-1)  # (H, W, 2)


def _apply(m: torch.Tensor, offsets: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    grid = torch.matmul(m, offsets)  # (B, H*W, 2)
    return grid.view(offsets.shape[0], out_h, out_w, 2)  # (B, H, W, 2)


class TpsGridGen(nn.Module):
    """``theta (B, 2N) -> grid (B, out_h, out_w, 2)``, the TPS of :func:`tps_grid` with precomputed constants.

    The constants are float32 non-persistent buffers (nothing of this module is in a state dict); they follow
    ``module.to(...)``. For float64 grids at full precision use :func:`tps_grid`.
    """

    def __init__(self, out_h: int = 256, out_w: int = 192, grid_size: int = 5) -> None:
        super().__init__()
        _check_grid_size(grid_size)
        _check_out_size(out_h, out_w)
        self.out_h, self.out_w, self.grid_size = out_h, out_w, grid_size
        self.n = grid_size * grid_size
        # grid = M @ (base + offsets) = identity grid + M @ offsets (the TPS reproduces affine maps exactly).
        self.register_buffer("matrix", tps_grid_matrix(out_h, out_w, grid_size), persistent=False)  # (H*W, N)
        self.register_buffer("identity", identity_grid(out_h, out_w), persistent=False)  # (H, W, 2)

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        _check_theta(theta, self.grid_size)
        m = self.matrix.to(dtype=theta.dtype, device=theta.device)
        offsets = theta.reshape(theta.shape[0], 2, self.n).transpose(1, 2)  # (B, N, 2): x offsets then y offsets
        delta = _apply(m, offsets, self.out_h, self.out_w)  # (B, H, W, 2)
        return self.identity.to(dtype=theta.dtype, device=theta.device).unsqueeze(0) + delta

    def extra_repr(self) -> str:
        return f"out_h={self.out_h}, out_w={self.out_w}, grid_size={self.grid_size}"
