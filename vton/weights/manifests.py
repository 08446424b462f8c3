"""The weights manifest: the one reader and writer of ``weights/manifest.json`` and of a local weights folder's
``manifest.json``, pinning included.

Every network vton runs is one entry of the built-in manifest (``$VTON_MANIFEST`` or ``weights/manifest.json``):
Hub repo, file, pinned revision, sha256, licence, the authors' original file and any pinned mirrors of it. A local
weights folder ``<dir>/<folder>/`` may hold its own ``manifest.json`` (same schema, a subset of keys) whose entries
override the built-in ones for that folder (converted or generated weights declare their sha256 there). ``pin``
rewrites the built-in manifest after a publish; ``write_local_manifest`` / ``declare_local_file`` write a folder's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vton.errors import InputError, WeightsError

__all__ = ["WeightEntry", "Mirror", "manifest", "entry", "entries_for", "manifest_path", "hub_repo",
           "weights_dir_from_env", "local_entry", "read_local_manifest", "write_local_manifest", "declare_local_file",
           "read_manifest_rows", "PublishedFile", "pin", "reload", "LOCAL_MANIFEST", "WEIGHTS_DIR_ENV",
           "HUB_OWNER_ENV", "DEFAULT_HUB_OWNER"]

FORMATS = ("safetensors", "pth", "onnx")
MANIFEST_ENV = "VTON_MANIFEST"
WEIGHTS_DIR_ENV = "VTON_WEIGHTS_DIR"
HUB_OWNER_ENV = "VTON_HUB_OWNER"  # replaces DEFAULT_HUB_OWNER in the manifest's repo fields (a Space's own mirrors)
DEFAULT_HUB_OWNER = "vton-lab"  # the owner of the project's own Hub repos (converted weights)
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
LOCAL_MANIFEST = "manifest.json"
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


# ----------------------------------------------------------------------------------------------------------------
# the built-in manifest


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


# ----------------------------------------------------------------------------------------------------------------
# a local weights folder's manifest.json


def read_local_manifest(folder: str | os.PathLike) -> dict:
    """The raw ``<folder>/manifest.json`` (to be changed and written back), or an empty one when there is none.

    Raises:
        WeightsError: the file is not JSON or has no ``entries`` table.
    """
    path = Path(folder) / LOCAL_MANIFEST
    if not path.is_file():
        return {"schema_version": 1, "entries": {}}
    return _read_json(path, "local weights manifest")


def write_local_manifest(folder: str | os.PathLike, data: dict) -> Path:
    """Write ``data`` as ``<folder>/manifest.json`` (entries sorted by key), atomically."""
    path = Path(folder) / LOCAL_MANIFEST
    data["entries"] = dict(sorted(data["entries"].items()))
    tmp = path.with_suffix(".json.part")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def declare_local_file(file: str | os.PathLike, key: str, fmt: str, description: str, *,
                       synthetic: bool = True) -> Path:
    """Declare ``file`` (inside ``<dir>/<folder>/``) as ``key`` in that folder's ``manifest.json`` (merged): file name,
    sha256, bytes, format, description and ``synthetic``; a folder holding a synthetic file is marked ``"random":
    true`` at its top. Returns the manifest's path."""
    from .hashing import file_sha256

    file = Path(file)
    data = read_local_manifest(file.parent)
    if synthetic:
        data["random"] = True
    data["entries"][key] = {"file": file.name, "sha256": file_sha256(file), "bytes": file.stat().st_size,
                            "format": fmt, "synthetic": synthetic, "description": description}
    return write_local_manifest(file.parent, data)


# ----------------------------------------------------------------------------------------------------------------
# pinning: the built-in manifest rewritten after a publish

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_UNPUBLISHED_NOTE = re.compile(r"\s*NOT YET PUBLISHED\b.*$", re.DOTALL)


def read_manifest_rows(path: str | os.PathLike) -> dict[str, dict]:
    """The raw ``entries`` of the manifest at ``path`` (the one ``pin`` rewrites), before validation.

    Raises:
        InputError: no such file. WeightsError: not JSON, or no ``entries`` table.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The manifest {path} does not exist (--manifest names the file the Space reads).")
    return _read_json(path, "manifest")["entries"]


@dataclass(frozen=True)
class PublishedFile:
    """One file to pin: its manifest key, path in the repo, sha256, size and the original it came from."""

    key: str
    file: str
    sha256: str
    bytes: int
    converted_from: Mapping[str, object]


def pin(manifest_file: str | os.PathLike, repo: str, commit: str, files: tuple[PublishedFile, ...] | list) -> Path:
    """Rewrite ``manifest_file`` so that each of ``files`` is pinned at ``repo``@``commit`` with its sha256 and size.

    Only those entries change (``repo``, ``file``, ``revision``, ``sha256``, ``bytes``, ``converted_from``, and the
    description loses its "NOT YET PUBLISHED" note); the result is validated as a manifest before it replaces the
    file atomically.

    Raises:
        InputError: a key the manifest lacks, a malformed repo or commit. WeightsError: an unreadable manifest.
    """
    path = Path(manifest_file)
    if not _REPO_ID.match(repo):
        raise InputError(f"Hub repo id {repo!r} is not of the form 'owner/name'.")
    if not _HEX40.fullmatch(str(commit)):
        raise InputError(f"Commit {commit!r} is not a 40-hex Hub commit id.")
    if not path.is_file():
        raise InputError(f"The manifest {path} does not exist (--manifest names the file the Space reads).")
    data = _read_json(path, "manifest")
    entries = data["entries"]
    for f in files:
        if f.key not in entries:
            raise InputError(f"The manifest {path} has no entry {f.key!r}; add its row first (see weights/README.md).")
        row = entries[f.key]
        row.update(repo=repo, file=f.file, revision=commit, sha256=f.sha256, bytes=int(f.bytes))
        row["converted_from"] = dict(f.converted_from)
        if isinstance(row.get("description"), str):
            note = _UNPUBLISHED_NOTE.sub("", row["description"]).rstrip()
            row["description"] = f"{note} Published with `python -m vton publish` at {repo}@{commit[:8]}."
        _entry_from_fields(f.key, row, str(path))  # still a valid manifest row
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    _load_manifest.cache_clear()
    return path


def reload() -> None:
    """Forget the manifests read so far (a test or a tool that rewrote one)."""
    _load_manifest.cache_clear()
