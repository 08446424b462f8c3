"""vton web app: upload a person photo and a garment photo, get the try-on and see every stage in between.

The methods, their stages, sections and captions come from the method registry (``vton.methods``); this file
builds the Gradio page and calls the package (``vton.webapp``, ``vton.pipeline``); it does no tensor maths.

    python app.py [--weights-dir DIR] [--host 127.0.0.1] [--port 7860] [--share]

API (``gradio_client``): ``/tryon``, ``/preprocess``, ``/methods``; see docs/space.md.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from vton import webapp  # noqa: E402

log = logging.getLogger("vton.app")

QUEUE_SIZE = 16  # waiting requests beyond this are refused with "queue full" instead of waiting for minutes
MAX_FILE_SIZE = "25mb"  # Gradio refuses larger uploads before they reach vton
CSS = """
.section-head p { margin: 0.2em 0 0 0; color: var(--body-text-color-subdued); }
#readiness { border-left: 4px solid var(--color-accent); padding-left: 0.8em; }
.stage-gallery .caption-label { white-space: normal !important; font-size: 0.85em; }
.file-preview .file-name, .file-preview-holder td { white-space: normal !important; word-break: break-all; }
@media (max-width: 640px) { .gallery-container { overflow-x: auto; } table { display: block; overflow-x: auto; } }
"""
INTRO = """# vton · classic virtual try-on, every stage
Upload a **person photo** and a **garment photo** (or click an example), pick a method and press **Run try-on**.
The page then shows what the method computes at each step — the shared preprocessing, then the method's own
representation, garment warp, rendering and composition — each with what it is and how long it took."""


def _uploads(person: Any, cloth: Any, pose: Any, parse: Any, mask: Any) -> webapp.Uploads:
    p = webapp.upload_path
    return webapp.Uploads(p(person), p(cloth), p(pose), p(parse), p(mask))


def _reporter(progress: gr.Progress):
    def report(key: str, done: int, total: int) -> None:
        progress((done, total), desc=f"{done}/{total} · {webapp.step_name(key)}", unit="steps")

    return report


def _fail(exc: BaseException) -> gr.Error:
    return gr.Error(webapp.user_message(exc), title="vton could not run", duration=None, print_exception=False)


def _keypoint_rows(table: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["name"], r["x"], r["y"], r["score"], "yes" if r["present"] else "no"] for r in table]


def build_demo(weights_dir: str | Path | None = None) -> gr.Blocks:
    """The Gradio page. Nothing heavy happens here: pipelines are built on the first request."""
    downloads = webapp.DownloadFolder()
    rows = webapp.method_table(weights_dir)
    section_ids = [s.id for s in webapp.SECTIONS]

    @webapp.gpu()
    def tryon(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """Run the try-on; returns status, the pasted result, every stage as (image, caption) in card order, a JSON
        summary (provenance, stage keys, timings) and two zips (stages; dataset layout, when the method has a pose
        and a parse map)."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress))
            stages = result.stages()
            summary = result.summary()
            stages_zip = downloads.write(f"vton_{_safe(method)}_stages.zip", result.stages_zip())
            dataset_zip = (downloads.write("vton_dataset.zip", result.dataset_zip())
                           if result.pre.pose is not None and result.pre.parsing is not None else None)
        except Exception as e:  # every failure becomes a message in the page, never a traceback
            raise _fail(e) from None
        total = sum(result.timings.values())
        prov = result.provenance
        notes = ""
        if prov["random_weights"]:
            notes += " — **RANDOM test weights: the images are noise**"
        if prov["unverified_weights"]:
            notes += f" — **unverified weights: {', '.join(prov['unverified_weights'])}**"
        cached = f"; cached: {', '.join(prov['cached_steps'])}" if prov["cached_steps"] else ""
        status = (f"**Done** with {result.card.title} in {total:.2f} s on {prov['device']}; "
                  + ", ".join(f"{k}: {v}" for k, v in result.sources.items()) + cached + notes)
        pasted = downloads.write(f"vton_{_safe(method)}_tryon.png", webapp.png_bytes(result.pasted_image))
        return (status, str(pasted), webapp.gallery_items(stages, downloads), summary, str(stages_zip),
                str(dataset_zip) if dataset_zip else None)

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

    def clear():
        return ("Running…", None, [], None, None, None, *([[]] * len(section_ids)), None)

    def show_sections(items, summary):
        groups = webapp.split_by_section(items, summary)
        return (*(groups.get(sid, []) for sid in section_ids),
                _keypoint_rows((summary or {}).get("keypoints", [])))

    def section_heads(method):
        from vton import methods as registry

        c = registry.card(method)
        return tuple(f"## {webapp.section_title(sid)}\n{c.section_notes.get(sid, '')}" for sid in section_ids)

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
                                "computed (garment mask), and only if the method needs it.")
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
                with gr.Row():
                    zip_stages = gr.File(label="All stages (zip: PNGs + result.json)", interactive=False,
                                         elem_id="zip-stages")
                    zip_dataset = gr.File(label="Preprocessing in dataset layout (zip)", interactive=False,
                                          elem_id="zip-dataset")

        gr.Examples(webapp.example_rows(), inputs=[person, cloth, pose_json, parse_png, mask_png],
                    label="Examples (made by the project, CC0; pose, parse and mask supplied so no pose/parsing "
                          "weights are needed)", elem_id="examples")

        all_stages = gr.Gallery(visible=False, type="filepath", elem_id="all-stages")
        heads, galleries = [], []
        first = section_heads(webapp.default_method(rows))
        for sid, head in zip(section_ids, first, strict=True):
            heads.append(gr.Markdown(head, elem_classes=["section-head"], elem_id=f"head-{sid}"))
            galleries.append(gr.Gallery(label=webapp.section_title(sid), show_label=False, columns=6, height="auto",
                                        object_fit="contain", type="filepath", elem_id=f"section-{sid}",
                                        elem_classes=["stage-gallery"], buttons=["download", "fullscreen"]))
            if sid == "inputs":
                with gr.Accordion("Keypoints (frame pixels, 192 × 256) and scores", open=False):
                    keypoints = gr.Dataframe(label="Keypoints", headers=["keypoint", "x", "y", "score", "present"],
                                             datatype=["str", "number", "number", "number", "str"],
                                             interactive=False, elem_id="keypoints")
        with gr.Accordion("Run summary (JSON: provenance, timings, stages, method data)", open=False):
            summary = gr.JSON(label="Run summary", elem_id="summary")

        inputs = [person, cloth, method, pose_json, parse_png, mask_png]
        cleared = [status, result, all_stages, summary, zip_stages, zip_dataset, *galleries, keypoints]
        run.click(clear, None, cleared, queue=False, api_visibility="private").then(
            tryon, inputs=inputs, outputs=[status, result, all_stages, summary, zip_stages, zip_dataset],
            api_name="tryon", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status, result],
        ).success(show_sections, [all_stages, summary], [*galleries, keypoints], queue=False,
                  api_visibility="private", show_progress="hidden")
        run_pre.click(clear, None, cleared, queue=False, api_visibility="private").then(
            preprocess, inputs=inputs, outputs=[status, all_stages, summary],
            api_name="preprocess", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status],
        ).success(show_sections, [all_stages, summary], [*galleries, keypoints], queue=False,
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
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    webapp.ensure_space_dependencies()
    demo = build_demo(args.weights_dir)
    demo.launch(server_name=webapp.server_host(args.host), server_port=args.port, share=args.share,
                allowed_paths=[str(webapp.EXAMPLES_DIR)], css=CSS, footer_links=["api", "gradio"],
                max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
