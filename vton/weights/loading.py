"""Loading weights into networks: a resolved file's tensors read from safetensors (a ``pth`` entry converted once,
after its sha256 matched), checked finite and in range, then keys, shapes and dtypes checked against the network
and loaded with ``strict=True``.

A ``pth`` entry (the OpenPose body model) is read once, after its sha256 matched the manifest, by
:mod:`vton.weights.checkpoint` and written as a safetensors copy cached next to it (or in ``$VTON_CACHE``); the
copy's own sha256 is recorded in a sidecar ``.sha256.json`` and checked on every later load, so a planted or damaged
copy is converted again, never trusted. ``python -m vton prepare`` does that conversion ahead of time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from vton.errors import WeightsError

from . import checkpoint
from .checkpoint import Converter, marked_random
from .hashing import file_sha256
from .hub import first_line
from .manifests import local_entry, manifest, weights_dir_from_env
from .messages import convert_command, head
from .resolving import ResolvedWeights, resolve
from .status import CACHE_ENV, cache_dir, converted_matches, sidecar

__all__ = ["MAX_ABS_WEIGHT", "prepare_files", "load_state_dict", "load_network", "load_into", "check_state_dict",
           "check_tensor_values", "check_tensor_dtypes"]

log = logging.getLogger(__name__)

MAX_ABS_WEIGHT = 65504.0  # the largest float16 value: no trained weight or BatchNorm statistic of these networks
# comes near it (the authors' checkpoints stay below 1e3), and a network holding more cannot run in half precision


def _converted_target(r: ResolvedWeights) -> Path:
    name = f"{Path(r.entry.filename).stem}-{r.sha256[:16]}.safetensors"
    beside = r.path.parent / name
    if r.origin == "local" and os.access(r.path.parent, os.W_OK):
        return beside
    if beside.is_file():
        return beside
    return cache_dir() / r.entry.folder / name


def _pth_as_safetensors(r: ResolvedWeights) -> Path:
    target = _converted_target(r)
    if target.is_file() and converted_matches(target, r.sha256):
        return target
    if not r.verified:
        raise WeightsError(f"{head(r.entry)}: {r.path} is a .pth file with no sha256 in any manifest; vton reads a "
                           "pickle-based checkpoint only after its digest matched. Declare its sha256 in the folder's "
                           "manifest.json or convert it yourself with `python -m vton convert`.")
    log.info("converting %s to %s (once; torch.load weights_only=True on the verified file)", r.path, target)
    try:
        out = checkpoint.convert_pth_file(r.path, target, metadata={"vton_key": r.key})
        sidecar(out).write_text(json.dumps({"original_sha256": r.sha256, "sha256": file_sha256(out)}) + "\n",
                                 encoding="utf-8")
        return out
    except OSError as exc:
        raise WeightsError(f"{head(r.entry)}: converting {r.path} to safetensors at {target} failed: {exc}. "
                           f"Set {CACHE_ENV} to a writable folder.") from None


def prepare_files(weights_dir: str | os.PathLike | None = None, *, download: bool = True,
                  strict: bool = False, converters: Mapping[str, Converter] | None = None) -> list[Path]:
    """Convert every available ``pth`` entry, and fetch and convert every mirror-only network, ahead of time
    (``python -m vton prepare``; the Space runs it at start so no request waits for a download); the files made
    ready.

    An entry that cannot be had is logged and skipped; with ``strict`` a local file that is present but refused
    (a wrong sha256, an unreadable checkpoint) raises its ``WeightsError`` instead (the CLI's exit status).
    ``converters`` maps a manifest key to its method's converter (a mirror's original is converted with it).
    """
    root = weights_dir_from_env(weights_dir)
    out = []
    for key, e in manifest().items():
        if e.format != "pth" and not e.mirrors:
            continue
        try:
            r = resolve(key, root, download=download, convert=(converters or {}).get(key))
            out.append(_pth_as_safetensors(r) if r.entry.format == "pth" else r.path)
        except WeightsError as exc:
            local = local_entry(key, root)[0] if root is not None else None
            if strict and local is not None and (root / local.folder / local.filename).is_file():
                raise
            log.warning("%s", exc)
    return out


def load_state_dict(key: str, weights_dir: str | os.PathLike | None = None, *,
                    convert: Converter | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``key`` (CPU), read from safetensors; a ``pth`` entry is converted once and cached, and so is a
    mirror's original (with ``convert``, see ``resolve``)."""
    return _read_tensors(resolve(key, weights_dir, convert=convert))


def _read_tensors(r: ResolvedWeights) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    key = r.key
    fmt = r.entry.format
    if fmt == "onnx":
        raise WeightsError(f"{head(r.entry)} is an ONNX model ({r.path}); run it with onnxruntime via "
                           "resolve_file(), it has no PyTorch state dict.")
    path = _pth_as_safetensors(r) if fmt == "pth" else r.path
    try:
        sd = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise WeightsError(f"{head(r.entry)}: {path} is not a readable safetensors file ({first_line(exc)}). "
                           f"Re-create it with `{convert_command(key)}`.") from None
    problem = check_tensor_values(sd)
    if problem:
        raise WeightsError(f"{head(r.entry)}: {path} {problem}. The file is damaged or not a trained checkpoint "
                           f"(a matching sha256 only proves it is the file declared); re-create it with "
                           f"`{convert_command(key)}` from the authors' original.")
    return sd


def check_tensor_values(sd: Mapping[str, torch.Tensor], limit: float = MAX_ABS_WEIGHT) -> str:
    """'' when every floating-point tensor is finite and within ``±limit`` and every BatchNorm ``running_var`` is
    non-negative; else what is wrong with the first bad tensor, naming it (NaN/inf counts, largest magnitude)."""
    for name, t in sd.items():
        if not t.is_floating_point() or t.numel() == 0:
            continue
        x = t.detach()
        finite = torch.isfinite(x)
        if not bool(finite.all()):
            nan = int(torch.isnan(x).sum())
            inf = int(x.numel() - int(finite.sum()) - nan)
            what = " and ".join(p for p in (f"{nan} NaN" if nan else "", f"{inf} infinite" if inf else "") if p)
            return f"holds {what} value(s) of {x.numel():,} in tensor {name!r}; weights must be finite numbers"
        big = float(x.abs().amax())
        if big > limit:
            return (f"holds values up to {big:.3g} in tensor {name!r}, beyond ±{limit:g} (MAX_ABS_WEIGHT, the largest "
                    "float16 value; trained weights stay far below it)")
        if name.endswith("running_var") and float(x.amin()) < 0:
            return f"holds a negative variance ({float(x.amin()):.3g}) in tensor {name!r}"
    return ""


def check_tensor_dtypes(expected: Mapping[str, torch.dtype], got: Mapping[str, torch.Tensor], limit: int = 5) -> str:
    """'' when every tensor in ``got`` has the dtype the network declares for it, else one line naming them."""
    def name(dtype: torch.dtype) -> str:
        return str(dtype).removeprefix("torch.")

    bad = [f"{k} is {name(v.dtype)}, the network declares {name(expected[k])}"
           for k, v in got.items() if k in expected and v.dtype != expected[k]]
    if not bad:
        return ""
    more = f", … ({len(bad) - limit} more)" if len(bad) > limit else ""
    return f"{len(bad)} tensor(s) of another dtype: " + ", ".join(bad[:limit]) + more


def check_state_dict(
    expected: Mapping[str, torch.Size | tuple[int, ...]], got: Mapping[str, torch.Tensor], limit: int = 5
) -> str:
    """Compare key sets and shapes; '' when they match, else one line naming the first few differences."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f"{k} {tuple(got[k].shape)} vs {tuple(expected[k])} expected" for k in expected
              if k in got and tuple(got[k].shape) != tuple(expected[k])]

    def _few(items: list[str]) -> str:
        more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
        return ", ".join(items[:limit]) + more

    parts = []
    if missing:
        parts.append(f"{len(missing)} missing key(s): {_few(missing)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s): {_few(unexpected)}")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatch(es): {_few(shapes)}")
    return "; ".join(parts)


def load_network(
    module: torch.nn.Module,
    key: str,
    weights_dir: str | os.PathLike | None = None,
    rename: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    *,
    convert: Converter | None = None,
) -> torch.nn.Module:
    """Load ``key``'s weights into ``module`` with ``strict=True`` and return it (see ``load_into``)."""
    load_into(module, key, weights_dir, rename, convert=convert)
    return module


def load_into(
    module: torch.nn.Module,
    key: str,
    weights_dir: str | os.PathLike | None = None,
    rename: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    *,
    convert: Converter | None = None,
) -> ResolvedWeights:
    """Load ``key``'s weights into ``module`` with ``strict=True``; where they came from.

    Args:
        rename: optional ``state_dict -> state_dict`` function (the one place a key rename lives).
        convert: the method's converter of this network's original (needed once for a mirror, see ``resolve``).

    Returns:
        The ``ResolvedWeights`` (path, origin, sha256, verified); ``entry.synthetic`` is also set for files whose
        safetensors metadata says they are random.

    Raises:
        WeightsError: naming missing/unexpected keys and shape mismatches and the file that was read.
    """
    r = resolve(key, weights_dir, convert=convert)
    sd = _read_tensors(r)
    if rename is not None:
        sd = rename(sd)
    own = module.state_dict()
    expected = {k: v.shape for k, v in own.items()}
    diff = check_state_dict(expected, sd)
    if diff:
        raise WeightsError(f"{head(r.entry)} from {r.path} do not fit {type(module).__name__}: {diff}. The file is "
                           f"not a {r.entry.method} {r.entry.network} checkpoint, or it needs a key rename.")
    wrong = check_tensor_dtypes({k: v.dtype for k, v in own.items()}, sd)
    if wrong:  # load_state_dict would cast them silently (int8 or float16 weights run as if they were the trained ones)
        raise WeightsError(f"{head(r.entry)} from {r.path} do not fit {type(module).__name__}: {wrong}. Re-create "
                           f"the file with `{convert_command(key)}` from the authors' float32 original.")
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{head(r.entry)} from {r.path} could not be loaded into {type(module).__name__}: "
                           f"{first_line(exc)}") from None
    if not r.entry.synthetic and marked_random(r.path):
        r = dataclasses.replace(r, entry=dataclasses.replace(r.entry, synthetic=True))
    return r

