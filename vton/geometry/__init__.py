"""Geometry: pure, validated tensor functions (TPS sampling grids)."""

from vton.geometry.tps import (
    TpsGridGen,
    control_points,
    identity_grid,
    tps_grid,
    tps_grid_matrix,
    tps_kernel,
    tps_system,
    warped_control_points,
)

__all__ = [
    "TpsGridGen",
    "control_points",
    "identity_grid",
    "tps_grid",
    "tps_grid_matrix",
    "tps_kernel",
    "tps_system",
    "warped_control_points",
]
