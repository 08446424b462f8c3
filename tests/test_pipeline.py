"""The pipeline end to end: every stage from two images, supplied or estimated annotations, and the golden GMM."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from vton.errors import InputError, WeightsError
from vton.pipeline import TRYON_STEPS, TryOnPipeline

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
STAGE_KEYS = [
    "person", "pose", "parsing", "cloth", "cloth_mask", "representation_shape", "representation_head",
    "representation_pose", "tps_control_points", "tps_grid", "warped_cloth", "warped_mask", "rendered",
    "composition_mask", "tryon", "pasted",
]


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    from vton.convert import write_random_weights

    return write_random_weights(tmp_path_factory.mktemp("weights"), seed=0)


def _example(pipe: TryOnPipeline, **kw):
    return pipe(EX / "person.png", EX / "cloth_tshirt.png", pose=EX / "person_keypoints.json",
                parsing=EX / "person_parse.png", cloth_mask=EX / "cloth_tshirt_mask.png", **kw)


@pytest.mark.parametrize("method", ["cp-vton", "cp-vton+"])
def test_every_stage_is_produced_from_supplied_annotations(random_weights, method):
    seen = []
    result = _example(TryOnPipeline(method, weights_dir=random_weights, device="cpu"),
                      progress=lambda key, done, total: seen.append((key, done, total)))
    stages = result.stages()
    assert [s.key for s in stages] == STAGE_KEYS
    for s in stages:
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3, s.key
        assert s.title and s.caption and s.seconds >= 0.0, s.key
    by_key = {s.key: s for s in stages}
    for key in STAGE_KEYS:
        if key not in ("parsing", "pasted"):  # the parse has its legend beside it; pasted is at the photo's size
            assert by_key[key].image.shape[:2] == (256, 192), key
    assert by_key["parsing"].image.shape[0] == 256 and by_key["parsing"].image.shape[1] > 192
    assert result.sources == {"pose": "supplied", "parsing": "supplied", "body_mask": "parsing",
                              "cloth_mask": "supplied"}
    # the composition is exactly warped · m + rendered · (1 − m)
    expected = result.warped_cloth * result.composition_mask + result.rendered * (1 - result.composition_mask)
    torch.testing.assert_close(result.tryon, expected, atol=1e-6, rtol=0)
    assert result.grid.shape == (1, 256, 192, 2) and result.theta.shape == (50,)
    assert result.source_points.shape == (25, 2)
    np.testing.assert_allclose(result.source_points - result.control_points,
                               result.theta.reshape(2, 25).T, atol=1e-6)
    assert result.pasted_image.size == Image.open(EX / "person.png").size
    finished = [k for k, done, total in seen if done > 0 and (k, done - 1, total) in seen]
    assert finished == list(TRYON_STEPS)  # every step reported once, in order
    assert seen[-1] == ("paste_back", len(TRYON_STEPS), len(TRYON_STEPS))
    assert all(done <= total for _, done, total in seen)
    assert {"gmm", "tom", "warp", "representation", "composition"} <= set(result.timings)


def test_larger_photo_is_framed_and_pasted_back_at_its_size(random_weights):
    pipe = TryOnPipeline("cp-vton+", weights_dir=random_weights, device="cpu")
    result = pipe(EX / "person_photo.jpg", EX / "cloth_longsleeve.png", pose=EX / "person_photo_keypoints.json",
                  parsing=EX / "person_photo_parse.png")
    photo = Image.open(EX / "person_photo.jpg")
    assert result.pasted_image.size == photo.size
    assert result.tryon.shape == (1, 3, 256, 192)
    assert result.sources["cloth_mask"] in ("background", "alpha")
    # the framed pose is the photo pose mapped by the frame transform
    t = result.pre.transform
    src = result.pre.photo_pose.keypoints[result.pre.photo_pose.present]
    dst = result.pre.pose.keypoints[result.pre.pose.present]
    np.testing.assert_allclose(dst, src * t.scale + np.array([t.offset_x, t.offset_y]), atol=1e-3)


def test_save_writes_every_stage_and_timings(random_weights, tmp_path):
    result = _example(TryOnPipeline("cp-vton", weights_dir=random_weights, device="cpu"))
    paths = result.save(tmp_path)
    names = sorted(p.name for p in paths)
    assert len([n for n in names if n.endswith(".png")]) == len(STAGE_KEYS)
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["method"] == "cp-vton" and len(summary["keypoints"]) == 18
    assert set(json.loads((tmp_path / "timings.json").read_text())) == set(result.timings)


def test_annotation_of_another_size_is_refused(random_weights):
    pipe = TryOnPipeline("cp-vton+", weights_dir=random_weights, device="cpu")
    with pytest.raises(InputError, match="size of the photo"):
        pipe(EX / "person_photo.jpg", EX / "cloth_tshirt.png", pose=EX / "person_photo_keypoints.json",
             parsing=EX / "person_parse.png", cloth_mask=EX / "cloth_tshirt_mask.png")


def test_missing_weights_fail_before_preprocessing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = TryOnPipeline("cp-vton+", weights_dir=tmp_path, device="cpu")
    with pytest.raises(WeightsError, match="cp-vton"):
        _example(pipe)


def test_unknown_method_lists_the_methods():
    with pytest.raises(InputError, match="cp-vton, cp-vton\\+"):
        TryOnPipeline("viton-hd")


def _write_golden_weights(folder: Path, layouts: Path, fixtures: dict[str, str]) -> None:
    """make_weights.py state dicts (the fixtures' weights) saved as a local weights folder."""
    spec = importlib.util.spec_from_file_location("make_weights", layouts.parent / "make_weights.py")
    mw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mw)
    from vton.weights import entry, file_sha256

    entries = {}
    for key, fixture in fixtures.items():
        e = entry(key)
        sd = mw.make_state_dict(json.loads((layouts / f"{fixture}.json").read_text()), 0)
        out = folder / e.folder / e.filename
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file(sd, str(out))
        entries[key] = {"sha256": file_sha256(out)}
        (out.parent / "manifest.json").write_text(json.dumps({"entries": entries}))


@pytest.mark.golden
@pytest.mark.parametrize("method,prefix,parse_file", [("cp-vton", "cpvton", "lip_parse_P.png"),
                                                       ("cp-vton+", "cpvtonplus", "lip_parse_L.png")])
def test_pipeline_on_dataset_files_reproduces_the_golden_gmm(tmp_path, golden, golden_root, layouts_dir, method,
                                                             prefix, parse_file):
    """From the raw dataset files, the pipeline's representation and GMM grid equal the authors' code's."""
    _write_golden_weights(tmp_path, layouts_dir, {f"{method}/gmm": f"{prefix}_gmm", f"{method}/tom": f"{prefix}_tom"})
    raw = golden_root / "raw"
    body = raw / "body_mask.png" if method == "cp-vton+" else None
    result = TryOnPipeline(method, weights_dir=tmp_path, device="cpu")(
        raw / "person.png", raw / "cloth.png", pose=raw / "keypoints.json", parsing=raw / parse_file,
        cloth_mask=raw / "cloth_mask.png", body_mask=body)
    t, meta = golden(f"{prefix}_gmm")
    rep = result.representation_gmm
    torch.testing.assert_close(rep.shape.half().float(), t["in.agnostic.shape"], atol=1e-3, rtol=0)
    torch.testing.assert_close(rep.head.half().float(), t["in.agnostic.head"], atol=1e-3, rtol=0)
    torch.testing.assert_close(rep.pose, t["in.agnostic.pose"], atol=0, rtol=0)
    # inputs match to fp16 rounding (the fixture's inputs were rounded before the forward), so the grid
    # agrees to well within a pixel rather than to the fixture's float32 tolerance
    torch.testing.assert_close(result.grid, t["out.grid"], atol=5e-3, rtol=0)
    torch.testing.assert_close(result.warped_cloth.half().float(), t["out.legacy_ac.warped_cloth"], atol=2e-2, rtol=0)
