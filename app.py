"""vton web app: upload a person photo and a garment photo, get the try-on and see every stage in between.

The methods, their stages, sections and captions come from the method registry (``vton.methods``); this file only
lays out the Gradio page and wires its events to the handlers of ``vton.web`` (``vton.web.tryon``,
``vton.web.compare``: they run the methods and hold each visitor's run); it does no tensor maths.

    python app.py [--weights-dir DIR] [--host 127.0.0.1] [--port 7860] [--share]
    python app.py --study STUDY_FILE [--study-folder DIR]      # a blind A/B user study (docs/study.md)
    python app.py --report DIR                                 # also show a `python -m vton evaluate` report

API (``gradio_client``): ``/tryon``, ``/compare``, ``/preprocess``, ``/methods``; see docs/space.md.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from vton.errors import InputError  # noqa: E402
from vton.run import (
    FRAME,  # noqa: E402
    SECTIONS,  # noqa: E402
)
from vton.web import edits as views  # noqa: E402
from vton.web import examples, readiness, report, space  # noqa: E402
from vton.web import launch as weblaunch  # noqa: E402
from vton.web.compare import CompareHandlers  # noqa: E402
from vton.web.galleries import DownloadFolder  # noqa: E402
from vton.web.held import RunStore  # noqa: E402
from vton.web.messages import Failures  # noqa: E402
from vton.web.records import (  # noqa: E402
    CompareView,
    EditorsRecord,
    LayoutRecord,
    Page,
    PreprocessRecord,
    ReadinessRecord,
    RunRecord,
    ViewsRecord,
    outputs_of,
)
from vton.web.study_app import random_weights_notice, serve_study  # noqa: E402, F401 (app.random_weights_notice)
from vton.web.tryon import TryOnHandlers, safe_name  # noqa: E402

log = logging.getLogger("vton.app")

QUEUE_SIZE = 16  # waiting requests beyond this are refused with "queue full" instead of waiting for minutes
MAX_FILE_SIZE = "25mb"  # Gradio refuses larger uploads before they reach vton
CSS = """
.section-head p { margin: 0.2em 0 0 0; color: var(--body-text-color-subdued); }
#readiness { border-left: 4px solid var(--color-accent); padding-left: 0.8em; font-size: 0.92em; }
#readiness ul { margin: 0.2em 0; padding-left: 1.1em; }
#readiness li { margin: 0.1em 0; overflow-wrap: anywhere; }
#status { overflow-wrap: anywhere; }
#status code, #compare-status code { white-space: pre-wrap; overflow-wrap: anywhere; }
/* galleries: captions under their images, never over them; as many columns as fit, never wider than the page */
.stage-gallery .grid-wrap { overflow: visible !important; height: auto !important; max-height: none !important;
  min-height: 0 !important; }
.stage-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(min(100%, 190px), 1fr)) !important;
  grid-template-rows: none !important; grid-auto-rows: auto !important; }
.stage-gallery .gallery-item { height: auto !important; min-width: 0; }
.stage-gallery .thumbnail-item { aspect-ratio: auto !important; height: auto !important; display: flex !important;
  flex-direction: column; align-items: stretch; overflow: visible !important; }
.stage-gallery .thumbnail-item > img { width: 100% !important; height: auto !important; max-height: 300px;
  object-fit: contain; flex: none; }
.stage-gallery .caption-label { position: static !important; max-width: none !important; width: auto;
  white-space: normal !important; overflow: visible !important; text-overflow: clip !important; opacity: 1 !important;
  border: none !important; border-top: 1px solid var(--border-color-primary) !important; border-radius: 0 !important;
  font-size: 0.8em; line-height: 1.3; overflow-wrap: anywhere; }
/* before / after: both pictures in one box, the same scale, nothing cut */
#before-after .slider-wrap { height: 380px !important; max-height: 380px; }
#before-after .slider-wrap .wrap, #before-after .slider-wrap .content { position: relative; height: 100% !important; }
#before-after .slider-wrap img { position: absolute !important; inset: 0 !important; width: 100% !important;
  height: 100% !important; max-height: none !important; object-fit: contain !important; margin: 0 !important;
  transform: none !important; }
/* file names whole: name and extension side by side (Gradio's row is a flex box, so no space between them), wrapped
   as one text only when the box is too narrow; the size column takes only what it needs */
.file-preview td.filename { display: flex !important; flex-wrap: wrap; overflow: visible !important; min-width: 0; }
.file-preview td.filename .stem { flex: 0 1 auto; min-width: 0; white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; overflow-wrap: anywhere; max-width: none !important; }
.file-preview td.filename .ext { flex: none; white-space: nowrap !important; }
.file-preview td.download { white-space: nowrap; text-align: right; min-width: 0 !important; width: auto !important; }
#weights-notice table { display: block; overflow-x: auto; max-width: 100%; }
#weights-notice td, #weights-notice th { word-break: normal !important; overflow-wrap: normal !important;
  white-space: normal; min-width: 6em; }
#keypoints table { table-layout: auto !important; }
#keypoints .table-wrap, #control-points .table-wrap { overflow-x: auto; max-width: 100%; }
.parse-legend { display: flex; flex-wrap: wrap; gap: 0.3em 1em; font-size: 0.95em; }
.legend-item { display: inline-flex; align-items: center; gap: 0.35em; white-space: nowrap; }
.legend-swatch { display: inline-block; width: 1.1em; height: 1.1em; border: 1px solid #555; }
#examples { max-width: 100%; overflow-x: auto; }
#examples button { white-space: normal !important; max-width: 100%; }
@media (max-width: 640px) {
  .gradio-container { overflow-x: hidden; }
  table { max-width: 100%; }
  #tabs .tab-container, #tabs [role=tablist] { flex-wrap: wrap; }
}
"""
INTRO = """# vton · classic virtual try-on, every stage
Upload a **person photo** and a **garment photo** (or click an example), pick a method and press **Run try-on**:
the page shows every stage in between. **Compare methods** runs several on the same preprocessing; **Edit & re-run**
lets you move keypoints or paint the parse map and garment mask."""
EDIT_HELP = views.edit_help(FRAME)  # the default frame; a run's editors and help follow its card's frame


PRIVATE = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}  # the page's own quick events
PIPELINE = {"concurrency_limit": 1, "concurrency_id": "pipeline"}  # one run at a time


def build_demo(weights_dir: str | Path | None = None, report_dir: str | Path | None = None) -> gr.Blocks:
    """The Gradio page. Nothing heavy happens here: pipelines are built on the first request."""
    rows = readiness.method_table(weights_dir)
    titles = {r["id"]: r["title"] for r in rows}
    page, store, downloads, failures = Page(), RunStore(), DownloadFolder(), Failures()
    tryon = TryOnHandlers(page, weights_dir, titles, store, downloads, failures)
    compare = CompareHandlers(page, weights_dir, list(titles), store, downloads, failures)
    with gr.Blocks(title="vton · virtual try-on, every stage", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        ui = _inputs(page, rows, weights_dir)
        page.run_token = gr.State(None)
        page.all_stages = gr.Gallery(visible=False, type="filepath", elem_id="all-stages")
        with gr.Tabs(elem_id="tabs"):
            _stages_tab(page, tryon.method_layout(ui["method"].value))
            ui["rerun"] = _edit_tab(page)
            ui.update(_compare_tab(page, rows, titles))
        with gr.Accordion("Run summary (JSON: provenance, timings, stages, method data)", open=False):
            page.summary = gr.JSON(label="Run summary", elem_id="summary")
        report.build_quality(page.run_token, store, weights_dir)
        if report_dir:
            report.build_report_section(report_dir)
        _wire_tryon(page, tryon, ui)
        _wire_compare(page, compare, ui)
        gr.api(tryon.methods, api_name="methods", concurrency_limit=None, queue=False)
        demo.load(tryon.refresh, None, outputs_of(ReadinessRecord, page), queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


def _inputs(page: Page, rows: list[dict], weights_dir: Any) -> dict[str, Any]:
    """The photos, the examples, the method and the buttons; the status, the result and its downloads; the
    annotations and the weights notice. Returns the input components by name."""
    ui: dict[str, Any] = {}
    example_rows = examples.example_rows()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            with gr.Row():
                ui["person"] = gr.Image(label="Person photo", type="filepath", sources=["upload", "clipboard"],
                                        height=260, elem_id="person-input")
                ui["cloth"] = gr.Image(label="Garment photo", type="filepath", sources=["upload", "clipboard"],
                                       height=260, elem_id="cloth-input")
            ui["pose_json"] = gr.File(label="Pose: OpenPose JSON (COCO-18)", file_types=[".json"],
                                      elem_id="pose-input", render=False)
            ui["parse_png"] = gr.File(label="Parse map: LIP PNG (P or L mode)", file_types=[".png"],
                                      elem_id="parse-input", render=False)
            ui["mask_png"] = gr.File(label="Garment mask PNG", file_types=[".png", ".jpg"], elem_id="mask-input",
                                     render=False)
            gr.Examples(example_rows, inputs=[ui[k] for k in ("person", "cloth", "pose_json", "parse_png", "mask_png")],
                        example_labels=examples.example_labels(rows, example_rows) or None,
                        label="Examples (made by the project, CC0; pose, parse and mask included, so no pose or "
                              "parsing weights are needed)", elem_id="examples")
            ui["method"] = gr.Dropdown(readiness.method_choices(rows), value=readiness.default_method(rows),
                                       label="Method", elem_id="method")
            with gr.Row():
                ui["run"] = gr.Button("Run try-on", variant="primary", elem_id="run")
                ui["run_pre"] = gr.Button("Preprocess only", elem_id="run-preprocess")
            page.readiness = gr.Markdown(readiness.readiness_banner(rows), elem_id="readiness")
        with gr.Column(scale=2, min_width=300):
            page.status = gr.Markdown("Upload two photos or click an example.", elem_id="status")
            page.result = gr.Image(label="Try-on result (pasted into the photo)", type="filepath", format="png",
                                   interactive=False, height=360, elem_id="result")
            page.zip_stages = gr.File(label="All stages (zip: PNGs + result.json)", interactive=False,
                                      elem_id="zip-stages")
            page.zip_dataset = gr.File(label="Preprocessing in dataset layout (zip)", interactive=False,
                                       elem_id="zip-dataset")
    with gr.Accordion("Your own annotations (pose JSON, parse PNG, garment mask) and the weights", open=False,
                      elem_id="overrides"):
        gr.Markdown("Annotations in the person photo's pixels, in the dataset formats (VITON / CP-VTON). "
                    "Whatever is left empty is estimated (pose: OpenPose, parsing: SCHP LIP) or computed (garment "
                    "mask), and only if the method needs it. Supplying a pose JSON and a parse PNG means no "
                    "estimator weights are downloaded.")
        with gr.Row():
            for k in ("pose_json", "parse_png", "mask_png"):
                ui[k].render()
        page.notice = gr.Markdown(readiness.weights_notice(rows, weights_dir), elem_id="weights-notice")
    return ui


def _stages_tab(page: Page, layout: LayoutRecord) -> None:
    """The before/after slider and the overlay, then per section its heading and gallery (the card's point table
    under the warp)."""
    with gr.Tab("Stages", id="stages", elem_id="tab-stages"):
        with gr.Row():
            page.slider = gr.ImageSlider(label="Before / after: the photo and the try-on", type="filepath",
                                         format="png", interactive=False, height=420, elem_id="before-after")
            page.overlay = gr.Image(label="Warped garment over the person (frame)", type="numpy", format="png",
                                    interactive=False, height=420, elem_id="overlay")
        for sec in SECTIONS:
            head = layout.heads[sec.id]
            page.heads[sec.id] = gr.Markdown(head["value"], visible=head["visible"], elem_classes=["section-head"],
                                             elem_id=f"head-{sec.id}")
            page.galleries[sec.id] = gr.Gallery(
                label=sec.title, show_label=False, columns=6, height="auto", object_fit="contain", type="filepath",
                visible=layout.galleries[sec.id]["visible"], elem_id=f"section-{sec.id}",
                elem_classes=["stage-gallery"], buttons=["download", "fullscreen"])
            if sec.id == "warp":
                box = layout.points_box
                with gr.Accordion(box["label"] or "Points", open=False, visible=box["visible"],
                                  elem_id="control-points-box") as page.points_box:
                    page.control_points = gr.Dataframe(label="Points", headers=["point"], interactive=False,
                                                       elem_id="control-points", wrap=True)


def _edit_tab(page: Page) -> gr.Button:
    """The keypoint table, the parse-map and garment-mask editors, and the re-run button (returned)."""
    with gr.Tab("Edit & re-run", id="edit", elem_id="tab-edit"):
        page.edit_help = gr.Markdown(EDIT_HELP, elem_id="edit-help")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320):
                page.keypoints = gr.Dataframe(
                    label=views.keypoints_label(FRAME),
                    headers=views.KEYPOINT_HEADERS,
                    datatype=["str", "number", "number", "number", "str"], interactive=True, type="array",
                    elem_id="keypoints", static_columns=[0], column_widths=["32%", "14%", "14%", "17%", "23%"])
            with gr.Column(scale=4, min_width=240):
                page.parse_editor = gr.ImageEditor(
                    label="Parse map (frame): paint with the label colours", type="numpy", format="png",
                    image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420, interactive=True,
                    canvas_size=FRAME, elem_id="parse-editor",
                    brush=gr.Brush(colors=views.brush_colours(), default_color=views.brush_colours()[5],
                                   color_mode="fixed", default_size=10))
                gr.HTML(views.legend_html(), elem_id="parse-legend")
            with gr.Column(scale=4, min_width=240):
                page.mask_editor = gr.ImageEditor(
                    label="Garment mask (frame): paint white (garment) or black", type="numpy", format="png",
                    image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420, interactive=True,
                    canvas_size=FRAME, elem_id="mask-editor",
                    brush=gr.Brush(colors=["#ffffff", "#000000"], default_color="#ffffff", color_mode="fixed",
                                   default_size=10))
        return gr.Button("Re-run from my edits", variant="primary", elem_id="rerun")


def _compare_tab(page: Page, rows: list[dict], titles: dict[str, str]) -> dict[str, Any]:
    """The methods to compare (the ready ones ticked), the button, the status, and a row per section with a cell per
    method (hidden until a comparison fills them). Returns the checkbox group and the button."""
    with gr.Tab("Compare methods", id="compare", elem_id="tab-compare"):
        gr.Markdown("Runs every chosen method on the same photos and the same preprocessing (the second "
                    "method reuses the first one's pose, parsing and framing: *cached, 0 s*). Stage rows are "
                    "aligned by section.")
        chosen = gr.CheckboxGroup([(r["title"], r["id"]) for r in rows], value=[r["id"] for r in rows if r["ready"]],
                                  label="Methods to compare", elem_id="compare-methods")
        unready = readiness.unready_reasons(rows)
        gr.Markdown(("**Not ready:** " + "; ".join(unready)) if unready else "", elem_id="compare-unready",
                    visible=bool(unready))
        button = gr.Button("Compare methods", variant="primary", elem_id="run-compare")
        page.compare_status = gr.Markdown("", elem_id="compare-status")
        page.compare_all = gr.Gallery(visible=False, type="filepath", elem_id="compare-all")
        with gr.Row(equal_height=False):
            for m in titles:
                page.compare_heads[m] = gr.Markdown("", visible=False, elem_id=f"compare-head-{safe_name(m)}")
        for sec in SECTIONS:
            with gr.Column(visible=False, elem_id=f"compare-section-{sec.id}") as page.compare_rows[sec.id]:
                gr.Markdown(f"#### {sec.title}", elem_classes=["section-head"])
                with gr.Row(equal_height=False, elem_id=f"compare-row-{sec.id}"):
                    for m, title in titles.items():
                        _compare_cell(page, sec, m, title)
        page.compare_summary = gr.JSON(label="Comparison summary", visible=False, elem_id="compare-summary")
    return {"compare_methods": chosen, "compare_button": button}


def _compare_cell(page: Page, sec: Any, m: str, title: str) -> None:
    with gr.Column(visible=False, min_width=160, elem_id=f"compare-cell-{sec.id}-{safe_name(m)}") as col:
        page.compare_cells[(sec.id, m)] = gr.Gallery(
            show_label=False, columns=2, height="auto", object_fit="contain", type="filepath",
            elem_id=f"compare-{sec.id}-{safe_name(m)}", elem_classes=["stage-gallery"], label=f"{title} · {sec.title}")
        page.compare_notes[(sec.id, m)] = gr.Markdown(f"*{title} has no stage in this section.*", visible=False,
                                                      elem_classes=["compare-note"])
    page.compare_cols[(sec.id, m)] = col


def _wire_tryon(page: Page, h: TryOnHandlers, ui: dict[str, Any]) -> None:
    """Run, preprocess and re-run: each shows "Running…", runs (one at a time), then shows the held run's views;
    a failure names its error in the status."""
    inputs = [ui[k] for k in ("person", "cloth", "method", "pose_json", "parse_png", "mask_png")]
    state = page.run_token
    views_out, failed = outputs_of(ViewsRecord, page), [page.result, state]
    start = {"fn": h.running, "inputs": [ui["method"], state], "outputs": [page.status, state], **PRIVATE}
    ran = ui["run"].click(**start).then(
        h.tryon, inputs=[*inputs, state], outputs=outputs_of(RunRecord, page), api_name="tryon", preprocess=False,
        show_progress_on=[page.status], **PIPELINE)
    ran.success(h.show_views, state, views_out, **PRIVATE).success(
        h.fill_editors, state, outputs_of(EditorsRecord, page), **PRIVATE)
    ran.failure(h.show_failure, failed, views_out, **PRIVATE)
    reran = ui["rerun"].click(**start).then(
        h.rerun, inputs=[page.keypoints, page.parse_editor, page.mask_editor, state],
        outputs=outputs_of(RunRecord, page), api_visibility="private", show_progress_on=[page.status], **PIPELINE)
    reran.success(h.show_views, state, views_out, **PRIVATE)
    reran.failure(h.show_failure, failed, views_out, **PRIVATE)
    pre_ran = ui["run_pre"].click(**start).then(
        h.preprocess, inputs=[*inputs, state], outputs=outputs_of(PreprocessRecord, page), api_name="preprocess",
        preprocess=False, show_progress_on=[page.status], **PIPELINE)
    pre_ran.success(h.show_views, state, views_out, **PRIVATE).success(  # edits re-run the held preprocessing
        h.fill_editors, state, outputs_of(EditorsRecord, page), **PRIVATE)
    pre_ran.failure(h.show_failure, failed, views_out, **PRIVATE)
    ui["method"].change(h.show_layout, ui["method"], outputs_of(LayoutRecord, page), **PRIVATE)


def _wire_compare(page: Page, h: CompareHandlers, ui: dict[str, Any]) -> None:
    """Compare: the status says it runs, the methods run (one request at a time), the rows are filled."""
    state = page.run_token
    inputs = [ui[k] for k in ("person", "cloth", "compare_methods", "pose_json", "parse_png", "mask_png")]
    compared = ui["compare_button"].click(h.starting, state, [page.compare_status, state], **PRIVATE).then(
        h.compare, inputs=[*inputs, state], outputs=[page.compare_status, page.compare_all, page.compare_summary],
        api_name="compare", preprocess=False, show_progress_on=[page.compare_status], **PIPELINE)
    compared.success(h.show_compare, state, outputs_of(CompareView, page), **PRIVATE)
    compared.failure(h.show_compare_failure, page.compare_summary, page.compare_status, **PRIVATE)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="vton web app: virtual try-on with every stage shown.")
    p.add_argument("--weights-dir", default=os.environ.get("VTON_WEIGHTS_DIR") or None,
                   help="local weights folder (default: $VTON_WEIGHTS_DIR, then the Hugging Face Hub)")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; 0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    p.add_argument("--study", metavar="FILE", default=None,
                   help="serve a blind A/B user study from this study file (.json or .csv; docs/study.md) instead "
                        "of the try-on page")
    p.add_argument("--study-folder", metavar="DIR", default=None,
                   help="where the study's rendered images and results.jsonl live (default: studies/<study id>)")
    p.add_argument("--report", metavar="DIR", default=None,
                   help="also show the evaluation report in DIR (written by `python -m vton evaluate --out DIR`)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    space.ensure_space_dependencies()
    if os.environ.get("SPACE_ID"):  # .pth files (OpenPose, mirrors of the authors' files) are fetched and converted
        # once here, not at a user's request
        from vton.tools.prepare import prepare_converted

        prepare_converted(args.weights_dir)
    if args.study:
        serve_study(args, MAX_FILE_SIZE)
        return
    readiness.print_readiness(args.weights_dir)
    try:
        demo = build_demo(args.weights_dir, args.report)
    except InputError as e:  # e.g. --report DIR without a readable metrics.json
        raise SystemExit(f"error: {e}") from None
    weblaunch.launch(demo, server_name=space.server_host(args.host), server_port=args.port, share=args.share,
                     allowed_paths=[str(examples.EXAMPLES_DIR)], css=CSS, footer_links=["api", "gradio"],
                     max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
