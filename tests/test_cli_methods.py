"""Each learned method from the CLI on random (full-size) weights: PF-AFN from a person photo and a garment photo
alone (no pose or parsing weights anywhere), ACGPN with the shipped pose and parse; every declared stage written as
NN_<key>.png with result.json, and the noise seed recorded so an ACGPN run repeats bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton import methods
from vton.cli import main

pytestmark = pytest.mark.slow

EX = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("w")
    assert main(["random-weights", str(d), "--methods", "pf-afn", "acgpn"]) == 0
    return d


def _stage_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob("*.png"))


def test_pf_afn_runs_from_two_photos_only(weights, tmp_path, capsys):
    out = tmp_path / "pfafn"
    code = main(["tryon", "--method", "pf-afn", "--person", str(EX / "person_photo.jpg"), "--cloth",
                 str(EX / "cloth_tshirt.png"), "--weights-dir", str(weights), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert not (weights / "openpose").exists() and not (weights / "schp").exists()
    summary = json.loads((out / "result.json").read_text())
    keys = [r["key"] for r in summary["stages"]]
    assert keys == ["person", "cloth", "cloth_mask", *methods.card("pf-afn").stage_keys]
    assert _stage_files(out) == [r["file"] for r in summary["stages"]]
    assert "pose" not in summary["sources"] and "parsing" not in summary["sources"]
    assert summary["sources"]["framing"].startswith("letterbox") and summary["estimators"] == {}
    assert "RANDOM" in err
    assert Image.open(out / next(r["file"] for r in summary["stages"] if r["key"] == "pasted")).size == (768, 1024)


def test_acgpn_runs_with_supplied_annotations_and_repeats_bit_for_bit(weights, tmp_path, capsys):
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        code = main(["tryon", "--method", "acgpn", "--person", str(EX / "person.png"), "--cloth",
                     str(EX / "cloth_tshirt.png"), "--pose", str(EX / "person_keypoints.json"), "--parse",
                     str(EX / "person_parse.png"), "--weights-dir", str(weights), "--out", str(out), "--seed", "7"])
        assert code == 0, capsys.readouterr().err
        outs.append(out)
    summary = json.loads((outs[0] / "result.json").read_text())
    assert [r["key"] for r in summary["stages"]][5:] == list(methods.card("acgpn").stage_keys)
    assert summary["seed"] == 7 and summary["data"]["noise_seed"] == 7
    assert 0.05 < summary["data"]["noise_ones_fraction"]["G1"] < 0.3  # ≈16 % ones, as the authors' noise
    for name in _stage_files(outs[0]):
        a, b = (np.asarray(Image.open(o / name)) for o in outs)
        assert np.array_equal(a, b), name  # uint8 PNGs of the same computation run twice in one process
