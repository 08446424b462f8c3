"""Checkpoint converter: the authors' ``.pth`` files (of every registered method, and the OpenPose body model) to
safetensors in vton's local weights-folder layout, plus publishing and random weights.

Checkpoints are read by :mod:`vton.checkpoints` (``torch.load(weights_only=True)``, the one place vton unpickles).
Which networks a method has, their expected keys and shapes and any key rename come from the method's card and
its ``Method.build_network`` / ``Method.adapt_state_dict`` (:mod:`vton.methods`); nothing here names a method.
The converted folder carries a ``manifest.json`` with the new files' sha256 (read by ``vton.weights``) and a Hub
model card, ready for ``upload_folder``. Every input is recognised by its sha256 against the authors' originals the
manifest records (``original``): "recognised: the authors' <file>" or "not a known release of <method>"; the
original's sha256 goes into the folder's manifest and the model card either way.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import shlex
import sys
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from vton import weights
from vton.checkpoints import atomic_save, convert_pth_file, read_checkpoint
from vton.errors import InputError, WeightsError

__all__ = [
    "Recognition",
    "known_originals",
    "recognise",
    "tool_version",
    "read_checkpoint",
    "convert_pth_file",
    "convert_checkpoint",
    "checked_state_dict",
    "identify_method",
    "declared_random",
    "upload_folder",
    "hub_upload",
    "check_upload",
    "write_random_weights",
    "write_random_estimators",
    "add_convert_parser",
    "run_convert",
    "add_random_weights_parser",
    "run_random_weights",
]

log = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_HUB_LICENCE = {"mit": "mit", "cc-by-nc-sa-4.0": "cc-by-nc-sa-4.0", "cc-by-nc-4.0": "cc-by-nc-4.0"}


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


def method_network(key: str):
    """``(Method, network name)`` of the registered method whose card lists manifest ``key``; None if none does."""
    from vton import methods

    for c in methods.cards():
        for name, k in c.weights:
            if k == key:
                return methods.create(c.id), name
    return None


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
    orig = weights._original_name(e)
    base = dict(key=key, method=e.method, file=pth.name, sha256=sha, bytes=pth.stat().st_size, original_file=orig,
                expected=expected)
    if sha in table:
        k, name = table[sha]
        return Recognition(**base, known_as=name) if k == key else Recognition(**base, other_key=k)
    return Recognition(**base)


def tool_version() -> str:
    """The converter's version line recorded in folder manifests and model cards."""
    import safetensors

    import vton

    return f"vton {vton.__version__} (vton convert), torch {torch.__version__}, safetensors {safetensors.__version__}"


def _read_local_manifest(folder: Path) -> dict:
    path = folder / weights.LOCAL_MANIFEST
    if not path.is_file():
        return {"schema_version": 1, "entries": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WeightsError(f"The local manifest {path} is not valid JSON ({exc}); fix or delete it.") from None
    data.setdefault("entries", {})
    return data


def _write_local_manifest(folder: Path, data: dict) -> Path:
    path = folder / weights.LOCAL_MANIFEST
    data["entries"] = dict(sorted(data["entries"].items()))
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _method_card(method: str):
    """The registry card of a manifest ``method`` field, or None (the estimators have no card)."""
    from vton import methods

    try:
        return methods.card(method)
    except InputError:
        return None


def _model_card(folder: Path, data: dict) -> Path:
    """Write ``README.md`` for a converted (or generated) folder from its local manifest: per network the paper,
    the authors' repository, download page and licence, the original file's sha256 and whether it is a known
    release, the conversion command and the tool's version."""
    table = weights.manifest()
    keys = [k for k in data["entries"] if k in table]
    base = [table[k] for k in keys]
    synthetic = any(data["entries"][k].get("synthetic") for k in keys)
    lic_ids = {e.licence_id for e in base}
    lic = _HUB_LICENCE.get(next(iter(lic_ids)), "other") if len(lic_ids) == 1 else "other"
    methods = sorted({e.method for e in base})
    lines = ["---", f"license: {lic}"]
    if lic == "other":
        lines += ["license_name: see-below"]
    lines += ["library_name: vton", "tags:", "- virtual-try-on", *[f"- {m}" for m in methods], "- safetensors"]
    if synthetic:
        lines += ["- random-weights"]
    lines += ["---", ""]
    title = ", ".join(methods)
    if synthetic:
        lines += [f"# RANDOM weights for {title} (testing only)", "",
                  "**THESE ARE RANDOM WEIGHTS.** They were generated by `python -m vton random-weights` to test the "
                  "plumbing (loading, shapes, the pipeline, the UI). They were never trained: **every try-on made "
                  "with them is noise.** Do not publish them as a model.", ""]
    else:
        lines += [f"# {title}: the authors' checkpoints as safetensors", "",
                  "Converted by [vton](https://github.com/vton-lab/vton) from the authors' released `.pth` files, "
                  "tensors unchanged (only the DataParallel `module.` prefix removed and `num_batches_tracked` added "
                  "where an old torch omitted it). Load them with `vton.weights.load_network`.", ""]
        for m in methods:
            c = _method_card(m)
            if c is not None:
                lines += [f"- **{c.title}**: {c.paper}", f"  - authors' repository: {c.repo}",
                          f"  - licence: {c.licence}"]
        lines += [""]
    for k in keys:
        e, loc = table[k], data["entries"][k]
        lines += [f"## `{k}`: {loc.get('file', e.filename)}", "",
                  f"- {e.description}",
                  f"- sha256: `{loc.get('sha256')}` ({loc.get('bytes')} bytes)",
                  f"- original: {e.source}"]
        if e.download_page:
            lines += [f"- the authors' download page: {e.download_page}"]
        conv = loc.get("converted_from")
        if conv:
            known = (f"recognised: the authors' {conv['recognised']}" if conv.get("recognised")
                     else f"NOT a known release: {conv.get('status', 'unrecognised')}")
            size = f", {conv['bytes']} bytes" if conv.get("bytes") else ""
            lines += [f"- original file: `{conv.get('file')}`, sha256 `{conv.get('sha256')}`{size} ({known})",
                      f"- conversion command: `{conv.get('command')}`",
                      f"- converted with: {conv.get('tool', 'vton')}"]
        lines += [f"- licence: {e.licence}", ""]
    lines += ["## Licence", ""]
    for text in dict.fromkeys(e.licence for e in base):
        lines += [f"- {text}"]
    lines += ["", "Use vton's `weights/manifest.json` to pin these files by revision and sha256.", ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _target_name(e: weights.WeightEntry) -> str:
    stem = e.filename.rsplit(".", 1)[0]
    return f"{stem}.safetensors"


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
    out = atomic_save(sd, folder / _target_name(e), meta)
    data = _read_local_manifest(folder)
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
    _write_local_manifest(folder, data)
    _model_card(folder, data)
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
    if pth.suffix == ".safetensors" and weights._random_metadata(pth):
        return f"{pth.name}'s metadata marks it random"
    local = pth.parent / weights.LOCAL_MANIFEST
    if not local.is_file():
        return ""
    try:
        data = json.loads(local.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    rows = data.get("entries") if isinstance(data, dict) else None
    for k, row in (rows or {}).items():
        if isinstance(row, dict) and row.get("synthetic") and str(row.get("file", "")).rsplit("/", 1)[-1] == pth.name:
            return f"{local} declares {pth.name} ({k}) synthetic"
    return ""


# ----------------------------------------------------------------------------------------------------------------
# publishing


def check_upload(folder: str | os.PathLike, repo_id: str) -> dict:
    """The folder manifest's entries of a converted folder about to be uploaded to ``repo_id``.

    Raises:
        InputError: not a converted folder, RANDOM weights, or a malformed ``repo_id``.
    """
    folder = Path(folder)
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
        raise InputError(f"Hub repo id {repo_id!r} is not of the form 'owner/name'.")
    if not (folder / weights.LOCAL_MANIFEST).is_file():
        raise InputError(f"{folder} is not a converted weights folder (no {weights.LOCAL_MANIFEST}); run "
                         "`python -m vton convert ... --out DIR` and upload DIR/<folder>.")
    entries = _read_local_manifest(folder)["entries"]
    if any(v.get("synthetic") for v in entries.values()):
        raise InputError(f"{folder} holds RANDOM weights (written by random-weights); they must not be published.")
    return entries


def hub_upload(folder: str | os.PathLike, repo_id: str, *, token: str | None = None, revision: str | None = None,
               private: bool = False, commit_message: str | None = None):
    """Create ``repo_id`` if needed and upload ``folder`` to its root in one commit (``huggingface_hub.HfApi``).

    Returns:
        the ``huggingface_hub.CommitInfo`` of the commit (``oid`` is the revision to pin).

    Raises:
        InputError: see ``check_upload``. WeightsError: offline (``HF_HUB_OFFLINE=1``), not logged in, any Hub
        failure, or an answer without a commit id.
    """
    folder = Path(folder)
    entries = check_upload(folder, repo_id)
    if weights.hub_offline():
        raise WeightsError(f"Cannot upload {folder} to the Hub repo {repo_id}: HF_HUB_OFFLINE=1 is set (offline "
                           "mode). Unset it, log in with `hf auth login` (or pass a token) and retry.")
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model", revision=revision,
                                 commit_message=commit_message or f"vton: upload {', '.join(entries)}")
    except Exception as exc:  # noqa: BLE001 - every Hub/HTTP/auth failure becomes one readable message
        raise WeightsError(f"Uploading {folder} to the Hub repo {repo_id} failed ({type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no details'}). Check the "
                           "connection, that you are logged in (`hf auth login`) and may write to that repo.") from None
    sha = getattr(info, "oid", None)
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{40}", sha):
        raise WeightsError(f"The Hub accepted the upload of {folder} to {repo_id} but answered no commit id "
                           f"({info!r}); look up the commit on https://huggingface.co/{repo_id}/commits/main and pin "
                           "it in weights/manifest.json by hand.")
    return info


def upload_folder(folder: str | os.PathLike, repo_id: str, *, token: str | None = None, revision: str | None = None,
                  private: bool = False) -> str:
    """Publish a converted folder to a Hub model repo; returns the commit sha and prints the manifest lines to pin
    (``python -m vton publish`` does the conversion, the upload and the pinning in one step).

    Raises:
        InputError: not a converted folder, or a malformed ``repo_id``.
        WeightsError: offline (``HF_HUB_OFFLINE=1``), not logged in, or any Hub failure.
    """
    folder = Path(folder)
    info = hub_upload(folder, repo_id, token=token, revision=revision, private=private)
    entries = _read_local_manifest(folder)["entries"]
    sha = info.oid
    print(f"Uploaded {folder} to https://huggingface.co/{repo_id} at commit {sha}. Pin in weights/manifest.json:")
    for k, v in entries.items():
        print(f'  "{k}": "repo": "{repo_id}", "file": "{v.get("file")}", "revision": "{sha}", '
              f'"sha256": "{v.get("sha256")}", "bytes": {v.get("bytes")}')
    return sha


# ----------------------------------------------------------------------------------------------------------------
# random weights (plumbing tests only)


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


def methods_with_weights() -> tuple[str, ...]:
    """Ids of the registered methods that have networks (the training-free ones have nothing to write)."""
    from vton import methods

    return tuple(c.id for c in methods.cards() if c.weights)


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
    from vton.datasets import check_output_dir

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
            data = folders.setdefault(folder, _read_local_manifest(folder))
            out = atomic_save(sd, folder / _target_name(e),
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
            _write_local_manifest(folder, data)
            _model_card(folder, data)
    return out_dir


# ----------------------------------------------------------------------------------------------------------------
# CLI pieces (wired into `python -m vton` by vton/cli.py)


def _network_flags() -> dict[str, list[str]]:
    """Every network name of the registered cards → the method ids that have it (for ``--<network> PATH``)."""
    from vton import methods

    flags: dict[str, list[str]] = {}
    for c in methods.cards():
        for name, _ in c.weights:
            flags.setdefault(name, []).append(c.id)
    return flags


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``convert``; the handler is ``run_convert`` (also set as ``func`` default)."""
    flags = _network_flags()
    p = subparsers.add_parser(
        "convert", help="convert the authors' .pth checkpoints to a local safetensors weights folder",
        description="Convert the authors' checkpoints (torch.load with weights_only=True) into "
                    "OUT/<folder>/*.safetensors with a manifest.json (sha256) and a model card. Either --method "
                    "with one --<network> PATH per network, or --key with --checkpoint.")
    p.add_argument("--method", choices=methods_with_weights(), help="the method whose checkpoints these are")
    for name, owners in flags.items():
        p.add_argument(f"--{name}", type=Path, metavar="PATH", dest=f"net_{name}",
                       help=f"the authors' {name} checkpoint ({', '.join(owners)})")
    p.add_argument("--key", choices=tuple(weights.manifest()), help="a manifest key, for a single checkpoint")
    p.add_argument("--checkpoint", type=Path, metavar="PATH", help="the checkpoint for --key")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help=f"local weights folder to write (default ${weights.WEIGHTS_DIR_ENV})")
    p.add_argument("--upload", metavar="REPO_ID", help="also publish the written folder(s) to this Hub repo")
    p.set_defaults(func=run_convert)
    return p


def _convert_jobs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    from vton import methods

    given = {k[len("net_"):]: v for k, v in vars(args).items() if k.startswith("net_") and v is not None}
    if args.method and args.key:
        raise InputError("Give either --method with its --<network> PATH options, or --key with --checkpoint, "
                         "not both.")
    if args.method:
        c = methods.card(args.method)
        names = [n for n, _ in c.weights]
        foreign = sorted(set(given) - set(names))
        if foreign:
            raise InputError(f"--method {args.method} has the networks {', '.join(names)}; "
                             f"{', '.join('--' + f for f in foreign)} belong(s) to another method.")
        jobs = [(key, given[name]) for name, key in c.weights if name in given]
        if not jobs:
            raise InputError(f"--method {args.method} needs " + " and/or ".join(f"--{n} PATH" for n in names) + ".")
        if args.checkpoint is not None:
            raise InputError(f"--checkpoint goes with --key; with --method use {', '.join('--' + n for n in names)}.")
        return jobs
    if given:
        raise InputError(f"{', '.join('--' + g for g in given)} need(s) --method.")
    if args.key:
        if args.checkpoint is None:
            raise InputError(f"--key {args.key} needs --checkpoint PATH.")
        return [(args.key, args.checkpoint)]
    raise InputError("Nothing to convert: give --method METHOD with its --<network> PATH options, or --key with "
                     "--checkpoint.")


def run_convert(args: argparse.Namespace) -> int:
    """Handler of ``vton convert``: converts, prints what was written, optionally uploads. Returns 0."""
    jobs = _convert_jobs(args)
    out_dir = weights.weights_dir_from_env(args.out)
    if out_dir is None:
        raise InputError(f"Where to write? Pass --out DIR (or set {weights.WEIGHTS_DIR_ENV}).")
    folders = []
    for key, pth in jobs:
        flag = f"--{weights.entry(key).network}" if args.method else "--checkpoint"
        head = f"--method {args.method}" if args.method else f"--key {key}"
        cmd = f"python -m vton convert {head} {flag} {shlex.quote(Path(pth).name)} --out OUT_DIR"
        notes: list[str] = []
        path = convert_checkpoint(pth, key, out_dir, command=cmd, notes=notes)
        for n in notes:
            print(f"{key}: {n}")
        info = json.loads((path.parent / weights.LOCAL_MANIFEST).read_text(encoding="utf-8"))["entries"][key]
        print(f"{key}: {pth} -> {path} ({info['bytes']} bytes, sha256 {info['sha256']})")
        if path.parent not in folders:
            folders.append(path.parent)
    for folder in folders:
        print(f"wrote {folder / weights.LOCAL_MANIFEST} and {folder / 'README.md'}")
    print(f"use it with --weights-dir {out_dir} (or {weights.WEIGHTS_DIR_ENV}={out_dir})")
    if args.upload:
        for folder in folders:
            upload_folder(folder, args.upload)
    return 0


def add_random_weights_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``random-weights DIR``; the handler is ``run_random_weights``."""
    choices = methods_with_weights()
    p = subparsers.add_parser(
        "random-weights", help="write RANDOM weights for every method (testing only: the output is noise)",
        description="Write deterministic RANDOM weights into a local weights folder, to test loading and the "
                    "pipeline without the real checkpoints (and, with --estimators, the pose and parsing "
                    "estimators: the whole chain from raw photos runs without the Hub). The try-on output is noise.")
    p.add_argument("dir", type=Path, metavar="DIR", help="local weights folder to write")
    p.add_argument("--methods", nargs="*", default=list(choices), choices=choices,
                   help="the methods to write (default: all; give none with --estimators to write only those)")
    p.add_argument("--estimators", action="store_true",
                   help="also write RANDOM OpenPose body weights and SCHP-shaped LIP/ATR ONNX parsers")
    p.add_argument("--eval-backbones", action="store_true",
                   help="also write RANDOM stand-ins of the evaluate metric backbones (LPIPS AlexNet, FID Inception)")
    p.add_argument("--estimator-size", choices=("tiny", "real"), default="tiny",
                   help="the parsers' size: tiny (fast, default) or real (SCHP's size and cost, ~267 MB each)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_random_weights)
    return p


def write_random_estimators(out_dir: str | os.PathLike, *, size: str = "tiny", seed: int = 0) -> dict[str, Path]:
    """RANDOM OpenPose body weights and SCHP-shaped ONNX parsers in ``out_dir``, declared (sha256, ``synthetic``) in
    each folder's manifest (``vton.preprocess.standins.write_random_estimators``); ``{manifest key: file}``."""
    from vton.preprocess.standins import write_random_estimators as _write

    return _write(out_dir, size=size, seed=seed)


def run_random_weights(args: argparse.Namespace) -> int:
    """Handler of ``vton random-weights``: writes the folder and prints where. Returns 0."""
    from vton import methods

    todo = tuple(args.methods)
    estimators = bool(getattr(args, "estimators", False))
    backbones = bool(getattr(args, "eval_backbones", False))
    if not todo and not estimators and not backbones:
        raise InputError("Nothing to write: give --methods METHOD ..., --estimators and/or --eval-backbones.")
    if estimators:
        from vton.preprocess.standins import require_onnx

        require_onnx()  # before anything is written (not even the folder): a failure leaves nothing behind
    from vton.datasets import check_output_dir

    out = check_output_dir(args.dir, "weights folder")  # a file, /proc or an overlong name: refused before writing
    if todo:
        write_random_weights(out, methods=todo, seed=args.seed)
    for method in todo:
        for _, key in methods.card(method).weights:
            e = weights.entry(key)
            print(f"{e.key}: {out / e.folder / _target_name(e)} (RANDOM, seed {args.seed})")
    if estimators:
        size = getattr(args, "estimator_size", "tiny")
        for key, path in write_random_estimators(out, size=size, seed=args.seed).items():
            print(f"{key}: {path} (RANDOM estimator stand-in, {size}, seed {args.seed})")
    if backbones:
        from vton.evaluate.backbones import write_random_backbones

        for key, path in write_random_backbones(out, seed=args.seed).items():
            print(f"{key}: {path} (RANDOM metric backbone stand-in, seed {args.seed})")
    print(f"RANDOM weights for testing only (output is noise). Use with --weights-dir {out}", file=sys.stderr)
    return 0
