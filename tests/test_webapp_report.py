"""The page's evaluation parts: the paired quality readout of one run and the ``app.py --report DIR`` section."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton.evaluate import backbones as bb
from vton.evaluate import metrics as M
from vton.evaluate import report, runner

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("VTON_CACHE", str(tmp_path / "vton-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _run_files(tmp_path: Path) -> tuple[list, dict, Image.Image, Image.Image]:
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (256, 192, 3), dtype=np.uint8))
    tryon = Image.fromarray(np.clip(np.asarray(photo) + rng.normal(0, 30, (256, 192, 3)), 0, 255).astype(np.uint8))
    photo.save(tmp_path / "00_person.png")
    tryon.save(tmp_path / "01_tryon.png")
    # the gallery's items in another order than the summary's rows: each is found by the file its row names
    items = [(str(tmp_path / "01_tryon.png"), "Try-on"), (str(tmp_path / "00_person.png"), "Person")]
    summary = {"method": "cp-vton", "random_weights": True,
               "stages": [{"key": "person", "file": "00_person.png"}, {"key": "tryon", "file": "01_tryon.png"}]}
    return items, summary, photo, tryon


def test_quality_readout_scores_the_try_on_against_the_framed_photo(tmp_path):
    from vton.web import report

    weights = tmp_path / "w"
    bb.write_random_backbones(weights, seed=2)
    items, summary, photo, tryon = _run_files(tmp_path)
    text = report.quality_readout(items, summary, True, weights)
    assert f"SSIM **{M.ssim(tryon, photo):.4f}**" in text
    net, _ = bb.load_lpips(weights)
    assert f"LPIPS **{float(bb.lpips_distances(net, [tryon], [photo])[0]):.4f}**" in text
    assert "0.745" in text and "RANDOM" in text  # the paper's paired SSIM; random method and backbone weights
    assert report.quality_readout(items, summary, False, weights) == report.QUALITY_HELP
    assert "Run a try-on first" in report.quality_readout([], {}, True, weights)


def test_quality_readout_without_lpips_weights_says_which_file_is_missing(tmp_path):
    from vton.web import report

    report._lpips.cache_clear()
    items, summary, photo, tryon = _run_files(tmp_path)
    text = report.quality_readout(items, summary, True, tmp_path / "empty")
    assert "SSIM **" in text and "LPIPS left out" in text and "alexnet-owt-7be5be79.pth" in text


def test_app_shows_the_report_section_built_from_metrics_json(tmp_path):
    pred, gt = tmp_path / "p", tmp_path / "g"
    pred.mkdir()
    gt.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)).save(pred / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)).save(gt / f"{i}.png")
    data = runner.evaluate_folders(pred, gt, settings=runner.EvalSettings(bootstrap=50), metrics=["ssim"],
                                   label="acgpn")
    report.write(data, tmp_path / "rep")
    sys.path.insert(0, str(ROOT))
    import app

    demo = app.build_demo(None, tmp_path / "rep")
    values = {c.get("props", {}).get("elem_id"): c.get("props", {}).get("value") for c in demo.config["components"]}
    md = values["eval-report-md"]
    m = data["results"][0]["metrics"]["ssim"]
    assert f"{report.fmt('ssim', m['mean'])} [" in md and "0.8450" in md  # ACGPN's SSIM beside vton's
    assert "quality-readout" in values
    with pytest.raises(SystemExit, match="metrics.json"):
        app.main(["--report", str(tmp_path / "no-report")])
