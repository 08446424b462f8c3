"""Running methods over a test set and scoring the images: what ``python -m vton evaluate`` does.

Two modes per method, as the papers evaluate (Han et al. VITON, CVPR 2018 and its followers, on the VITON test
set): **paired** — each person with the garment they wear (the dataset folder read without a pairs list, so each
photo meets its own garment), scored against the photo with SSIM and LPIPS; **unpaired** — the pairs list (a person
with another garment), scored against the test set's real photos with FID and KID. ``--pred DIR --gt DIR`` scores
images that already exist, paired by file name (the name without its extension).

Try-ons are written to ``OUT/tryons/<method>/<mode>/`` with a ``results.json`` like ``python -m vton dataset``
writes, plus the weights' sha256; a second run with the same weights reuses them (the cache), and one preprocessor
is shared by every method (its person and garment caches). The framed photos (the paired ground truth) go to
``OUT/tryons/ground_truth/``.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vton.errors import InputError, WeightsError
from vton.evaluate import backbones as bb
from vton.evaluate import metrics as M
from vton.evaluate.testset import ImageSet, hygiene, pair_by_name, read_image_folder, read_pairs_list

__all__ = ["METRICS", "PAIRED_METRICS", "SET_METRICS", "EvalSettings", "Scorer", "select_metrics", "run_method",
           "score_record"]

METRICS = ("ssim", "lpips", "fid", "kid")
PAIRED_METRICS = ("ssim", "lpips")
SET_METRICS = ("fid", "kid")

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


@dataclass(frozen=True)
class EvalSettings:
    """How the scores are computed (recorded in ``metrics.json``).

    Attributes:
        gray_ssim: SSIM on 8-bit luma instead of RGB (the variant some papers used).
        resize: how images reach the Inception's 299 × 299 (``backbones.RESIZE_MODES``; clean-fid's ``clean``).
        bootstrap: resamples for the 95 % intervals of per-image means (SSIM, LPIPS).
        set_bootstrap: resamples for the intervals of FID and KID (each recomputes the metric).
        kid_subsets, kid_subset_size: KID's subsets (the size shrinks for small sets, and the record says so).
        seed: the seed of every resampling.
        device: torch device of the backbones.
        weights_dir: local weights folder (backbones and methods).
        download: allow the pinned download of missing backbone files (online only).
    """

    gray_ssim: bool = False
    resize: str = "clean"
    bootstrap: int = 1000
    set_bootstrap: int = 20
    kid_subsets: int = M.KID_SUBSETS
    kid_subset_size: int = M.KID_SUBSET_SIZE
    seed: int = 0
    device: str = "cpu"
    weights_dir: str | None = None
    download: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"ssim": {**M.SSIM_SETTINGS, "channels": "gray (8-bit luma, ITU-R 601-2)" if self.gray_ssim else
                         "RGB (mean over channels)"},
                "lpips": {"version": "0.1", "net": "alex", "input_range": "[-1, 1]", "size": "the images' own"},
                "inception": {"features": "pool3, 2048", "resize": self.resize, "size": bb.INCEPTION_SIZE},
                "kid": {"subsets": self.kid_subsets, "subset_size": self.kid_subset_size,
                        "kernel": "(x·y / d + 1)^3, unbiased MMD²"},
                "bootstrap": {"per_image": self.bootstrap, "set_metrics": self.set_bootstrap, "seed": self.seed,
                              "interval": "95 %: percentile of the mean (SSIM, LPIPS); FID: bootstrap spread around "
                                          "the full-set value; KID: percentile over resamples without repeats"}}


# ----------------------------------------------------------------------------------------------------------------
# which metrics


def select_metrics(requested: Sequence[str] | None, settings: EvalSettings) -> tuple[list[str], dict[str, str]]:
    """The metrics to compute and ``{metric: why it was left out}``.

    With ``requested=None`` every metric whose backbone weights are at hand is chosen and the others are left out
    with the reason; a metric named in ``requested`` whose weights are missing is an error.

    Raises:
        InputError: an unknown metric name.
        WeightsError: a requested metric's backbone file is missing (the message names the file).
    """
    if requested is not None:
        bad = [m for m in requested if m not in METRICS]
        if bad or not requested:
            raise InputError(f"unknown metric(s) {', '.join(bad) or '(none given)'}; vton computes "
                             f"{', '.join(METRICS)}")
    chosen, left_out = [], {}
    for m in (requested or METRICS):
        if m in chosen:
            continue
        try:
            for key in bb.BACKBONE_KEYS.get(m, ()):
                bb.find_backbone(key, settings.weights_dir, download=settings.download)
        except WeightsError as e:
            if requested is not None:
                raise
            left_out[m] = str(e)
            continue
        chosen.append(m)
    return chosen, left_out


class Scorer:
    """Computes the chosen metrics; the backbones are loaded on first use and their provenance kept."""

    def __init__(self, metrics: Sequence[str], settings: EvalSettings) -> None:
        self.metrics = list(metrics)
        self.settings = settings
        self._lpips = None
        self._inception = None
        self.backbones: dict[str, dict] = {}

    def _lpips_net(self):
        if self._lpips is None:
            self._lpips, found = bb.load_lpips(self.settings.weights_dir, self.settings.device,
                                               download=self.settings.download)
            self.backbones.update({b.key: b.as_dict() for b in found})
        return self._lpips

    def _inception_net(self):
        if self._inception is None:
            self._inception, found = bb.load_inception(self.settings.weights_dir, self.settings.device,
                                                       download=self.settings.download)
            self.backbones.update({b.key: b.as_dict() for b in found})
        return self._inception

    def features(self, images: Sequence[Image.Image]) -> np.ndarray:
        return bb.inception_features(self._inception_net(), images, mode=self.settings.resize,
                                     device=self.settings.device)

    def score(self, preds: ImageSet, gts: ImageSet | None, refs: ImageSet | None, *,
              ref_features: np.ndarray | None = None) -> tuple[dict[str, M.Score], dict[str, list[float]]]:
        """Scores of ``preds``: per-image metrics against ``gts`` (same order), set metrics against ``refs``.

        Returns:
            ``({metric: Score}, {metric: per-image values})``.
        """
        s = self.settings
        scores: dict[str, M.Score] = {}
        per_image: dict[str, list[float]] = {}
        if gts is not None:
            if "ssim" in self.metrics:
                per_image["ssim"] = [M.ssim(p, g, gray=s.gray_ssim) for p, g in zip(preds.images, gts.images,
                                                                                       strict=True)]
            if "lpips" in self.metrics:
                per_image["lpips"] = bb.lpips_distances(self._lpips_net(), preds.images, gts.images,
                                                        device=s.device).tolist()
            for m, v in per_image.items():
                scores[m] = M.summarise_per_image(v, resamples=s.bootstrap, seed=s.seed)
        wanted = [m for m in SET_METRICS if m in self.metrics]
        if refs is not None and wanted:
            x = self.features(preds.images)
            y = ref_features if ref_features is not None else self.features(refs.images)
            if "fid" in wanted:
                scores["fid"] = M.summarise_set_metric(M.fid_from_features, x, y, resamples=s.set_bootstrap,
                                                       seed=s.seed)
            if "kid" in wanted:
                scores["kid"] = M.kid_score(x, y, subsets=s.kid_subsets, subset_size=s.kid_subset_size,
                                            resamples=s.set_bootstrap, seed=s.seed)
        return scores, per_image


def score_record(label: str, mode: str, preds: ImageSet, scores: dict[str, M.Score],
                 per_image: dict[str, list[float]], *, gts: ImageSet | None, refs: ImageSet | None,
                 weights: dict[str, Any], random: bool) -> dict[str, Any]:
    """One ``metrics.json`` object: a method (or label) in one mode."""
    sizes = preds.sizes()
    res = ", ".join(f"{w} × {h}" + (f" ({n})" if len(sizes) > 1 else "") for (w, h), n in sizes.items())
    return {
        "method": label, "mode": mode, "count": len(preds.images), "resolution": f"{res} (W × H)",
        "format": {"predictions": dict(preds.formats), "ground_truth": dict(gts.formats) if gts else None,
                   "reference": dict(refs.formats) if refs else None},
        "reference_count": len(refs.images) if refs is not None else None,
        "metrics": {m: sc.as_dict() for m, sc in scores.items()},
        "per_image": {"names": list(preds.names), **per_image} if per_image else {},
        "weights": weights, "random": bool(random),
    }


# ----------------------------------------------------------------------------------------------------------------
# running a method


def _weights_sha(method: str, weights_dir: str | None) -> dict[str, str]:
    from vton import methods, weights

    out = {}
    for name, key in methods.card(method).weights:
        try:
            out[name] = weights.resolve(key, weights_dir, download=False).sha256
        except WeightsError:
            out[name] = "unavailable"
    return out


def run_method(method: str, folder, out: Path, *, mode: str, settings: EvalSettings, pipeline_kwargs: dict,
               preprocessor=None, limit: int | None = None, log: Log = _stderr
               ) -> tuple[ImageSet, ImageSet, dict[str, Any]]:
    """Run ``method`` over ``folder`` (a ``VitonFolder``) into ``out``, reusing try-ons of an earlier run with the
    same weights. Returns the try-ons, the framed photos (ground truth) and the method's weights provenance."""
    from vton import methods
    from vton.outputs import check_output_dir
    from vton.pipeline import TryOnPipeline

    check_output_dir(out, "try-on folder")
    sha = _weights_sha(method, settings.weights_dir)
    cache_file = out / "results.json"
    cached: dict[str, str] = {}
    if cache_file.is_file():
        try:
            prev = json.loads(cache_file.read_text())
            if prev.get("method") == method and prev.get("weights_sha256") == sha and "unavailable" not in sha.values():
                cached = {f"{r['person']} {r['cloth']}": r["tryon"] for r in prev.get("pairs", [])}
        except (OSError, ValueError, KeyError, TypeError):
            cached = {}
    pipe = None
    n = len(folder) if limit is None else min(limit, len(folder))
    preds, gts, rows = ImageSet([], []), ImageSet([], []), []
    gt_dir = out.parent.parent / "ground_truth"
    for i in range(n):
        person, cloth = folder.pairs[i]
        stem = f"{Path(person).stem}__{Path(cloth).stem}"
        png = out / f"{stem}.png"
        gt_png = gt_dir / f"{Path(person).stem}.png"
        if cached.get(f"{person} {cloth}") == png.name and png.is_file() and gt_png.is_file():
            tryon, framed = Image.open(png).convert("RGB"), Image.open(gt_png).convert("RGB")
            how = "cached"
        else:
            if pipe is None:
                pipe = TryOnPipeline(method, preprocessor=preprocessor, **pipeline_kwargs)
            item = folder[i]
            result = pipe(item.person, item.cloth, pose=item.pose, parsing=item.parsing, cloth_mask=item.cloth_mask,
                          body_mask=item.body_mask)
            tryon, framed = result.tryon_image.convert("RGB"), result.pre.person.convert("RGB")
            tryon.save(png)
            check_output_dir(gt_dir, "ground-truth folder")
            framed.save(gt_png)
            how = f"{sum(result.timings.values()):.2f} s"
        preds.names.append(stem)
        preds.images.append(tryon)
        preds.formats["PNG"] += 1
        gts.names.append(Path(person).stem)
        gts.images.append(framed)
        gts.formats["PNG"] += 1
        rows.append({"person": person, "cloth": cloth, "tryon": png.name})
        log(f"  [{method} {mode} {i + 1}/{n}] {person} + {cloth} ({how})")
    (out / "results.json").write_text(json.dumps({"method": method, "mode": mode, "weights_sha256": sha,
                                                  "pairs": rows}, indent=2))
    info = methods.describe(method, settings.weights_dir)
    prov = {"method_weights": {k: {**v, "sha256": sha.get(k)} for k, v in info["weights"].items()},
            "method_random": bool(info["random"])}
    return preds, gts, prov


def _unique(s: ImageSet) -> ImageSet:
    seen, out = set(), ImageSet([], [], Counter(s.formats))
    for n, im in zip(s.names, s.images, strict=True):
        if n not in seen:
            seen.add(n)
            out.names.append(n)
            out.images.append(im)
    return out


def _backbone_random(scorer: Scorer) -> bool:
    return any(b["random"] for b in scorer.backbones.values())


def evaluate_methods(root: str | os.PathLike, pairs: str, method_ids: Sequence[str], out: str | os.PathLike, *,
                     settings: EvalSettings, metrics: Sequence[str] | None = None, split: str = "test",
                     limit: int | None = None, train_pairs: str | os.PathLike | None = None,
                     pipeline_kwargs: dict | None = None, log: Log = _stderr) -> dict[str, Any]:
    """Run every method in paired mode (each photo with its own garment; SSIM, LPIPS against the photo) and unpaired
    mode (the pairs list; FID, KID against the test set's photos), score, and return the report data
    (:func:`vton.evaluate.report.build`); nothing is written but the try-ons."""
    from vton import methods
    from vton.datasets import VitonFolder
    from vton.evaluate import report
    from vton.outputs import check_output_dir
    from vton.preprocess.runner import Preprocessor

    for m in method_ids:
        methods.card(m)  # an unknown id is an InputError before any work
    chosen, left_out = select_metrics(metrics, settings)
    out = check_output_dir(out)
    unpaired = VitonFolder(root, pairs, split=split)
    checks = hygiene(read_pairs_list(train_pairs), unpaired.pairs) if train_pairs else None
    if checks and checks["warning"]:
        log(checks["warning"])
    paired = VitonFolder(root, None, split=split) if any(m in PAIRED_METRICS for m in chosen) else None
    scorer = Scorer(chosen, settings)
    kwargs = {"weights_dir": settings.weights_dir, "device": settings.device, **(pipeline_kwargs or {})}
    shared = Preprocessor(settings.weights_dir, kwargs.get("device"))
    records, ref_cache = [], {}
    for m in method_ids:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in m)
        runs = []
        if paired is not None:
            runs.append(("paired", paired))
        if any(x in SET_METRICS for x in chosen):
            runs.append(("unpaired", unpaired))
        for mode, folder in runs:
            preds, gts, prov = run_method(m, folder, out / "tryons" / safe / mode, mode=mode, settings=settings,
                                          pipeline_kwargs=kwargs, preprocessor=shared, limit=limit, log=log)
            if mode == "paired":
                scores, per_image = scorer.score(preds, gts, None)
                refs = None
            else:
                refs = _unique(gts)
                key = tuple(refs.names)
                if key not in ref_cache and any(x in SET_METRICS for x in chosen):
                    ref_cache[key] = scorer.features(refs.images)
                scores, per_image = scorer.score(preds, None, refs, ref_features=ref_cache.get(key))
            records.append(score_record(m, mode, preds, scores, per_image, gts=gts if mode == "paired" else None,
                                        refs=refs, weights=prov, random=prov["method_random"]))
    return report.build(records, settings=settings, metrics=chosen, left_out=left_out, backbones=scorer.backbones,
                        hygiene=checks, source={"root": str(root), "pairs": str(pairs), "split": split})


def evaluate_folders(pred: str | os.PathLike, gt: str | os.PathLike, *, settings: EvalSettings,
                     metrics: Sequence[str] | None = None, label: str = "predictions",
                     pairs: str | os.PathLike | None = None, train_pairs: str | os.PathLike | None = None,
                     log: Log = _stderr) -> dict[str, Any]:
    """Score existing images: ``pred`` against ``gt`` paired by file name (SSIM, LPIPS) and as sets (FID, KID)."""
    from vton.evaluate import report

    chosen, left_out = select_metrics(metrics, settings)
    preds = read_image_folder(pred, "predictions")
    truth = read_image_folder(gt, "ground-truth")
    checks = hygiene(read_pairs_list(train_pairs), read_pairs_list(pairs)) if train_pairs and pairs else None
    if checks and checks["warning"]:
        log(checks["warning"])
    paired_gts = pair_by_name(preds, truth)[1] if any(m in PAIRED_METRICS for m in chosen) else None
    scorer = Scorer(chosen, settings)
    scores, per_image = scorer.score(preds, paired_gts, truth)
    rec = score_record(label, report.FOLDERS_MODE, preds, scores, per_image, gts=paired_gts, refs=truth,
                       weights={"method_weights": {}, "method_random": False,
                                "note": "images read from folders: the weights that made them are unknown to vton"},
                       random=False)
    return report.build([rec], settings=settings, metrics=chosen, left_out=left_out, backbones=scorer.backbones,
                        hygiene=checks, source={"pred": str(pred), "gt": str(gt)})
