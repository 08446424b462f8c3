"""Checkpoint files: the one place vton unpickles (the authors' ``.pth`` read with ``torch.load(weights_only=True)``)
and the one place safetensors files are written.

A checkpoint that holds Python objects beyond tensors and plain containers is refused by the weights-only
unpickler. Everything vton loads at run time is safetensors; a ``.pth`` is read here only (a) by ``vton convert``,
(b) once for the OpenPose body model and (c) once for an authors' original fetched from a pinned mirror, in both
cases after its size and sha256 matched the manifest, to write a cached safetensors copy whose own sha256 is
recorded beside it and checked on every later load (:mod:`vton.weights.loading`, :mod:`vton.weights.resolving`).

A ``Converter`` turns a verified original into the state dict the network loads: ``read_checkpoint`` for a file
whose keys are the network's, a method's own converter (its key renames and shape checks) otherwise.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from safetensors.torch import save_file

from vton.errors import InputError

from .hashing import file_sha256

__all__ = ["Converter", "RANDOM_FLAG", "read_checkpoint", "convert_pth_file", "atomic_save", "marked_random"]

log = logging.getLogger(__name__)

_WRAPPERS = ("state_dict", "model", "net", "network")
RANDOM_FLAG = "vton_random"  # safetensors metadata of generated random weights (survives a lost manifest.json)

Converter = Callable[..., dict[str, torch.Tensor]]
"""``convert(original_path, notes=notes) -> state dict``: a verified authors' original as the network's tensors
(``notes`` receives one line per adjustment); ``read_checkpoint`` is one."""


def _torch_load(pth: Path) -> object:
    if not pth.is_file():
        raise InputError(f"Checkpoint {pth} does not exist.")
    try:
        return torch.load(str(pth), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise InputError(
            f"{pth} was refused by torch.load(weights_only=True): it holds Python objects or code, not just tensors "
            f"({_unpickler_reason(exc)}). It is not a plain "
            "checkpoint; vton never unpickles arbitrary objects. Re-save its state_dict (torch.save(model."
            "state_dict(), ...)) with code you trust, or use a safetensors file."
        ) from None
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file fails in many ways inside the unpickler
        raise InputError(f"{pth} is not a PyTorch checkpoint that torch.load can read ({type(exc).__name__}: "
                         f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no details'}).") from None


def _safetensors_load(path: Path) -> dict:
    """A safetensors file's tensors (no unpickling at all): ``convert`` accepts them as input too."""
    if not path.is_file():
        raise InputError(f"Checkpoint {path} does not exist.")
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise InputError(f"{path} is not a readable safetensors file ({type(exc).__name__}).") from None


def _unpickler_reason(exc: BaseException) -> str:
    m = re.search(r"WeightsUnpickler error: ([^.]*)", str(exc))
    return m.group(1).strip() if m else "the weights-only unpickler refused it"


def _unwrap(obj: object, notes: list[str]) -> Mapping:
    if not isinstance(obj, Mapping):
        raise InputError(f"The checkpoint holds a {type(obj).__name__}, not a state dict (a mapping of names to "
                         "tensors).")
    while True:
        inner = next((w for w in _WRAPPERS if isinstance(obj.get(w), Mapping)), None)
        if inner is None or any(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        others = [k for k in obj if k != inner]
        notes.append(f"unwrapped the {inner!r} entry" + (f"; skipped {', '.join(map(str, others))}" if others else ""))
        obj = obj[inner]


def read_checkpoint(pth: str | os.PathLike, *, notes: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Read an authors' checkpoint as a clean ``{name: tensor}`` dict.

    Handles ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers, ``module.`` prefixes (DataParallel), BatchNorm
    saved by old torch without ``num_batches_tracked`` (int64 zeros are added), and skips non-tensor entries.

    Args:
        pth: the ``.pth``/``.pt``/``.ckpt`` file (or a ``.safetensors`` file, read without unpickling).
        notes: if given, receives one line per adjustment made (also logged).

    Raises:
        InputError: the file is missing, not a checkpoint, or refused by the weights-only unpickler.
    """
    notes = [] if notes is None else notes
    pth = Path(pth)
    obj = _unwrap(_safetensors_load(pth) if pth.suffix == ".safetensors" else _torch_load(pth), notes)
    out: dict[str, torch.Tensor] = {}
    skipped = []
    for k, v in obj.items():
        if not isinstance(v, torch.Tensor):
            skipped.append(str(k))
            continue
        out[str(k)] = v
    if skipped:
        notes.append(f"skipped {len(skipped)} non-tensor entr{'y' if len(skipped) == 1 else 'ies'}: "
                     + ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else ""))
    if not out:
        raise InputError(f"{pth} holds no tensors; it is not a network checkpoint.")
    prefixed = [k for k in out if k.startswith("module.")]
    if prefixed:
        out = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in out.items()}
        notes.append(f"removed the DataParallel 'module.' prefix from {len(prefixed)} keys")
    out, added = _add_num_batches_tracked(out)
    if added:
        notes.append(f"added num_batches_tracked = 0 for {added} BatchNorm layer(s) saved by an old torch")
    for n in notes:
        log.info("%s: %s", pth.name, n)
    return _own_storage(out)


def _add_num_batches_tracked(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], int]:
    out: dict[str, torch.Tensor] = {}
    added = 0
    for k, v in sd.items():
        out[k] = v
        if k.endswith(".running_var"):
            nbt = k[: -len("running_var")] + "num_batches_tracked"
            if nbt not in sd and k[: -len("running_var")] + "running_mean" in sd:
                out[nbt] = torch.zeros((), dtype=torch.int64)
                added += 1
    for k in sd:  # a running_mean without running_var (unusual) still gets its counter
        if k.endswith(".running_mean"):
            nbt = k[: -len("running_mean")] + "num_batches_tracked"
            if nbt not in out:
                out[nbt] = torch.zeros((), dtype=torch.int64)
                added += 1
    return out, added


def _own_storage(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Contiguous tensors that share no storage (safetensors refuses shared or strided tensors)."""
    seen: set[int] = set()
    out = {}
    for k, v in sd.items():
        v = v.detach().cpu()
        ptr = v.untyped_storage().data_ptr() if v.numel() else -1
        if ptr in seen or not v.is_contiguous() or v.untyped_storage().nbytes() != v.numel() * v.element_size():
            v = v.contiguous().clone()
        elif ptr != -1:
            seen.add(ptr)
        out[k] = v
    return out


def atomic_save(sd: dict[str, torch.Tensor], out: Path, metadata: dict[str, str]) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        save_file(sd, tmp, metadata=metadata)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def convert_pth_file(pth: str | os.PathLike, out_safetensors: str | os.PathLike, *,
                     metadata: Mapping[str, str] | None = None) -> Path:
    """Low level: ``read_checkpoint(pth)`` written to ``out_safetensors`` (atomically).

    The safetensors metadata records ``original_sha256`` (the .pth's digest).
    """
    pth = Path(pth)
    sd = read_checkpoint(pth)
    meta = {"format": "pt", **dict(metadata or {}), "original_sha256": file_sha256(pth)}
    return atomic_save(sd, Path(out_safetensors), meta)


def marked_random(path: Path) -> bool:
    """True when a safetensors file's header says it holds generated random weights (reads the header only)."""
    if path.suffix != ".safetensors":
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return (f.metadata() or {}).get(RANDOM_FLAG) == "true"
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is loaded
        return False
