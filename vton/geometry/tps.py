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

TPS from arbitrary control points (:func:`tps_fit`, :func:`tps_transform`, :func:`tps_warp_grid`) serves every
convention: CP-VTON's lattice above, ACGPN's STN (25 points on ±0.9 with x fastest, kernel ``0.5 · r² · ln r²``,
switchablenorms/DeepFashion_Try_On) and the training-free geometric method's matched contour points. Convention
of those functions: points are ``(x, y)`` in normalised ``align_corners=True`` coordinates; a *backward* map is
fitted, from the output (target) points to where they sample the source; the system is
``[[K + λI, P], [Pᵀ, 0]]`` with ``K = s · U(|p_i − p_j|²)``, ``P = [1, x, y]`` (``s`` = ``kernel_scale``,
``λ`` = ``regularization``; ``λ = 0`` interpolates exactly).
"""

from __future__ import annotations

import torch
from torch import nn

from ..run import FRAME  # (W, H): the default output of TpsGridGen, as the authors' (256 × 192, H × W)

__all__ = [
    "control_points",
    "tps_kernel",
    "tps_system",
    "tps_grid_matrix",
    "identity_grid",
    "tps_grid",
    "warped_control_points",
    "TpsGridGen",
    "tps_basis",
    "tps_fit",
    "tps_transform",
    "tps_warp_grid",
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


def _check_points(points: torch.Tensor, name: str, batched: bool = False) -> None:
    shape = "(B, N, 2)" if batched else "(N, 2)"
    if not isinstance(points, torch.Tensor):
        raise ValueError(f"{name} must be a tensor of shape {shape}, got {type(points).__name__}")
    if points.ndim != (3 if batched else 2) or points.shape[-1] != 2:
        raise ValueError(f"{name} must have shape {shape} holding (x, y), got {tuple(points.shape)}")
    if not points.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {points.dtype}")
    if not bool(torch.isfinite(points).all()):
        raise ValueError(f"{name} holds NaN or infinite coordinates")


def tps_system(points: torch.Tensor, *, kernel_scale: float = 1.0, regularization: float = 0.0) -> torch.Tensor:
    """The TPS system matrix ``L = [[K + λI, P], [Pᵀ, 0]]`` of control points.

    Args:
        points: ``(N, 2)`` control points ``(x, y)``.
        kernel_scale: ``s`` in ``K = s · U(|p_i − p_j|²)`` (1 in CP-VTON, 0.5 in ACGPN).
        regularization: ``λ ≥ 0`` added to K's diagonal (0 = exact interpolation).

    Returns:
        ``(N + 3, N + 3)`` with ``P = [1, x, y]``; ACGPN's ``inverse_kernel`` buffer is its inverse.
    """
    _check_points(points, "points")
    if regularization < 0:
        raise ValueError(f"regularization must be >= 0, got {regularization}")
    n = points.shape[0]
    k = kernel_scale * tps_kernel(_pairwise_d2(points, points))  # (N, N)
    if regularization:
        k = k + regularization * torch.eye(n, dtype=points.dtype, device=points.device)
    p = torch.cat([torch.ones(n, 1, dtype=points.dtype, device=points.device), points], dim=1)  # (N, 3)
    z = torch.zeros(3, 3, dtype=points.dtype, device=points.device)
    return torch.cat([torch.cat([k, p], 1), torch.cat([p.t(), z], 1)], 0)  # (N+3, N+3)


def tps_basis(points: torch.Tensor, ctrl: torch.Tensor, *, kernel_scale: float = 1.0) -> torch.Tensor:
    """The TPS features of ``points``: ``[s · U(|p − c_j|²) for each control point c_j, 1, x, y]``.

    Args:
        points: ``(M, 2)`` where the spline is evaluated.
        ctrl: ``(N, 2)`` control points.
        kernel_scale: ``s`` (see :func:`tps_system`).

    Returns:
        ``(M, N + 3)``; ACGPN's ``target_coordinate_repr`` buffer is this for every output pixel.
    """
    _check_points(points, "points")
    _check_points(ctrl, "ctrl")
    u = kernel_scale * tps_kernel(_pairwise_d2(points, ctrl))  # (M, N)
    ones = torch.ones(points.shape[0], 1, dtype=points.dtype, device=points.device)
    return torch.cat([u, ones, points], dim=1)  # (M, N+3)


def tps_fit(ctrl: torch.Tensor, values: torch.Tensor, *, kernel_scale: float = 1.0,
            regularization: float = 0.0) -> torch.Tensor:
    """Fit a TPS that maps each control point ``ctrl[b, i]`` to ``values[b, i]``.

    Solved in float64 (and returned in ``values``' dtype and device).

    Args:
        ctrl: ``(B, N, 2)`` control points (``N ≥ 3``, not all on one line).
        values: ``(B, N, D)`` the values at them (D = 2 for a warp).
        kernel_scale, regularization: see :func:`tps_system`.

    Returns:
        ``(B, N + 3, D)`` coefficients: N kernel weights, then the affine part (constant, x, y).

    Raises:
        ValueError: bad shapes, non-finite values, or a degenerate point set (e.g. collinear or repeated points
            with ``regularization = 0``).
    """
    _check_points(ctrl, "ctrl", batched=True)
    if not isinstance(values, torch.Tensor) or values.ndim != 3 or values.shape[:2] != ctrl.shape[:2]:
        got = tuple(values.shape) if isinstance(values, torch.Tensor) else type(values).__name__
        raise ValueError(f"values must have shape (B, N, D) = {tuple(ctrl.shape[:2])} + (D,), got {got}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError("values hold NaN or infinite numbers")
    b, n, d = values.shape
    if n < 3:
        raise ValueError(f"a TPS needs at least 3 control points, got {n}")
    c64 = ctrl.detach().to("cpu", torch.float64)
    v64 = values.detach().to("cpu", torch.float64)
    rhs = torch.cat([v64, torch.zeros(b, 3, d, dtype=torch.float64)], dim=1)  # (B, N+3, D)
    systems = torch.stack([tps_system(c64[i], kernel_scale=kernel_scale, regularization=regularization)
                           for i in range(b)])  # (B, N+3, N+3)
    coeffs, info = torch.linalg.solve_ex(systems, rhs)
    if bool((info != 0).any()) or not bool(torch.isfinite(coeffs).all()):
        raise ValueError("the TPS system is singular: the control points are repeated or all on one line")
    return coeffs.to(device=values.device, dtype=values.dtype)


def tps_transform(points: torch.Tensor, ctrl: torch.Tensor, coeffs: torch.Tensor, *,
                  kernel_scale: float = 1.0) -> torch.Tensor:
    """Evaluate fitted TPS at ``points``.

    Args:
        points: ``(B, M, 2)`` or ``(M, 2)`` (shared by the batch).
        ctrl: ``(B, N, 2)`` the control points of the fit.
        coeffs: ``(B, N + 3, D)`` from :func:`tps_fit` with the same ``kernel_scale``.

    Returns:
        ``(B, M, D)``.
    """
    _check_points(ctrl, "ctrl", batched=True)
    b, n = ctrl.shape[:2]
    if coeffs.ndim != 3 or coeffs.shape[:2] != (b, n + 3):
        raise ValueError(f"coeffs must have shape ({b}, {n + 3}, D), got {tuple(coeffs.shape)}")
    pts = points if points.ndim == 3 else points.unsqueeze(0).expand(b, -1, -1)
    _check_points(pts, "points", batched=True)
    out = [tps_basis(pts[i], ctrl[i].to(pts.dtype), kernel_scale=kernel_scale) @ coeffs[i].to(pts.dtype)
           for i in range(b)]  # each (M, D)
    return torch.stack(out)


def tps_warp_grid(target: torch.Tensor, source: torch.Tensor, out_h: int, out_w: int, *,
                  kernel_scale: float = 1.0, regularization: float = 0.0) -> torch.Tensor:
    """The sampling grid of the TPS that carries ``target[b, i]`` (output) to ``source[b, i]`` (input).

    Args:
        target: ``(B, N, 2)`` points in the output image, normalised ``(x, y)`` (align_corners=True).
        source: ``(B, N, 2)`` where each samples the input image, same convention.
        out_h, out_w: size of the grid.
        kernel_scale, regularization: see :func:`tps_system`.

    Returns:
        ``(B, out_h, out_w, 2)`` ``(x, y)`` for ``F.grid_sample(..., align_corners=True)``, in ``source``'s dtype
        and device.
    """
    _check_out_size(out_h, out_w)
    _check_points(source, "source", batched=True)
    coeffs = tps_fit(target, source, kernel_scale=kernel_scale, regularization=regularization)  # (B, N+3, 2)
    pix = _output_points(out_h, out_w, torch.float64)  # (H*W, 2)
    grid = tps_transform(pix, target.detach().to("cpu", torch.float64), coeffs.to("cpu", torch.float64),
                         kernel_scale=kernel_scale)  # (B, H*W, 2)
    return grid.view(-1, out_h, out_w, 2).to(device=source.device, dtype=source.dtype)


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
    basis = tps_basis(_output_points(out_h, out_w, torch.float64), pts)  # (H*W, N+3)
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

    def __init__(self, out_h: int = FRAME[1], out_w: int = FRAME[0], grid_size: int = 5) -> None:
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
