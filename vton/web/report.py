"""The evaluation parts of the page: a quality readout of one run and the ``python app.py --report DIR`` section.

The readout scores a try-on against the photo when the garment is the one the person wears (paired mode, as the
papers' SSIM and LPIPS; ``vton.evaluate``): the try-on and the framed photo in the 256 × 192 frame, SSIM on RGB and
LPIPS v0.1 (AlexNet) when its weights are at hand (never downloaded from the page). The report section shows what
``python -m vton evaluate --out DIR`` wrote (``metrics.md`` and the chart).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

__all__ = ["quality_readout", "held_readout", "readout", "report_markdown", "report_chart", "build_quality",
           "build_report_section", "QUALITY_HELP"]

NO_RUN = "Run a try-on first: the readout compares its try-on with the framed photo."
QUALITY_HELP = ("Tick when the garment photo shows the garment the person wears (a dataset's own pair): the try-on "
                "is then scored against the photo, as the papers' paired SSIM and LPIPS.")


@lru_cache(maxsize=2)
def _lpips(weights_dir: str | None):
    from vton.evaluate import backbones as bb

    return bb.load_lpips(weights_dir, download=False)


def _stage_paths(items: Sequence[Any] | None, summary: Mapping | None) -> dict[str, str]:
    """The items' image paths by stage key: each item found by its file name in the summary's stage rows."""
    from vton.web.galleries import item_path, items_by_file

    found = items_by_file(list(items or []))
    rows = (summary or {}).get("stages", [])
    return {row["key"]: item_path(found[row["file"]]) for row in rows if row.get("file") in found}


def quality_readout(items: Sequence[Any] | None, summary: Mapping | None, paired: bool,
                    weights_dir: str | os.PathLike | None = None) -> str:
    """Markdown: SSIM and LPIPS of a ``/tryon`` answer's try-on against its framed photo (``items``: its stage
    gallery, in any order; ``summary``: its run summary, whose stage rows name each item's file and stage key),
    beside the paper's paired numbers for the method; a hint when not ``paired``. The page reads its held run
    instead (``held_readout``)."""
    if not paired:
        return QUALITY_HELP
    paths = _stage_paths(items, summary)
    if "tryon" not in paths or "person" not in paths:
        return NO_RUN
    try:
        tryon = Image.open(paths["tryon"]).convert("RGB")
        photo = Image.open(paths["person"]).convert("RGB")
    except OSError as e:
        return f"The quality readout failed: {e}"
    return readout(tryon, photo, (summary or {}).get("method"), bool((summary or {}).get("random_weights")),
                   weights_dir)


def held_readout(held: Any, paired: bool, weights_dir: str | os.PathLike | None = None) -> str:
    """``quality_readout`` of the run the page holds (``vton.web.held.HeldRun``): its try-on and framed photo as
    they are in memory."""
    if not paired:
        return QUALITY_HELP
    if held is None or held.pasted is None or "tryon" not in held.stages or "person" not in held.stages:
        return NO_RUN
    return readout(Image.fromarray(held.stages["tryon"]), Image.fromarray(held.stages["person"]), held.card.id,
                   bool(held.summary.get("random_weights")), weights_dir)


def readout(tryon: Image.Image, photo: Image.Image, method: str | None, random_weights: bool,
            weights_dir: str | os.PathLike | None = None) -> str:
    """Markdown: SSIM and LPIPS of ``tryon`` against ``photo`` (the framed photo), beside the paper's paired numbers
    of ``method``; flagged when the method's or the LPIPS backbone's weights are RANDOM."""
    from vton import methods
    from vton.errors import VtonError
    from vton.evaluate import backbones as bb
    from vton.evaluate import metrics as M

    try:
        parts = [f"SSIM **{M.ssim(tryon, photo):.4f}** (RGB, 11 × 11 Gaussian σ 1.5, higher is better)"]
        flags = ["the method's weights are RANDOM"] if random_weights else []
        try:
            net, found = _lpips(str(weights_dir) if weights_dir else None)
            d = float(bb.lpips_distances(net, [tryon], [photo])[0])
            parts.append(f"LPIPS **{d:.4f}** (v0.1 AlexNet, lower is better)")
            if any(b.random for b in found):
                flags.append("the LPIPS backbone is RANDOM")
        except VtonError as e:
            parts.append(f"LPIPS left out: {str(e).split('. To get it')[0]}")
    except (OSError, VtonError) as e:
        return f"The quality readout failed: {e}"
    pubs = [p for p in methods.card(method).published if p.mode == "paired"] if method in methods.ids() else []
    lines = [f"**Quality against the photo (paired, {tryon.size[0]} × {tryon.size[1]} frame):** " + " · ".join(parts)]
    if pubs:
        lines.append("Papers: " + "; ".join(f"{p.metric.upper()} {p.value} ({p.source}"
                                            + (f", {p.note}" if p.note else "") + ")" for p in pubs)
                     + ". One pair is not a test set: the papers average over the VITON test set.")
    if flags:
        lines.append(f"**RANDOM weights: {', '.join(flags)}; these scores are meaningless.**")
    return "\n\n".join(lines)


def report_markdown(report_dir: str | os.PathLike) -> str:
    """``metrics.md`` rendered again from ``report_dir/metrics.json``; raises ``InputError`` when unreadable."""
    from vton.evaluate import report

    return report.render_markdown(report.read(report_dir))


def report_chart(report_dir: str | os.PathLike) -> Image.Image:
    """The chart drawn from ``report_dir/metrics.json``."""
    from vton.evaluate import report

    return report.render_chart(report.read(report_dir))


def build_quality(run_token: Any, store: Any, weights_dir: str | os.PathLike | None) -> None:
    """The readout's components (a tick box, a button and the text), reading the run the page holds under the
    visitor's token (``vton.web.held.RunStore``)."""
    import gradio as gr

    with gr.Accordion("Quality of this try-on (paired: against the photo)", open=False, elem_id="quality"):
        with gr.Row():
            paired = gr.Checkbox(label="The garment is the one in the photo (paired)", value=False,
                                 elem_id="quality-paired")
            score = gr.Button("Score against the photo", elem_id="quality-score")
        readout_md = gr.Markdown(QUALITY_HELP, elem_id="quality-readout")

    def run(token, is_paired):
        return held_readout(store.get(token, "run"), bool(is_paired), weights_dir)

    score.click(run, [run_token, paired], readout_md, api_visibility="private", concurrency_limit=1,
                concurrency_id="pipeline")


def build_report_section(report_dir: str | os.PathLike) -> None:
    """The evaluation report of ``report_dir`` as a page section (read once, when the page is built)."""
    import gradio as gr

    with gr.Accordion(f"Evaluation report ({Path(report_dir).name}: python -m vton evaluate)", open=True,
                      elem_id="eval-report"):
        gr.Image(report_chart(report_dir), label="Scores, 95 % intervals; red = the paper's number", show_label=False,
                 elem_id="eval-report-chart", interactive=False)
        gr.Markdown(report_markdown(report_dir), elem_id="eval-report-md")
