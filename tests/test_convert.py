"""The checkpoint converter: authors' .pth -> safetensors folder with manifest and model card, refusals, caching."""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from vton import weights
from vton.errors import InputError, WeightsError
from vton.tools import cli as tools_cli
from vton.tools import convert, publish, random_weights

BODY_REV = "982e7edaec38759d914a963c48c4726685de7d96"
# Any weights do for the converter (not the golden fixtures' weights): an arbitrary seed of the fixtures' generator.
ANY_SEED = 3

# torch.equal on weights below is exact by construction: a save / convert / load round trip stores the same bits.


@pytest.fixture(autouse=True)
def offline(offline_hub):
    return offline_hub


def _make_weights(layouts_dir: Path):
    spec = importlib.util.spec_from_file_location("golden_make_weights", layouts_dir.parent / "make_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _old_torch_dataparallel(sd: dict) -> dict:
    """What an old torch + DataParallel training run saved: ``module.`` prefixes, no ``num_batches_tracked``."""
    return {"module." + k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}


class NotATensor:
    """A class a weights-only unpickler refuses to rebuild."""

    def __reduce__(self):
        return (print, ("this would run code",))


def _body_manifest(tmp_path: Path, monkeypatch, sha256: str) -> None:
    data = json.loads(weights.manifest_path().read_text())
    data["entries"]["openpose/body"]["sha256"] = sha256
    path = tmp_path / "manifest-body.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("VTON_MANIFEST", str(path))


def _small_body_sd() -> dict:
    g = torch.Generator().manual_seed(1)
    return {"conv1_1.weight": torch.randn(4, 3, 3, 3, generator=g), "conv1_1.bias": torch.randn(4, generator=g),
            "Mconv7_stage6_L2.weight": torch.randn(19, 4, 1, 1, generator=g)}


# ---------------------------------------------------------------------------------------------------------------
# read_checkpoint


def test_read_checkpoint_unwraps_strips_module_prefix_and_adds_num_batches_tracked(tmp_path):
    bn = torch.nn.BatchNorm2d(3)
    sd = {"conv.weight": torch.randn(3, 1, 1, 1), **{f"bn.{k}": v for k, v in bn.state_dict().items()}}
    pth = tmp_path / "ck.pth"
    torch.save({"state_dict": _old_torch_dataparallel(sd), "epoch": 200, "opt": "adam"}, pth)
    notes: list[str] = []
    got = weights.read_checkpoint(pth, notes=notes)
    assert list(got) == list(sd)
    for k in sd:
        assert torch.equal(got[k], sd[k]) and got[k].dtype == sd[k].dtype
    assert got["bn.num_batches_tracked"].dtype == torch.int64 and got["bn.num_batches_tracked"].shape == ()
    assert any("'state_dict'" in n and "epoch" in n for n in notes)
    assert any("module." in n for n in notes) and any("num_batches_tracked" in n for n in notes)


def test_read_checkpoint_skips_non_tensor_entries_with_a_note(tmp_path):
    pth = tmp_path / "ck.pth"
    torch.save({"w": torch.ones(2), "step": 7, "name": "gmm"}, pth)
    notes: list[str] = []
    assert list(weights.read_checkpoint(pth, notes=notes)) == ["w"]
    assert any("skipped 2 non-tensor entries" in n for n in notes)


def test_pickle_with_code_is_refused_with_a_clear_message(tmp_path):
    pth = tmp_path / "evil.pth"
    torch.save({"w": torch.ones(1), "payload": NotATensor()}, pth)
    with pytest.raises(InputError, match=r"weights_only=True.*Unsupported global.*not a plain checkpoint"):
        weights.read_checkpoint(pth)
    raw = tmp_path / "evil.pkl"
    raw.write_bytes(pickle.dumps(NotATensor(), protocol=2))
    with pytest.raises(InputError, match="is not a PyTorch checkpoint|weights_only"):
        weights.read_checkpoint(raw)


def test_non_checkpoints_are_refused(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a PyTorch checkpoint"):
        weights.read_checkpoint(text)
    with pytest.raises(InputError, match="does not exist"):
        weights.read_checkpoint(tmp_path / "absent.pth")
    empty = tmp_path / "empty.pth"
    torch.save({"epoch": 3}, empty)
    with pytest.raises(InputError, match="holds no tensors"):
        weights.read_checkpoint(empty)
    listed = tmp_path / "list.pth"
    torch.save([torch.ones(1)], listed)
    with pytest.raises(InputError, match="not a state dict"):
        weights.read_checkpoint(listed)


# ---------------------------------------------------------------------------------------------------------------
# convert_checkpoint


@pytest.mark.slow
def test_authors_cpvtonplus_gmm_converts_to_identical_tensors(tmp_path, layouts_dir, capsys):
    mw = _make_weights(layouts_dir)
    sd = mw.make_state_dict(json.loads((layouts_dir / "cpvtonplus_gmm.json").read_text()), ANY_SEED)
    pth = tmp_path / "gmm_final.pth"
    torch.save({"state_dict": _old_torch_dataparallel(sd)}, pth)

    args = _parse("convert", "--method", "cp-vton+", "--gmm", str(pth), "--out", str(tmp_path / "w"))
    assert args.func(args) == 0
    out = tmp_path / "w" / "cp-vton-plus" / "gmm_final.safetensors"
    printed = capsys.readouterr().out
    assert f"cp-vton+/gmm: {pth} -> {out}" in printed and "num_batches_tracked" in printed
    got = load_file(str(out))
    assert list(got) == list(sd) or sorted(got) == sorted(sd)
    for k, v in sd.items():
        assert got[k].dtype == v.dtype and torch.equal(got[k], v), k
    assert mw.digest({k: got[k] for k in sd}) == mw.digest(sd)

    local = json.loads((out.parent / "manifest.json").read_text())["entries"]["cp-vton+/gmm"]
    assert local["sha256"] == _sha(out) and local["bytes"] == out.stat().st_size
    assert local["bytes"] == weights.entry("cp-vton+/gmm").bytes
    assert local["converted_from"]["sha256"] == _sha(pth)
    card = (out.parent / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and _sha(pth) in card
    assert "python -m vton convert --method cp-vton+ --gmm gmm_final.pth --out OUT_DIR" in card
    assert "minar09/cp-vton-plus@5d7a8997" in card

    r = weights.resolve("cp-vton+/gmm", tmp_path / "w")
    assert r.verified and r.path == out
    from vton.methods import build_network

    net = weights.load_network(build_network("cp-vton+", "gmm"), "cp-vton+/gmm", tmp_path / "w")
    assert torch.equal(net.state_dict()["regression.linear.weight"], sd["regression.linear.weight"])


@pytest.mark.slow
def test_checkpoint_of_the_other_variant_is_rejected_with_shapes(tmp_path, layouts_dir):
    mw = _make_weights(layouts_dir)
    sd = mw.make_state_dict(json.loads((layouts_dir / "cpvton_gmm.json").read_text()), ANY_SEED)
    pth = tmp_path / "gmm_final.pth"
    torch.save(sd, pth)
    with pytest.raises(WeightsError, match=r"this is a CP-VTON GMM \(3 input channels at extractionB\.model\.0\.weight"
                                         r"\), not CP-VTON\+'s.*extractionB\.model\.0\.weight \(64, 3, 4, 4\) vs "
                                         r"\(64, 1, 4, 4\)"):
        convert.convert_checkpoint(pth, "cp-vton+/gmm", tmp_path / "w")
    assert not (tmp_path / "w" / "cp-vton-plus" / "gmm_final.safetensors").exists()


def test_expected_keys_mismatch_is_a_weights_error(tmp_path):
    pth = tmp_path / "tom_final.pth"
    torch.save({"a": torch.zeros(3, 3), "b": torch.zeros(1)}, pth)
    with pytest.raises(WeightsError, match=r"1 missing key\(s\): c.*1 unexpected key\(s\): b.*a \(3, 3\) vs \(2, 3\)"):
        convert.convert_checkpoint(pth, "cp-vton/tom", tmp_path / "w", expected_keys={"a": (2, 3), "c": (1,)})


def test_second_conversion_keeps_the_other_network_in_the_folder_manifest(tmp_path):
    for name in ("gmm", "tom"):
        pth = tmp_path / f"{name}_final.pth"
        torch.save({f"{name}.w": torch.full((2,), 3.0)}, pth)
        convert.convert_checkpoint(pth, f"cp-vton/{name}", tmp_path / "w", expected_keys=[f"{name}.w"])
    entries = json.loads((tmp_path / "w" / "cp-vton" / "manifest.json").read_text())["entries"]
    assert sorted(entries) == ["cp-vton/gmm", "cp-vton/tom"]
    assert weights.availability(tmp_path / "w")["cp-vton/tom"] == "local"
    assert weights.resolve("cp-vton/gmm", tmp_path / "w").verified


# ---------------------------------------------------------------------------------------------------------------
# the OpenPose .pth at load time


def test_openpose_pth_is_converted_once_and_cached_beside_it(tmp_path, monkeypatch):
    sd = _small_body_sd()
    pth = tmp_path / "w" / "openpose" / "body_pose_model.pth"
    pth.parent.mkdir(parents=True)
    torch.save(sd, pth)
    _body_manifest(tmp_path, monkeypatch, _sha(pth))

    got = weights.load_state_dict("openpose/body", tmp_path / "w")
    assert sorted(got) == sorted(sd) and all(torch.equal(got[k], sd[k]) for k in sd)
    cached = pth.parent / f"body_pose_model-{_sha(pth)[:16]}.safetensors"
    with safe_open(str(cached), "pt") as f:
        assert f.metadata()["original_sha256"] == _sha(pth)

    def _no_reconvert(*a, **k):
        raise AssertionError("converted twice")

    monkeypatch.setattr("vton.weights.checkpoint.convert_pth_file", _no_reconvert)  # what vton.weights calls
    again = weights.load_state_dict("openpose/body", tmp_path / "w")
    assert all(torch.equal(again[k], sd[k]) for k in sd)


def test_openpose_pth_from_the_hub_cache_is_converted_into_vton_cache(tmp_path, monkeypatch):
    snap = tmp_path / "hf-cache" / "models--lllyasviel--Annotators" / "snapshots" / BODY_REV
    snap.mkdir(parents=True)
    torch.save(_small_body_sd(), snap / "body_pose_model.pth")
    sha = _sha(snap / "body_pose_model.pth")
    _body_manifest(tmp_path, monkeypatch, sha)
    got = weights.load_state_dict("openpose/body")
    assert torch.equal(got["conv1_1.bias"], _small_body_sd()["conv1_1.bias"])
    assert (tmp_path / "vton-cache" / "openpose" / f"body_pose_model-{sha[:16]}.safetensors").is_file()
    assert not list(snap.glob("*.safetensors"))


def test_convert_pth_file_records_the_original_sha256(tmp_path):
    pth = tmp_path / "x.pth"
    torch.save({"module.w": torch.arange(4.0)}, pth)
    out = weights.checkpoint.convert_pth_file(pth, tmp_path / "out" / "x.safetensors", metadata={"vton_key": "k"})
    with safe_open(str(out), "pt") as f:
        assert f.metadata() == {"format": "pt", "vton_key": "k", "original_sha256": _sha(pth)}
        assert torch.equal(f.get_tensor("w"), torch.arange(4.0))


# ---------------------------------------------------------------------------------------------------------------
# CLI pieces


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    tools_cli.add_convert_parser(sub)
    tools_cli.add_random_weights_parser(sub)
    return parser.parse_args(argv)


def test_converted_openpose_file_is_declared_by_the_local_manifest(tmp_path):
    pth = tmp_path / "body_pose_model.pth"
    torch.save(_small_body_sd(), pth)
    out = convert.convert_checkpoint(pth, "openpose/body", tmp_path / "w", expected_keys=list(_small_body_sd()))
    assert out == tmp_path / "w" / "openpose" / "body_pose_model.safetensors"
    r = weights.resolve("openpose/body", tmp_path / "w")
    assert (r.path, r.verified, r.entry.format) == (out, True, "safetensors")
    assert torch.equal(weights.load_state_dict("openpose/body", tmp_path / "w")["conv1_1.weight"],
                       _small_body_sd()["conv1_1.weight"])
    assert "license: other" in (out.parent / "README.md").read_text()


@pytest.mark.skipif(importlib.util.find_spec("controlnet_aux") is None, reason="the OpenPose body network needs "
                    "controlnet-aux")
def test_openpose_checkpoint_is_checked_against_the_body_network(tmp_path):
    pth = tmp_path / "body_pose_model.pth"
    torch.save(_small_body_sd(), pth)
    with pytest.raises(WeightsError, match=r"missing key\(s\).*conv1_2.weight.*conv1_1.weight \(4, 3, 3, 3\) vs "
                                           r"\(64, 3, 3, 3\)"):
        convert.convert_checkpoint(pth, "openpose/body", tmp_path / "w")


def test_onnx_entries_are_not_converted(tmp_path):
    with pytest.raises(InputError, match="ONNX model: there is nothing to convert"):
        convert.convert_checkpoint(tmp_path / "x.pth", "schp/lip", tmp_path / "w")


def test_convert_command_rejects_incomplete_arguments(tmp_path):
    with pytest.raises(InputError, match="needs --gmm PATH and/or --tom PATH"):
        tools_cli.run_convert(_parse("convert", "--method", "cp-vton", "--out", str(tmp_path)))
    with pytest.raises(InputError, match="needs --checkpoint"):
        tools_cli.run_convert(_parse("convert", "--key", "cp-vton/gmm", "--out", str(tmp_path)))
    with pytest.raises(InputError, match="Nothing to convert"):
        tools_cli.run_convert(_parse("convert", "--out", str(tmp_path)))
    with pytest.raises(InputError, match="--out DIR"):
        tools_cli.run_convert(_parse("convert", "--key", "cp-vton/gmm", "--checkpoint", "x.pth"))


# ---------------------------------------------------------------------------------------------------------------
# upload (argument checks and offline refusal only: no network here)


def test_upload_folder_validates_arguments_and_refuses_offline(tmp_path):
    pth = tmp_path / "gmm_final.pth"
    torch.save({"w": torch.ones(1)}, pth)
    out = convert.convert_checkpoint(pth, "cp-vton/gmm", tmp_path / "w", expected_keys=["w"])
    with pytest.raises(InputError, match="owner/name"):
        publish.upload_folder(out.parent, "not a repo")
    with pytest.raises(InputError, match="not a converted weights folder"):
        publish.upload_folder(tmp_path, "vton-lab/cp-vton")
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE=1"):
        publish.upload_folder(out.parent, "vton-lab/cp-vton")


# ---------------------------------------------------------------------------------------------------------------
# random weights


def test_reinit_is_deterministic_per_seed():
    sd = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)).state_dict()
    a = random_weights._reinit(sd, torch.Generator().manual_seed(5))
    b = random_weights._reinit(sd, torch.Generator().manual_seed(5))
    c = random_weights._reinit(sd, torch.Generator().manual_seed(6))
    # the same draws from the same seed: bit-identical
    assert all(torch.equal(a[k], b[k]) for k in sd) and not torch.equal(a["0.weight"], c["0.weight"])
    assert (a["1.running_var"] >= 0.75).all() and a["1.num_batches_tracked"].dtype == torch.int64


@pytest.mark.slow
def test_random_weights_folder_loads_and_says_it_is_random(tmp_path, capsys):
    from vton.methods import build_network

    args = _parse("random-weights", str(tmp_path / "w"), "--methods", "cp-vton+", "--seed", "3")
    assert args.func(args) == 0
    folder = tmp_path / "w" / "cp-vton-plus"
    entries = json.loads((folder / "manifest.json").read_text())["entries"]
    assert sorted(entries) == ["cp-vton+/gmm", "cp-vton+/tom"] and all(e["synthetic"] for e in entries.values())
    assert "RANDOM" in (folder / "README.md").read_text() and "noise" in (folder / "README.md").read_text()
    for name in ("gmm", "tom"):
        weights.load_network(build_network("cp-vton+", name), f"cp-vton+/{name}", tmp_path / "w")
    m = weights.readiness((("gmm", "cp-vton+/gmm"), ("tom", "cp-vton+/tom")), tmp_path / "w")
    assert m.ready and m.random
    with pytest.raises(InputError, match="RANDOM"):
        publish.upload_folder(folder, "vton-lab/cp-vton-plus")


# ---------------------------------------------------------------------------------------------------------------
# recognising the authors' originals by sha256


def test_manifest_knows_the_published_digests_of_the_authors_files():
    table = convert.known_originals()
    # a TOM file hosted by a third party, never traced to CP-VTON's authors (who released no weights): not known
    assert "45095d49c86f260c23475b46119985620442b8986c0f8b0973966082e050dc00" not in table
    assert table["acb0eb3a4384dd6d636391d22d0ddea09284d9934c888d653c0e5f1378b95627"] == ("pf-afn/gen",
                                                                                         "gen_model_final.pth")
    assert table["4aa60187464577a5ccc742bdd12f9df28ed2eceff94c1686a14c61788fc275a7"] == ("pf-afn/warp",
                                                                                         "warp_model_final.pth")
    assert weights.entry("pf-afn/gen").original["bytes"] == 175_752_837
    assert weights.entry("pf-afn/warp").original["bytes"] == 117_367_848


def _stand_ins(tmp_path: Path) -> tuple[Path, Path]:
    """Two small checkpoints: the 'genuine' tom_final.pth (declared below) and a retrained one."""
    genuine, other = tmp_path / "tom_final.pth", tmp_path / "tom_retrained.pth"
    torch.save({"w": torch.arange(3.0)}, genuine)
    torch.save({"w": torch.arange(3.0) + 1}, other)
    return genuine, other


def test_genuine_and_unknown_files_are_told_apart_by_sha256(tmp_path, monkeypatch):
    genuine, other = _stand_ins(tmp_path)
    monkeypatch.setattr(convert, "known_originals", lambda: {_sha(genuine): ("cp-vton/tom", "tom_final.pth")})

    notes: list[str] = []
    out = convert.convert_checkpoint(genuine, "cp-vton/tom", tmp_path / "a", expected_keys=["w"], notes=notes)
    assert notes[0] == f"recognised: the authors' tom_final.pth (sha256 {_sha(genuine)})"
    rec = json.loads((out.parent / "manifest.json").read_text())["entries"]["cp-vton/tom"]["converted_from"]
    assert (rec["file"], rec["sha256"], rec["bytes"], rec["recognised"]) == (
        "tom_final.pth", _sha(genuine), genuine.stat().st_size, "tom_final.pth")
    assert rec["tool"].startswith("vton 0.1.0 (vton convert), torch ")
    card = (out.parent / "README.md").read_text()
    assert f"sha256 `{_sha(genuine)}`" in card and "(recognised: the authors' tom_final.pth)" in card

    notes = []
    out = convert.convert_checkpoint(other, "cp-vton/tom", tmp_path / "b", expected_keys=["w"], notes=notes)
    assert notes[0] == (f"not a known release of cp-vton (sha256 {_sha(other)}; the authors' tom_final.pth has "
                        f"sha256 {_sha(genuine)})")
    rec = json.loads((out.parent / "manifest.json").read_text())["entries"]["cp-vton/tom"]["converted_from"]
    assert rec["sha256"] == _sha(other) and rec["recognised"] is None
    assert "NOT a known release: not a known release of cp-vton" in (out.parent / "README.md").read_text()

    with pytest.raises(InputError, match=r"authors' original of cp-vton/tom .*not of cp-vton\+/tom.*--tom of "
                                         r"--method cp-vton"):
        convert.convert_checkpoint(genuine, "cp-vton+/tom", tmp_path / "c", expected_keys=["w"])


def test_network_without_a_known_digest_says_so(tmp_path, monkeypatch):
    genuine, _ = _stand_ins(tmp_path)
    monkeypatch.setattr(convert, "known_originals", dict)
    rec = convert.recognise(genuine, "cp-vton+/tom")
    assert not rec.recognised and rec.expected == ()
    assert rec.message == (f"not a known release of cp-vton+ (sha256 {_sha(genuine)}; vton knows no sha256 of the "
                           "authors' tom_final.pth yet)")


def test_convert_command_prints_the_recognition_of_each_input(tmp_path, monkeypatch, capsys):
    genuine, other = _stand_ins(tmp_path)
    gmm = tmp_path / "gmm_final.pth"
    torch.save({"g": torch.ones(2)}, gmm)
    monkeypatch.setattr(convert, "known_originals", lambda: {_sha(genuine): ("cp-vton/tom", "tom_final.pth")})
    shapes = {"cp-vton/gmm": {"g": (2,)}, "cp-vton/tom": {"w": (3,)}}
    monkeypatch.setattr(convert, "_expected_shapes", lambda e, notes: shapes[e.key])
    args = _parse("convert", "--method", "cp-vton", "--gmm", str(gmm), "--tom", str(genuine), "--out",
                  str(tmp_path / "w"))
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert f"cp-vton/tom: recognised: the authors' tom_final.pth (sha256 {_sha(genuine)})" in printed
    assert f"cp-vton/gmm: not a known release of cp-vton (sha256 {_sha(gmm)}; vton knows no sha256" in printed


def test_model_card_names_paper_repository_licence_and_download_page(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "_adapt", lambda key, sd, notes: sd)  # a one-tensor stand-in needs no renames
    pth = tmp_path / "warp_model_final.pth"
    torch.save({"w": torch.ones(1)}, pth)
    out = convert.convert_checkpoint(pth, "pf-afn/warp", tmp_path / "w", expected_keys=["w"])
    card = (out.parent / "README.md").read_text()
    assert card.startswith("---\nlicense: other\nlicense_name: see-below\nlibrary_name: vton\n")
    assert "- **PF-AFN**: Ge et al." in card and "authors' repository: https://github.com/geyuying/PF-AFN" in card
    assert "the authors' download page: https://github.com/geyuying/PF-AFN#inference" in card
    assert "non-commercial research use only" in card
    assert f"original file: `warp_model_final.pth`, sha256 `{_sha(pth)}`, {pth.stat().st_size} bytes" in card
    assert "4aa60187464577a5ccc742bdd12f9df28ed2eceff94c1686a14c61788fc275a7" in card  # the known release's digest
    assert "converted with: vton 0.1.0 (vton convert), torch " in card


# ---------------------------------------------------------------------------------------------------------------
# random estimators: the whole chain from raw photos without the Hub


def test_random_weights_estimators_only(tmp_path, capsys):
    args = _parse("random-weights", str(tmp_path / "w"), "--methods", "--estimators")
    assert args.func(args) == 0
    printed = capsys.readouterr()
    for key, rel in (("openpose/body", "openpose/body_pose_model.safetensors"), ("schp/lip", "schp/parsing_lip.onnx"),
                     ("schp/atr", "schp/parsing_atr.onnx")):
        assert f"{key}: {tmp_path / 'w' / rel} (RANDOM estimator stand-in, tiny, seed 0)" in printed.out
        assert weights.local_status(key, tmp_path / "w") == {"verified": True, "random": True}
    assert "RANDOM weights for testing only" in printed.err
    assert not (tmp_path / "w" / "cp-vton").exists()
    with pytest.raises(InputError, match="Nothing to write"):
        tools_cli.run_random_weights(_parse("random-weights", str(tmp_path / "x"), "--methods"))


@pytest.mark.slow
def test_random_weights_with_estimators_run_the_whole_chain_from_raw_photos(tmp_path, capsys):
    """random-weights --estimators, then tryon with no pose/parse: OpenPose and SCHP stand-ins run, all offline."""
    import numpy as np
    from PIL import Image

    from vton.cli import main

    w = tmp_path / "w"
    assert main(["random-weights", str(w), "--methods", "cp-vton+", "--estimators"]) == 0
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (480, 360, 3), dtype=np.uint8)).save(photo)
    cloth = Path(__file__).resolve().parents[1] / "examples" / "cloth_longsleeve.png"
    out = tmp_path / "out"
    assert main(["tryon", "--method", "cp-vton+", "--person", str(photo), "--cloth", str(cloth), "--weights-dir",
                 str(w), "--out", str(out)]) == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary["sources"]["pose"] == "estimated" and summary["sources"]["parsing"] == "estimated"
    assert summary["random_weights"] is True and "RANDOM" in capsys.readouterr().err
    assert Image.open(out / next(r["file"] for r in summary["stages"] if r["key"] == "pasted")).size == (360, 480)
