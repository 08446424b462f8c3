"""What is on this machine, without network access or hashing: per manifest key ``local`` / ``cached`` / ``hub`` /
``mirror`` / ``unpublished`` (``availability``), where the weights come from in words, vton's cache of converted
files, and a method's readiness as one typed value (``Readiness``) with one wording (``readiness_text``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vton.errors import WeightsError

from .checkpoint import marked_random
from .hashing import file_sha256
from .hub import hub_offline
from .manifests import Mirror, WeightEntry, entry, local_entry, manifest, weights_dir_from_env

__all__ = ["CACHE_ENV", "cache_dir", "mirror_target", "availability", "local_status", "network_source",
           "download_bytes", "NetworkState", "Readiness", "readiness", "readiness_text"]

CACHE_ENV = "VTON_CACHE"


def cache_dir() -> Path:
    """``$VTON_CACHE`` or ``~/.cache/vton``: converted copies of read-only weights."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vton"


def mirror_target(e: WeightEntry, m: Mirror) -> Path:
    """Where the local conversion of ``m`` (the authors' original of ``e``) is kept: ``cache_dir()/<folder>/``."""
    return cache_dir() / e.folder / f"{Path(e.filename).stem}-{m.sha256[:16]}.safetensors"


def sidecar(path: Path) -> Path:
    """The ``.sha256.json`` beside a converted file: the original's digest and the conversion's own."""
    return path.with_name(path.name + ".sha256.json")


def converted_matches(path: Path, original_sha256: str) -> bool:
    """True when ``path`` is the conversion of the file with ``original_sha256`` and has the digest recorded
    beside it at conversion time (a planted or damaged copy fails)."""
    try:
        rec = json.loads(sidecar(path).read_text(encoding="utf-8"))
        return (isinstance(rec, dict) and rec.get("original_sha256") == original_sha256
                and rec.get("sha256") == file_sha256(path))
    except (OSError, ValueError):
        return False


def _recorded_conversion(path: Path, m: Mirror) -> bool:
    """A conversion of ``m`` is recorded at ``path`` (sidecar present and naming the original): no hashing."""
    try:
        rec = json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return path.is_file() and isinstance(rec, dict) and rec.get("original_sha256") == m.sha256


def cached_hub_file(e: WeightEntry) -> Path | None:
    """The project's published file of ``e`` in the Hugging Face cache at its pinned revision, or None."""
    if not e.published:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(e.repo, e.file, revision=e.revision)
    return Path(found) if isinstance(found, str) else None


def cached_mirror_file(m: Mirror) -> Path | None:
    """The authors' original from mirror ``m`` in the Hugging Face cache at its pinned revision, or None."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return None
    found = try_to_load_from_cache(m.repo, m.path, revision=m.revision, repo_type=m.repo_type)
    return Path(found) if isinstance(found, str) else None


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
        if e.published and cached_hub_file(e) is not None:
            out[key] = "cached"
        elif e.published:
            out[key] = "hub"
        elif any(_recorded_conversion(mirror_target(e, m), m) or cached_mirror_file(m) is not None
                 for m in e.mirrors):
            out[key] = "cached"
        elif e.mirrors:
            out[key] = "mirror"
        else:
            out[key] = "unpublished"
    return out


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
    return {"verified": e.sha256 is not None, "random": bool(e.synthetic) or marked_random(path)}


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


# ----------------------------------------------------------------------------------------------------------------
# a method's readiness: one value, one wording

_ON_MACHINE = ("local", "cached")
_DOWNLOADABLE = ("local", "cached", "hub", "mirror")


@dataclass(frozen=True)
class NetworkState:
    """Where one network's weights are: ``status`` (``availability``), whether a local file is verified or RANDOM,
    where they come from in words, what a first use downloads and their licence."""

    key: str
    status: str
    verified: bool
    random: bool
    source: str
    download_bytes: int
    licence: str

    def as_dict(self) -> dict:
        return {"key": self.key, "status": self.status, "verified": self.verified, "random": self.random,
                "source": self.source, "download_bytes": self.download_bytes, "licence": self.licence}


@dataclass(frozen=True)
class Readiness:
    """Whether a method can run now, the one value the page, the CLI and ``vton.methods.describe`` read.

    ``networks`` maps each network name to its ``NetworkState``; ``offline`` is the Hub's state for this process.
    Ready means every file is on this machine, or can be downloaded (the Hub online). Worded by ``readiness_text``.
    """

    networks: Mapping[str, NetworkState]
    offline: bool

    @property
    def ready(self) -> bool:
        states = [n.status for n in self.networks.values()]
        return all(s in _ON_MACHINE for s in states) or (all(s in _DOWNLOADABLE for s in states) and not self.offline)

    @property
    def missing(self) -> tuple[str, ...]:
        """The networks whose files are not on this machine."""
        return tuple(name for name, n in self.networks.items() if n.status not in _ON_MACHINE)

    @property
    def random(self) -> bool:
        return any(n.random for n in self.networks.values())

    @property
    def unverified(self) -> tuple[str, ...]:
        """The networks read from a local file that no manifest gives a sha256 for."""
        return tuple(name for name, n in self.networks.items() if n.status == "local" and not n.verified)

    @property
    def download_bytes(self) -> int:
        """What a first run downloads (0 when the method cannot run now)."""
        return sum(n.download_bytes for n in self.networks.values()) if self.ready else 0

    @property
    def blocked_offline(self) -> bool:
        """Not ready only because the Hub cannot be used: every file could be downloaded."""
        return (not self.ready and self.offline
                and all(n.status in _DOWNLOADABLE for n in self.networks.values()))

    def as_dict(self) -> dict:
        """The JSON fields of ``vton.methods.describe``."""
        return {"weights": {name: n.as_dict() for name, n in self.networks.items()}, "ready": self.ready,
                "missing": list(self.missing), "random": self.random, "unverified": list(self.unverified),
                "download_bytes": self.download_bytes, "readiness": readiness_text(self, flags=False)}


def readiness(networks: Iterable[tuple[str, str]], weights_dir: str | os.PathLike | None = None) -> Readiness:
    """The ``Readiness`` of the networks ``(name, manifest key)`` of a method (its card's ``weights``); no network
    access, no hashing."""
    status = availability(weights_dir)
    nets = {}
    for name, key in networks:
        info = local_status(key, weights_dir)
        st = status.get(key, "unknown")
        nets[name] = NetworkState(key, st, info["verified"], info["random"], network_source(key, st),
                                  download_bytes(key, st), entry(key).licence)
    return Readiness(nets, hub_offline())


def readiness_text(r: Readiness, *, flags: bool = True, why: bool = False) -> str:
    """The one wording of a ``Readiness``: "ready", "ready (downloads 293 MB on first use)", "ready (training-free,
    no weights)", "not ready (offline: the weights must be downloaded once)", "not ready".

    Args:
        flags: append the warnings of a ready method: RANDOM test weights, unverified weights (naming them).
        why: word "not ready" as which networks are missing and why ("not ready: weights gmm, tom missing (the
            Hub is offline)").
    """
    if not r.networks:
        return "ready (training-free, no weights)"
    if r.ready:
        text = f"ready (downloads {r.download_bytes / 1e6:.0f} MB on first use)" if r.download_bytes else "ready"
        if flags and r.random:
            text += " (RANDOM test weights: the output is noise)"
        if flags and r.unverified:
            text += f" (unverified weights: {', '.join(r.unverified)})"
        return text
    if why:
        reasons = {r.networks[n].status for n in r.missing}
        cause = "the Hub is offline" if reasons <= {"hub", "mirror"} else "not on this machine and not on the Hub yet"
        return f"not ready: weights {', '.join(r.missing)} missing ({cause})"
    return "not ready (offline: the weights must be downloaded once)" if r.blocked_offline else "not ready"
