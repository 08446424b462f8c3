"""``python -m vton``: every stage written on generated weights; a missing-weights run explains and exits non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "vton", *args], capture_output=True, text=True, env=full_env,
                          cwd=ROOT, timeout=300)


def test_tryon_writes_every_stage_on_generated_weights(tmp_path):
    weights = tmp_path / "weights"
    made = _run("random-weights", str(weights), "--methods", "cp-vton", "cp-vton+")
    assert made.returncode == 0, made.stderr
    out = tmp_path / "out"
    r = _run("tryon", "--person", str(EX / "person.png"), "--cloth", str(EX / "cloth_tshirt.png"),
             "--pose", str(EX / "person_keypoints.json"), "--parse", str(EX / "person_parse.png"),
             "--method", "cp-vton+", "--weights-dir", str(weights), "--out", str(out), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    pngs = sorted(p.name for p in out.glob("*.png"))
    summary = json.loads((out / "result.json").read_text())
    assert pngs == [row["file"] for row in summary["stages"]]
    assert pngs[0] == "00_person.png" and pngs[-1] == f"{len(pngs) - 1:02d}_pasted.png"
    assert "16_tryon.png" in pngs
    assert summary["timings_s"]["gmm"] > 0 and summary["timings_s"]["tom"] > 0
    assert "RANDOM test weights" in r.stderr  # flagged in the CLI output too
    summary = json.loads((out / "result.json").read_text())
    assert summary["sources"]["pose"] == "supplied" and summary["sources"]["cloth_mask"] == "background"
    assert all({"name", "x", "y", "score", "present"} <= set(k) for k in summary["keypoints"])


def test_missing_weights_print_one_paragraph_and_exit_nonzero(tmp_path):
    r = _run("tryon", "--person", str(EX / "person.png"), "--cloth", str(EX / "cloth_tshirt.png"),
             "--pose", str(EX / "person_keypoints.json"), "--parse", str(EX / "person_parse.png"),
             "--method", "cp-vton", "--weights-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    paragraph = r.stderr[r.stderr.index("error: "):].replace("\n       ", " ")
    assert "\n" not in paragraph.strip()  # one paragraph
    assert str(tmp_path / "cp-vton" / "gmm_final.safetensors") in paragraph
    assert "python -m vton convert" in paragraph and "--weights-dir" in paragraph
    assert not (tmp_path / "o").exists()


def test_bad_image_is_a_clear_error_not_a_traceback(tmp_path):
    bad = tmp_path / "person.png"
    bad.write_text("not an image")
    r = _run("preprocess", "--person", str(bad), "--cloth", str(EX / "cloth_tshirt.png"),
             "--pose", str(EX / "person_keypoints.json"), "--parse", str(EX / "person_parse.png"),
             "--out", str(tmp_path / "o"))
    message = r.stderr.replace("\n       ", " ")
    assert r.returncode == 2 and "is not an image" in message and "Traceback" not in message


def test_methods_lists_licences_and_the_one_line_fix(tmp_path):
    r = _run("methods", "--weights-dir", str(tmp_path))
    assert r.returncode == 0
    assert "cp-vton+" in r.stdout and "MIT" in r.stdout
    assert "how to get them: cp-vton/gmm: `python -m vton convert --method cp-vton --gmm gmm_final.pth" in r.stdout


def test_methods_json_prints_every_card(tmp_path):
    from vton import methods

    r = _run("methods", "--json", "--weights-dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["id"] for row in rows] == list(methods.ids())
    for row in rows:
        assert {"id", "title", "licence", "needs", "weights", "stages", "ready", "how_to"} <= set(row)
        assert [s["key"] for s in row["stages"]] == list(methods.card(row["id"]).stage_keys)


def test_out_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    r = _run("tryon", "--person", str(EX / "person.png"), "--cloth", str(EX / "cloth_tshirt.png"),
             "--method", "cp-vton", "--out", str(f))
    assert r.returncode == 2 and "is a file" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_tryon_runs_the_whole_chain_from_raw_photos_on_generated_weights(tmp_path):
    """No annotations: pose (OpenPose), parsing (SCHP ONNX) and cloth mask are estimated, every stage written."""
    from helpers_weights import make_preprocess_weights
    from PIL import Image

    weights = tmp_path / "weights"
    make_preprocess_weights(weights)
    assert _run("random-weights", str(weights), "--methods", "cp-vton", "cp-vton+").returncode == 0
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, (480, 360, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "out"
    r = _run("tryon", "--person", str(photo), "--cloth", str(EX / "cloth_longsleeve.png"), "--method", "cp-vton+",
             "--weights-dir", str(weights), "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "result.json").read_text())
    assert summary["sources"] == {"pose": "estimated", "parsing": "estimated", "body_mask": "parsing",
                                  "cloth_mask": "background",
                                  "framing": "pose-driven (neck-centred, VITON-like scale)"}
    scores = [k["score"] for k in summary["keypoints"]]
    assert any(0 < s <= 1 for s in scores) and all(0 <= s <= 1 for s in scores)
    assert summary["timings_s"]["pose"] > 0 and summary["timings_s"]["parsing"] > 0
    assert summary["photo_size"] == [360, 480]
    pasted = next(row["file"] for row in summary["stages"] if row["key"] == "pasted")
    assert Image.open(out / pasted).size == (360, 480)
    assert Image.open(out / "01_pose.png").size == (192, 256)
    assert Image.open(out / "02_parsing.png").size[0] > 192  # the legend beside the map


@pytest.mark.slow
def test_photo_with_no_person_is_its_own_clear_error(tmp_path):
    """An OpenPose network that sees nobody (all-zero weights) → 'no person found', exit 2, no traceback."""
    import torch
    from helpers_weights import make_preprocess_weights, write_local_manifest

    from vton.preprocess.pose import build_body_model

    weights = tmp_path / "weights"
    make_preprocess_weights(weights, openpose=False)
    pth = weights / "openpose" / "body_pose_model.pth"
    pth.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k.split(".", 1)[1]: torch.zeros_like(v) for k, v in build_body_model().state_dict().items()}, pth)
    write_local_manifest(pth, "openpose/body", "pth")
    r = _run("preprocess", "--person", str(EX / "person_photo.jpg"), "--cloth", str(EX / "cloth_tshirt.png"),
             "--method", "cp-vton", "--weights-dir", str(weights), "--out", str(tmp_path / "o"))
    message = r.stderr.replace("\n       ", " ")
    assert r.returncode == 2 and "no person found" in message.lower() and "Traceback" not in message


@pytest.mark.slow
def test_dataset_command_runs_every_pair_of_an_exported_folder(tmp_path):
    """preprocess → dataset.zip (the authors' layout) → python -m vton dataset runs each pair with its annotations."""
    weights = tmp_path / "weights"
    assert _run("random-weights", str(weights), "--methods", "cp-vton", "cp-vton+").returncode == 0
    pre = tmp_path / "pre"
    r = _run("preprocess", "--person", str(EX / "person.png"), "--cloth", str(EX / "cloth_tshirt.png"),
             "--pose", str(EX / "person_keypoints.json"), "--parse", str(EX / "person_parse.png"), "--out", str(pre),
             "--method", "cp-vton")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "runs"
    r = _run("dataset", "--root", str(pre / "dataset.zip"), "--method", "cp-vton", "--weights-dir", str(weights),
             "--out", str(out), "--all-stages")
    assert r.returncode == 0, r.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["method"] == "cp-vton" and len(results["pairs"]) == 1
    # per-network provenance like result.json, and the RANDOM warning like tryon
    assert set(results["networks"]) == {"gmm", "tom"} and results["random_weights"] is True
    assert results["networks"]["tom"]["random"] is True and results["networks"]["tom"]["verified"] is True
    assert results["networks"]["gmm"]["sha256"] == json.loads((weights / "cp-vton" / "manifest.json").read_text())[
        "entries"]["cp-vton/gmm"]["sha256"]
    assert "(RANDOM test weights)" in results["networks"]["gmm"]["source"] and results["licence"].startswith("MIT")
    assert "WARNING: RANDOM test weights were used" in r.stderr
    from PIL import Image

    assert Image.open(out / results["pairs"][0]["tryon"]).size == (192, 256)
    stem = results["pairs"][0]["tryon"][: -len(".png")]
    from vton import methods

    assert len(list((out / stem).glob("*.png"))) == 5 + len(methods.card("cp-vton").stages)


def test_dataset_command_says_what_is_missing(tmp_path):
    (tmp_path / "test" / "image").mkdir(parents=True)
    r = _run("dataset", "--root", str(tmp_path), "--weights-dir", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "cloth" in r.stderr
