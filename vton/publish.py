"""Publishing a method's weights: the authors' checkpoints converted, uploaded to a Hugging Face Hub model repo and
pinned (commit and sha256) in the weights manifest, in one command (``python -m vton publish``).

The authors' originals come from each method's download page (``download_page`` in ``weights/manifest.json``;
e.g. sergeywong/cp-vton, minar09/cp-vton-plus, geyuying/PF-AFN, switchablenorms/DeepFashion_Try_On). Each input is
identified by its sha256 (``vton.convert.recognise``); a file whose network has a known original digest and that
is not it is refused unless ``allow_unknown``. The conversion is ``vton.convert.convert_checkpoint`` (model card
included), the upload ``huggingface_hub.HfApi.create_repo`` + ``HfApi.upload_folder`` (one commit), and the
manifest rewrite records, per network, the repo, the file, the commit (``revision``), the file's sha256 and size
and what it was converted from. Offline (``HF_HUB_OFFLINE=1``) nothing is converted, uploaded or rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vton import convert, weights
from vton.errors import InputError, WeightsError

__all__ = ["PublishedFile", "PublishResult", "publish", "pin", "add_publish_parser", "run_publish"]

_UNPUBLISHED_NOTE = re.compile(r"\s*NOT YET PUBLISHED\b.*$", re.DOTALL)


@dataclass(frozen=True)
class PublishedFile:
    """One uploaded file: its manifest key, path in the repo, sha256, size and the original it came from."""

    key: str
    file: str
    sha256: str
    bytes: int
    converted_from: Mapping[str, object]


@dataclass(frozen=True)
class PublishResult:
    """What ``publish`` did: the repo and commit the manifest now pins, the files, the manifest rewritten."""

    method: str
    repo: str
    commit: str
    commit_url: str
    files: tuple[PublishedFile, ...]
    manifest: Path


def _read_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"The manifest {path} does not exist (--manifest names the file the Space reads).") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"The manifest {path} cannot be read as JSON: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise WeightsError(f"The manifest {path} has no \"entries\" table.")
    return data


def pin(manifest_path: str | os.PathLike, repo: str, commit: str, files: tuple[PublishedFile, ...] | list) -> Path:
    """Rewrite ``manifest_path`` so that each of ``files`` is pinned at ``repo``@``commit`` with its sha256 and size.

    Only those entries change (``repo``, ``file``, ``revision``, ``sha256``, ``bytes``, ``converted_from``, and the
    description loses its "NOT YET PUBLISHED" note); the result is validated as a manifest before it replaces the
    file atomically.

    Raises:
        InputError: a key the manifest lacks, a malformed repo or commit. WeightsError: an unreadable manifest.
    """
    path = Path(manifest_path)
    if not convert._REPO_ID.match(repo):
        raise InputError(f"Hub repo id {repo!r} is not of the form 'owner/name'.")
    if not re.fullmatch(r"[0-9a-f]{40}", str(commit)):
        raise InputError(f"Commit {commit!r} is not a 40-hex Hub commit id.")
    data = _read_manifest(path)
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
        weights._entry_from_fields(f.key, row, str(path))  # still a valid manifest row
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    weights._load_manifest.cache_clear()
    return path


def _jobs(method: str, checkpoints: Mapping[str, str | os.PathLike]) -> list[tuple[str, str, Path]]:
    """``[(network, manifest key, path)]`` in the card's order; refuses unknown networks and an empty set."""
    from vton import methods

    c = methods.card(method)
    if not c.weights:
        raise InputError(f"{method} is training-free: it has no weights to publish.")
    names = [n for n, _ in c.weights]
    foreign = sorted(set(checkpoints) - set(names))
    if foreign:
        raise InputError(f"{method} has the networks {', '.join(names)}; {', '.join(foreign)} is not one of them.")
    jobs = [(n, k, Path(checkpoints[n])) for n, k in c.weights if n in checkpoints]
    if not jobs:
        raise InputError(f"Nothing to publish: give the authors' checkpoint(s) of {method} (" +
                         ", ".join(f"--{n} PATH" for n in names) + ").")
    return jobs


def publish(method: str, checkpoints: Mapping[str, str | os.PathLike], repo: str | None = None, *,
            manifest: str | os.PathLike | None = None, out_dir: str | os.PathLike | None = None,
            token: str | None = None, private: bool = False, allow_unknown: bool = False,
            say: Callable[[str], None] = print) -> PublishResult:
    """Convert ``method``'s original checkpoints, upload them to ``repo`` in one commit and pin it in ``manifest``.

    Args:
        method: a registered method id with networks (``cp-vton``, ``cp-vton+``, ``pf-afn``, ``acgpn``).
        checkpoints: ``{network name: the authors' .pth}``; a subset of the method's networks is allowed (the others
            keep their pins).
        repo: ``owner/name``; default the manifest's repo of those networks (after ``$VTON_HUB_OWNER``).
        manifest: the manifest to rewrite (the one the Space reads); default ``weights.manifest_path()``.
        out_dir: where the converted folder is written and kept; default a temporary folder removed afterwards.
        token: Hub token (default: the login of ``hf auth login`` or ``$HF_TOKEN``).
        allow_unknown: publish a file whose sha256 is not the known original's (the card says so).
        say: receives one line per step (the CLI prints them).

    Raises:
        InputError: bad arguments, an unknown file, a non-checkpoint. WeightsError: offline (nothing done, manifest
        untouched), a Hub failure (manifest untouched), keys or shapes that do not fit the network.
    """
    jobs = _jobs(method, checkpoints)
    entries = [weights.entry(k) for _, k, _ in jobs]
    folders = {e.folder for e in entries}
    if len(folders) != 1:  # pragma: no cover - every method keeps its networks in one folder
        raise InputError(f"{method}'s networks live in several folders ({', '.join(sorted(folders))}).")
    repo = repo or entries[0].repo
    manifest_file = Path(manifest) if manifest is not None else weights.manifest_path()
    if not convert._REPO_ID.match(str(repo)):
        raise InputError(f"Hub repo id {repo!r} is not of the form 'owner/name'.")
    rows = _read_manifest(manifest_file)["entries"]
    missing = [e.key for e in entries if e.key not in rows]
    if missing:
        raise InputError(f"The manifest {manifest_file} has no entry for {', '.join(missing)}.")
    if not os.access(manifest_file, os.W_OK):
        raise InputError(f"The manifest {manifest_file} is not writable; nothing was published.")
    if weights.hub_offline():
        raise WeightsError(f"Not publishing {method} to the Hub repo {repo}: HF_HUB_OFFLINE=1 is set (offline mode). "
                           f"Nothing was converted or uploaded and {manifest_file} is unchanged. Unset HF_HUB_OFFLINE, "
                           "log in with `hf auth login` and run the command again (`python -m vton convert` converts "
                           "offline into a local weights folder).")

    recs = []
    for _, key, pth in jobs:
        rec = convert.recognise(pth, key)
        say(f"{key}: {pth}: {rec.message}")
        if rec.other_key is not None or (not rec.recognised and rec.expected and not allow_unknown):
            raise InputError(f"{pth} is not the authors' {rec.original_file} of {method} (sha256 {rec.sha256}; the "
                             f"known release has {' or '.join(rec.expected) or 'another digest'}). Publishing it would "
                             "give the Space other weights than the authors'. Download the original from "
                             f"{weights.entry(key).download_page or weights.entry(key).source}, or pass "
                             "--allow-unknown if this file is what you mean to publish.")
        recs.append(rec)
    flags = " ".join(f"--{name} {shlex.quote(pth.name)}" for name, _, pth in jobs)
    command = f"python -m vton publish --method {method} {flags} --repo {repo}"

    with tempfile.TemporaryDirectory(prefix="vton-publish-") as tmp:
        root = Path(out_dir) if out_dir is not None else Path(tmp)
        outs = {}
        for _, key, pth in jobs:
            notes: list[str] = []
            outs[key] = convert.convert_checkpoint(pth, key, root, command=command, notes=notes)
            for n in notes[1:]:  # the first note is the recognition, said above
                say(f"{key}: {n}")
        folder = next(iter(outs.values())).parent
        local = convert._read_local_manifest(folder)["entries"]
        originals = ", ".join(r.file for r in recs)
        say(f"uploading {folder} to https://huggingface.co/{repo} ...")
        info = convert.hub_upload(folder, repo, token=token, private=private,
                                  commit_message=f"vton publish: {method} ({', '.join(outs)}) from {originals}")
        files = tuple(PublishedFile(key, local[key]["file"], local[key]["sha256"], int(local[key]["bytes"]),
                                    local[key]["converted_from"]) for key in outs)
    old_repos = {rows[f.key].get("repo") for f in files}
    pin(manifest_file, repo, info.oid, files)
    say(f"uploaded at commit {info.oid} ({info.commit_url})")
    for f in files:
        say(f"pinned {f.key} in {manifest_file}: {repo} {f.file} @ {info.oid}, sha256 {f.sha256} ({f.bytes} bytes)")
    if old_repos != {repo}:
        say(f"the manifest's repo changed ({', '.join(sorted(map(str, old_repos)))} -> {repo}): list {repo} in the "
            "models: of README.md's front matter (tests/test_publish.py checks it)")
    return PublishResult(method, repo, info.oid, str(info.commit_url), files, manifest_file)


# ----------------------------------------------------------------------------------------------------------------
# CLI (wired into `python -m vton` by vton/cli.py)


def add_publish_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``publish``; the handler is ``run_publish``."""
    p = subparsers.add_parser(
        "publish", help="maintainers: convert a method's original checkpoints, upload them to the Hub and pin them",
        description="Convert the authors' checkpoints of --method (recognised by sha256), upload them with their "
                    "model card to a Hub model repo in one commit, and write the commit and the files' sha256 into "
                    "the manifest (--manifest, default weights/manifest.json), so the Space fetches pinned, "
                    "verified weights. Needs network and a write token (`hf auth login`); offline it does nothing.")
    p.add_argument("--method", required=True, choices=convert.methods_with_weights())
    for name, owners in convert._network_flags().items():
        p.add_argument(f"--{name}", type=Path, metavar="PATH", dest=f"net_{name}",
                       help=f"the authors' {name} checkpoint ({', '.join(owners)})")
    p.add_argument("--checkpoint", action="append", default=[], metavar="NETWORK=PATH",
                   help="another way to give a network's checkpoint (repeatable)")
    p.add_argument("--repo", metavar="OWNER/NAME", help="Hub model repo (default: the manifest's, after "
                   f"${weights.HUB_OWNER_ENV})")
    p.add_argument("--manifest", type=Path, metavar="PATH", help="the manifest to pin in (default: "
                   "weights/manifest.json or $VTON_MANIFEST)")
    p.add_argument("--out", type=Path, metavar="DIR", help="keep the converted folder here (default: a temporary one)")
    p.add_argument("--private", action="store_true", help="create the repo as private (the Space then needs a token)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="publish files whose sha256 is not the authors' known release")
    p.set_defaults(func=run_publish)
    return p


def _checkpoints(args: argparse.Namespace) -> dict[str, Path]:
    given = {k[len("net_"):]: v for k, v in vars(args).items() if k.startswith("net_") and v is not None}
    for item in args.checkpoint:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--checkpoint {item!r} is not NETWORK=PATH.")
        if name in given:
            raise InputError(f"The {name} checkpoint is given twice.")
        given[name] = Path(path)
    return given


def run_publish(args: argparse.Namespace) -> int:
    """Handler of ``vton publish``. Returns 0."""
    publish(args.method, _checkpoints(args), args.repo, manifest=args.manifest, out_dir=args.out,
            private=args.private, allow_unknown=args.allow_unknown)
    return 0
