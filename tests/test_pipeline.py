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
from tolerances import DATASET, PIPELINE_GRID, PIPELINE_WARPED

from vton.errors import InputError, WeightsError
from vton.pipeline import TryOnPipeline
from vton.run import PREPROCESS_STAGES

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    from vton.tools.random_weights import write_random_weights

    return write_random_weights(tmp_path_factory.mktemp("weights"), methods=["cp-vton", "cp-vton+"], seed=0)


def _example(pipe: TryOnPipeline, **kw):
    return pipe(EX / "person.png", EX / "cloth_tshirt.png", pose=EX / "person_keypoints.json",
                parsing=EX / "person_parse.png", cloth_mask=EX / "cloth_tshirt_mask.png", **kw)


@pytest.mark.parametrize("method", ["cp-vton", "cp-vton+"])
def test_every_stage_is_produced_from_supplied_annotations(random_weights, method):
    seen = []
    pipe = TryOnPipeline(method, weights_dir=random_weights, device="cpu")
    result = _example(pipe, progress=lambda key, done, total: seen.append((key, done, total)))
    stages = result.stages()
    pre_keys = ["person", "pose", "parsing"] + (["body_mask"] if method == "cp-vton+" else []) + ["cloth",
                                                                                                 "cloth_mask"]
    assert [s.key for s in stages] == pre_keys + list(pipe.card.stage_keys)
    for s in stages:
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3, s.key
        assert s.title and s.caption, s.key
        assert s.seconds == result.timings[s.step], s.key  # the stage shows its own step's time
    by_key = {s.key: s for s in stages}
    for key, s in by_key.items():
        if key not in ("parsing", "pasted"):  # the parse has its legend beside it; pasted is at the photo's size
            assert s.image.shape[:2] == (256, 192), key
    assert by_key["parsing"].image.shape[0] == 256 and by_key["parsing"].image.shape[1] > 192
    # stages made by one step say so; a stage with a step of its own shares nothing
    assert by_key["rendered"].shared_with == ("composition_mask",)
    assert by_key["tps_control_points"].shared_with == ()
    expected_sources = {"pose": "supplied", "parsing": "supplied", "cloth_mask": "supplied",
                        "framing": "pose-driven (neck-centred, VITON-like scale)"}
    if method == "cp-vton+":
        expected_sources["body_mask"] = "parsing"
    assert result.sources == expected_sources
    t = result.output.tensors
    # the composition is exactly warped · m + rendered · (1 − m)
    expected = t["warped_cloth"] * t["composition_mask"] + t["rendered"] * (1 - t["composition_mask"])
    torch.testing.assert_close(result.tryon, expected, atol=1e-6, rtol=0)
    assert t["grid"].shape == (1, 256, 192, 2) and t["theta"].shape == (1, 50)
    points = result.output.data["control_points"]
    assert len(points) == 25
    theta = t["theta"][0].numpy()
    for p in points:
        assert p["source_x"] == pytest.approx(p["x"] + theta[p["i"]], abs=1e-5)
        assert p["source_y"] == pytest.approx(p["y"] + theta[25 + p["i"]], abs=1e-5)
    assert result.pasted_image.size == Image.open(EX / "person.png").size
    plan = pipe.plan()
    finished = [k for k, done, total in seen if done > 0 and (k, done - 1, total) in seen]
    assert finished == list(plan)  # every step reported once, in order
    assert seen[-1] == ("paste_back", len(plan), len(plan))


def test_larger_photo_is_framed_and_pasted_back_at_its_size(random_weights):
    pipe = TryOnPipeline("cp-vton+", weights_dir=random_weights, device="cpu")
    result = pipe(EX / "person_photo.jpg", EX / "cloth_longsleeve.png", pose=EX / "person_photo_keypoints.json",
                  parsing=EX / "person_photo_parse.png")
    photo = Image.open(EX / "person_photo.jpg")
    assert result.pasted_image.size == photo.size
    assert result.tryon.shape == (1, 3, 256, 192)
    assert result.sources["cloth_mask"] == "background"  # an RGB garment on white: separated from its background
    # the framed pose is the photo pose mapped by the frame transform
    t = result.pre.transform
    src = result.pre.photo_pose.keypoints[result.pre.photo_pose.present]
    dst = result.pre.pose.keypoints[result.pre.pose.present]
    np.testing.assert_allclose(dst, src * t.scale + np.array([t.offset_x, t.offset_y]), atol=1e-3)


def test_paste_back_changes_only_the_person_region(random_weights):
    """The try-on replaces the person (and the warped garment), not the photo's background around them."""
    pipe = TryOnPipeline("cp-vton", weights_dir=random_weights, device="cpu")
    result = pipe(EX / "person_photo.jpg", EX / "cloth_longsleeve.png", pose=EX / "person_photo_keypoints.json",
                  parsing=EX / "person_photo_parse.png")
    from scipy.ndimage import binary_dilation

    from vton.preprocess.framing import paste_back

    photo_img = Image.open(EX / "person_photo.jpg").convert("RGB")
    photo = np.asarray(photo_img, np.float32)
    pasted = np.asarray(result.pasted_image, np.float32)
    region = result.output.region  # frame-sized: the person plus the warped garment, grown a little
    assert region.shape == (256, 192) and 0 < region.mean() < 0.9
    # where the region carries the result into the photo (white frame pasted onto a black photo)
    reach = np.asarray(paste_back(Image.new("RGB", (192, 256), "white"), result.pre.transform,
                                  Image.new("RGB", photo_img.size), mask=region, feather=1.5))[..., 0] > 0
    outside = ~binary_dilation(reach, iterations=2)
    assert outside.sum() > 0.3 * outside.size  # most of the photo is background the try-on must not touch
    assert np.abs(pasted - photo)[outside].max() == 0.0
    parse = np.asarray(Image.open(EX / "person_photo_parse.png"))
    assert np.abs(pasted - photo)[parse > 0].mean() > 5.0  # random weights change the person


def test_opaque_rgba_garment_reports_background_as_its_mask_source(random_weights, tmp_path):
    rgba = Image.open(EX / "cloth_tshirt.png").convert("RGBA")  # fully opaque: alpha says nothing
    rgba.save(tmp_path / "opaque.png")
    pipe = TryOnPipeline("cp-vton", weights_dir=random_weights, device="cpu")
    result = pipe(EX / "person.png", tmp_path / "opaque.png", pose=EX / "person_keypoints.json",
                  parsing=EX / "person_parse.png")
    assert result.sources["cloth_mask"] == "background"


def test_save_writes_every_stage_and_the_provenance(random_weights, tmp_path):
    result = _example(TryOnPipeline("cp-vton", weights_dir=random_weights, device="cpu"))
    paths = result.save(tmp_path)
    pngs = sorted(p.name for p in paths if p.suffix == ".png")
    assert pngs == [f"{i:02d}_{s.key}.png" for i, s in enumerate(result.stages())]
    summary = json.loads((tmp_path / "result.json").read_text())
    assert summary["method"] == "cp-vton" and len(summary["keypoints"]) == 18
    assert [r["key"] for r in summary["stages"]] == [s.key for s in result.stages()]
    assert summary["networks"]["gmm"]["manifest_key"] == "cp-vton/gmm"
    assert summary["networks"]["gmm"]["random"] is True and summary["random_weights"] is True
    assert summary["inputs_sha256"]["person"] == __import__("hashlib").sha256(
        (EX / "person.png").read_bytes()).hexdigest()
    assert set(summary["timings_s"]) == set(result.timings)


def test_second_garment_on_the_same_person_reuses_the_person_side(random_weights):
    pipe = TryOnPipeline("cp-vton", weights_dir=random_weights, device="cpu")
    _example(pipe)
    again = pipe(EX / "person.png", EX / "cloth_longsleeve.png", pose=EX / "person_keypoints.json",
                 parsing=EX / "person_parse.png", cloth_mask=EX / "cloth_longsleeve_mask.png")
    assert again.pre.cached == frozenset({"pose", "framing", "parsing"})
    by_key = {s.key: s for s in again.stages()}
    assert by_key["pose"].cached and by_key["pose"].seconds == 0.0 and "cached" in by_key["pose"].time_text()
    assert not by_key["cloth_mask"].cached


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
    from vton import methods

    with pytest.raises(InputError, match=", ".join(methods.ids()).replace("+", "\\+")):
        TryOnPipeline("no-such-method")
    with pytest.raises(InputError, match="a string"):
        TryOnPipeline(["cp-vton"])  # type: ignore[arg-type]


def test_preprocess_stage_specs_cover_every_preprocessing_step():
    from vton.run import preprocess_steps

    steps = set(preprocess_steps(frozenset({"pose", "parsing", "body_mask", "cloth_mask"})))
    assert {s.step for s in PREPROCESS_STAGES} == steps


def _write_golden_weights(folder: Path, layouts: Path, fixtures: dict[str, str], golden) -> None:
    """make_weights.py state dicts (the fixtures' weights: layout and seed from each fixture's metadata) saved as a
    local weights folder."""
    spec = importlib.util.spec_from_file_location("make_weights", layouts.parent / "make_weights.py")
    mw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mw)
    from vton.weights import entry, file_sha256

    entries = {}
    for key, fixture in fixtures.items():
        e = entry(key)
        _, meta = golden(fixture)
        sd = mw.make_state_dict(json.loads((layouts / Path(meta["layout"]).name).read_text()), int(meta["weight_seed"]))
        assert mw.digest(sd) == meta["state_dict_sha256"]
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
    _write_golden_weights(tmp_path, layouts_dir, {f"{method}/gmm": f"{prefix}_gmm", f"{method}/tom": f"{prefix}_tom"},
                          golden)
    raw = golden_root / "raw"
    body = raw / "body_mask.png" if method == "cp-vton+" else None
    result = TryOnPipeline(method, weights_dir=tmp_path, device="cpu")(
        raw / "person.png", raw / "cloth.png", pose=raw / "keypoints.json", parsing=raw / parse_file,
        cloth_mask=raw / "cloth_mask.png", body_mask=body)
    t, meta = golden(f"{prefix}_gmm")
    rep = result.output.tensors["representation_gmm"]
    torch.testing.assert_close(rep.shape.half().float(), t["in.agnostic.shape"], atol=DATASET, rtol=0)
    torch.testing.assert_close(rep.head.half().float(), t["in.agnostic.head"], atol=DATASET, rtol=0)
    torch.testing.assert_close(rep.pose, t["in.agnostic.pose"], atol=0, rtol=0)  # ±1 squares: discrete
    # inputs match to fp16 rounding (the fixture's inputs were rounded before the forward), so the grid
    # agrees to well within a pixel rather than to the fixture's float32 tolerance
    torch.testing.assert_close(result.output.tensors["grid"], t["out.grid"], atol=PIPELINE_GRID, rtol=0)
    torch.testing.assert_close(result.output.tensors["warped_cloth"].half().float(), t["out.legacy_ac.warped_cloth"],
                               atol=PIPELINE_WARPED, rtol=0)
