"""Checkpoint converter: the authors' ``.pth`` files (CP-VTON sergeywong/cp-vton, CP-VTON+ minar09/cp-vton-plus,
the OpenPose body model) to safetensors in vton's local weights-folder layout, plus publishing and random weights.

This is the only module that calls ``torch.load``, always with ``weights_only=True``: a checkpoint that holds
Python objects beyond tensors and plain containers is refused. The converted folder carries a ``manifest.json``
with the new files' sha256 (read by ``vton.weights``) and a Hub model card, ready for ``upload_folder``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import pickle
import re
import shlex
import sys
import tempfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from safetensors.torch import save_file

from vton import weights
from vton.errors import InputError, WeightsError

__all__ = [
    "read_checkpoint",
    "convert_pth_file",
    "convert_checkpoint",
    "upload_folder",
    "write_random_weights",
    "add_convert_parser",
    "run_convert",
    "add_random_weights_parser",
    "run_random_weights",
]

log = logging.getLogger(__name__)

_WRAPPERS = ("state_dict", "model", "net", "network")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_HUB_LICENCE = {"mit": "mit", "cc-by-nc-sa-4.0": "cc-by-nc-sa-4.0"}


# ----------------------------------------------------------------------------------------------------------------
# reading


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
        pth: the ``.pth``/``.pt``/``.ckpt`` file.
        notes: if given, receives one line per adjustment made (also logged).

    Raises:
        InputError: the file is missing, not a checkpoint, or refused by the weights-only unpickler.
    """
    notes = [] if notes is None else notes
    pth = Path(pth)
    obj = _unwrap(_torch_load(pth), notes)
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


# ----------------------------------------------------------------------------------------------------------------
# writing


def _atomic_save(sd: dict[str, torch.Tensor], out: Path, metadata: dict[str, str]) -> Path:
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

    The safetensors metadata records ``original_sha256`` (the .pth's digest), which ``vton.weights`` uses to
    recognise an up-to-date cached conversion.
    """
    pth = Path(pth)
    sd = read_checkpoint(pth)
    meta = {"format": "pt", **dict(metadata or {}), "original_sha256": weights.file_sha256(pth)}
    return _atomic_save(sd, Path(out_safetensors), meta)


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
    try:
        from vton.models import build_network
    except ImportError as exc:
        notes.append(f"not checked against a network (vton.models unavailable: {exc})")
        return None
    try:
        net = build_network(e.method, e.network)
    except (KeyError, ValueError, InputError) as exc:
        notes.append(f"not checked against a network (no {e.method} {e.network} in vton.models: {exc})")
        return None
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


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


def _model_card(folder: Path, data: dict) -> Path:
    """Write ``README.md`` for a converted (or generated) folder from its local manifest."""
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
    for k in keys:
        e, loc = table[k], data["entries"][k]
        lines += [f"## `{k}`: {loc.get('file', e.filename)}", "",
                  f"- {e.description}",
                  f"- sha256: `{loc.get('sha256')}` ({loc.get('bytes')} bytes)",
                  f"- original: {e.source}"]
        conv = loc.get("converted_from")
        if conv:
            lines += [f"- original file: `{conv.get('file')}`, sha256 `{conv.get('sha256')}`",
                      f"- conversion command: `{conv.get('command')}`"]
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
    ``vton.models.build_network(method, network)`` when that network exists. The folder's ``manifest.json`` gets
    the new file's sha256 and size, and its ``README.md`` model card is rewritten.

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
    sd = read_checkpoint(pth, notes=notes)
    if expected_keys is None:
        expected = _expected_shapes(e, notes)
    elif isinstance(expected_keys, Mapping):
        expected = {k: tuple(int(s) for s in v) for k, v in expected_keys.items()}
    else:
        expected = {k: tuple(sd[k].shape) if k in sd else () for k in expected_keys}
    if expected is not None:
        diff = weights.check_state_dict(expected, sd)
        if diff:
            raise WeightsError(f"{pth} does not fit {key} ({e.method} {e.network}): {diff}. Is it the right file "
                               f"(expected the authors' {e.source})?")
    original_sha = weights.file_sha256(pth)
    folder = Path(out_dir) / e.folder
    out = _atomic_save(sd, folder / _target_name(e),
                       {"format": "pt", "vton_key": key, "original_sha256": original_sha})
    data = _read_local_manifest(folder)
    cmd = command or f"python -m vton convert --key {key} --checkpoint {shlex.quote(pth.name)} --out OUT_DIR"
    data["entries"][key] = {
        "file": out.name,
        "format": "safetensors",
        "sha256": weights.file_sha256(out),
        "bytes": out.stat().st_size,
        "converted_from": {"file": pth.name, "sha256": original_sha, "command": cmd},
    }
    _write_local_manifest(folder, data)
    _model_card(folder, data)
    for n in notes:
        log.info("%s: %s", key, n)
    return out


# ----------------------------------------------------------------------------------------------------------------
# publishing


def upload_folder(folder: str | os.PathLike, repo_id: str, *, token: str | None = None, revision: str | None = None,
                  private: bool = False) -> str:
    """Publish a converted folder to a Hub model repo; returns the commit sha and prints the manifest lines to pin.

    Raises:
        InputError: not a converted folder, or a malformed ``repo_id``.
        WeightsError: offline (``HF_HUB_OFFLINE=1``), not logged in, or any Hub failure.
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
    if weights.hub_offline():
        raise WeightsError(f"Cannot upload {folder} to the Hub repo {repo_id}: HF_HUB_OFFLINE=1 is set (offline "
                           "mode). Unset it, log in with `hf auth login` (or pass a token) and retry.")
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                                 commit_message=f"vton: upload {', '.join(entries)}")
    except Exception as exc:  # noqa: BLE001 - every Hub/HTTP/auth failure becomes one readable message
        raise WeightsError(f"Uploading {folder} to the Hub repo {repo_id} failed ({type(exc).__name__}: "
                           f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no details'}). Check the "
                           "connection, that you are logged in (`hf auth login`) and may write to that repo.") from None
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


def write_random_weights(out_dir: str | os.PathLike, methods: Iterable[str] = ("cp-vton", "cp-vton+"),
                         seed: int = 0) -> Path:
    """Write deterministic RANDOM weights for ``methods`` into a local weights folder (for tests of the plumbing).

    Each network comes from ``vton.models.build_network``, is re-initialised from a ``torch.Generator`` seeded with
    ``seed`` and the key's crc32, and saved as safetensors with a local ``manifest.json`` (sha256, ``synthetic``)
    and a README that says the output is noise.
    """
    from vton.models import NETWORKS, build_network

    out_dir = Path(out_dir)
    for method in methods:
        if method not in NETWORKS:
            raise InputError(f"Unknown method {method!r}; valid: {', '.join(NETWORKS)}.")
        folders: dict[Path, dict] = {}
        for network in NETWORKS[method]:
            key = f"{method}/{network}"
            e = weights.entry(key)
            g = torch.Generator().manual_seed(int(seed) * 1_000_003 + zlib.crc32(key.encode()))
            sd = _reinit(build_network(method, network).state_dict(), g)
            folder = out_dir / e.folder
            data = folders.setdefault(folder, _read_local_manifest(folder))
            out = _atomic_save(sd, folder / _target_name(e),
                               {"format": "pt", "vton_key": key, "random_seed": str(int(seed)),
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


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``convert``; the handler is ``run_convert`` (also set as ``func`` default)."""
    p = subparsers.add_parser(
        "convert", help="convert the authors' .pth checkpoints to a local safetensors weights folder",
        description="Convert the authors' checkpoints (torch.load with weights_only=True) into "
                    "OUT/<folder>/*.safetensors with a manifest.json (sha256) and a model card. Either --method "
                    "with --gmm/--tom, or --key with --checkpoint.")
    p.add_argument("--method", choices=("cp-vton", "cp-vton+"), help="CP-VTON or CP-VTON+ checkpoints")
    p.add_argument("--gmm", type=Path, metavar="PATH", help="the authors' gmm_final.pth")
    p.add_argument("--tom", type=Path, metavar="PATH", help="the authors' tom_final.pth")
    p.add_argument("--key", choices=weights.KEYS, help="a manifest key, for a single checkpoint")
    p.add_argument("--checkpoint", type=Path, metavar="PATH", help="the checkpoint for --key")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help=f"local weights folder to write (default ${weights.WEIGHTS_DIR_ENV})")
    p.add_argument("--upload", metavar="REPO_ID", help="also publish the written folder(s) to this Hub repo")
    p.set_defaults(func=run_convert)
    return p


def _convert_jobs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    if args.method and args.key:
        raise InputError("Give either --method with --gmm/--tom, or --key with --checkpoint, not both.")
    if args.method:
        jobs = [(f"{args.method}/{n}", getattr(args, n)) for n in ("gmm", "tom") if getattr(args, n) is not None]
        if not jobs:
            raise InputError(f"--method {args.method} needs --gmm PATH and/or --tom PATH.")
        if args.checkpoint is not None:
            raise InputError("--checkpoint goes with --key; with --method use --gmm/--tom.")
        return jobs
    if args.key:
        if args.checkpoint is None:
            raise InputError(f"--key {args.key} needs --checkpoint PATH.")
        return [(args.key, args.checkpoint)]
    raise InputError("Nothing to convert: give --method cp-vton|cp-vton+ with --gmm/--tom, or --key with --checkpoint.")


def run_convert(args: argparse.Namespace) -> int:
    """Handler of ``vton convert``: converts, prints what was written, optionally uploads. Returns 0."""
    jobs = _convert_jobs(args)
    out_dir = weights.weights_dir_from_env(args.out)
    if out_dir is None:
        raise InputError(f"Where to write? Pass --out DIR (or set {weights.WEIGHTS_DIR_ENV}).")
    folders = []
    for key, pth in jobs:
        flag = f"--{key.split('/')[1]}" if args.method else "--checkpoint"
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
    p = subparsers.add_parser(
        "random-weights", help="write RANDOM CP-VTON/CP-VTON+ weights (testing only: the output is noise)",
        description="Write deterministic RANDOM weights into a local weights folder, to test loading and the "
                    "pipeline without the real checkpoints. The try-on output is noise.")
    p.add_argument("dir", type=Path, metavar="DIR", help="local weights folder to write")
    p.add_argument("--methods", nargs="+", default=["cp-vton", "cp-vton+"], choices=("cp-vton", "cp-vton+"))
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_random_weights)
    return p


def run_random_weights(args: argparse.Namespace) -> int:
    """Handler of ``vton random-weights``: writes the folder and prints where. Returns 0."""
    out = write_random_weights(args.dir, methods=tuple(args.methods), seed=args.seed)
    for method in args.methods:
        for e in weights.entries_for(method):
            print(f"{e.key}: {out / e.folder / _target_name(e)} (RANDOM, seed {args.seed})")
    print(f"RANDOM weights for testing only (output is noise). Use with --weights-dir {out}", file=sys.stderr)
    return 0
