"""Geometry: pure, validated tensor functions (TPS sampling grids, TPS from arbitrary control points)."""

from vton.geometry.tps import (
    TpsGridGen,
    control_points,
    identity_grid,
    tps_basis,
    tps_fit,
    tps_grid,
    tps_grid_matrix,
    tps_kernel,
    tps_system,
    tps_transform,
    tps_warp_grid,
    warped_control_points,
)

__all__ = [
    "TpsGridGen",
    "control_points",
    "identity_grid",
    "tps_basis",
    "tps_fit",
    "tps_grid",
    "tps_grid_matrix",
    "tps_kernel",
    "tps_system",
    "tps_transform",
    "tps_warp_grid",
    "warped_control_points",
]
