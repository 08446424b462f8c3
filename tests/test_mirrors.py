"""Pinned Hub mirrors of the authors' original files: size and sha256 checked before anything opens a file, one
conversion into vton's cache, readiness and provenance shown everywhere.

No network: each test lays out a Hugging Face cache folder as ``huggingface_hub`` lays it out (``spaces--owner--name``
with ``blobs/``, ``refs/main`` and ``snapshots/<revision>/<path>`` linking to the blob), points ``HF_HUB_CACHE`` at
it, sets ``HF_HUB_OFFLINE=1`` and goes through the real ``hf_hub_download`` / ``try_to_load_from_cache`` code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
import torch

from vton import weights
from vton.errors import WeightsError

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
REV = "0123456789abcdef0123456789abcdef01234567"  # the test mirror's pinned revision (any 40-hex commit)
KEY = "mirrortest/net"


@pytest.fixture
def hf_cache(offline_hub, monkeypatch) -> Path:
    """An empty Hugging Face cache folder used by huggingface_hub (env and its constants), offline."""
    cache = offline_hub / "hf-cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(offline_hub / "hf-home"))
    return cache


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_in_hf_cache(cache: Path, repo: str, repo_type: str, revision: str, path: str, data: bytes) -> Path:
    """Store ``data`` as huggingface_hub's cache stores a downloaded file: the blob named by its digest, the
    snapshot path of the pinned revision a relative link to it, ``refs/main`` naming the revision."""
    folder = cache / f"{repo_type}s--{repo.replace('/', '--')}"
    blob = folder / "blobs" / _sha(data)
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    snap = folder / "snapshots" / revision / path
    snap.parent.mkdir(parents=True, exist_ok=True)
    snap.symlink_to(os.path.relpath(blob, snap.parent))
    return snap


def _pth_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _manifest_with(tmp_path: Path, monkeypatch, extra: dict | None = None, **changes: dict) -> None:
    data = json.loads(weights.manifest_path().read_text())
    data["entries"].update(extra or {})
    for key, fields in changes.items():
        data["entries"][key].update(fields)
    path = tmp_path / f"manifest-{len(list(tmp_path.glob('manifest-*')))}.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("VTON_MANIFEST", str(path))


def _test_entry(tmp_path: Path, monkeypatch, *, sha256: str, size: int) -> dict:
    """A manifest entry whose only source is a mirror in the space ``someone/copies`` at ``REV``."""
    mirror = {"repo": "someone/copies", "repo_type": "space", "revision": REV, "path": "ckpt/net.pth",
              "bytes": size, "sha256": sha256, "provenance": "a test copy"}
    row = {"method": "mirrortest", "network": "net", "folder": "mirrortest", "repo": "vton-lab/mirrortest",
           "file": "net.safetensors", "revision": None, "sha256": None, "format": "safetensors", "bytes": None,
           "licence": "Test licence: non-commercial.", "source": "the authors' net.pth", "description": "a test",
           "original": {"file": "net.pth", "sha256": sha256, "bytes": size}, "mirrors": [mirror]}
    _manifest_with(tmp_path, monkeypatch, {KEY: row})
    return mirror


def _cache_files(offline_hub: Path) -> list[Path]:
    return [p for p in (offline_hub / "vton-cache").rglob("*") if p.is_file()]


GENUINE = {"module.w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(3)}


# ---------------------------------------------------------------------------------------------------------------
# refusals: nothing opened, nothing written


class _CreatesAFile:
    """Unpickling this object calls ``open(path, "w")``: it creates a file if it is ever executed."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_file_whose_sha256_is_not_the_manifests_is_refused_before_it_is_opened(hf_cache, offline_hub, tmp_path,
                                                                                  monkeypatch):
    marker = tmp_path / "created-by-the-pickle"
    evil = _pth_bytes({"w": _CreatesAFile(marker)})
    expected = _sha(b"the authors' file")
    _test_entry(tmp_path, monkeypatch, sha256=expected, size=len(evil))  # right size, other digest
    snap = put_in_hf_cache(hf_cache, "someone/copies", "space", REV, "ckpt/net.pth", evil)
    loads = []
    monkeypatch.setattr("vton.weights.checkpoint._torch_load", lambda p: loads.append(p))

    with pytest.raises(WeightsError) as err:
        weights.load_state_dict(KEY)
    msg = str(err.value)
    assert "someone/copies" in msg and REV in msg and f"expected {expected}" in msg and f"sha256 {_sha(evil)}" in msg
    assert "never unpickled" in msg and "\n" not in msg
    assert not marker.exists() and loads == [] and _cache_files(offline_hub) == []
    # the payload is live: unpickled without the weights-only guard, it creates the file
    monkeypatch.undo()
    torch.load(snap, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("cut, what", [(-100, "is truncated"), (+10, "is larger than the authors' file")])
def test_truncated_or_wrong_size_file_is_one_clear_error_and_nothing_is_written(hf_cache, offline_hub, tmp_path,
                                                                                 monkeypatch, cut, what):
    genuine = _pth_bytes(GENUINE)
    _test_entry(tmp_path, monkeypatch, sha256=_sha(genuine), size=len(genuine))
    data = genuine[:cut] if cut < 0 else genuine + b"\0" * cut
    put_in_hf_cache(hf_cache, "someone/copies", "space", REV, "ckpt/net.pth", data)
    hashed = []
    monkeypatch.setattr(weights.hashing, "_hash_file", lambda p, *a: hashed.append(p))
    with pytest.raises(WeightsError) as err:
        weights.resolve(KEY)
    msg = str(err.value)
    assert f"has {len(data):,} bytes but the authors' file has {len(genuine):,}" in msg and what in msg
    assert "someone/copies" in msg and REV in msg and "It was not opened" in msg
    assert hashed == [] and _cache_files(offline_hub) == []  # refused on its size, before even hashing


def test_missing_file_offline_says_in_one_paragraph_which_mirror_it_needs(hf_cache, offline_hub, tmp_path,
                                                                           monkeypatch):
    mirror = _test_entry(tmp_path, monkeypatch, sha256=_sha(b"x"), size=1234)
    with pytest.raises(WeightsError) as err:
        weights.resolve(KEY)
    msg = str(err.value)
    assert "\n" not in msg and "HF_HUB_OFFLINE=1 is set" in msg
    assert (f"{mirror['path']} (1,234 bytes, sha256 {mirror['sha256']}) from the third-party space repo "
            f"someone/copies at revision {REV}") in msg
    assert "Licence: Test licence: non-commercial." in msg
    assert _cache_files(offline_hub) == [] and not list(hf_cache.rglob("*.pth"))


# ---------------------------------------------------------------------------------------------------------------
# one conversion, then only the safetensors file


def test_conversion_happens_once_and_the_second_resolve_reads_only_the_safetensors(hf_cache, offline_hub, tmp_path,
                                                                                    monkeypatch):
    genuine = _pth_bytes(GENUINE)
    _test_entry(tmp_path, monkeypatch, sha256=_sha(genuine), size=len(genuine))
    put_in_hf_cache(hf_cache, "someone/copies", "space", REV, "ckpt/net.pth", genuine)
    assert weights.availability()[KEY] == "cached"  # the original is on this machine (e.g. preloaded)
    loads = []
    from vton.weights import checkpoint as checkpoints

    real = checkpoints._torch_load
    monkeypatch.setattr(checkpoints, "_torch_load", lambda p: loads.append(p) or real(p))

    r = weights.resolve(KEY, convert=weights.read_checkpoint)
    assert (r.origin, r.verified, r.mirror.repo, r.mirror.revision) == ("mirror", True, "someone/copies", REV)
    assert r.path == weights.cache_dir() / "mirrortest" / f"net-{_sha(genuine)[:16]}.safetensors"
    assert len(loads) == 1 and r.sha256 == hashlib.sha256(r.path.read_bytes()).hexdigest()
    record = json.loads(r.path.with_name(r.path.name + ".sha256.json").read_text())
    assert (record["original_sha256"], record["sha256"], record["mirror"]["revision"]) == (_sha(genuine), r.sha256,
                                                                                          REV)
    assert weights.source_text(r) == ("the authors' release, third-party copy `someone/copies@0123456`, sha256 "
                                      "verified; converted locally")

    def _forbidden(*a, **k):
        raise AssertionError("the .pth or the Hub was touched again")

    import huggingface_hub

    monkeypatch.setattr(checkpoints, "_torch_load", _forbidden)
    monkeypatch.setattr(torch, "load", _forbidden)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _forbidden)
    monkeypatch.setattr(weights.resolving, "_fetch_mirror", _forbidden)
    import shutil

    shutil.rmtree(hf_cache)  # the original is gone: only the converted file remains
    again = weights.resolve(KEY, convert=weights.read_checkpoint)
    assert (again.path, again.sha256, again.origin) == (r.path, r.sha256, "mirror")
    sd = weights.load_state_dict(KEY, convert=weights.read_checkpoint)
    # converted and loaded weights keep their bits: exact
    assert torch.equal(sd["w"], GENUINE["module.w"]) and torch.equal(sd["b"], GENUINE["b"])
    assert weights.availability()[KEY] == "cached"


def test_a_verified_original_without_its_methods_converter_is_refused_and_nothing_is_written(hf_cache, offline_hub,
                                                                                          tmp_path, monkeypatch):
    """vton.weights imports no method: converting a mirror's original needs the caller's converter."""
    genuine = _pth_bytes(GENUINE)
    _test_entry(tmp_path, monkeypatch, sha256=_sha(genuine), size=len(genuine))
    put_in_hf_cache(hf_cache, "someone/copies", "space", REV, "ckpt/net.pth", genuine)
    loads = []
    monkeypatch.setattr("vton.weights.checkpoint._torch_load", lambda p: loads.append(p))
    with pytest.raises(WeightsError) as err:
        weights.resolve(KEY)
    msg = str(err.value)
    assert "must be converted by its method" in msg and "python -m vton prepare" in msg and REV in msg
    assert loads == [] and _cache_files(offline_hub) == []


def test_a_methods_network_is_converted_by_its_methods_converter_any_other_by_read_checkpoint(tmp_path, monkeypatch):
    """``vton.tools.networks.converter``: the method's renames (``adapt_state_dict``) and shape checks apply."""
    from vton import methods
    from vton.tools.networks import converter

    assert converter(KEY) is weights.read_checkpoint  # no registered method lists the test key
    c = next(c for c in methods.cards() if c.weights)
    name, key = c.weights[0]
    cls = type(methods.create(c.id))
    renamed = []

    def adapt(self, net, sd):
        renamed.append(net)
        return {("weight" if k == "w" else k): v for k, v in sd.items()}, ["renamed w"]

    monkeypatch.setattr(cls, "build_network", lambda self, net, **kw: torch.nn.Linear(2, 3))
    monkeypatch.setattr(cls, "adapt_state_dict", adapt)
    pth = tmp_path / "net.pth"
    torch.save({"module.w": torch.ones(3, 2), "bias": torch.zeros(3)}, pth)
    notes: list[str] = []
    got = converter(key)(pth, notes=notes)
    assert sorted(got) == ["bias", "weight"] and torch.equal(got["weight"], torch.ones(3, 2))
    assert renamed == [name] and "renamed w" in notes
    torch.save({"w": torch.ones(4, 2), "bias": torch.zeros(3)}, pth)
    with pytest.raises(WeightsError, match=r"shape mismatch.*weight \(4, 2\) vs \(3, 2\)"):
        converter(key)(pth)


def test_a_damaged_conversion_is_not_trusted(hf_cache, offline_hub, tmp_path, monkeypatch):
    genuine = _pth_bytes(GENUINE)
    _test_entry(tmp_path, monkeypatch, sha256=_sha(genuine), size=len(genuine))
    put_in_hf_cache(hf_cache, "someone/copies", "space", REV, "ckpt/net.pth", genuine)
    r = weights.resolve(KEY, convert=weights.read_checkpoint)
    r.path.write_bytes(r.path.read_bytes()[:-4] + b"XXXX")
    st = r.path.stat()  # damaged later (not within the timestamp tick of the conversion, which the hash cache keys on)
    os.utime(r.path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    damaged = _sha(r.path.read_bytes())
    # converted anew from the verified original (safetensors metadata order varies)
    again = weights.resolve(KEY, convert=weights.read_checkpoint)
    assert again.path == r.path and again.sha256 == _sha(again.path.read_bytes()) != damaged
    record = json.loads(r.path.with_name(r.path.name + ".sha256.json").read_text())
    assert record["sha256"] == again.sha256
    assert torch.equal(weights.load_state_dict(KEY, convert=weights.read_checkpoint)["w"], GENUINE["module.w"])


# ---------------------------------------------------------------------------------------------------------------
# readiness: the real PF-AFN rows


def test_pf_afn_rows_pin_the_issue_facts():
    rows = {k: weights.entry(k).mirrors for k in ("pf-afn/warp", "pf-afn/gen")}
    for key, (m,) in rows.items():
        assert (m.repo, m.repo_type, m.revision) == ("Ravi21/smart12", "space",
                                                     "7f0687b49289a8384e665f38915eaa8a6d327fbf")
        assert m.sha256 == weights.entry(key).original["sha256"] and m.bytes == weights.entry(key).original["bytes"]
    assert rows["pf-afn/warp"][0].path == "checkpoints/checkpoints/PFAFN/warp_model_final.pth"
    assert rows["pf-afn/gen"][0].path == "checkpoints/checkpoints/PFAFN/gen_model_final.pth"
    assert "sha256" not in (weights.entry("cp-vton/tom").original or {})  # no digest we cannot trace to the authors


def test_manifest_refuses_an_unpinned_mirror(tmp_path, offline_hub, monkeypatch):
    m = dict(weights.entry("pf-afn/warp").mirrors[0].as_dict(), revision="31cc1b8")
    _manifest_with(tmp_path, monkeypatch, **{"pf-afn/warp": {"mirrors": [m]}})
    with pytest.raises(WeightsError, match="revision '31cc1b8' is not a pinned 40-hex commit"):
        weights.manifest()


def test_a_mirror_only_method_is_ready_online_and_says_what_it_downloads(offline_hub, monkeypatch):
    from vton import methods

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    row = methods.describe("pf-afn")
    assert row["ready"] and row["readiness"] == "ready (downloads 293 MB on first use)"
    assert row["download_bytes"] == 117_367_848 + 175_752_837
    assert row["weights"]["warp"]["status"] == "mirror"
    assert row["weights"]["warp"]["source"].startswith(
        "the authors' release, third-party copy `Ravi21/smart12@7f0687b`")
    assert "non-commercial research use only" in row["weights"]["gen"]["licence"]
    from vton.web import readiness

    rows = readiness.method_table()
    label = dict((v, k) for k, v in readiness.method_choices(rows))["pf-afn"]
    assert "weights ready (downloads 293 MB on first use)" in label.split(" · ")  # its own part of the label
    banner = readiness.readiness_banner(rows)
    assert "**PF-AFN**: ready (downloads 293 MB on first use)" in banner
    assert "third-party copy `Ravi21/smart12@7f0687b`" in banner and "Non-commercial research use only" in banner


def test_offline_the_mirror_only_method_names_the_mirror_it_needs(offline_hub, capsys):
    from vton import methods
    from vton.cli import main

    row = methods.describe("pf-afn")
    assert not row["ready"] and row["readiness"] == "not ready (offline: the weights must be downloaded once)"
    assert ("from the third-party space repo Ravi21/smart12 at revision 7f0687b49289a8384e665f38915eaa8a6d327fbf, "
            "file checkpoints/checkpoints/PFAFN/gen_model_final.pth (175,752,837 bytes") in row["how_to"]
    assert main(["methods", "--json"]) == 0
    got = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert got["pf-afn"]["weights"]["warp"]["status"] == "mirror" and got["pf-afn"]["ready"] is False


# ---------------------------------------------------------------------------------------------------------------
# end to end: a PF-AFN mirror resolves, converts, loads strictly and runs


@pytest.mark.slow
def test_pf_afn_from_a_mirror_resolves_converts_loads_strictly_and_runs(hf_cache, offline_hub, tmp_path,
                                                                         monkeypatch):
    from vton.methods import build_network
    from vton.pipeline import TryOnPipeline

    g = torch.Generator().manual_seed(0)
    changes, state = {}, {}
    for net in ("warp", "gen"):
        sd = {k: (torch.randn(v.shape, generator=g) * 0.02).to(v.dtype) if v.is_floating_point() else v
              for k, v in build_network("pf-afn", net).state_dict().items()}
        sd = {k: v.abs() + 0.5 if k.endswith("running_var") else v for k, v in sd.items()}
        state[net] = sd
        data = _pth_bytes({"module." + k: v for k, v in sd.items()})  # the authors saved DataParallel modules
        m = weights.entry(f"pf-afn/{net}").mirrors[0]
        put_in_hf_cache(hf_cache, m.repo, m.repo_type, m.revision, m.path, data)
        # in this test only: the expected digest and size are the generated file's
        changes[f"pf-afn/{net}"] = {"original": {"file": Path(m.path).name, "sha256": _sha(data), "bytes": len(data)},
                                    "mirrors": [dict(m.as_dict(), sha256=_sha(data), bytes=len(data))]}
    _manifest_with(tmp_path, monkeypatch, **changes)

    from vton.web import messages, running

    monkeypatch.setattr(running, "_pipelines", type(running._pipelines)())
    monkeypatch.setattr(running, "_preprocessors", type(running._preprocessors)())
    seen = []  # the page's progress: the first use shows the check and the conversion of each file
    result = running.run_tryon("pf-afn", running.Uploads(EX / "person.png", EX / "cloth_tshirt.png", None, None, None),
                              None, lambda k, d, t: seen.append((k, d, t)))
    pipe = running.pipeline("pf-afn", None)
    assert tuple(result.tryon.shape) == (1, 3, *reversed(pipe.card.frame))
    steps = [k for k, _, _ in seen]
    for name in ("warp_model_final.pth", "gen_model_final.pth"):
        check = steps.index(f"weights:checking the sha256 of {name} from Ravi21/smart12@7f0687b")
        assert steps[check + 1] == f"weights:converting {name} to safetensors (once; torch.load weights_only=True)"
    assert messages.progress_desc(steps[check + 1], 0, 1) == ("converting gen_model_final.pth to safetensors (once; "
                                                            "torch.load weights_only=True)")
    for net in ("warp", "gen"):
        loaded = pipe.method.nets[net].state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in state[net].items())  # loaded as written: exact
        prov = result.provenance["networks"][net]
        assert prov["origin"] == "mirror" and prov["revision"] == "7f0687b49289a8384e665f38915eaa8a6d327fbf"
        assert prov["source"] == ("the authors' release, third-party copy `Ravi21/smart12@7f0687b`, sha256 "
                                  "verified; converted locally")
        assert prov["original"]["repo"] == "Ravi21/smart12" and "non-commercial" in prov["licence"]
        assert Path(prov["file"]).parent == weights.cache_dir() / "pf-afn"
    assert result.provenance["random_weights"] is False

    def _forbidden(*a, **k):
        raise AssertionError("the second run touched the Hub or a .pth")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _forbidden)
    monkeypatch.setattr(torch, "load", _forbidden)
    again = TryOnPipeline("pf-afn", device="cpu")  # a new process would do the same: read the converted files
    again.load()
    assert {n: i.origin for n, i in again.method.loaded.items()} == {"warp": "mirror", "gen": "mirror"}


# ---------------------------------------------------------------------------------------------------------------
# provenance stays honest


def test_converting_random_weights_keeps_them_random(offline_hub, tmp_path, monkeypatch, capsys):
    from vton import methods
    from vton.cli import main
    from vton.tools import convert, random_weights

    card = methods.card("cp-vton")
    rw = random_weights.write_random_weights(tmp_path / "rw", methods=["cp-vton"], seed=3, **card.test_overrides)
    tiny = {k: {n: tuple(v.shape) for n, v in methods.build_network("cp-vton", name, **card.test_overrides)
                .state_dict().items()} for name, k in card.weights}
    monkeypatch.setattr(convert, "_expected_shapes", lambda e, notes: tiny[e.key])
    out = tmp_path / "converted"
    assert main(["convert", "--method", "cp-vton", "--gmm", str(rw / "cp-vton" / "gmm_final.safetensors"),
                 "--tom", str(rw / "cp-vton" / "tom_final.safetensors"), "--out", str(out)]) == 0
    assert "RANDOM" in capsys.readouterr().out
    local = json.loads((out / "cp-vton" / "manifest.json").read_text())["entries"]
    assert local["cp-vton/gmm"]["synthetic"] is True and local["cp-vton/tom"]["synthetic"] is True
    assert main(["methods", "--json", "--weights-dir", str(out)]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == "cp-vton")
    assert row["random"] is True and row["weights"]["gmm"] == dict(row["weights"]["gmm"], random=True,
                                                                    verified=True)
    assert "RANDOM weights" in (out / "cp-vton" / "README.md").read_text()


def test_converting_a_random_pth_declared_by_its_folder_keeps_it_random(offline_hub, tmp_path):
    from vton.tools import convert

    pth = tmp_path / "rw" / "cp-vton" / "tom_final.pth"
    pth.parent.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, pth)
    (pth.parent / "manifest.json").write_text(json.dumps({"entries": {"cp-vton/tom": {
        "file": "tom_final.pth", "synthetic": True}}}))
    out = convert.convert_checkpoint(pth, "cp-vton/tom", tmp_path / "o", expected_keys=["w"])
    assert weights.local_status("cp-vton/tom", tmp_path / "o") == {"verified": True, "random": True}
    assert weights.marked_random(out)


@pytest.mark.slow
def test_a_cp_vton_plus_tom_is_named_by_its_shapes_and_refused_as_cp_vton(offline_hub, tmp_path):
    from vton.methods import build_network
    from vton.tools import convert

    pth = tmp_path / "tom_final.pth"
    torch.save({"module." + k: v for k, v in build_network("cp-vton+", "tom").state_dict().items()}, pth)
    with pytest.raises(WeightsError, match=r"this is a CP-VTON\+ TOM \(26 input channels\), not CP-VTON's"):
        convert.convert_checkpoint(pth, "cp-vton/tom", tmp_path / "w")
    assert not (tmp_path / "w" / "cp-vton" / "tom_final.safetensors").exists()
    notes: list[str] = []
    assert convert.convert_checkpoint(pth, "cp-vton+/tom", tmp_path / "w", notes=notes).is_file()



def test_download_progress_goes_to_the_page_reporter_in_bytes():
    got = []
    with weights.progress_to(lambda text, done, total: got.append((text, done, total))):
        bar = weights.hub.tqdm_class("downloading x")(total=300, disable=True)
        bar.update(100)
        bar.update(200)
    assert got == [("downloading x", 100.0, 300.0), ("downloading x", 300.0, 300.0)]
    assert weights.hub.tqdm_class("y") is None  # outside: huggingface_hub's own console bar
    from vton.web import messages

    assert messages.progress_desc("weights:downloading x", 56_000_000, 117_000_000) == "downloading x · 56/117 MB"


def test_tryon_offline_without_the_mirror_files_explains_in_one_paragraph(offline_hub, tmp_path, capsys):
    from vton.cli import main

    code = main(["tryon", "--method", "pf-afn", "--person", str(EX / "person.png"), "--cloth",
                 str(EX / "cloth_tshirt.png"), "--out", str(tmp_path / "out"), "--device", "cpu"])
    err = capsys.readouterr().err
    message = err[err.index("error: "):].replace("\n       ", " ")
    assert code == 2 and "Traceback" not in err and "downloading" not in err
    assert message.count("\n") == 1  # one paragraph
    for name in ("warp", "gen"):
        assert f"checkpoints/checkpoints/PFAFN/{name}_model_final.pth" in message
    assert "Ravi21/smart12 at revision 7f0687b49289a8384e665f38915eaa8a6d327fbf" in message
    assert "non-commercial research use only" in message and _cache_files(offline_hub) == []
