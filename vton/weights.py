"""The one weights loader: a pinned manifest (``weights/manifest.json``), a local folder, the Hugging Face Hub.

Every network vton runs (each method's networks, the OpenPose body model, the SCHP parsers) is one
manifest entry: Hub repo, file, pinned revision, sha256, licence and the authors' original file. Weights are
looked up in this order:

1. a local folder (``weights_dir=`` / ``--weights-dir``, else ``$VTON_WEIGHTS_DIR``) laid out as
   ``<dir>/<folder>/<file name>``; the folder may hold a ``manifest.json`` (same schema, a subset of keys)
   whose entries override the built-in ones for that folder (converted or generated weights declare their
   sha256 there);
2. the Hub, with ``huggingface_hub.hf_hub_download`` at the pinned revision (never an unpinned one).

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

import dataclasses
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
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
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("method", "network", "folder", "repo", "file", "revision", "sha256", "format", "bytes", "licence",
             "source", "description")


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

    ``origin`` is ``"local"`` (the weights folder) or ``"hub"`` (the Hugging Face cache); ``sha256`` is the file's
    actual digest; ``verified`` is False only when no manifest gave a digest to compare with.
    """

    key: str
    path: Path
    origin: str
    sha256: str
    verified: bool
    entry: WeightEntry


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
    e = WeightEntry(key=key, **{k: fields[k] for k in fields})
    _validate_entry(e, where)
    return e


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
    changes = {k: v for k, v in over.items() if k not in fixed}
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

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def _hash_file(path: Path, chunk: int = 1 << 22) -> str:
    from vton.checkpoints import file_sha256 as digest

    return digest(path, chunk)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file, read in 4 MiB chunks; cached per (real path, size, mtime) within the process."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
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
            if status.get(k) == "unpublished" or (status.get(k) == "hub" and offline)]


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
    where = (f"not in the local weights folder {root}" if root is not None else
             f"no local weights folder is set (--weights-dir or {WEIGHTS_DIR_ENV})")
    lines, grouped = [], {}
    for k in todo:
        e = entry(k)
        if status.get(k) == "hub":
            lines.append(f"{k}: {offline_reason()}; download {e.hub_url} into WEIGHTS_DIR/{e.folder}/{e.filename}")
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
    """Find, and sha256-verify, the file of ``key``: the local folder first, then the Hub at the pinned revision.

    Args:
        key: a manifest key, e.g. ``"openpose/body"``.
        weights_dir: local weights folder; default ``$VTON_WEIGHTS_DIR``.
        download: when False only the local folder and the Hugging Face cache are looked at.

    Returns:
        ``ResolvedWeights`` (path, origin, actual sha256, whether it was verified).

    Raises:
        WeightsError: unpublished and not local, offline and not cached, wrong hash, or a Hub failure.
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
    if not base.published:
        raise _unpublished_error(base, root)
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


def prepare_converted(weights_dir: str | os.PathLike | None = None, *, download: bool = True) -> list[Path]:
    """Convert every available ``pth`` entry ahead of time (``python -m vton prepare``); the files made ready."""
    out = []
    for key, e in manifest().items():
        if e.format != "pth":
            continue
        try:
            r = resolve(key, weights_dir, download=download)
        except WeightsError as exc:
            log.warning("%s", exc)
            continue
        out.append(_pth_as_safetensors(r))
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
        return load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise WeightsError(f"{_head(r.entry)}: {path} is not a readable safetensors file ({_first_line(exc)}). "
                           f"Re-create it with `{convert_command(key)}`.") from None


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
    expected = {k: v.shape for k, v in module.state_dict().items()}
    diff = check_state_dict(expected, sd)
    if diff:
        raise WeightsError(f"{_head(r.entry)} from {r.path} do not fit {type(module).__name__}: {diff}. The file is "
                           f"not a {r.entry.method} {r.entry.network} checkpoint, or it needs a key rename.")
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

_ORDER = ("local", "cached", "hub", "unpublished")


def availability(weights_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Per key: ``"local"``, ``"cached"`` (in the Hugging Face cache at the pinned revision), ``"hub"`` (pinned,
    downloadable when online) or ``"unpublished"`` (needs a local conversion). No network access, no hashing."""
    root = weights_dir_from_env(weights_dir)
    out = {}
    for key, e in manifest().items():
        if root is not None:
            le, _ = local_entry(key, root)
            if (root / le.folder / le.filename).is_file():
                out[key] = "local"
                continue
        if not e.published:
            out[key] = "unpublished"
        elif _cached_hub_file(e) is not None:
            out[key] = "cached"
        else:
            out[key] = "hub"
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
    elif worst == "hub":
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
