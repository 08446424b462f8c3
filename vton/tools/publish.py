"""Publishing a method's weights: the authors' checkpoints converted, uploaded to a Hugging Face Hub model repo and
pinned (commit and sha256) in the weights manifest, in one command (``python -m vton publish``); and the upload of
a folder converted before (``python -m vton convert ... --upload``).

The authors' originals come from each method's download page (``download_page`` in ``weights/manifest.json``;
e.g. sergeywong/cp-vton, minar09/cp-vton-plus, geyuying/PF-AFN, switchablenorms/DeepFashion_Try_On). Each input is
identified by its sha256 (:func:`vton.tools.convert.recognise`); a file whose network has a known original digest
and that is not it is refused unless ``allow_unknown``. The conversion is :func:`vton.tools.convert.convert_checkpoint`
(model card included), the upload ``huggingface_hub.HfApi.create_repo`` + ``HfApi.upload_folder`` (one commit), and
the manifest rewrite (:func:`vton.weights.manifests.pin`) records, per network, the repo, the file, the commit
(``revision``), the file's sha256 and size and what it was converted from. Offline (``HF_HUB_OFFLINE=1``) nothing
is converted, uploaded or rewritten.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from vton import weights
from vton.errors import InputError, WeightsError
from vton.weights.manifests import PublishedFile, pin, read_manifest_rows

from . import convert

__all__ = ["check_upload", "hub_upload", "upload_folder", "PublishResult", "publish"]

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


# ----------------------------------------------------------------------------------------------------------------
# uploading a converted folder


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
    entries = weights.read_local_manifest(folder)["entries"]
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
    entries = weights.read_local_manifest(folder)["entries"]
    sha = info.oid
    print(f"Uploaded {folder} to https://huggingface.co/{repo_id} at commit {sha}. Pin in weights/manifest.json:")
    for k, v in entries.items():
        print(f'  "{k}": "repo": "{repo_id}", "file": "{v.get("file")}", "revision": "{sha}", '
              f'"sha256": "{v.get("sha256")}", "bytes": {v.get("bytes")}')
    return sha


# ----------------------------------------------------------------------------------------------------------------
# converting, uploading and pinning in one step


@dataclass(frozen=True)
class PublishResult:
    """What ``publish`` did: the repo and commit the manifest now pins, the files, the manifest rewritten."""

    method: str
    repo: str
    commit: str
    commit_url: str
    files: tuple[PublishedFile, ...]
    manifest: Path


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


def _check_target(method: str, entries: list[weights.WeightEntry], repo: str, manifest_file: Path) -> dict:
    """The manifest's rows, once the repo id, the manifest and the connection allow publishing ``entries``."""
    folders = {e.folder for e in entries}
    if len(folders) != 1:  # pragma: no cover - every method keeps its networks in one folder
        raise InputError(f"{method}'s networks live in several folders ({', '.join(sorted(folders))}).")
    if not _REPO_ID.match(str(repo)):
        raise InputError(f"Hub repo id {repo!r} is not of the form 'owner/name'.")
    rows = read_manifest_rows(manifest_file)
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
    return rows


def _recognised(method: str, key: str, pth: Path, allow_unknown: bool,
                say: Callable[[str], None]) -> convert.Recognition:
    """``pth`` recognised by its sha256 (said). Refused when it is another network's original, or when its network
    has a known original digest that it lacks and ``allow_unknown`` is off."""
    rec = convert.recognise(pth, key)
    say(f"{key}: {pth}: {rec.message}")
    if rec.other_key is not None or (not rec.recognised and rec.expected and not allow_unknown):
        raise InputError(f"{pth} is not the authors' {rec.original_file} of {method} (sha256 {rec.sha256}; the "
                         f"known release has {' or '.join(rec.expected) or 'another digest'}). Publishing it would "
                         "give the Space other weights than the authors'. Download the original from "
                         f"{weights.entry(key).download_page or weights.entry(key).source}, or pass "
                         "--allow-unknown if this file is what you mean to publish.")
    return rec


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
    repo = repo or entries[0].repo
    manifest_file = Path(manifest) if manifest is not None else weights.manifest_path()
    rows = _check_target(method, entries, repo, manifest_file)
    recs = [_recognised(method, key, pth, allow_unknown, say) for _, key, pth in jobs]
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
        local = weights.read_local_manifest(folder)["entries"]
        originals = ", ".join(r.file for r in recs)
        say(f"uploading {folder} to https://huggingface.co/{repo} ...")
        info = hub_upload(folder, repo, token=token, private=private,
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
