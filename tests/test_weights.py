"""The weights manifest and loader: schema, local folder, sha256, offline/unpublished messages, availability."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from vton import weights
from vton.errors import InputError, WeightsError
from vton.weights.manifests import hub_repo
from vton.weights.messages import publish_command

LIP_REV = "585a32e74aee241cbc0d0cc3ab21392ca58c916a"


@pytest.fixture(autouse=True)
def offline(offline_hub, monkeypatch):
    """``offline_hub``, and any call of hf_hub_download fails the test."""
    import huggingface_hub

    def _no_download(*a, **k):
        raise AssertionError("hf_hub_download must not be called in offline mode")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_download)
    return offline_hub


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _custom_manifest(tmp_path: Path, monkeypatch, **changes: dict) -> Path:
    """A copy of the built-in manifest with some entries changed, selected through VTON_MANIFEST."""
    data = json.loads(weights.manifest_path().read_text())
    for key, fields in changes.items():
        data["entries"][key.replace("__", "/").replace("_plus", "+")].update(fields)
    path = tmp_path / f"manifest-{len(list(tmp_path.glob('manifest-*')))}.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("VTON_MANIFEST", str(path))
    return path


def _put(root: Path, rel: str, data: bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def _fake_hub_cache(tmp_path: Path, repo: str, revision: str, filename: str, data: bytes) -> Path:
    """Lay out a file as huggingface_hub's cache stores it (what an earlier online download leaves behind)."""
    snap = tmp_path / "hf-cache" / f"models--{repo.replace('/', '--')}" / "snapshots" / revision
    return _put(snap, filename, data)


# ---------------------------------------------------------------------------------------------------------------
# manifest


def test_manifest_has_every_contract_key_with_valid_fields():
    table = weights.manifest()
    raw = json.loads(weights.manifest_path().read_text())["entries"]
    assert tuple(table) == tuple(raw)
    from vton import methods

    for c in methods.cards():  # every network a card lists has its manifest row
        assert set(c.weight_keys) <= set(table), c.id
    folders = {"cp-vton": "cp-vton", "cp-vton+": "cp-vton-plus", "openpose": "openpose", "schp": "schp",
               "pf-afn": "pf-afn", "acgpn": "acgpn", "eval": "eval",
               "viton-hd": "viton-hd"}
    for key, e in table.items():
        assert e.key == key and key == f"{e.method}/{e.network}"
        assert e.folder == folders[e.method]
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        assert e.revision is None or re.fullmatch(r"[0-9a-f]{40}", e.revision)
        assert e.format in ("safetensors", "pth", "onnx")
        assert isinstance(e.bytes, int) and e.bytes > 0
        assert e.licence.strip() and e.source.strip() and e.description.strip() and e.repo.count("/") == 1


def test_manifest_pins_the_preprocessing_weights_from_the_doc():
    body, lip, atr = weights.entry("openpose/body"), weights.entry("schp/lip"), weights.entry("schp/atr")
    assert (body.repo, body.file, body.revision) == (
        "lllyasviel/Annotators", "body_pose_model.pth", "982e7edaec38759d914a963c48c4726685de7d96")
    assert body.sha256 == "25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746"
    assert body.bytes == 209_267_595 and body.format == "pth"
    assert (lip.repo, lip.file, lip.revision, lip.bytes) == (
        "yisol/IDM-VTON", "humanparsing/parsing_lip.onnx", LIP_REV, 266_863_411)
    assert atr.sha256 == "04c7d1d070d0e0ae943d86b18cb5aaaea9e278d97462e9cfb270cbbe4cd977f4"
    assert "CC BY-NC-SA 4.0" in lip.licence and "MIT" in lip.licence and "non-commercial" in body.licence


def test_cp_vton_entries_are_honestly_unpublished():
    for key in ("cp-vton/gmm", "cp-vton/tom", "cp-vton+/gmm", "cp-vton+/tom"):
        e = weights.entry(key)
        assert e.revision is None and e.sha256 is None and not e.published
        assert e.format == "safetensors" and e.file == f"{e.network}_final.safetensors"
        assert e.repo in ("vton-lab/cp-vton", "vton-lab/cp-vton-plus") and e.licence.startswith("MIT")
        assert f"{e.network}_final.pth" in e.source


def test_unknown_key_is_an_input_error_listing_valid_keys():
    with pytest.raises(InputError, match="cp-vton\\+/gmm.*schp/atr"):
        weights.entry("cp-vton/nope")


def test_manifest_with_a_bad_revision_is_reported(tmp_path, monkeypatch):
    _custom_manifest(tmp_path, monkeypatch, schp__lip={"revision": "main"})
    with pytest.raises(WeightsError, match="'schp/lip'.*revision 'main' is not a 40-hex commit"):
        weights.manifest()


# ---------------------------------------------------------------------------------------------------------------
# resolving


def test_local_file_resolves_and_verifies_against_the_builtin_sha256(tmp_path, monkeypatch):
    data = b"onnx bytes"
    _custom_manifest(tmp_path, monkeypatch, schp__lip={"sha256": _sha(data)})
    path = _put(tmp_path / "w", "schp/parsing_lip.onnx", data)
    r = weights.resolve("schp/lip", tmp_path / "w")
    assert (r.path, r.origin, r.verified, r.sha256) == (path, "local", True, _sha(data))
    assert weights.resolve_file("schp/lip", tmp_path / "w") == path


def test_weights_dir_defaults_to_the_environment_variable(tmp_path, monkeypatch):
    data = b"lip"
    _custom_manifest(tmp_path, monkeypatch, schp__lip={"sha256": _sha(data)})
    path = _put(tmp_path / "env-w", "schp/parsing_lip.onnx", data)
    monkeypatch.setenv("VTON_WEIGHTS_DIR", str(tmp_path / "env-w"))
    assert weights.resolve_file("schp/lip") == path


def test_wrong_hash_names_expected_actual_and_path(tmp_path, monkeypatch):
    path = _put(tmp_path / "w", "schp/parsing_atr.onnx", b"not the real parser")
    with pytest.raises(WeightsError) as info:
        weights.resolve("schp/atr", tmp_path / "w")
    msg = str(info.value)
    assert weights.entry("schp/atr").sha256 in msg and _sha(b"not the real parser") in msg and str(path) in msg


def test_missing_file_offline_names_local_path_hub_repo_and_offline_mode(tmp_path):
    with pytest.raises(WeightsError) as info:
        weights.resolve("openpose/body", tmp_path / "w")
    msg = str(info.value)
    for part in (str(tmp_path / "w" / "openpose" / "body_pose_model.pth"), "lllyasviel/Annotators",
                 "982e7edaec38759d914a963c48c4726685de7d96", "HF_HUB_OFFLINE", "--weights-dir", "VTON_WEIGHTS_DIR",
                 "non-commercial"):
        assert part in msg
    assert "\n" not in msg


def test_missing_file_without_weights_dir_says_how_to_set_one():
    with pytest.raises(WeightsError, match="no local weights folder is set.*VTON_WEIGHTS_DIR"):
        weights.resolve("schp/lip")


def test_hub_connection_failure_becomes_a_weights_error(monkeypatch, tmp_path):
    import huggingface_hub
    import huggingface_hub.constants
    from huggingface_hub.errors import LocalEntryNotFoundError

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(weights.hub, "_hub_mode", {"mode": "online"})  # the one reachability check said online
    calls = []

    def _fail(**kwargs):
        calls.append(kwargs)
        raise LocalEntryNotFoundError("Cannot reach the Hub and the file is not cached")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fail)
    with pytest.raises(WeightsError, match="offline or no connection to the Hub.*LocalEntryNotFoundError"):
        weights.resolve("schp/lip", tmp_path / "w")
    assert calls == [{"repo_id": "yisol/IDM-VTON", "filename": "humanparsing/parsing_lip.onnx", "revision": LIP_REV}]

    def _refused(**kwargs):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _refused)
    with pytest.raises(WeightsError, match="no connection to the Hub.*connection refused"):
        weights.resolve("schp/lip")


def test_unpublished_entry_says_how_to_convert(tmp_path):
    with pytest.raises(WeightsError) as info:
        weights.resolve("cp-vton+/gmm", tmp_path / "w")
    msg = str(info.value)
    assert "not yet published" in msg and "vton-lab/cp-vton-plus" in msg and "MIT" in msg
    assert "python -m vton convert --method cp-vton+ --gmm gmm_final.pth --out WEIGHTS_DIR" in msg
    assert str(tmp_path / "w" / "cp-vton-plus" / "gmm_final.safetensors") in msg


def test_local_file_without_any_sha256_is_accepted_unverified_with_a_warning(tmp_path, caplog):
    path = _put(tmp_path / "w", "cp-vton/tom_final.safetensors", b"tom")
    with caplog.at_level(logging.WARNING, logger="vton.weights"):
        r = weights.resolve("cp-vton/tom", tmp_path / "w")
    assert r.path == path and r.verified is False and r.sha256 == _sha(b"tom")
    assert "unverified" in caplog.text and str(path) in caplog.text


def test_local_manifest_overrides_file_and_sha256(tmp_path):
    folder = tmp_path / "w" / "cp-vton-plus"
    path = _put(folder.parent, "cp-vton-plus/my_gmm.safetensors", b"gmm")
    (folder / "manifest.json").write_text(json.dumps(
        {"entries": {"cp-vton+/gmm": {"file": "my_gmm.safetensors", "sha256": _sha(b"gmm")}}}))
    r = weights.resolve("cp-vton+/gmm", tmp_path / "w")
    assert (r.path, r.verified) == (path, True)
    local, _ = weights.local_entry("cp-vton+/gmm", tmp_path / "w")
    assert tmp_path / "w" / local.folder / local.filename == path

    (folder / "manifest.json").write_text(json.dumps(
        {"entries": {"cp-vton+/gmm": {"file": "my_gmm.safetensors", "sha256": "0" * 64}}}))
    with pytest.raises(WeightsError, match=re.escape(str(folder / "manifest.json")) + " expects 0{64}"):
        weights.resolve("cp-vton+/gmm", tmp_path / "w")


def test_local_manifest_may_not_move_an_entry_to_another_method(tmp_path):
    folder = tmp_path / "w" / "schp"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"entries": {"schp/lip": {"method": "cp-vton"}}}))
    with pytest.raises(WeightsError, match="changes method"):
        weights.resolve("schp/lip", tmp_path / "w")


def test_file_in_the_hub_cache_at_the_pinned_revision_is_used_offline(tmp_path, monkeypatch):
    data = b"cached parser"
    _custom_manifest(tmp_path, monkeypatch, schp__lip={"sha256": _sha(data)})
    path = _fake_hub_cache(tmp_path, "yisol/IDM-VTON", LIP_REV, "humanparsing/parsing_lip.onnx", data)
    r = weights.resolve("schp/lip", download=False)
    assert (r.path, r.origin, r.verified) == (path, "hub", True)


def test_hashing_is_cached_per_path_size_and_mtime(tmp_path, monkeypatch):
    calls = []
    real = weights.hashing._hash_file
    monkeypatch.setattr(weights.hashing, "_hash_file", lambda p, *a: calls.append(p) or real(p, *a))
    path = _put(tmp_path, "f.bin", b"x" * 10_000)
    first = weights.file_sha256(path)
    assert weights.file_sha256(path) == first == _sha(b"x" * 10_000) and len(calls) == 1
    path.write_bytes(b"y" * 10_001)
    assert weights.file_sha256(path) == _sha(b"y" * 10_001) and len(calls) == 2


def test_hash_is_read_in_chunks(tmp_path):
    path = _put(tmp_path, "f.bin", bytes(range(256)) * 1000)
    assert weights.hashing._hash_file(path, chunk=1000) == _sha(bytes(range(256)) * 1000)


# ---------------------------------------------------------------------------------------------------------------
# loading


def _save(tmp_path: Path, rel: str, sd: dict) -> Path:
    p = tmp_path / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(p))
    return p


def test_load_network_loads_matching_weights_strictly(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = {k: torch.randn(v.shape) if v.is_floating_point() else v.clone() for k, v in net.state_dict().items()}
    sd["1.running_var"] = sd["1.running_var"].abs()  # a variance is never negative (refused by the loader)
    _save(tmp_path, "w/cp-vton/gmm_final.safetensors", sd)
    out = weights.load_network(net, "cp-vton/gmm", tmp_path / "w")
    # a safetensors save / load round trip stores the same bits: exact
    assert out is net and torch.equal(net[0].weight, sd["0.weight"]) and torch.equal(net[1].running_var,
                                                                                     sd["1.running_var"])


def test_load_network_mismatch_lists_missing_unexpected_shapes_and_file(tmp_path):
    path = _save(tmp_path, "w/cp-vton/gmm_final.safetensors",
                 {"0.weight": torch.zeros(4, 2), "extra.weight": torch.zeros(1)})
    with pytest.raises(WeightsError) as info:
        weights.load_network(nn.Sequential(nn.Linear(2, 3)), "cp-vton/gmm", tmp_path / "w")
    msg = str(info.value)
    assert "1 missing key(s): 0.bias" in msg and "1 unexpected key(s): extra.weight" in msg
    assert "0.weight (4, 2) vs (3, 2) expected" in msg and str(path) in msg


def test_load_network_applies_the_rename_function(tmp_path):
    net = nn.Sequential(nn.Linear(2, 3))
    _save(tmp_path, "w/cp-vton/tom_final.safetensors", {"lin.weight": torch.ones(3, 2), "lin.bias": torch.ones(3)})
    weights.load_network(net, "cp-vton/tom", tmp_path / "w",
                         rename=lambda sd: {k.replace("lin.", "0."): v for k, v in sd.items()})
    assert torch.equal(net[0].bias, torch.ones(3))  # loaded as saved: exact


def test_onnx_entry_has_no_state_dict(tmp_path, monkeypatch):
    _custom_manifest(tmp_path, monkeypatch, schp__lip={"sha256": _sha(b"o")})
    _put(tmp_path / "w", "schp/parsing_lip.onnx", b"o")
    with pytest.raises(WeightsError, match="ONNX model.*onnxruntime"):
        weights.load_state_dict("schp/lip", tmp_path / "w")


def test_corrupt_safetensors_is_a_weights_error(tmp_path):
    _put(tmp_path / "w", "cp-vton/gmm_final.safetensors", b"garbage")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        weights.load_state_dict("cp-vton/gmm", tmp_path / "w")


# ---------------------------------------------------------------------------------------------------------------
# availability and licences


def test_availability_reports_local_cached_hub_mirror_and_unpublished(tmp_path):
    _put(tmp_path / "w", "cp-vton-plus/gmm_final.safetensors", b"g")
    _fake_hub_cache(tmp_path, "yisol/IDM-VTON", LIP_REV, "humanparsing/parsing_lip.onnx", b"p")
    status = weights.availability(tmp_path / "w")
    assert status == {"cp-vton/gmm": "unpublished", "cp-vton/tom": "unpublished", "cp-vton+/gmm": "local",
                      "cp-vton+/tom": "unpublished", "openpose/body": "hub", "schp/lip": "cached",
                      "schp/atr": "hub", "pf-afn/warp": "mirror", "pf-afn/gen": "mirror",
                      "acgpn/G1": "unpublished", "acgpn/G2": "unpublished", "acgpn/G": "unpublished",
                      "acgpn/U": "unpublished", "eval/inception": "unpublished", "eval/alexnet": "unpublished",
                      "eval/lpips-alex": "unpublished", "viton-hd/seg": "unpublished",
                      "viton-hd/gmm": "unpublished", "viton-hd/alias": "unpublished"}


def test_method_availability_summarises_networks_and_random_weights(tmp_path):
    folder = tmp_path / "w" / "cp-vton-plus"
    _put(folder.parent, "cp-vton-plus/gmm_final.safetensors", b"g")
    nets = (("gmm", "cp-vton+/gmm"), ("tom", "cp-vton+/tom"))
    m = weights.readiness(nets, tmp_path / "w")
    assert ({n: s.status for n, s in m.networks.items()}, m.ready, m.random) == ({"gmm": "local", "tom":
                                                                                 "unpublished"}, False, False)
    assert "python -m vton convert --method cp-vton+ --tom tom_final.pth" in weights.how_to_get(
        [k for _, k in nets], tmp_path / "w")

    _put(folder.parent, "cp-vton-plus/tom_final.safetensors", b"t")
    (folder / "manifest.json").write_text(json.dumps({"entries": {"cp-vton+/tom": {"synthetic": True}}}))
    m = weights.readiness(nets, tmp_path / "w")
    assert ({s.status for s in m.networks.values()}, m.ready, m.random) == ({"local"}, True, True)
    assert "RANDOM" in weights.readiness_text(m)
    assert {weights.availability()[e.key] for e in weights.entries_for("schp")} == {"hub"}


def test_licence_text_per_key_and_per_method():
    assert "non-commercial" in weights.entry("openpose/body").licence
    entries = weights.entries_for("cp-vton")
    assert len(entries) == 2 and all("MIT" in e.licence for e in entries)
    assert any("sergeywong/cp-vton@fbaf333b" in e.source for e in entries)
    with pytest.raises(InputError, match="valid methods"):
        weights.entries_for("viton")


# ---------------------------------------------------------------------------------------------------------------
# a Space's own Hub owner, and the how-to line


def test_hub_owner_env_redirects_the_projects_repos_only(tmp_path, monkeypatch):
    rev = "ab" * 20
    _custom_manifest(tmp_path, monkeypatch, **{"cp-vton_plus__gmm": {"revision": rev, "sha256": _sha(b"g")}})
    monkeypatch.setenv("VTON_HUB_OWNER", "alice")
    assert weights.entry("cp-vton+/gmm").repo == "alice/cp-vton-plus"
    assert weights.entry("acgpn/U").repo == "alice/acgpn"
    assert weights.entry("openpose/body").repo == "lllyasviel/Annotators"  # a third party's repo is never redirected
    assert weights.entry("schp/lip").repo == "yisol/IDM-VTON"
    assert hub_repo("vton-lab/pf-afn") == "alice/pf-afn" and hub_repo("bob/pf-afn") == "bob/pf-afn"
    _fake_hub_cache(tmp_path, "alice/cp-vton-plus", rev, "gmm_final.safetensors", b"g")
    r = weights.resolve("cp-vton+/gmm")
    assert (r.origin, r.verified) == ("hub", True) and "models--alice--cp-vton-plus" in str(r.path)
    _fake_hub_cache(tmp_path, "vton-lab/cp-vton-plus", rev, "gmm_final.safetensors", b"other")
    monkeypatch.setenv("VTON_HUB_OWNER", "")
    with pytest.raises(WeightsError, match="has sha256"):  # the default owner's copy: still checked, here it differs
        weights.resolve("cp-vton+/gmm")
    monkeypatch.setenv("VTON_HUB_OWNER", "alice/x")
    with pytest.raises(WeightsError, match="VTON_HUB_OWNER='alice/x' is not a Hub user"):
        weights.manifest()


def test_how_to_names_the_download_page_and_the_convert_and_publish_commands():
    line = weights.how_to_get(("cp-vton+/gmm", "cp-vton+/tom"))
    assert "\n" not in line
    assert ("cp-vton+/gmm: `python -m vton convert --method cp-vton+ --gmm gmm_final.pth --out WEIGHTS_DIR` (authors' "
            "files: https://github.com/minar09/cp-vton-plus#testing") in line
    assert "cp-vton+/tom: `python -m vton convert --method cp-vton+ --tom tom_final.pth --out WEIGHTS_DIR`" in line
    assert ("Maintainers publish and pin them for everyone with `python -m vton publish --method cp-vton+ --gmm "
            "gmm_final.pth --tom tom_final.pth --repo vton-lab/cp-vton-plus`") in line
    assert publish_command("openpose") == ""
    assert publish_command("acgpn") == ("python -m vton publish --method acgpn --G1 latest_net_G1.pth --G2 "
                                                "latest_net_G2.pth --G latest_net_G.pth --U latest_net_U.pth --repo "
                                                "vton-lab/acgpn")


def test_every_converted_network_records_its_authors_download_page_and_original():
    from vton import methods

    for c in methods.cards():
        for _, key in c.weights:
            e = weights.entry(key)
            assert e.download_page.startswith("https://github.com/"), key
            assert e.licence and e.licence_id in ("mit", "cc-by-nc-4.0", "other"), key
            assert e.original["file"].endswith(".pth") and e.original["file"] in e.source, key
            assert set(e.original) <= {"file", "bytes", "sha256"}, key
            sha = e.original.get("sha256")
            assert sha is None or re.fullmatch(r"[0-9a-f]{64}", sha), key
            assert e.original.get("bytes") is None or e.original["bytes"] > 0, key


def test_the_weights_package_sits_below_the_methods_the_pipeline_and_the_tools():
    """Importing ``vton.weights`` (every module of it) loads no method, pipeline, preprocessing or tool module."""
    import subprocess
    import sys

    code = ("import sys, pkgutil, importlib, vton.weights as w\n"
            "[importlib.import_module(f'vton.weights.{m.name}') for m in pkgutil.iter_modules(w.__path__)]\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('vton'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.split()
    assert "vton.weights.resolving" in loaded and "vton.weights.manifests" in loaded
    assert [m for m in loaded if not m.startswith("vton.weights") and m not in ("vton", "vton.errors")] == []


def test_readiness_is_one_value_with_one_wording():
    def net(status: str, *, verified: bool = True, random: bool = False, size: int = 0) -> weights.NetworkState:
        return weights.NetworkState("k", status, verified, random, "somewhere", size, "MIT")

    text = weights.readiness_text
    assert text(weights.Readiness({}, offline=True)) == "ready (training-free, no weights)"
    online = weights.Readiness({"gmm": net("hub", size=2_000_000), "tom": net("cached")}, offline=False)
    assert (online.ready, online.missing, online.download_bytes) == (True, ("gmm",), 2_000_000)
    assert text(online) == "ready (downloads 2 MB on first use)"
    offline = weights.Readiness(online.networks, offline=True)
    assert (offline.ready, offline.blocked_offline, offline.download_bytes) == (False, True, 0)
    assert text(offline) == "not ready (offline: the weights must be downloaded once)"
    assert text(offline, why=True) == "not ready: weights gmm missing (the Hub is offline)"
    unpublished = weights.Readiness({"gmm": net("unpublished"), "tom": net("local")}, offline=False)
    assert text(unpublished) == "not ready" and not unpublished.blocked_offline
    assert text(unpublished, why=True) == "not ready: weights gmm missing (not on this machine and not on the Hub yet)"
    flagged = weights.Readiness({"gmm": net("local", random=True), "tom": net("local", verified=False)}, offline=True)
    assert (flagged.random, flagged.unverified) == (True, ("tom",))
    assert text(flagged) == "ready (RANDOM test weights: the output is noise) (unverified weights: tom)"
    assert text(flagged, flags=False) == "ready" == flagged.as_dict()["readiness"]
