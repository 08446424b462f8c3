"""Helpers for checking vton against golden fixtures: safetensors files written by running the authors' code.

A fixture holds ``in.*`` inputs and ``out.*`` outputs plus JSON metadata. Storage conventions undone here:
int8/float16 tensors become float32; multi-channel binary maps named in the metadata's ``packed_bits`` are
stored as int32 ``(B, 1, H, W)`` bit fields (bit k set = channel k on) and are unpacked to ``(B, C, H, W)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open

__all__ = ["unpack_bits", "load_fixture"]


def unpack_bits(x: torch.Tensor, channels: int, on: float, off: float) -> torch.Tensor:
    """``(B, 1, H, W)`` int bit field → ``(B, channels, H, W) float32`` with ``on``/``off`` values."""
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"packed bits must be (B, 1, H, W), got {tuple(x.shape)}")
    bits = torch.stack([(x[:, 0].long() >> k) & 1 for k in range(channels)], 1).bool()
    return torch.where(bits, torch.tensor(float(on)), torch.tensor(float(off)))


def load_fixture(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a fixture: ``(tensors as float32, metadata)``; int64 tensors stay int64."""
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), "pt") as f:
        meta = dict(f.metadata() or {})
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    for k, p in json.loads(meta.get("packed_bits", "{}")).items():
        tensors[k] = unpack_bits(tensors[k], int(p["channels"]), p["on"], p["off"])
    out = {k: (v if v.dtype == torch.int64 else v.float()) for k, v in tensors.items()}
    return out, meta
