"""vton web app: upload a person photo and a garment photo, get the try-on and see every stage in between.

The methods, their stages, sections and captions come from the method registry (``vton.methods``); this file
builds the Gradio page and calls the package (``vton.webapp``, ``vton.webapp_views``, ``vton.pipeline``); it does
no tensor maths.

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

from vton import (
    webapp,  # noqa: E402
    webinputs,  # noqa: E402
)
from vton import webapp_views as views  # noqa: E402
from vton.errors import InputError  # noqa: E402

log = logging.getLogger("vton.app")

QUEUE_SIZE = 16  # waiting requests beyond this are refused with "queue full" instead of waiting for minutes
MAX_FILE_SIZE = "25mb"  # Gradio refuses larger uploads before they reach vton
CSS = """
.section-head p { margin: 0.2em 0 0 0; color: var(--body-text-color-subdued); }
#readiness { border-left: 4px solid var(--color-accent); padding-left: 0.8em; }
.stage-gallery .caption-label { white-space: normal !important; font-size: 0.85em; }
.file-preview .file-name, .file-preview-holder td, .file-preview .stem, .file-preview .ext {
  white-space: normal !important; word-break: normal !important; overflow-wrap: anywhere; overflow: visible !important;
  text-overflow: clip !important; max-width: none !important; }
.parse-legend { display: flex; flex-wrap: wrap; gap: 0.3em 1em; font-size: 0.95em; }
.legend-item { display: inline-flex; align-items: center; gap: 0.35em; white-space: nowrap; }
.legend-swatch { display: inline-block; width: 1.1em; height: 1.1em; border: 1px solid #555; }
#examples { max-width: 100%; overflow-x: auto; }
@media (max-width: 640px) {
  .gallery-container { overflow-x: auto; }
  table { display: block; overflow-x: auto; max-width: 100%; }
  #examples button { white-space: normal !important; max-width: 100%; }
}
"""
INTRO = """# vton · classic virtual try-on, every stage
Upload a **person photo** and a **garment photo** (or click an example), pick a method and press **Run try-on**.
The page then shows what the method computes at each step — the shared preprocessing, then the method's own
representation, garment warp, rendering and composition — each with what it is and how long it took.
**Compare methods** runs several methods on the same preprocessing side by side; **Edit & re-run** lets you move
keypoints, paint the parse map or the garment mask and run again from there."""
EDIT_HELP = """Edit in the 192 × 256 frame the methods read, then press **Re-run from my edits**: only what follows
the edit runs again (unchanged preprocessing is reused and says *cached, 0 s*). Keypoints: change x / y (frame
pixels) or set *present* to `no`. Parse map: paint with the label colours (the brush colours are the LIP palette,
in label order; the legend below names them). Garment mask: paint white (garment) or black. Edits are mapped back
to the photo's pixels, so the result is still pasted into the photo at its own size."""


def _uploads(person: Any, cloth: Any, pose: Any, parse: Any, mask: Any) -> webapp.Uploads:
    p = webapp.upload_path
    return webapp.Uploads(p(person), p(cloth), p(pose), p(parse), p(mask))


def _reporter(progress: gr.Progress):
    def report(key: str, done: int, total: int) -> None:
        progress((done, total), desc=webapp.progress_desc(key, done, total), unit="steps")

    return report


def _fail(exc: BaseException) -> gr.Error:
    return gr.Error(webapp.user_message(exc), title="vton could not run", duration=None, print_exception=False)


def _status(result: Any, head: str = "Done") -> str:
    total = sum(result.timings.values())
    prov = result.provenance
    notes = ""
    if prov["random_weights"]:
        notes += " — **RANDOM test weights: the images are noise**"
    if prov["unverified_weights"]:
        notes += f" — **unverified weights: {', '.join(prov['unverified_weights'])}**"
    cached = f"; cached: {', '.join(prov['cached_steps'])}" if prov["cached_steps"] else ""
    warnings = "".join(f"\n\n⚠ **Warning:** {w}" for w in prov.get("warnings", ()))
    return (f"**{head}** with {result.card.title} in {total:.2f} s on {prov['device']}; "
            + ", ".join(f"{k}: {v}" for k, v in result.sources.items()) + cached + notes + warnings)


def _card_title(method_id: str) -> str:
    from vton import methods as registry

    return registry.card(method_id).title


def build_demo(weights_dir: str | Path | None = None, report_dir: str | Path | None = None) -> gr.Blocks:
    """The Gradio page. Nothing heavy happens here: pipelines are built on the first request."""
    from vton import methods as registry
    from vton import webapp_report

    downloads = webapp.DownloadFolder()
    rows = webapp.method_table(weights_dir)
    section_ids = [s.id for s in webapp.SECTIONS]
    method_ids = [c.id for c in registry.cards()]

    def _outputs(method: str, result: Any, head: str = "Done") -> tuple:
        summary = result.summary()
        stages_zip = downloads.write(f"vton_{_safe(method)}_stages.zip", result.stages_zip())
        dataset_zip = (downloads.write("vton_dataset.zip", result.dataset_zip())
                       if result.pre.pose is not None and result.pre.parsing is not None else None)
        pasted = downloads.write(f"vton_{_safe(method)}_tryon.png", webapp.png_bytes(result.pasted_image))
        return (_status(result, head), str(pasted), webapp.gallery_items(result.stages(), downloads), summary,
                str(stages_zip), str(dataset_zip) if dataset_zip else None)

    @webapp.gpu()
    def tryon(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """Run the try-on; returns status, the pasted result, every stage as (image, caption) in card order, a JSON
        summary (provenance, stage keys, timings, method data) and two zips (stages; dataset layout, when the
        method has a pose and a parse map)."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress))
            return _outputs(method, result)
        except Exception as e:  # every failure becomes a message in the page, never a traceback
            raise _fail(e) from None

    @webapp.gpu()
    def rerun(person, cloth, method, pose_json, parse_png, cloth_mask_png, keypoint_table, parse_edit, mask_edit,
              progress=gr.Progress()):  # noqa: B008
        """Run again with the page's edits (keypoints, parse map, garment mask) in place of what they replace."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, method=method)  # the unedited preprocessing (cached)
            edits, what = views.edits_against(pre, keypoint_table, parse_edit, mask_edit)
            if not what:
                raise InputError("nothing was edited: change a keypoint, paint the parse map or the garment "
                                        "mask first (a plain run is *Run try-on*)")
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress), **edits)
            return _outputs(method, result, head=f"Re-ran from your edits ({', '.join(what)})")
        except Exception as e:
            raise _fail(e) from None

    @webapp.gpu(duration=300)
    def compare(person, cloth, method_list, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """Run several methods on the same pair and the same preprocessing; returns status, every method's stages as
        (image, "method · caption") one method after another, and a JSON summary (per method its run summary or
        error; per section each method's stage keys)."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            if isinstance(method_list, str):
                method_list = [m.strip() for m in method_list.split(",") if m.strip()]
            results = webapp.run_compare(list(method_list or []), up, weights_dir, _reporter(progress))
            summary = webapp.compare_summary(results)
            items = []
            for _m, r in results:
                if isinstance(r, BaseException):
                    continue
                for path, caption in webapp.gallery_items(r.stages(), downloads):
                    items.append((path, f"{r.card.title} · {caption}"))
        except Exception as e:
            raise _fail(e) from None
        parts = []
        for m, r in results:
            if isinstance(r, BaseException):
                parts.append(f"{_card_title(m)}: failed ({webapp.user_message(r)})")
            else:
                cached = f", cached: {', '.join(r.provenance['cached_steps'])}" if r.provenance["cached_steps"] else ""
                parts.append(f"{r.card.title}: {sum(r.timings.values()):.2f} s{cached}")
        ok = sum(not isinstance(r, BaseException) for _, r in results)
        status = f"**Compared** {ok} of {len(results)} methods on the same preprocessing — " + "; ".join(parts)
        return status, items, summary

    @webapp.gpu()
    def preprocess(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """The preprocessing the chosen method needs: status, the stages as (image, caption), a JSON summary."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, _reporter(progress), method=method)
            stages = pre.stages()
            summary = {"sources": pre.sources, "timings_s": {k: round(v, 6) for k, v in pre.timings.items()},
                       "keypoints": pre.keypoint_table(), "stages": webapp.stage_summaries(stages),
                       "inputs_sha256": pre.input_sha256}
        except Exception as e:
            raise _fail(e) from None
        status = ("**Preprocessing done**; " + ", ".join(f"{k}: {v}" for k, v in pre.sources.items())
                  + ". Press *Run try-on* for the method's stages.")
        return status, webapp.gallery_items(stages, downloads), summary

    def methods() -> list[dict]:
        """The method cards with weight status: id, title, licence, needs, weights, stages, ready, how_to."""
        return webapp.method_table(weights_dir)

    def refresh():
        table = webapp.method_table(weights_dir)
        return (webapp.readiness_banner(table), webapp.weights_notice(table, weights_dir))

    def show_views(items, summary, person, result_path):
        """Sections, control points, the before/after slider and the overlay of a run (the page only)."""
        groups = webapp.split_by_section(items, summary)
        cp_headers, cp_rows = views.control_point_rows(summary)
        paths = {row["key"]: (item[0] if isinstance(item, (list, tuple)) else item)
                 for item, row in zip(items or [], (summary or {}).get("stages", []), strict=False)}
        overlay = views.overlay_from_files(paths)
        photo = webapp.upload_path(person)
        slider = (str(photo), result_path) if photo and result_path else None
        return (*(groups.get(sid, []) for sid in section_ids),
                gr.update(value=cp_rows or None, headers=cp_headers or ["point"]),
                slider, overlay)

    def fill_editors(person, cloth, method, pose_json, parse_png, cloth_mask_png):
        """The editors, filled from the run's (unedited, cached) preprocessing."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, method=method)
        except Exception:  # the run itself has already reported any problem
            return [], None, None
        parse = None
        if pre.parsing is not None:
            parse = str(downloads.write("parse_frame.png", webapp.png_bytes(views.parse_editor_image(pre.parsing))))
        mask = str(downloads.write("cloth_mask_frame.png", webapp.png_bytes(views.mask_editor_image(pre.cloth_mask))))
        return views.keypoint_rows(pre.keypoint_table()), parse, mask

    def show_compare(items, summary):
        groups = webapp.split_compare(items, summary)
        chosen = (summary or {}).get("methods", [])
        results = (summary or {}).get("results", {})
        heads, cells = [], []
        for m in method_ids:
            res = results.get(m)
            if res is None:
                heads.append(gr.update(value="", visible=False))
            elif "error" in res:
                heads.append(gr.update(value=f"### {_card_title(m)}\n**Failed:** {res['error']}", visible=True))
            else:
                cached = ", ".join(res.get("cached_steps", [])) or "none"
                heads.append(gr.update(value=f"### {res['method_title']}\n{res['total_s']:.2f} s · cached: {cached}",
                                       visible=True))
        for sid in section_ids:
            for m in method_ids:
                cells.append(gr.update(value=groups.get((m, sid), []), visible=m in chosen))
        return (*heads, *cells)

    def clear_run():
        return ("Running…", None, [], None, None, None, *([[]] * len(section_ids)),
                gr.update(value=None), None, None)

    def clear_all():
        return (*clear_run(), [], None, None)

    def clear_compare():
        return ("Running…", [], None, *([gr.update(value="", visible=False)] * len(method_ids)),
                *([gr.update(value=[], visible=False)] * (len(method_ids) * len(section_ids))))

    def section_heads(method):
        c = registry.card(method)
        return tuple(f"## {webapp.section_title(sid)}\n{c.section_notes.get(sid, '')}" for sid in section_ids)

    examples = webapp.example_rows()
    with gr.Blocks(title="vton · virtual try-on, every stage", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
        readiness = gr.Markdown(webapp.readiness_banner(rows), elem_id="readiness")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                with gr.Row():
                    person = gr.Image(label="Person photo", type="filepath", sources=["upload", "clipboard"],
                                      height=320, elem_id="person-input")
                    cloth = gr.Image(label="Garment photo", type="filepath", sources=["upload", "clipboard"],
                                     height=320, elem_id="cloth-input")
                method = gr.Dropdown(webapp.method_choices(rows), value=webapp.default_method(rows), label="Method",
                                     info="Each method with its licence and whether its weights are available.",
                                     elem_id="method")
                with gr.Accordion("Your own annotations (pose JSON, parse PNG, garment mask) and the weights",
                                  open=False, elem_id="overrides"):
                    gr.Markdown("Annotations in the person photo's pixels, in the dataset formats (VITON / CP-VTON). "
                                "Whatever is left empty is estimated (pose: OpenPose, parsing: SCHP LIP) or "
                                "computed (garment mask), and only if the method needs it. Supplying a pose JSON and "
                                "a parse PNG means no estimator weights are downloaded.")
                    with gr.Row():
                        pose_json = gr.File(label="Pose: OpenPose JSON (COCO-18)", file_types=[".json"],
                                            elem_id="pose-input")
                        parse_png = gr.File(label="Parse map: LIP PNG (P or L mode)", file_types=[".png"],
                                            elem_id="parse-input")
                        mask_png = gr.File(label="Garment mask PNG", file_types=[".png", ".jpg"],
                                           elem_id="mask-input")
                    notice = gr.Markdown(webapp.weights_notice(rows, weights_dir), elem_id="weights-notice")
                with gr.Row():
                    run = gr.Button("Run try-on", variant="primary", elem_id="run")
                    run_pre = gr.Button("Preprocess only", elem_id="run-preprocess")
            with gr.Column(scale=2):
                status = gr.Markdown("Upload two photos or click an example below.", label="Status", elem_id="status")
                result = gr.Image(label="Try-on result (pasted into the photo)", type="filepath", format="png",
                                  interactive=False, height=420, elem_id="result")
                with gr.Column():
                    zip_stages = gr.File(label="All stages (zip: PNGs + result.json)", interactive=False,
                                         elem_id="zip-stages")
                    zip_dataset = gr.File(label="Preprocessing in dataset layout (zip)", interactive=False,
                                          elem_id="zip-dataset")

        gr.Examples(examples, inputs=[person, cloth, pose_json, parse_png, mask_png],
                    example_labels=webapp.example_labels(rows, examples) or None,
                    label="Examples (made by the project, CC0; pose, parse and mask supplied so no pose/parsing "
                          "weights are needed)", elem_id="examples")
        gr.Markdown(webapp.examples_note(rows, examples), elem_id="examples-note")

        all_stages = gr.Gallery(visible=False, type="filepath", elem_id="all-stages")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Stages", id="stages", elem_id="tab-stages"):
                with gr.Row():
                    slider = gr.ImageSlider(label="Before / after: the photo and the try-on", type="filepath",
                                            format="png", interactive=False, height=420, elem_id="before-after")
                    overlay = gr.Image(label="Warped garment over the person (frame)", type="numpy", format="png",
                                       interactive=False, height=420, elem_id="overlay")
                heads, galleries = [], []
                first = section_heads(webapp.default_method(rows))
                for sid, head in zip(section_ids, first, strict=True):
                    heads.append(gr.Markdown(head, elem_classes=["section-head"], elem_id=f"head-{sid}"))
                    galleries.append(gr.Gallery(label=webapp.section_title(sid), show_label=False, columns=6,
                                                height="auto", object_fit="contain", type="filepath",
                                                elem_id=f"section-{sid}", elem_classes=["stage-gallery"],
                                                buttons=["download", "fullscreen"]))
                    if sid == "warp":
                        with gr.Accordion("θ: the warp's control points, one row per point", open=False,
                                          elem_id="control-points-box"):
                            control_points = gr.Dataframe(label="Control points", headers=["point"],
                                                          interactive=False, elem_id="control-points",
                                                          wrap=True)
            with gr.Tab("Edit & re-run", id="edit", elem_id="tab-edit"):
                gr.Markdown(EDIT_HELP)
                with gr.Row(equal_height=False):
                    with gr.Column():
                        keypoints = gr.Dataframe(label="Keypoints (frame pixels, 192 × 256): edit x, y or present",
                                                 headers=views.KEYPOINT_HEADERS,
                                                 datatype=["str", "number", "number", "number", "str"],
                                                 interactive=True, type="array", elem_id="keypoints",
                                                 static_columns=[0])
                    with gr.Column():
                        parse_editor = gr.ImageEditor(
                            label="Parse map (frame): paint with the label colours", type="numpy", format="png",
                            image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420,
                            interactive=True,
                            canvas_size=(192, 256), elem_id="parse-editor",
                            brush=gr.Brush(colors=views.brush_colours(), default_color=views.brush_colours()[5],
                                           color_mode="fixed", default_size=10))
                        gr.HTML(views.legend_html(), elem_id="parse-legend")
                    with gr.Column():
                        mask_editor = gr.ImageEditor(
                            label="Garment mask (frame): paint white (garment) or black", type="numpy",
                            format="png", image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420,
                            interactive=True,
                            canvas_size=(192, 256), elem_id="mask-editor",
                            brush=gr.Brush(colors=["#ffffff", "#000000"], default_color="#ffffff",
                                           color_mode="fixed", default_size=10))
                rerun_btn = gr.Button("Re-run from my edits", variant="primary", elem_id="rerun")
            with gr.Tab("Compare methods", id="compare", elem_id="tab-compare"):
                gr.Markdown("Runs every chosen method on the same photos and the same preprocessing (the second "
                            "method reuses the first one's pose, parsing and framing: *cached, 0 s*). Stage rows are "
                            "aligned by section.")
                compare_methods = gr.CheckboxGroup(
                    [(c[0], c[1]) for c in webapp.method_choices(rows)], value=webapp.runnable_methods(rows),
                    label="Methods to compare", elem_id="compare-methods")
                compare_btn = gr.Button("Compare methods", variant="primary", elem_id="run-compare")
                compare_status = gr.Markdown("", elem_id="compare-status")
                compare_all = gr.Gallery(visible=False, type="filepath", elem_id="compare-all")
                with gr.Row(equal_height=False):
                    compare_heads = [gr.Markdown("", visible=False, elem_id=f"compare-head-{_safe(m)}")
                                     for m in method_ids]
                compare_cells = []
                for sid in section_ids:
                    gr.Markdown(f"#### {webapp.section_title(sid)}", elem_classes=["section-head"])
                    with gr.Row(equal_height=False, elem_id=f"compare-row-{sid}"):
                        for m in method_ids:
                            compare_cells.append(gr.Gallery(
                                show_label=False, columns=2, height="auto", object_fit="contain", type="filepath",
                                visible=False, elem_id=f"compare-{sid}-{_safe(m)}", elem_classes=["stage-gallery"],
                                label=f"{_card_title(m)} · {webapp.section_title(sid)}"))
                compare_summary = gr.JSON(label="Comparison summary", visible=False, elem_id="compare-summary")
        with gr.Accordion("Run summary (JSON: provenance, timings, stages, method data)", open=False):
            summary = gr.JSON(label="Run summary", elem_id="summary")
        webapp_report.build_quality(all_stages, summary, weights_dir)
        if report_dir:
            webapp_report.build_report_section(report_dir)

        inputs = [person, cloth, method, pose_json, parse_png, mask_png]
        run_outputs = [status, result, all_stages, summary, zip_stages, zip_dataset]
        view_outputs = [*galleries, control_points, slider, overlay]
        editor_outputs = [keypoints, parse_editor, mask_editor]
        cleared = [*run_outputs, *galleries, control_points, slider, overlay]
        run.click(clear_all, None, [*cleared, *editor_outputs], queue=False, api_visibility="private").then(
            tryon, inputs=inputs, outputs=run_outputs, api_name="tryon", preprocess=False, concurrency_limit=1,
            concurrency_id="pipeline", show_progress_on=[status, result],
        ).success(show_views, [all_stages, summary, person, result], view_outputs, queue=False,
                  api_visibility="private", show_progress="hidden"
        ).success(fill_editors, inputs, editor_outputs, queue=False, api_visibility="private",
                  show_progress="hidden", preprocess=False)
        rerun_btn.click(clear_run, None, cleared, queue=False, api_visibility="private").then(
            rerun, inputs=[*inputs, keypoints, parse_editor, mask_editor], outputs=run_outputs,
            api_visibility="private", concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status, result],
        ).success(show_views, [all_stages, summary, person, result], view_outputs, queue=False,
                  api_visibility="private", show_progress="hidden")
        run_pre.click(clear_all, None, [*cleared, *editor_outputs], queue=False, api_visibility="private").then(
            preprocess, inputs=inputs, outputs=[status, all_stages, summary],
            api_name="preprocess", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status],
        ).success(show_views, [all_stages, summary, person, result], view_outputs, queue=False,
                  api_visibility="private", show_progress="hidden")
        compare_outputs = [*compare_heads, *compare_cells]
        compare_btn.click(clear_compare, None, [compare_status, compare_all, compare_summary, *compare_outputs],
                          queue=False, api_visibility="private").then(
            compare, inputs=[person, cloth, compare_methods, pose_json, parse_png, mask_png],
            outputs=[compare_status, compare_all, compare_summary], api_name="compare", preprocess=False,
            concurrency_limit=1, concurrency_id="pipeline", show_progress_on=[compare_status],
        ).success(show_compare, [compare_all, compare_summary], compare_outputs, queue=False,
                  api_visibility="private", show_progress="hidden")
        method.change(section_heads, method, heads, queue=False, api_visibility="private")
        gr.api(methods, api_name="methods", concurrency_limit=None, queue=False)
        demo.load(refresh, None, [readiness, notice], queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))[:40]


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


def run_study(args: argparse.Namespace) -> None:
    """``--study FILE``: render every (pair, method) once, print the participant link and the researcher token,
    then serve the study's pages (``vton.study_ui``)."""
    from vton.errors import VtonError
    from vton.study import load_study, prepare_study, researcher_token, results_scheduler
    from vton.study_ui import build_study_app

    def render(pair, method_id):
        return webapp.pipeline(method_id, args.weights_dir)(pair.person, pair.garment, **pair.annotations).pasted_image

    try:
        study = load_study(args.study)
        folder = Path(args.study_folder) if args.study_folder else Path("studies") / study.id
        log.info("preparing study %s: %d pair(s) × %d method(s) into %s", study.id, len(study.pairs),
                 len(study.methods), folder)
        prepared = prepare_study(study, render, folder)
    except VtonError as e:
        raise SystemExit(f"error: {webapp.user_message(e)}") from None
    token, generated = researcher_token()
    host = webapp.server_host(args.host)
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    print(f"Participant link: http://{shown}:{args.port}/?study={study.id}", flush=True)
    if generated:
        print(f"Researcher token (results at /?view=results): {token}", flush=True)
    else:
        print("Researcher token: from $VTON_STUDY_TOKEN (results at /?view=results)", flush=True)
    results_scheduler(prepared)
    demo = build_study_app(prepared, token=token)
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=host, server_port=args.port, share=args.share, footer_links=[],
                max_file_size=MAX_FILE_SIZE, app_kwargs=webinputs.app_kwargs(demo))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    webapp.ensure_space_dependencies()
    if os.environ.get("SPACE_ID"):  # .pth files (OpenPose, mirrors of the authors' files) are fetched and converted
        # once here, not at a user's request
        from vton.weights import prepare_converted

        prepare_converted(args.weights_dir)
    if args.study:
        run_study(args)
        return
    try:
        demo = build_demo(args.weights_dir, args.report)
    except InputError as e:  # e.g. --report DIR without a readable metrics.json
        raise SystemExit(f"error: {e}") from None
    demo.launch(server_name=webapp.server_host(args.host), server_port=args.port, share=args.share,
                allowed_paths=[str(webapp.EXAMPLES_DIR)], css=CSS, footer_links=["api", "gradio"],
                max_file_size=MAX_FILE_SIZE, app_kwargs=webinputs.app_kwargs(demo))


if __name__ == "__main__":
    main()
