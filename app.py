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
from typing import Any, NamedTuple

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from vton import (
    webapp,  # noqa: E402
    weblaunch,  # noqa: E402
)
from vton import webapp_views as views  # noqa: E402
from vton.errors import InputError  # noqa: E402
from vton.run import FRAME  # noqa: E402

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
EDIT_HELP = """Edit in the 192 × 256 frame the methods read, then press **Re-run from my edits**: only what follows
the edit runs again (unchanged preprocessing is reused and says *cached, 0 s*). Keypoints: change x / y (frame
pixels) or set *present* to `no`. Parse map: paint with the label colours (the brush colours are the LIP palette,
in label order; the legend below names them). Garment mask: paint white (garment) or black. Edits are mapped back
to the photo's pixels, so the result is still pasted into the photo at its own size."""


class RunOutputs(NamedTuple):
    """What ``/tryon`` returns, in the order of its outputs."""

    status: Any
    result: Any
    stages: Any
    summary: Any
    zip_stages: Any
    zip_dataset: Any


class PreprocessOutputs(NamedTuple):
    """What ``/preprocess`` returns."""

    status: Any
    stages: Any
    summary: Any


class CompareOutputs(NamedTuple):
    """What ``/compare`` returns."""

    status: Any
    stages: Any
    summary: Any


class _Failures:
    """The last error message of each browser session, for the status line after a failed run (the API client gets
    the error itself)."""

    def __init__(self, size: int = 256) -> None:
        self._by_session: dict[str, str] = {}
        self._size = size

    def put(self, request: Any, message: str) -> None:
        key = getattr(request, "session_hash", None)
        if key is None:
            return
        self._by_session.pop(key, None)
        self._by_session[key] = message
        while len(self._by_session) > self._size:
            self._by_session.pop(next(iter(self._by_session)))

    def take(self, request: Any) -> str:
        return self._by_session.pop(getattr(request, "session_hash", None), "") or "the run failed (see the log)"


def _uploads(person: Any, cloth: Any, pose: Any, parse: Any, mask: Any) -> webapp.Uploads:
    p = webapp.upload_path
    return webapp.Uploads(p(person), p(cloth), p(pose), p(parse), p(mask))


def _reporter(progress: gr.Progress):
    def report(key: str, done: int, total: int) -> None:
        progress((done, total), desc=webapp.progress_desc(key, done, total), unit="steps")

    return report


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
    failures = _Failures()
    rows = webapp.method_table(weights_dir)
    section_ids = [s.id for s in webapp.SECTIONS]
    method_ids = [c.id for c in registry.cards()]

    def _fail(exc: BaseException, request: Any) -> gr.Error:
        """The error for the API client; the page shows it in the status line (``show_failure``), not a pop-up."""
        message = webapp.user_message(exc)
        failures.put(request, message)
        return gr.Error(message.replace("`", ""), title="vton could not run", duration=None, visible=False,
                        print_exception=False)

    def _outputs(method: str, result: Any, head: str = "Done") -> RunOutputs:
        summary = result.summary()
        stages_zip = downloads.write(f"vton_{_safe(method)}_stages.zip", result.stages_zip())
        dataset_zip = (downloads.write("vton_dataset.zip", result.dataset_zip())
                       if result.pre.has_dataset_layout else None)
        pasted = downloads.write(f"vton_{_safe(method)}_tryon.png", webapp.png_bytes(result.pasted_image))
        return RunOutputs(_status(result, head), str(pasted), webapp.gallery_items(result.stages(), downloads),
                          summary, str(stages_zip), str(dataset_zip) if dataset_zip else None)

    @webapp.gpu()
    def tryon(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress(),  # noqa: B008
              request: gr.Request = None):
        """Run the try-on; returns status, the pasted result, every stage as (image, caption) in card order, a JSON
        summary (provenance, stage keys, timings, method data) and two zips (stages; dataset layout, when the
        method has a pose and a parse map)."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress))
            return _outputs(method, result)
        except Exception as e:  # every failure becomes a message in the page, never a traceback
            raise _fail(e, request) from None

    @webapp.gpu()
    def rerun(person, cloth, method, pose_json, parse_png, cloth_mask_png, keypoint_table, parse_edit, mask_edit,
              progress=gr.Progress(), request: gr.Request = None):  # noqa: B008
        """Run again with the page's edits (keypoints, parse map, garment mask) in place of what they replace; with
        no edit, says so and keeps the result on the page."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, method=method)  # the unedited preprocessing (cached)
            edits, what = views.edits_against(pre, keypoint_table, parse_edit, mask_edit)
            if not what:
                return RunOutputs("**Nothing was edited**: change a keypoint, paint the parse map or the garment "
                                  "mask first (a plain run is *Run try-on*). The result below is unchanged.",
                                  *([gr.skip()] * 5))
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress), **edits)
            return _outputs(method, result, head=f"Re-ran from your edits ({', '.join(what)})")
        except Exception as e:
            raise _fail(e, request) from None

    @webapp.gpu(duration=300)
    def compare(person, cloth, method_list, pose_json, parse_png, cloth_mask_png, progress=gr.Progress(),  # noqa: B008
                request: gr.Request = None):
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
            raise _fail(e, request) from None
        done, failed = [], []
        for m, r in results:
            if isinstance(r, BaseException):
                failed.append(f"{_card_title(m)} ({webapp.short_reason(webapp.user_message(r))})")
            else:
                cached = f", cached: {', '.join(r.provenance['cached_steps'])}" if r.provenance["cached_steps"] else ""
                done.append(f"{r.card.title}: {sum(r.timings.values()):.2f} s{cached}")
        status = f"**Compared** {len(done)} of {len(results)} methods on the same preprocessing"
        status += (" — " + "; ".join(done)) if done else ""
        status += ("\n\n**Not run:** " + "; ".join(failed)) if failed else ""
        return CompareOutputs(status, items, summary)

    @webapp.gpu()
    def preprocess(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress(),  # noqa: B008
                   request: gr.Request = None):
        """The preprocessing the chosen method needs: status, the stages as (image, caption), a JSON summary."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, _reporter(progress), method=method)
            stages = pre.stages()
            summary = {"sources": pre.sources, "timings_s": {k: round(v, 6) for k, v in pre.timings.items()},
                       "keypoints": pre.keypoint_table(), "stages": webapp.stage_summaries(stages),
                       "inputs_sha256": pre.input_sha256}
        except Exception as e:
            raise _fail(e, request) from None
        status = ("**Preprocessing done**; " + ", ".join(f"{k}: {v}" for k, v in pre.sources.items())
                  + ". Press *Run try-on* for the method's stages.")
        return PreprocessOutputs(status, webapp.gallery_items(stages, downloads), summary)

    def methods() -> list[dict]:
        """The method cards with weight status: id, title, licence, needs, weights, stages, ready, how_to."""
        return webapp.method_table(weights_dir)

    def refresh():
        table = webapp.method_table(weights_dir)
        return (webapp.readiness_banner(table), webapp.weights_notice(table, weights_dir))

    def running(method):
        return f"Running {_card_title(method)}…" if method in method_ids else "Running…"

    def show_failure(result, request: gr.Request):
        """The status after a failed run: the error, and whether what is still shown is an earlier run's."""
        message = failures.take(request)
        earlier = ("\n\n*The result and stages below are from the earlier run.*" if result else "")
        return f"**Failed:** {message}{earlier}"

    def show_compare_failure(summary, request: gr.Request):
        earlier = ("\n\n*The comparison below is from the earlier run.*" if summary else "")
        return f"**Failed:** {failures.take(request)}{earlier}"

    def method_layout(method):
        """Per section: its heading (with the method's note) and whether it is shown (a method without a stage in a
        section, e.g. no rendering network, does not show it); the card's point table under the warp."""
        c = registry.card(method)
        has = {st.section for st in c.stages} | {"inputs"}
        heads_ = [gr.update(value=f"## {webapp.section_title(sid)}\n{c.section_notes.get(sid, '')}",
                            visible=sid in has) for sid in section_ids]
        gals = [gr.update(visible=sid in has) for sid in section_ids]
        table = c.point_table
        box = gr.update(label=table.title if table else "", visible=table is not None)
        return (*heads_, *gals, box)

    def show_views(items, summary, person, result_path):
        """Sections, the card's point table, the before/after slider and the overlay of a run (the page only)."""
        groups = webapp.split_by_section(items, summary)
        method_id = (summary or {}).get("method")
        table = registry.card(method_id).point_table if method_id in method_ids else None
        cp_headers, cp_rows = views.control_point_rows(summary, table.key) if table else ([], [])
        paths = {row["key"]: (item[0] if isinstance(item, (list, tuple)) else item)
                 for item, row in zip(items or [], (summary or {}).get("stages", []), strict=False)}
        overlay = views.overlay_from_files(paths)
        photo = webapp.upload_path(person)
        slider = (str(photo), result_path) if photo and result_path else None
        return (*(groups.get(sid, []) for sid in section_ids),
                gr.update(value=cp_rows or None, headers=cp_headers or ["point"]),
                slider, overlay)

    def clear_result():
        """After a preprocessing-only run: no try-on result (it would belong to another run)."""
        return None, None, None

    def fill_editors(person, cloth, method, pose_json, parse_png, cloth_mask_png):
        """The editors, filled from the run's (unedited, cached) preprocessing."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, method=method)
        except Exception:  # the run itself has already reported any problem
            return gr.skip(), gr.skip(), gr.skip()
        parse = None
        if pre.parsing is not None:
            parse = str(downloads.write("parse_frame.png", webapp.png_bytes(views.parse_editor_image(pre.parsing))))
        mask = str(downloads.write("cloth_mask_frame.png", webapp.png_bytes(views.mask_editor_image(pre.cloth_mask))))
        return views.keypoint_rows(pre.keypoint_table()), parse, mask

    def show_compare(items, summary):
        """One column per method that ran (its time), a row per section with only the cells that have stages."""
        groups = webapp.split_compare(items, summary)
        results = (summary or {}).get("results", {})
        ran = [m for m in method_ids if m in results and "error" not in results[m]]
        heads = []
        for m in method_ids:
            if m in ran:
                res = results[m]
                cached = ", ".join(res.get("cached_steps", [])) or "none"
                heads.append(gr.update(value=f"### {res['method_title']}\n{res['total_s']:.2f} s · cached: {cached}",
                                       visible=True))
            else:
                heads.append(gr.update(value="", visible=False))
        rows_, cols, cells, notes = [], [], [], []
        for sid in section_ids:
            filled = [m for m in ran if groups.get((m, sid))]
            rows_.append(gr.update(visible=bool(filled)))
            for m in method_ids:  # a method that ran keeps its column in every shown row, so columns stay aligned
                cols.append(gr.update(visible=m in ran))
                cells.append(gr.update(value=groups.get((m, sid), []), visible=m in filled))
                notes.append(gr.update(visible=m in ran and m not in filled))
        return (*heads, *rows_, *cols, *cells, *notes)

    examples = webapp.example_rows()
    first_method = webapp.default_method(rows)
    with gr.Blocks(title="vton · virtual try-on, every stage", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                with gr.Row():
                    person = gr.Image(label="Person photo", type="filepath", sources=["upload", "clipboard"],
                                      height=260, elem_id="person-input")
                    cloth = gr.Image(label="Garment photo", type="filepath", sources=["upload", "clipboard"],
                                     height=260, elem_id="cloth-input")
                pose_json = gr.File(label="Pose: OpenPose JSON (COCO-18)", file_types=[".json"],
                                    elem_id="pose-input", render=False)
                parse_png = gr.File(label="Parse map: LIP PNG (P or L mode)", file_types=[".png"],
                                    elem_id="parse-input", render=False)
                mask_png = gr.File(label="Garment mask PNG", file_types=[".png", ".jpg"], elem_id="mask-input",
                                   render=False)
                gr.Examples(examples, inputs=[person, cloth, pose_json, parse_png, mask_png],
                            example_labels=webapp.example_labels(rows, examples) or None,
                            label="Examples (made by the project, CC0; pose, parse and mask included, so no pose or "
                                  "parsing weights are needed)", elem_id="examples")
                method = gr.Dropdown(webapp.method_choices(rows), value=first_method, label="Method",
                                     elem_id="method")
                with gr.Row():
                    run = gr.Button("Run try-on", variant="primary", elem_id="run")
                    run_pre = gr.Button("Preprocess only", elem_id="run-preprocess")
                readiness = gr.Markdown(webapp.readiness_banner(rows), elem_id="readiness")
            with gr.Column(scale=2, min_width=300):
                status = gr.Markdown("Upload two photos or click an example.", elem_id="status")
                result = gr.Image(label="Try-on result (pasted into the photo)", type="filepath", format="png",
                                  interactive=False, height=360, elem_id="result")
                zip_stages = gr.File(label="All stages (zip: PNGs + result.json)", interactive=False,
                                     elem_id="zip-stages")
                zip_dataset = gr.File(label="Preprocessing in dataset layout (zip)", interactive=False,
                                      elem_id="zip-dataset")
        with gr.Accordion("Your own annotations (pose JSON, parse PNG, garment mask) and the weights", open=False,
                          elem_id="overrides"):
            gr.Markdown("Annotations in the person photo's pixels, in the dataset formats (VITON / CP-VTON). "
                        "Whatever is left empty is estimated (pose: OpenPose, parsing: SCHP LIP) or computed (garment "
                        "mask), and only if the method needs it. Supplying a pose JSON and a parse PNG means no "
                        "estimator weights are downloaded.")
            with gr.Row():
                pose_json.render()
                parse_png.render()
                mask_png.render()
            notice = gr.Markdown(webapp.weights_notice(rows, weights_dir), elem_id="weights-notice")

        all_stages = gr.Gallery(visible=False, type="filepath", elem_id="all-stages")
        layout0 = method_layout(first_method)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Stages", id="stages", elem_id="tab-stages"):
                with gr.Row():
                    slider = gr.ImageSlider(label="Before / after: the photo and the try-on", type="filepath",
                                            format="png", interactive=False, height=420, elem_id="before-after")
                    overlay = gr.Image(label="Warped garment over the person (frame)", type="numpy", format="png",
                                       interactive=False, height=420, elem_id="overlay")
                heads, galleries = [], []
                for i, sid in enumerate(section_ids):
                    heads.append(gr.Markdown(layout0[i]["value"], visible=layout0[i]["visible"],
                                             elem_classes=["section-head"], elem_id=f"head-{sid}"))
                    galleries.append(gr.Gallery(label=webapp.section_title(sid), show_label=False, columns=6,
                                                height="auto", object_fit="contain", type="filepath",
                                                visible=layout0[len(section_ids) + i]["visible"],
                                                elem_id=f"section-{sid}", elem_classes=["stage-gallery"],
                                                buttons=["download", "fullscreen"]))
                    if sid == "warp":
                        with gr.Accordion(layout0[-1]["label"] or "Points", open=False, visible=layout0[-1]["visible"],
                                          elem_id="control-points-box") as points_box:
                            control_points = gr.Dataframe(label="Points", headers=["point"], interactive=False,
                                                          elem_id="control-points", wrap=True)
            with gr.Tab("Edit & re-run", id="edit", elem_id="tab-edit"):
                gr.Markdown(EDIT_HELP)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=320):
                        keypoints = gr.Dataframe(label=f"Keypoints (frame pixels, {FRAME[0]} × {FRAME[1]}): edit x, y "
                                                       "or present",
                                                 headers=views.KEYPOINT_HEADERS,
                                                 datatype=["str", "number", "number", "number", "str"],
                                                 interactive=True, type="array", elem_id="keypoints",
                                                 static_columns=[0],
                                                 column_widths=["32%", "14%", "14%", "17%", "23%"])
                    with gr.Column(scale=4, min_width=240):
                        parse_editor = gr.ImageEditor(
                            label="Parse map (frame): paint with the label colours", type="numpy", format="png",
                            image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420,
                            interactive=True,
                            canvas_size=FRAME, elem_id="parse-editor",
                            brush=gr.Brush(colors=views.brush_colours(), default_color=views.brush_colours()[5],
                                           color_mode="fixed", default_size=10))
                        gr.HTML(views.legend_html(), elem_id="parse-legend")
                    with gr.Column(scale=4, min_width=240):
                        mask_editor = gr.ImageEditor(
                            label="Garment mask (frame): paint white (garment) or black", type="numpy",
                            format="png", image_mode="RGB", sources=["upload"], transforms=[], layers=False, height=420,
                            interactive=True,
                            canvas_size=FRAME, elem_id="mask-editor",
                            brush=gr.Brush(colors=["#ffffff", "#000000"], default_color="#ffffff",
                                           color_mode="fixed", default_size=10))
                rerun_btn = gr.Button("Re-run from my edits", variant="primary", elem_id="rerun")
            with gr.Tab("Compare methods", id="compare", elem_id="tab-compare"):
                gr.Markdown("Runs every chosen method on the same photos and the same preprocessing (the second "
                            "method reuses the first one's pose, parsing and framing: *cached, 0 s*). Stage rows are "
                            "aligned by section.")
                ready = [r["id"] for r in rows if r["ready"]]
                compare_methods = gr.CheckboxGroup([(r["title"], r["id"]) for r in rows], value=ready,
                                                   label="Methods to compare", elem_id="compare-methods")
                unready = webapp.unready_reasons(rows)
                gr.Markdown(("**Not ready:** " + "; ".join(unready)) if unready else "", elem_id="compare-unready",
                            visible=bool(unready))
                compare_btn = gr.Button("Compare methods", variant="primary", elem_id="run-compare")
                compare_status = gr.Markdown("", elem_id="compare-status")
                compare_all = gr.Gallery(visible=False, type="filepath", elem_id="compare-all")
                with gr.Row(equal_height=False):
                    compare_heads = [gr.Markdown("", visible=False, elem_id=f"compare-head-{_safe(m)}")
                                     for m in method_ids]
                compare_rows, compare_cols, compare_cells, compare_notes = [], [], [], []
                for sid in section_ids:
                    with gr.Column(visible=False, elem_id=f"compare-section-{sid}") as section_box:
                        gr.Markdown(f"#### {webapp.section_title(sid)}", elem_classes=["section-head"])
                        with gr.Row(equal_height=False, elem_id=f"compare-row-{sid}"):
                            for m in method_ids:
                                with gr.Column(visible=False, min_width=160,
                                               elem_id=f"compare-cell-{sid}-{_safe(m)}") as col:
                                    compare_cells.append(gr.Gallery(
                                        show_label=False, columns=2, height="auto", object_fit="contain",
                                        type="filepath", elem_id=f"compare-{sid}-{_safe(m)}",
                                        elem_classes=["stage-gallery"],
                                        label=f"{_card_title(m)} · {webapp.section_title(sid)}"))
                                    compare_notes.append(gr.Markdown(
                                        f"*{_card_title(m)} has no stage in this section.*", visible=False,
                                        elem_classes=["compare-note"]))
                                compare_cols.append(col)
                    compare_rows.append(section_box)
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
        views_args = {"fn": show_views, "inputs": [all_stages, summary, person, result], "outputs": view_outputs,
                      "queue": False, "api_visibility": "private", "show_progress": "hidden"}
        private = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}

        ran = run.click(running, method, status, **private).then(
            tryon, inputs=inputs, outputs=run_outputs, api_name="tryon", preprocess=False, concurrency_limit=1,
            concurrency_id="pipeline", show_progress_on=[status])
        ran.success(**views_args).success(fill_editors, inputs, editor_outputs, preprocess=False, **private)
        ran.failure(show_failure, result, status, **private)
        reran = rerun_btn.click(running, method, status, **private).then(
            rerun, inputs=[*inputs, keypoints, parse_editor, mask_editor], outputs=run_outputs,
            api_visibility="private", concurrency_limit=1, concurrency_id="pipeline", show_progress_on=[status])
        reran.success(**views_args)
        reran.failure(show_failure, result, status, **private)
        pre_ran = run_pre.click(running, method, status, **private).then(
            preprocess, inputs=inputs, outputs=[status, all_stages, summary],
            api_name="preprocess", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status])
        pre_ran.success(clear_result, None, [result, zip_stages, zip_dataset], **private).then(**views_args)
        pre_ran.failure(show_failure, result, status, **private)
        compare_outputs = [*compare_heads, *compare_rows, *compare_cols, *compare_cells, *compare_notes]
        compared = compare_btn.click(lambda: "Running the comparison…", None, compare_status, **private).then(
            compare, inputs=[person, cloth, compare_methods, pose_json, parse_png, mask_png],
            outputs=[compare_status, compare_all, compare_summary], api_name="compare", preprocess=False,
            concurrency_limit=1, concurrency_id="pipeline", show_progress_on=[compare_status])
        compared.success(show_compare, [compare_all, compare_summary], compare_outputs, **private)
        compared.failure(show_compare_failure, compare_summary, compare_status, **private)
        method.change(method_layout, method, [*heads, *galleries, points_box], **private)
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


def random_weights_notice(method_ids: Any, weights_dir: str | None) -> str:
    """A warning when any of the study's methods runs on RANDOM test weights (its images are noise), else ''."""
    from vton import methods as registry

    noisy = [registry.card(m).title for m in method_ids if registry.describe(m, weights_dir)["random"]]
    if not noisy:
        return ""
    return (f"this study runs on RANDOM test weights for {', '.join(noisy)}: those images are noise, so the study's "
            "results say nothing about the methods. Use the real weights for a real study.")


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
    notice = random_weights_notice(study.methods, args.weights_dir)
    if notice:
        print(f"WARNING: {notice}", flush=True)
    token, generated = researcher_token()
    host = webapp.server_host(args.host)
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    print(f"Participant link: http://{shown}:{args.port}/?study={study.id}", flush=True)
    if generated:
        print(f"Researcher token (results at /?view=results): {token}", flush=True)
    else:
        print("Researcher token: from $VTON_STUDY_TOKEN (results at /?view=results)", flush=True)
    results_scheduler(prepared)
    demo = build_study_app(prepared, token=token, notice=f"**Warning:** {notice}" if notice else "")
    demo.queue(default_concurrency_limit=4, max_size=64)
    weblaunch.launch(demo, server_name=host, server_port=args.port, share=args.share, footer_links=[],
                     max_file_size=MAX_FILE_SIZE)


def print_readiness(weights_dir: str | None) -> list[dict]:
    """At start, in the terminal: the Hub's state (one quick check that holds for the whole run) and one line per
    method (ready or not, why, licence); returns the method table."""
    rows = webapp.method_table(weights_dir)
    print(f"vton: Hub {webapp.hub_state()}; weights folder: {weights_dir or 'none (Hub only)'}", flush=True)
    for line in webapp.readiness_lines(rows):
        print(f"  {line}", flush=True)
    if not all(r["ready"] for r in rows):
        print("  how to get the missing weights: weights/README.md or `python -m vton methods`", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    webapp.ensure_space_dependencies()
    if os.environ.get("SPACE_ID"):  # .pth files (OpenPose, mirrors of the authors' files) are fetched and converted
        # once here, not at a user's request
        from vton.tools.prepare import prepare_converted

        prepare_converted(args.weights_dir)
    if args.study:
        run_study(args)
        return
    print_readiness(args.weights_dir)
    try:
        demo = build_demo(args.weights_dir, args.report)
    except InputError as e:  # e.g. --report DIR without a readable metrics.json
        raise SystemExit(f"error: {e}") from None
    weblaunch.launch(demo, server_name=webapp.server_host(args.host), server_port=args.port, share=args.share,
                     allowed_paths=[str(webapp.EXAMPLES_DIR)], css=CSS, footer_links=["api", "gradio"],
                     max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
