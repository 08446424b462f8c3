"""``python -m vton evaluate``: SSIM, LPIPS, FID and KID checked against independent formulas, the report recomputed
from metrics.json, the whole command on a drawn test set with RANDOM backbones, and missing weights offline.

Tolerances: SSIM 1e-3 (the issue's bound; the two implementations agree to round-off); FID and KID of the closed
forms 1e-6 relative (float64 linear algebra on small matrices); the unbiasedness check 4 standard errors of the mean
over the draws.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.signal import correlate

from vton.errors import InputError, WeightsError
from vton.evaluate import backbones as bb
from vton.evaluate import metrics as M
from vton.evaluate import report, runner, testset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from helpers_eval import write_viton_folder  # noqa: E402

SSIM_TOL = 1e-3
CLOSED_FORM_RTOL = 1e-6


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """vton's cache folder (where downloaded backbones live) is empty and private to each test."""
    monkeypatch.setenv("VTON_CACHE", str(tmp_path / "vton-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def random_backbones(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("backbones")
    bb.write_random_backbones(d, seed=1)
    return d


def _images(n: int, seed: int, size=(64, 48)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    out = []
    for _ in range(n):
        smooth = 128 + 80 * np.sin(xx / rng.uniform(3, 9))[..., None] * np.cos(yy / rng.uniform(3, 9))[..., None]
        out.append(np.clip(smooth + rng.normal(0, 20, (*size, 3)), 0, 255).astype(np.uint8))
    return out


# ----------------------------------------------------------------------------------------------------------------
# SSIM


def _ssim_direct(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 written out: an 11 × 11 Gaussian (σ 1.5) window, population moments, the windows that lie
    inside the image (scikit-image crops the 5-pixel border), mean over channels."""
    r = np.arange(-5, 6)
    g = np.exp(-(r ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)

        def f(z):
            return correlate(z, w, mode="valid")

        mx, my = f(x), f(y)
        vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


def test_ssim_matches_the_formula_written_out_on_rgb_and_gray():
    a, b = _images(2, seed=0)
    assert abs(M.ssim(a, b) - _ssim_direct(a, b)) < SSIM_TOL
    la = np.asarray(Image.fromarray(a).convert("L"))[..., None]
    lb = np.asarray(Image.fromarray(b).convert("L"))[..., None]
    assert abs(M.ssim(a, b, gray=True) - _ssim_direct(la, lb)) < SSIM_TOL
    assert M.ssim(a, a) == pytest.approx(1.0)
    assert M.ssim(a, b) < 0.9  # the images differ: a constant would fail the comparison above


def test_ssim_refuses_images_of_different_sizes():
    a, b = _images(1, 0)[0], _images(1, 1, size=(60, 48))[0]
    with pytest.raises(InputError, match="one size"):
        M.ssim(a, b)


# ----------------------------------------------------------------------------------------------------------------
# FID


def test_fid_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).normal(size=(40, 16))
    assert abs(M.fid_from_features(x, x)) < 1e-8
    y = np.random.default_rng(1).normal(size=(300, 16))  # more images than features: the eigenvalue path
    assert abs(M.fid_from_features(y, y)) < 1e-8


@pytest.mark.parametrize("n", [30, 200])  # fewer and more images than the 24 features (both code paths)
def test_fid_of_a_scaled_and_shifted_gaussian_set_equals_the_closed_form(n):
    """Y = a·X + c: Σ_Y = a² Σ_X, so FID = |μ_X − μ_Y|² + (1 − a)² tr Σ_X, exactly, on the sample statistics."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, 24)) @ rng.normal(size=(24, 24))
    a, c = 1.7, rng.normal(size=24) * 3
    y = a * x + c
    cov = np.cov(x, rowvar=False)
    expected = float(((x.mean(0) - y.mean(0)) ** 2).sum() + (1 - a) ** 2 * np.trace(cov))
    assert M.fid_from_features(x, y) == pytest.approx(expected, rel=CLOSED_FORM_RTOL)
    mu, mu2 = x.mean(0), y.mean(0)
    assert M.frechet_distance(mu, cov, mu2, a * a * cov) == pytest.approx(expected, rel=CLOSED_FORM_RTOL)


# ----------------------------------------------------------------------------------------------------------------
# KID


def _poly(x, y):
    return (x @ y.T / x.shape[1] + 1) ** 3


def test_kid_on_whole_sets_is_the_unbiased_mmd_written_out():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 5)), rng.normal(1, 1, size=(7, 5))
    kxx, kyy, kxy = _poly(x, x), _poly(y, y), _poly(x, y)
    off = ~np.eye(7, dtype=bool)
    expected = kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()
    r = M.kid_from_features(x, y)
    assert r.value == pytest.approx(expected, rel=CLOSED_FORM_RTOL)
    assert r.subset_size == 7 and "subset size 7" in r.note  # adapted to the small sets, and said so


def test_kid_is_unbiased_where_the_plain_mmd_is_not():
    """Two sets from one distribution: KID averages to 0 over many draws; the biased (V-statistic) MMD does not."""
    rng = np.random.default_rng(4)
    kid, biased = [], []
    for _ in range(400):
        x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
        kid.append(M.kid_from_features(x, y).value)
        biased.append(_poly(x, x).mean() + _poly(y, y).mean() - 2 * _poly(x, y).mean())
    kid, biased = np.array(kid), np.array(biased)
    se = kid.std(ddof=1) / np.sqrt(kid.size)
    assert abs(kid.mean()) < 4 * se
    assert biased.mean() > 4 * biased.std(ddof=1) / np.sqrt(biased.size)
    shifted = M.kid_from_features(rng.normal(size=(50, 3)), rng.normal(2, 1, size=(50, 3)), subset_size=20)
    assert shifted.value > 0.1 and shifted.subsets == M.KID_SUBSETS and shifted.subset_size == 20


def test_set_metric_intervals_hold_the_full_set_value():
    """Resampled sets repeat images, which shifts FID and KID: the intervals are built so that they do not drift off
    the full-set value (FID: spread around it; KID: resamples without repeats)."""
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 16)), rng.normal(0.4, 1.2, size=(40, 16))
    fid = M.summarise_set_metric(M.fid_from_features, x, y, resamples=30)
    kid = M.kid_score(x, y, resamples=30, subset_size=20)
    for s in (fid, kid):
        assert s.ci95[0] < s.mean < s.ci95[1] and s.n == 40
    assert fid.mean == pytest.approx(M.fid_from_features(x, y))
    assert kid.mean == pytest.approx(M.kid_from_features(x, y, subset_size=20).value)


# ----------------------------------------------------------------------------------------------------------------
# LPIPS and the backbones


def test_lpips_is_zero_on_identical_images_and_grows_with_noise(random_backbones):
    net, found = bb.load_lpips(random_backbones)
    assert {b.key for b in found} == {bb.ALEXNET_KEY, bb.LPIPS_KEY} and all(b.random for b in found)
    x = _images(1, 5)[0]
    rng = np.random.default_rng(6)
    noise = rng.normal(size=x.shape)
    noisy = [np.clip(x + s * noise, 0, 255).astype(np.uint8) for s in (0, 4, 12, 30, 70)]
    d = bb.lpips_distances(net, [x] * len(noisy), noisy)
    assert d[0] == 0.0  # identical images through the same computation: exactly 0
    assert np.all(np.diff(d) > 0), d


def test_tf1_bilinear_resize_samples_at_index_times_scale_without_half_pixel_centres():
    x = torch.tensor([[[[0.0, 10.0]]]])  # (1, 1, 1, 2)
    row = bb._tf1_resize_bilinear(x.expand(1, 1, 2, 2), 4)[0, 0, 0]
    assert row.tolist() == [0.0, 5.0, 10.0, 10.0]  # sources 0, 0.5, 1, 1.5 (clamped to the last pixel)


def test_inception_inputs_of_every_resize_mode_are_299_and_differ(random_backbones):
    img = _images(1, 7, size=(256, 192))[0]
    ins = {m: bb.inception_input(img, m) for m in bb.RESIZE_MODES}
    assert all(t.shape == (3, 299, 299) for t in ins.values())
    assert float((ins["clean"] - ins["legacy_pytorch"]).abs().max()) > 1e-3
    assert float((ins["legacy_pytorch"] - ins["legacy_tensorflow"]).abs().max()) > 1e-3
    net, _ = bb.load_inception(random_backbones)
    f = bb.inception_features(net, [img, img], mode="clean")
    assert f.shape == (2, 2048) and np.isfinite(f).all() and np.allclose(f[0], f[1])


def test_missing_backbone_offline_names_the_file(tmp_path):
    with pytest.raises(WeightsError, match=r"pt_inception-2015-12-05-6726825d\.pth.*HF_HUB_OFFLINE"):
        bb.find_backbone(bb.INCEPTION_KEY, tmp_path)
    chosen, left_out = runner.select_metrics(None, runner.EvalSettings(weights_dir=str(tmp_path)))
    assert chosen == ["ssim"] and set(left_out) == {"lpips", "fid", "kid"}
    assert "alexnet-owt-7be5be79.pth" in left_out["lpips"] and "pt_inception" in left_out["fid"]
    with pytest.raises(WeightsError, match="alexnet-owt-7be5be79.pth"):
        runner.select_metrics(["ssim", "lpips"], runner.EvalSettings(weights_dir=str(tmp_path)))


def test_pinned_download_keeps_only_a_file_of_the_recorded_sha256(tmp_path, monkeypatch):
    import dataclasses
    import hashlib

    from vton import weights

    src = tmp_path / "src.bin"
    src.write_bytes(b"linear heads" * 100)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    real = weights.entry(bb.LPIPS_KEY)

    def entry_with(sha):
        return dataclasses.replace(real, sha256=sha, bytes=src.stat().st_size,
                                   original={**real.original, "url": src.as_uri()})

    monkeypatch.setattr(bb.weights, "entry", lambda key: entry_with("0" * 64))
    with pytest.raises(WeightsError, match="refused"):
        bb.fetch_pinned(bb.LPIPS_KEY, tmp_path / "dest")
    assert not list((tmp_path / "dest").rglob("*.pth*"))  # nothing kept, not even the partial file
    monkeypatch.setattr(bb.weights, "entry", lambda key: entry_with(good))
    got = bb.fetch_pinned(bb.LPIPS_KEY, tmp_path / "dest")
    assert got == tmp_path / "dest" / real.folder / real.filename and got.read_bytes() == src.read_bytes()


def test_manifest_records_the_backbone_files_with_their_digests():
    from vton import weights

    inc, alex, lin = (weights.entry(k) for k in (bb.INCEPTION_KEY, bb.ALEXNET_KEY, bb.LPIPS_KEY))
    assert (inc.filename, inc.bytes) == ("pt_inception-2015-12-05-6726825d.pth", 95_628_359)
    assert (alex.filename, alex.bytes) == ("alexnet-owt-7be5be79.pth", 244_408_911)
    assert (lin.filename, lin.bytes) == ("alex.pth", 6009)
    for e, prefix in ((inc, "6726825d"), (alex, "7be5be79")):  # torch-hub names carry the digest's first 8 hex
        assert e.sha256.startswith(prefix) and e.original["sha256"] == e.sha256
        assert e.original["url"].startswith("https://") and e.original["url"].endswith(e.filename)


# ----------------------------------------------------------------------------------------------------------------
# the report


def _folders(tmp_path: Path, n: int = 4) -> tuple[Path, Path]:
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for i, (a, b) in enumerate(zip(_images(n, 8, (128, 96)), _images(n, 9, (128, 96)), strict=True)):
        Image.fromarray(a).save(pred / f"{i:03d}.png")
        Image.fromarray(b).save(gt / f"{i:03d}.jpg", quality=95)
    return pred, gt


def test_report_figures_are_recomputed_from_metrics_json(tmp_path, random_backbones):
    pred, gt = _folders(tmp_path)
    settings = runner.EvalSettings(weights_dir=str(random_backbones), bootstrap=300, set_bootstrap=5, seed=3)
    data = runner.evaluate_folders(pred, gt, settings=settings, label="cp-vton")
    paths = report.write(data, tmp_path / "out")
    saved = json.loads(paths["json"].read_text())
    rec = saved["results"][0]
    assert set(rec["metrics"]) == {"ssim", "lpips", "fid", "kid"} and rec["random"] is True
    assert rec["format"]["predictions"] == {"PNG": 4} and rec["format"]["ground_truth"] == {"JPEG": 4}
    for metric in ("ssim", "lpips"):
        values = np.array(rec["per_image"][metric])
        m = rec["metrics"][metric]
        assert m["n"] == len(values) == 4 and m["mean"] == pytest.approx(values.mean(), abs=1e-12)
        lo, hi = M.bootstrap_ci(lambda idx, v=values: float(v[idx].mean()), 4, resamples=300, seed=3)
        assert m["ci95"] == pytest.approx([lo, hi], abs=1e-12)
    assert rec["published"] and {p["metric"] for p in rec["published"]} == {"ssim", "fid"}
    md = paths["md"].read_text()
    shown = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) == 7 and cells[3] in rec["metrics"]:
            shown[cells[3]] = cells
    assert set(shown) == set(rec["metrics"]), md
    for metric, cells in shown.items():
        m = rec["metrics"][metric]
        assert cells[4] == (f"{report.fmt(metric, m['mean'])} [{report.fmt(metric, m['ci95'][0])}, "
                            f"{report.fmt(metric, m['ci95'][1])}]")
        assert "RANDOM" in cells[0]
        pub = [p for p in rec["published"] if p["metric"] == metric]
        assert cells[5] == (report.fmt(metric, pub[0]["value"]) if pub else "—")
    chart = Image.open(paths["png"]).convert("RGB")
    assert chart.getpixel((12, 40)) == (200, 30, 30)  # the RANDOM banner


def test_pred_without_ground_truth_of_its_name_is_an_error(tmp_path, random_backbones):
    pred, gt = _folders(tmp_path, 2)
    (gt / "001.jpg").unlink()
    with pytest.raises(InputError, match="001"):
        runner.evaluate_folders(pred, gt, settings=runner.EvalSettings(weights_dir=str(random_backbones)),
                                metrics=["ssim"])


def test_hygiene_warns_about_train_pairs_in_the_test_list(tmp_path):
    train = [("a_0.jpg", "a_1.jpg"), ("b_0.jpg", "b_1.jpg")]
    test = [("b_0.jpg", "b_1.jpg"), ("c_0.jpg", "a_1.jpg")]
    h = testset.hygiene(train, test)
    assert (h["shared_pairs"], h["shared_persons"], h["shared_cloths"]) == (1, 1, 2)
    assert "WARNING" in h["warning"] and "b_0.jpg b_1.jpg" in h["warning"]
    assert testset.hygiene(train, [("c_0.jpg", "c_1.jpg")])["warning"] == ""


# ----------------------------------------------------------------------------------------------------------------
# the command


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "vton", "evaluate", *args], capture_output=True, text=True,
                          env=full, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_evaluate_command_on_a_drawn_test_set_with_random_backbones(tmp_path):
    random_backbones = tmp_path / "weights"
    made = subprocess.run([sys.executable, "-m", "vton", "random-weights", str(random_backbones), "--methods",
                           "--eval-backbones"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert made.returncode == 0 and "eval/inception" in made.stdout, made.stderr
    data = write_viton_folder(tmp_path / "data", n=3)
    (tmp_path / "train_pairs.txt").write_text("000001_0.jpg 000002_1.jpg\n")
    out = tmp_path / "out"
    env = {"VTON_CACHE": str(tmp_path / "cache")}
    args = ("--root", str(data), "--method", "geometric", "--weights-dir", str(random_backbones), "--out", str(out),
            "--bootstrap", "100", "--set-bootstrap", "4", "--train-pairs", str(tmp_path / "train_pairs.txt"))
    r = _run(*args, env=env)
    assert r.returncode == 0, r.stderr
    assert "RANDOM" in r.stdout and "WARNING: the test list shares 1 pair" in r.stderr
    saved = json.loads((out / "metrics.json").read_text())
    modes = {(x["method"], x["mode"]): x for x in saved["results"]}
    assert set(modes) == {("geometric", "paired"), ("geometric", "unpaired")}
    assert set(modes["geometric", "paired"]["metrics"]) == {"ssim", "lpips"}
    assert set(modes["geometric", "unpaired"]["metrics"]) == {"fid", "kid"}
    assert all(x["random"] and x["count"] == 3 for x in saved["results"]) and saved["random"] is True
    assert saved["hygiene"]["shared_pairs"] == 1 and saved["metrics"] == ["ssim", "lpips", "fid", "kid"]
    assert "kid" in modes["geometric", "unpaired"]["metrics"] and "subset size 3" in \
        modes["geometric", "unpaired"]["metrics"]["kid"]["note"]
    md = (out / "metrics.md").read_text()
    assert md.count("**RANDOM**") >= 4 and "55.71" in md  # VITON's FID beside the training-free method
    assert Image.open(out / "metrics.png").convert("RGB").getpixel((12, 40)) == (200, 30, 30)
    assert len(list((out / "tryons" / "geometric" / "paired").glob("*.png"))) == 3
    again = _run(*args, env=env)  # the try-ons of the same weights are reused
    assert again.returncode == 0 and again.stderr.count("(cached)") == 6, again.stderr
    again_json = json.loads((out / "metrics.json").read_text())
    assert [x["metrics"] for x in again_json["results"]] == [x["metrics"] for x in saved["results"]]


def _main(capsys, *args: str) -> tuple[int, str, str]:
    from vton.cli import main

    code = main(["evaluate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err.replace("\n       ", " ")


def test_evaluate_command_without_backbone_weights_offline_exits_2_naming_the_file(tmp_path, capsys):
    pred, gt = _folders(tmp_path, 2)
    code, out, err = _main(capsys, "--pred", str(pred), "--gt", str(gt), "--metrics", "ssim,fid", "--weights-dir",
                           str(tmp_path / "none"), "--out", str(tmp_path / "out"))
    assert code == 2 and "pt_inception-2015-12-05-6726825d.pth" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "metrics.json").exists()
    code, out, err = _main(capsys, "--pred", str(pred), "--gt", str(gt), "--weights-dir", str(tmp_path / "none"),
                           "--bootstrap", "50", "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert re.search(r"left out fid: .*pt_inception", err) and "ssim" in out and "fid" not in out


def test_evaluate_command_explains_bad_arguments(tmp_path, capsys):
    code, _, err = _main(capsys, "--out", str(tmp_path / "o"))
    assert code == 2 and "--pred DIR --gt DIR" in err
    code, _, err = _main(capsys, "--pred", str(tmp_path), "--gt", str(tmp_path), "--metrics", "psnr", "--out",
                         str(tmp_path / "o"))
    assert code == 2 and "unknown metric" in err


def test_a_learned_method_on_random_weights_is_flagged_random_in_its_record(tmp_path, random_backbones):
    from vton import methods
    from vton.tools.random_weights import write_random_weights

    card = next(c for c in methods.cards() if c.weights)
    weights = tmp_path / "w"
    write_random_weights(weights, methods=[card.id], seed=1, **card.test_overrides)
    bb.write_random_backbones(weights, seed=1)
    data = write_viton_folder(tmp_path / "data", n=2)
    settings = runner.EvalSettings(weights_dir=str(weights), bootstrap=50, set_bootstrap=3)
    rep = runner.evaluate_methods(data, "test_pairs.txt", [card.id], tmp_path / "out", settings=settings,
                                  metrics=["ssim", "lpips"], log=lambda m: None,
                                  pipeline_kwargs={"network_overrides": dict(card.test_overrides)})
    (rec,) = rep["results"]
    assert (rec["method"], rec["mode"], rec["count"]) == (card.id, "paired", 2)
    assert rec["random"] and rec["weights"]["method_random"]
    assert set(rec["weights"]["method_weights"]) == {name for name, _ in card.weights}
    assert all(w["random"] and len(w["sha256"]) == 64 for w in rec["weights"]["method_weights"].values())
    assert [p["value"] for p in rec["published"]] == [p.value for p in card.published if p.mode == "paired"]
