"""PF-AFN's flow helpers: the local correlation (cost volume), pixel offsets to a sampling grid, warping by a flow.

Ge et al., "Parser-Free Virtual Try-on via Distilling Appearance Flows", CVPR 2021, geyuying/PF-AFN@e2bb71e2
(``PF-AFN_test``, non-commercial research licence). Written from the documented facts of that code; the authors'
cupy correlation kernel is replaced by :func:`local_correlation`, plain PyTorch (CPU and CUDA).

Convention (as :mod:`.networks`): NCHW; a flow is a normalised sampling grid ``(B, 2, H, W)``, channel 0 = x,
channel 1 = y; ``flow.permute(0, 2, 3, 1)`` is the ``grid`` of ``F.grid_sample``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = ["CORRELATION_TILE", "local_correlation", "offset_to_grid", "warp_by_flow"]


CORRELATION_TILE = 8  # pixels per side of the tiles ``local_correlation`` multiplies as one batch (see there)


def local_correlation(first: torch.Tensor, second: torch.Tensor, max_displacement: int = 3) -> torch.Tensor:
    """Local cost volume of two feature maps, as the authors' correlation kernel (stride 1, kernel 1).

    Computed as one batched matrix product: the map is cut into ``T × T`` tiles (``CORRELATION_TILE``); each
    tile's features ``(T², C)`` are multiplied with the ``(T + 2d)²`` displaced positions around it ``(C, (T+2d)²)``
    (one ``bmm`` over all tiles), and each pixel's ``(2d+1)²`` displacements are gathered from that product. This
    does about 4× the multiply-adds of the 49 shifted products at T = 8, but in a BLAS kernel, with one copy of
    the displaced windows instead of 49 strided elementwise passes over the map.

    Args:
        first: ``(B, C, H, W)`` (the warped cloth features).
        second: ``(B, C, H, W)`` (the person features); displaced, zero outside the map.
        max_displacement: ``d``; displacements ``dx, dy`` in ``[-d, d]``.

    Returns:
        ``(B, (2d+1)², H, W)``: channel ``(dy + d)·(2d+1) + (dx + d)`` holds
        ``mean_c first[:, c, y, x] · second[:, c, y + dy, x + dx]``.
    """
    if first.ndim != 4 or first.shape != second.shape:
        raise ValueError(f"features must be equal (B, C, H, W), got {tuple(first.shape)} and {tuple(second.shape)}")
    d = int(max_displacement)
    k = 2 * d + 1
    t = CORRELATION_TILE
    s = t + 2 * d  # side of the displaced window around a tile
    b, c, h, w = first.shape
    ny, nx = -(-h // t), -(-w // t)  # tiles per column and row (the map is zero-padded to whole tiles)
    hp, wp = ny * t, nx * t
    tiles = F.pad(first, (0, wp - w, 0, hp - h)).view(b, c, ny, t, nx, t)
    tiles = tiles.permute(0, 2, 4, 3, 5, 1).reshape(b * ny * nx, t * t, c)  # (B·tiles, T², C)
    windows = F.pad(second, (d, d + wp - w, d, d + hp - h)).unfold(2, s, t).unfold(3, s, t)  # (B, C, ny, nx, S, S)
    windows = windows.permute(0, 2, 3, 1, 4, 5).reshape(b * ny * nx, c, s * s)  # (B·tiles, C, S²)
    products = torch.bmm(tiles, windows)  # (B·tiles, T², S²): every tile pixel · every window position
    idx = _correlation_index(t, d, first.device).expand(b * ny * nx, -1, -1)  # (B·tiles, T², k²)
    corr = products.gather(2, idx).view(b, ny, nx, t, t, k * k)
    corr = corr.permute(0, 5, 1, 3, 2, 4).reshape(b, k * k, hp, wp)[:, :, :h, :w]  # (B, k², H, W)
    return corr / c


def _correlation_index(t: int, d: int, device: torch.device) -> torch.Tensor:
    """``(1, T², (2d+1)²)``: for tile pixel ``(ty, tx)`` and displacement ``(i, j)`` (0-based), the position
    ``(ty + i)·S + (tx + j)`` in the flattened ``S × S`` window, ``S = T + 2d``."""
    k, s = 2 * d + 1, t + 2 * d
    ty = torch.arange(t, device=device).view(t, 1, 1, 1)
    tx = torch.arange(t, device=device).view(1, t, 1, 1)
    i = torch.arange(k, device=device).view(1, 1, k, 1)
    j = torch.arange(k, device=device).view(1, 1, 1, k)
    return ((ty + i) * s + (tx + j)).reshape(1, t * t, k * k)


def offset_to_grid(offset: torch.Tensor) -> torch.Tensor:
    """Pixel offsets ``(B, 2, H, W)`` (x, y) → a normalised sampling grid ``(B, H, W, 2)`` (the authors'
    ``apply_offset``): ``(pixel index + offset) / ((size − 1) / 2) − 1``, align_corners=True coordinates."""
    if offset.ndim != 4 or offset.shape[1] != 2:
        raise ValueError(f"offset must be (B, 2, H, W), got {tuple(offset.shape)}")
    h, w = offset.shape[2:]
    xs = torch.arange(w, device=offset.device, dtype=offset.dtype).view(1, 1, w)  # (1, 1, W)
    ys = torch.arange(h, device=offset.device, dtype=offset.dtype).view(1, h, 1)  # (1, H, 1)
    gx = (xs + offset[:, 0]) / ((w - 1.0) / 2.0) - 1.0  # (B, H, W)
    gy = (ys + offset[:, 1]) / ((h - 1.0) / 2.0) - 1.0  # (B, H, W)
    return torch.stack([gx, gy], dim=-1)  # (B, H, W, 2)


def warp_by_flow(
    x: torch.Tensor, flow: torch.Tensor, padding_mode: Literal["border", "zeros"] = "border", align_corners: bool = True
) -> torch.Tensor:
    """Sample ``x (B, C, H, W)`` at the flow ``(B, 2, H', W')`` (bilinear) → ``(B, C, H', W')``."""
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W), got {tuple(flow.shape)}")
    grid = flow.permute(0, 2, 3, 1)  # (B, H', W', 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=align_corners)
