"""The evaluation report: ``metrics.json`` (the data), ``metrics.md`` and ``metrics.png`` (drawn from the data).

``metrics.json`` holds one object per method and mode in ``results``; each metric under its own name with ``mean``,
``ci95`` (95 % bootstrap interval over images) and ``n``, the per-image values (so every figure can be recomputed),
the library and version, the image count, resolution and formats read, the weights' provenance (``random``: RANDOM
test weights, the scores are meaningless) and, beside it, the numbers the papers printed (from the method cards'
``published``) with their source. ``metrics.md`` and the chart are rendered from that object only.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

__all__ = ["build", "write", "read", "render_markdown", "render_chart", "fmt", "METRIC_TITLES"]

METRIC_TITLES = {"ssim": "SSIM ↑", "lpips": "LPIPS ↓", "fid": "FID ↓", "kid": "KID ↓"}
_USES = {"ssim": (), "lpips": ("eval/alexnet", "eval/lpips-alex"), "fid": ("eval/inception",),
         "kid": ("eval/inception",)}
_CHART_TITLES = {"ssim": "SSIM (higher is better)", "lpips": "LPIPS (lower is better)", "fid": "FID (lower is better)",
                 "kid": "KID (lower is better)"}
FOLDERS_MODE = "pred/gt"  # images scored from folders: every published number is shown, with its mode
RANDOM_TEXT = "RANDOM weights: these scores are meaningless (generated test weights)"


def fmt(metric: str, value: float) -> str:
    """How the report prints a value of ``metric`` (FID 2 decimals, the others 4)."""
    return f"{value:.2f}" if metric == "fid" else f"{value:.4f}"


def _libraries(settings: Any) -> dict[str, str]:
    import numpy
    import skimage
    import torch

    from vton import __version__

    torch_v = torch.__version__
    return {
        "ssim": f"scikit-image {skimage.__version__} structural_similarity",
        "lpips": f"vton {__version__} plain-torch LPIPS v0.1 (AlexNet; equal to lpips 0.1.4 on shared weights, "
                 f"scripts/check_eval_backbones.py), torch {torch_v}",
        "fid": f"vton {__version__} FID on pytorch-fid's FID Inception (plain torch, equal to pytorch-fid 0.3.0 on "
               f"shared weights), resize {settings.resize} (clean-fid's modes), numpy {numpy.__version__}",
        "kid": f"vton {__version__} KID (unbiased polynomial MMD², subsets as clean-fid), same features as FID",
    }


def _published(label: str, mode: str) -> list[dict[str, Any]]:
    from vton import methods

    if label not in methods.ids():
        return []
    return [p.as_dict() for p in methods.card(label).published if mode in (p.mode, FOLDERS_MODE)]


def build(records: list[dict[str, Any]], *, settings: Any, metrics: list[str], left_out: dict[str, str],
          backbones: dict[str, dict], hygiene: dict | None, source: dict[str, str]) -> dict[str, Any]:
    """The report data: ``records`` (from ``runner.score_record``) with, per record, the libraries, the backbone
    files its metrics used, the RANDOM flag (method or backbone weights) and the papers' numbers."""
    from vton import __version__

    libs = _libraries(settings)
    for r in records:
        used = sorted({k for m in r["metrics"] for k in _USES.get(m, ()) if k in backbones})
        r["backbones"] = {k: backbones[k] for k in used}
        r["backbones_random"] = any(backbones[k]["random"] for k in used)
        r["random"] = bool(r["random"] or r["backbones_random"])
        r["libraries"] = {m: libs[m] for m in r["metrics"]}
        r["published"] = _published(r["method"], r["mode"])
    return {
        "vton_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
        "settings": settings.as_dict(),
        "metrics": list(metrics),
        "left_out": dict(left_out),
        "backbones": backbones,
        "hygiene": hygiene,
        "random": any(r["random"] for r in records),
        "results": records,
    }


def _ci(metric: str, m: dict) -> str:
    lo, hi = m["ci95"]
    return f"{fmt(metric, m['mean'])} [{fmt(metric, lo)}, {fmt(metric, hi)}]"


def render_markdown(data: dict[str, Any]) -> str:
    """``metrics.md`` from the report data."""
    lines = ["# vton evaluate", ""]
    if data["random"]:
        lines += [f"> **{RANDOM_TEXT}.** Rows marked RANDOM used generated weights (method or metric backbone).", ""]
    s = data["settings"]
    lines += [f"Source: {', '.join(f'{k} `{v}`' for k, v in data['source'].items())}. vton {data['vton_version']}, "
              f"{data['created']}.", "",
              f"Settings: SSIM {s['ssim']['win']} window, σ {s['ssim']['sigma']}, data range "
              f"{s['ssim']['data_range']}, {s['ssim']['channels']}; LPIPS v{s['lpips']['version']} "
              f"{s['lpips']['net']}, inputs in {s['lpips']['input_range']}; Inception resize "
              f"`{s['inception']['resize']}`; KID {s['kid']['subsets']} subsets of up to {s['kid']['subset_size']}; "
              f"95 % bootstrap intervals over images ({s['bootstrap']['per_image']} resamples for SSIM/LPIPS, "
              f"{s['bootstrap']['set_metrics']} for FID/KID, seed {s['bootstrap']['seed']}).", ""]
    if data["left_out"]:
        lines += ["Left out:", ""] + [f"- **{m}**: {why}" for m, why in data["left_out"].items()] + [""]
    if data.get("hygiene") and data["hygiene"].get("warning"):
        lines += [f"> {data['hygiene']['warning']}", ""]
    lines += ["| method | mode | n | metric | vton: mean [95 % CI] | paper | paper's split and source |",
              "|---|---|---|---|---|---|---|"]
    for r in data["results"]:
        flag = " **RANDOM**" if r["random"] else ""
        for metric, m in r["metrics"].items():
            pubs = [p for p in r["published"] if p["metric"] == metric] or [None]
            for p in pubs:
                paper = "—" if p is None else fmt(metric, p["value"])
                src = "—" if p is None else (f"{p['mode']}, {p['split']}; {p['source']}"
                                             + (f" ({p['note']})" if p["note"] else ""))
                lines.append(f"| {r['method']}{flag} | {r['mode']} | {m['n']} | {metric} | {_ci(metric, m)} | "
                             f"{paper} | {src} |")
    lines += ["", "## Per method and mode", ""]
    for r in data["results"]:
        fmts = ", ".join(f"{k}: " + (", ".join(f"{f} {n}" for f, n in v.items()) if v else "—")
                         for k, v in r["format"].items() if v is not None)
        lines += [f"### {r['method']} · {r['mode']}" + (" — RANDOM" if r["random"] else ""), "",
                  f"- images: {r['count']}" + (f" (reference set: {r['reference_count']})" if r["reference_count"]
                                               else "") + f"; resolution {r['resolution']}; formats read: {fmts}"]
        for metric, lib in r["libraries"].items():
            note = r["metrics"][metric].get("note")
            lines.append(f"- {metric}: {lib}" + (f"; {note}" if note else ""))
        mw = r["weights"].get("method_weights") or {}
        if mw:
            lines.append("- method weights: " + "; ".join(
                f"{n} `{w.get('key')}` {w.get('status')}, sha256 {str(w.get('sha256'))[:16]}…"
                + (" **RANDOM**" if w.get("random") else "") + ("" if w.get("verified", True) else " unverified")
                for n, w in mw.items()))
        elif r["weights"].get("note"):
            lines.append(f"- method weights: {r['weights']['note']}")
        for k, b in r["backbones"].items():
            lines.append(f"- backbone `{k}`: {b['file']} ({b['origin']}), sha256 {b['sha256'][:16]}…, "
                         f"{'verified' if b['verified'] else 'unverified'}" + (" — **RANDOM**" if b["random"] else ""))
        lines.append("")
    return "\n".join(lines)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


_PALETTE = [(66, 103, 178), (231, 135, 43), (76, 160, 90), (190, 70, 70), (130, 100, 180), (120, 120, 120)]


def render_chart(data: dict[str, Any]) -> Image.Image:
    """A bar chart per metric: one bar per method and mode with its 95 % interval, the paper's number as a red
    tick beside it; a red banner when RANDOM weights were used."""
    metrics = [m for m in ("ssim", "lpips", "fid", "kid") if any(m in r["metrics"] for r in data["results"])]
    pw, ph, top = 340, 300, 56
    img = Image.new("RGB", (max(1, len(metrics)) * pw + 20, ph + top + 70), "white")
    d = ImageDraw.Draw(img)
    big, small = _font(16), _font(11)
    d.text((10, 8), "vton evaluate: mean and 95 % bootstrap interval; red tick = the paper's number", fill="black",
           font=big)
    if data["random"]:
        d.rectangle((10, 30, img.width - 10, 50), fill=(200, 30, 30))
        d.text((16, 32), RANDOM_TEXT.upper(), fill="white", font=small)
    rows = data["results"]
    for j, metric in enumerate(metrics):
        x0, y0 = 10 + j * pw, top + 10
        d.text((x0 + 10, y0), _CHART_TITLES[metric], fill="black", font=big)
        bars = [(r, r["metrics"][metric]) for r in rows if metric in r["metrics"]]
        pubs = [p["value"] for r, _ in bars for p in r["published"] if p["metric"] == metric]
        vmax = max([m["ci95"][1] for _, m in bars] + [m["mean"] for _, m in bars] + pubs + [1e-12]) * 1.1
        base, height = y0 + ph - 40, ph - 70
        d.line((x0 + 30, base, x0 + pw - 20, base), fill="black")
        d.line((x0 + 30, base, x0 + 30, base - height), fill="black")
        d.text((x0 + 2, base - height - 6), fmt(metric, vmax), fill="gray", font=small)
        slot = (pw - 60) / max(1, len(bars))
        for i, (r, m) in enumerate(bars):
            cx = x0 + 40 + slot * i + slot / 2
            bw = min(36, slot * 0.6)

            def y(v: float, base: float = base, height: float = height, vmax: float = vmax) -> float:
                return base - height * max(0.0, v) / vmax

            d.rectangle((cx - bw / 2, y(m["mean"]), cx + bw / 2, base), fill=_PALETTE[i % len(_PALETTE)])
            lo, hi = m["ci95"]
            d.line((cx, y(lo), cx, y(hi)), fill="black", width=2)
            d.line((cx - 5, y(lo), cx + 5, y(lo)), fill="black")
            d.line((cx - 5, y(hi), cx + 5, y(hi)), fill="black")
            for p in r["published"]:
                if p["metric"] == metric:
                    d.line((cx - bw / 2 - 6, y(p["value"]), cx + bw / 2 + 6, y(p["value"])), fill=(220, 0, 0),
                           width=3)
            d.text((cx - slot / 2 + 2, y(m["mean"]) - 14), fmt(metric, m["mean"]), fill="black", font=small)
            label = f"{r['method']}{' (RANDOM)' if r['random'] else ''}"
            d.text((cx - slot / 2 + 2, base + 4), label[:22], fill="black", font=small)
            d.text((cx - slot / 2 + 2, base + 18), r["mode"], fill="gray", font=small)
    return img


def write(data: dict[str, Any], out: str | os.PathLike) -> dict[str, Path]:
    """Write ``metrics.json``, ``metrics.md`` and ``metrics.png`` into ``out``; their paths."""
    from vton.outputs import check_output_dir

    folder = check_output_dir(out, "report folder")
    paths = {"json": folder / "metrics.json", "md": folder / "metrics.md", "png": folder / "metrics.png"}
    paths["json"].write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(data) + "\n", encoding="utf-8")
    render_chart(data).save(paths["png"])
    return paths


def read(folder: str | os.PathLike) -> dict[str, Any]:
    """The report data of ``folder/metrics.json``.

    Raises:
        InputError: the folder has no readable ``metrics.json``.
    """
    from vton.errors import InputError

    p = Path(folder) / "metrics.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"the evaluation report {str(p)!r} cannot be read ({type(e).__name__}); run "
                         "`python -m vton evaluate ... --out DIR` first") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise InputError(f"{str(p)!r} is not a vton evaluate report (no 'results' list)")
    return data
