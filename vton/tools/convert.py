"""Checkpoint converter: the authors' ``.pth`` files (of every registered method, and the OpenPose body model) to
safetensors in vton's local weights-folder layout (:mod:`vton.tools.folder`).

Checkpoints are read by :mod:`vton.weights.checkpoint` (``torch.load(weights_only=True)``, the one place vton
unpickles). Which networks a method has, their expected keys and shapes and any key rename come from the method's
card and its ``Method.build_network`` / ``Method.adapt_state_dict`` (:mod:`vton.methods`); nothing here names a method.
The converted folder carries a ``manifest.json`` with the new files' sha256 (read by ``vton.weights``) and a Hub
model card, ready for :func:`vton.tools.publish.upload_folder`. Every input is recognised by its sha256 against the
authors' originals the manifest records (``original``): "recognised: the authors' <file>" or "not a known release
of <method>"; the original's sha256 goes into the folder's manifest and the model card either way.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from vton import weights
from vton.errors import InputError, WeightsError
from vton.weights.checkpoint import atomic_save, read_checkpoint

from .folder import target_name, tool_version, write_model_card
from .networks import method_network

__all__ = [
    "Recognition",
    "known_originals",
    "recognise",
    "convert_checkpoint",
    "checked_state_dict",
    "identify_method",
    "declared_random",
]

log = logging.getLogger(__name__)


def _openpose_shapes(notes: list[str]) -> dict[str, tuple[int, ...]] | None:
    """Checkpoint keys drop the first dotted component of the body network's names (``model0.conv1_1.weight``)."""
    try:
        from vton.preprocess.pose import build_body_model

        with torch.device("meta"):
            sd = build_body_model().state_dict()
    except Exception as exc:  # noqa: BLE001 - the body network is optional (controlnet-aux)
        notes.append(f"not checked against the OpenPose body network (unavailable: {exc})")
        return None
    return {k.split(".", 1)[1]: tuple(v.shape) for k, v in sd.items()}


def _expected_shapes(e: weights.WeightEntry, notes: list[str]) -> dict[str, tuple[int, ...]] | None:
    if e.key == "openpose/body":
        return _openpose_shapes(notes)
    found = method_network(e.key)
    if found is None:
        notes.append(f"not checked against a network (no registered method lists {e.key})")
        return None
    method, name = found
    return {k: tuple(v.shape) for k, v in method.build_network(name).state_dict().items()}


def _adapt(key: str, sd: dict[str, torch.Tensor], notes: list[str]) -> dict[str, torch.Tensor]:
    found = method_network(key)
    if found is None:
        return sd
    method, name = found
    sd, more = method.adapt_state_dict(name, sd)
    notes.extend(more)
    return sd


# ----------------------------------------------------------------------------------------------------------------
# recognising the authors' files


def known_originals() -> dict[str, tuple[str, str]]:
    """``{sha256: (manifest key, the authors' file name)}`` of every original the manifest knows the digest of."""
    out = {}
    for key, e in weights.manifest().items():
        orig = e.original or {}
        sha = orig.get("sha256")
        if isinstance(sha, str) and sha:
            out[sha] = (key, str(orig.get("file") or e.filename))
    return out


@dataclass(frozen=True)
class Recognition:
    """An input checkpoint identified by its sha256 against ``known_originals()``.

    ``known_as`` is the authors' file name when the digest is the original of ``key``; ``other_key`` the key whose
    original it is when it belongs to another network; ``expected`` the known digest(s) of ``key``'s original.
    """

    key: str
    method: str
    file: str
    sha256: str
    bytes: int
    original_file: str
    known_as: str | None = None
    other_key: str | None = None
    expected: tuple[str, ...] = ()

    @property
    def recognised(self) -> bool:
        return self.known_as is not None

    @property
    def message(self) -> str:
        if self.recognised:
            return f"recognised: the authors' {self.known_as} (sha256 {self.sha256})"
        if self.other_key is not None:
            return f"not a known release of {self.method} {self.key}: it is the authors' original of {self.other_key}"
        known = (f"the authors' {self.original_file} has sha256 {' or '.join(self.expected)}" if self.expected
                 else f"vton knows no sha256 of the authors' {self.original_file} yet")
        return f"not a known release of {self.method} (sha256 {self.sha256}; {known})"

    def as_record(self) -> dict:
        """The ``converted_from`` fields of the folder manifest (besides the command)."""
        return {"file": self.file, "sha256": self.sha256, "bytes": self.bytes,
                "recognised": self.known_as if self.recognised else None, "status": self.message}


def recognise(pth: str | os.PathLike, key: str) -> Recognition:
    """Identify ``pth`` (a checkpoint given for manifest ``key``) by its sha256."""
    pth = Path(pth)
    if not pth.is_file():
        raise InputError(f"Checkpoint {pth} does not exist.")
    e = weights.entry(key)
    sha = weights.file_sha256(pth)
    table = known_originals()
    expected = tuple(s for s, (k, _) in table.items() if k == key)
    orig = weights.original_name(e)
    base = dict(key=key, method=e.method, file=pth.name, sha256=sha, bytes=pth.stat().st_size, original_file=orig,
                expected=expected)
    if sha in table:
        k, name = table[sha]
        return Recognition(**base, known_as=name) if k == key else Recognition(**base, other_key=k)
    return Recognition(**base)


def convert_checkpoint(pth: str | os.PathLike, key: str, out_dir: str | os.PathLike, *,
                       expected_keys: Mapping[str, Iterable[int]] | Iterable[str] | None = None,
                       command: str | None = None, notes: list[str] | None = None) -> Path:
    """Convert an authors' checkpoint for manifest ``key`` into ``<out_dir>/<folder>/<name>.safetensors``.

    Keys and shapes are checked against ``expected_keys`` (``{key: shape}`` or a key list) or, by default, against
    the network of the registered method whose card lists ``key`` (after its ``adapt_state_dict``). The folder's
    ``manifest.json`` gets the new file's sha256 and size, and its ``README.md`` model card is rewritten.

    Args:
        command: the command line recorded in the model card (default: the generic ``--key`` form).
        notes: if given, receives the adjustments made and whether the network check ran.

    Returns:
        the path of the safetensors file written.

    Raises:
        InputError: unreadable checkpoint. WeightsError: keys or shapes that do not fit the network.
    """
    pth = Path(pth)
    e = weights.entry(key)
    if e.format == "onnx":
        raise InputError(f"{key} is an ONNX model: there is nothing to convert. Place {e.filename} at "
                         f"<weights dir>/{e.folder}/{e.filename} (Hub: {e.repo}, {e.file}).")
    notes = [] if notes is None else notes
    rec = recognise(pth, key)
    if rec.other_key is not None:
        raise InputError(f"{pth} is the authors' original of {rec.other_key} (sha256 {rec.sha256}), not of {key}: "
                         f"give it as --{weights.entry(rec.other_key).network} of "
                         f"--method {weights.entry(rec.other_key).method}.")
    notes.append(rec.message)
    random = declared_random(pth)
    if random:
        notes.append(f"RANDOM: {random}; the output stays marked RANDOM (its output is noise)")
    sd = checked_state_dict(pth, key, notes, expected_keys=expected_keys)
    folder = Path(out_dir) / e.folder
    meta = {"format": "pt", "vton_key": key, "original_sha256": rec.sha256}
    if random:
        meta.update({weights.RANDOM_FLAG: "true", "warning": "RANDOM weights for testing; output is noise"})
    out = atomic_save(sd, folder / target_name(e), meta)
    data = weights.read_local_manifest(folder)
    cmd = command or f"python -m vton convert --key {key} --checkpoint {shlex.quote(pth.name)} --out OUT_DIR"
    data["entries"][key] = {
        "file": out.name,
        "format": "safetensors",
        "sha256": weights.file_sha256(out),
        "bytes": out.stat().st_size,
        "converted_from": {**rec.as_record(), "command": cmd, "tool": tool_version()},
    }
    if random:
        data["entries"][key].update({"synthetic": True, "description": f"RANDOM weights converted from {pth.name} "
                                     f"({random}); for testing the plumbing only, the output is noise."})
    weights.write_local_manifest(folder, data)
    write_model_card(folder, data)
    for n in notes:
        log.info("%s: %s", key, n)
    return out


def checked_state_dict(pth: str | os.PathLike, key: str, notes: list[str] | None = None, *,
                       expected_keys: Mapping[str, Iterable[int]] | Iterable[str] | None = None
                       ) -> dict[str, torch.Tensor]:
    """The method's converter for manifest ``key``: ``read_checkpoint`` (``torch.load(weights_only=True)``, once),
    the method's ``adapt_state_dict``, and every key and shape checked against its network (or ``expected_keys``).

    A checkpoint whose shapes fit another registered method's network instead is named by its shapes and refused
    ("this is a CP-VTON+ TOM (26 input channels), not CP-VTON's"): a file's method is decided by its shapes.

    Raises:
        InputError: unreadable checkpoint. WeightsError: keys or shapes that do not fit the network.
    """
    pth = Path(pth)
    e = weights.entry(key)
    notes = [] if notes is None else notes
    raw = read_checkpoint(pth, notes=notes)
    sd = _adapt(key, dict(raw), notes)
    if expected_keys is None:
        expected = _expected_shapes(e, notes)
    elif isinstance(expected_keys, Mapping):
        expected = {k: tuple(int(s) for s in v) for k, v in expected_keys.items()}
    else:
        expected = {k: tuple(sd[k].shape) if k in sd else () for k in expected_keys}
    if expected is not None:
        diff = weights.check_state_dict(expected, sd)
        if diff:
            other = identify_method(raw, key) if expected_keys is None else None
            raise WeightsError(f"{pth} does not fit {key} ({e.method} {e.network}): "
                               + (f"{other}. " if other else "")
                               + f"{diff}. Is it the right file (expected the authors' {e.source})?")
    return {k: v.contiguous() for k, v in sd.items()}  # a recomputed tensor may be a view: safetensors refuses


def _in_channels(shapes: Mapping[str, tuple[int, ...]], other: Mapping[str, tuple[int, ...]]) -> str:
    """The input channels that tell two variants of a network apart: " (26 input channels)" when their first
    convolutions differ, " (3 input channels at <layer>)" when a later one does first; '' when none does."""
    convs = [k for k, s in shapes.items() if k.endswith("weight") and len(s) == 4]
    for i, k in enumerate(convs):
        theirs = other.get(k)
        if theirs is not None and len(theirs) == 4 and theirs[1] != shapes[k][1]:
            return f" ({shapes[k][1]} input channels)" if i == 0 else f" ({shapes[k][1]} input channels at {k})"
    return ""


def identify_method(raw: Mapping[str, torch.Tensor], key: str) -> str:
    """'' or, when ``raw`` (a checkpoint's tensors) fits another registered method's network exactly, the sentence
    naming it by its shapes, e.g. "this is a CP-VTON+ TOM (26 input channels), not CP-VTON's"."""
    from vton import methods

    target = method_network(key)
    if target is None:
        return ""
    mine, name = target
    own = {k: tuple(v.shape) for k, v in mine.build_network(name).state_dict().items()}
    for c in methods.cards():
        for net, other_key in c.weights:
            if other_key == key or net != name:
                continue
            m = methods.create(c.id)
            try:
                sd, _ = m.adapt_state_dict(net, dict(raw))
                shapes = {k: tuple(v.shape) for k, v in m.build_network(net).state_dict().items()}
            except Exception:  # noqa: BLE001 - a candidate that cannot even be built or adapted does not fit
                continue
            if weights.check_state_dict(shapes, sd):
                continue
            return f"this is a {c.title} {net.upper()}{_in_channels(shapes, own)}, not {mine.card.title}'s"
    return ""


def declared_random(pth: str | os.PathLike) -> str:
    """'' or why ``pth`` holds RANDOM weights: its folder's ``manifest.json`` declares it ``synthetic`` (what
    ``random-weights`` writes), or its safetensors metadata says so."""
    pth = Path(pth)
    if pth.suffix == ".safetensors" and weights.marked_random(pth):
        return f"{pth.name}'s metadata marks it random"
    local = pth.parent / weights.LOCAL_MANIFEST
    try:
        rows = weights.read_local_manifest(pth.parent)["entries"]
    except WeightsError:
        return ""
    for k, row in rows.items():
        if isinstance(row, dict) and row.get("synthetic") and str(row.get("file", "")).rsplit("/", 1)[-1] == pth.name:
            return f"{local} declares {pth.name} ({k}) synthetic"
    return ""
