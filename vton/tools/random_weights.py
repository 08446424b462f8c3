"""RANDOM weights for tests of the plumbing (loading, shapes, the pipeline, the page): deterministic, declared
``synthetic`` in the folder's manifest and ``vton_random`` in the safetensors metadata, so that every try-on made
with them is labelled noise. The networks come from the methods' cards and ``build_network``; the estimators'
stand-ins from :mod:`vton.preprocess.standins`.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from vton import weights
from vton.errors import InputError
from vton.weights.checkpoint import atomic_save

from .folder import target_name, write_model_card
from .networks import methods_with_weights

__all__ = ["write_random_weights", "write_random_estimators"]


def _reinit(sd: Mapping[str, torch.Tensor], g: torch.Generator) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in sd.items():
        shape = tuple(v.shape)
        if not v.is_floating_point():
            out[k] = torch.zeros(shape, dtype=v.dtype)
        elif k.endswith("running_var"):
            out[k] = torch.rand(shape, generator=g) * 0.5 + 0.75
        elif k.endswith("running_mean"):
            out[k] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) <= 1:
            offset = 1.0 if k.endswith(".weight") else 0.0
            out[k] = offset + 0.1 * torch.randn(shape, generator=g)
        else:
            out[k] = torch.randn(shape, generator=g) * math.sqrt(2.0 / math.prod(shape[1:]))
        out[k] = out[k].to(v.dtype).contiguous()
    return out


def write_random_weights(out_dir: str | os.PathLike, methods: Iterable[str] | None = None, seed: int = 0,
                         **overrides) -> Path:
    """Write deterministic RANDOM weights for ``methods`` (default: every method with networks) into a local
    weights folder (for tests of the plumbing).

    Each network comes from the method's ``build_network`` (``overrides`` go to it, e.g. a smaller width for fast
    tests), is re-initialised from a ``torch.Generator`` seeded with ``seed`` and the key's crc32, and saved as
    safetensors (metadata ``vton_random``) with a local ``manifest.json`` (sha256, ``synthetic``) and a README that
    says the output is noise.
    """
    from vton import methods as registry
    from vton.outputs import check_output_dir

    out_dir = check_output_dir(out_dir, "weights folder")
    for method in (methods_with_weights() if methods is None else tuple(methods)):
        m = registry.create(method)
        if not m.card.weights:
            raise InputError(f"{method} is training-free: it has no weights to write.")
        folders: dict[Path, dict] = {}
        for network, key in m.card.weights:
            e = weights.entry(key)
            g = torch.Generator().manual_seed(int(seed) * 1_000_003 + zlib.crc32(key.encode()))
            sd = _reinit(m.build_network(network, **overrides).state_dict(), g)
            folder = out_dir / e.folder
            data = folders.setdefault(folder, weights.read_local_manifest(folder))
            out = atomic_save(sd, folder / target_name(e),
                               {"format": "pt", "vton_key": key, "random_seed": str(int(seed)),
                                weights.RANDOM_FLAG: "true",
                                "warning": "RANDOM weights for testing; output is noise"})
            data["entries"][key] = {
                "file": out.name,
                "format": "safetensors",
                "sha256": weights.file_sha256(out),
                "bytes": out.stat().st_size,
                "synthetic": True,
                "description": f"RANDOM weights (seed {int(seed)}) for testing the plumbing; output is noise.",
            }
        for folder, data in folders.items():
            weights.write_local_manifest(folder, data)
            write_model_card(folder, data)
    return out_dir


def write_random_estimators(out_dir: str | os.PathLike, *, size: str = "tiny", seed: int = 0) -> dict[str, Path]:
    """RANDOM OpenPose body weights and SCHP-shaped ONNX parsers in ``out_dir``, declared (sha256, ``synthetic``) in
    each folder's manifest (``vton.preprocess.standins.write_random_estimators``); ``{manifest key: file}``."""
    from vton.preprocess.standins import write_random_estimators as _write

    return _write(out_dir, size=size, seed=seed)
