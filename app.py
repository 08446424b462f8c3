"""vton web app: upload a person photo and a garment photo, get the try-on and see every stage in between.

Methods: CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton) and CP-VTON+ (Minar et al., CVPR-W 2020,
minar09/cp-vton-plus). This file builds the Gradio page and calls the package (``vton.webapp``, ``vton.pipeline``);
it does no tensor maths.

    python app.py [--weights-dir DIR] [--host 127.0.0.1] [--port 7860] [--share]

API (``gradio_client``): ``/tryon``, ``/preprocess``, ``/methods``; see docs/space.md.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from vton import webapp  # noqa: E402

log = logging.getLogger("vton.app")

QUEUE_SIZE = 16  # waiting requests beyond this are refused with "queue full" instead of waiting for minutes
CSS = """
.stage-image label[data-testid="block-label"] { position: static !important; white-space: normal !important;
  height: auto !important; max-width: 100% !important; padding-right: 64px !important; line-height: 1.3;
  border-radius: 0 !important; box-shadow: none !important; border: none !important; }
.stage-image .image-container { height: auto !important; }
.stage-image .image-frame img { height: 300px !important; width: 100% !important; object-fit: contain; }
.section-head p { margin: 0.2em 0 0 0; color: var(--body-text-color-subdued); }
"""
INTRO = """# vton · classic virtual try-on, every stage
Upload a **person photo** and a **garment photo** (or click an example), pick a method and press **Run try-on**.
The page then shows what the network sees at each step — pose, parsing, the person representation, the GMM's
thin-plate-spline warp and the TOM's rendering and composition — each with what it is and how long it took."""


def _payload(value: Any) -> Path | None:
    return webapp.upload_path(value)


def _uploads(person: Any, cloth: Any, pose: Any, parse: Any, mask: Any) -> webapp.Uploads:
    return webapp.Uploads(_payload(person), _payload(cloth), _payload(pose), _payload(parse), _payload(mask))


def _reporter(progress: gr.Progress):
    def report(key: str, done: int, total: int) -> None:
        progress((done, total), desc=f"{done}/{total} · {webapp.step_name(key)}", unit="stages")

    return report


def _fail(exc: BaseException) -> gr.Error:
    return gr.Error(webapp.user_message(exc), title="vton could not run", duration=None, print_exception=False)


def _stage_values(stages: list[Any], keys: tuple[str, ...]) -> list[Any]:
    """Stage images in ``keys`` order (None for a stage the run did not produce)."""
    by_key = {s.key: s.image for s in stages}
    return [by_key.get(k) for k in keys]


def _stage_labels(summary: dict | None, keys: tuple[str, ...]) -> list[Any]:
    """Label updates for the stage images, from the run summary: title, caption and time per stage."""
    rows = {s["key"]: s for s in (summary or {}).get("stages", [])}
    out = []
    for k in keys:
        s = rows.get(k)
        label = webapp.stage_label(SimpleNamespace(**s)) if s else webapp.STAGE_TITLES[k]
        out.append(gr.Image(label=label))
    return out


def _keypoint_rows(table: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["name"], r["x"], r["y"], r["score"], "yes" if r["present"] else "no"] for r in table]


def build_demo(weights_dir: str | Path | None = None) -> gr.Blocks:
    """The Gradio page. Nothing heavy happens here: pipelines are built on the first request."""
    downloads = webapp.DownloadFolder()
    rows = webapp.method_table(weights_dir)

    @webapp.gpu()
    def tryon(person, cloth, method, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """Run the try-on; returns status, the result, every stage image, keypoints, a JSON summary and 2 zips."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            result = webapp.run_tryon(method, up, weights_dir, _reporter(progress))
            stages = result.stages()
            summary = {**result.summary(), "stages": webapp.stage_summaries(stages)}
            stages_zip = downloads.write("vton_stages.zip", result.stages_zip())
            dataset_zip = downloads.write("vton_dataset.zip", result.dataset_zip())
        except Exception as e:  # every failure becomes a message in the page, never a traceback
            raise _fail(e) from None
        total = sum(result.timings.values())
        note = " — **RANDOM test weights: the images are noise**" if _synthetic(method) else ""
        status = (f"**Done** with {summary['method']} in {total:.2f} s on {result_device(method)}; "
                  + ", ".join(f"{k}: {v}" for k, v in result.sources.items()) + note)
        return (status, result.pasted_image, *_stage_values(stages, webapp.STAGE_KEYS),
                _keypoint_rows(result.keypoint_table()), summary, str(stages_zip), str(dataset_zip))

    @webapp.gpu()
    def preprocess(person, cloth, pose_json, parse_png, cloth_mask_png, progress=gr.Progress()):  # noqa: B008
        """Preprocessing only: status, the preprocessing stage images, keypoints, a JSON summary, the dataset zip."""
        try:
            up = _uploads(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = webapp.run_preprocess(up, weights_dir, _reporter(progress))
            stages = pre.stages()
            summary = {"sources": pre.sources, "timings_s": {k: round(v, 6) for k, v in pre.timings.items()},
                       "keypoints": pre.keypoint_table(), "stages": webapp.stage_summaries(stages)}
            dataset_zip = downloads.write("vton_dataset.zip", pre.dataset_zip())
        except Exception as e:
            raise _fail(e) from None
        status = ("**Preprocessing done**; " + ", ".join(f"{k}: {v}" for k, v in pre.sources.items())
                  + ". Press *Run try-on* for the networks' stages.")
        return (status, *_stage_values(stages, webapp.PREPROCESS_KEYS), _keypoint_rows(pre.keypoint_table()),
                summary, str(dataset_zip))

    def methods() -> list[dict]:
        """The method table: id, title, licence, paper, repo, weights per network, ready, missing, how_to."""
        return webapp.method_table(weights_dir)

    def _synthetic(method: str) -> bool:
        return any(r["synthetic"] for r in webapp.method_table(weights_dir) if r["id"] == method)

    def result_device(method: str) -> str:
        return str(webapp.pipeline(method, weights_dir).device)

    def refresh():
        table = webapp.method_table(weights_dir)
        return (gr.Dropdown(choices=webapp.method_choices(table)), webapp.weights_notice(table, weights_dir))

    def relabel(summary: dict | None):
        return _stage_labels(summary, webapp.STAGE_KEYS)

    def clear_network_stages():
        rest = [k for k in webapp.STAGE_KEYS if k not in webapp.PREPROCESS_KEYS]
        return (None, *(gr.Image(value=None, label=webapp.STAGE_TITLES[k]) for k in rest), None)

    with gr.Blocks(title="vton · virtual try-on, every stage", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
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
                with gr.Accordion("Optional: your own annotations, and the weights folder", open=False,
                                  elem_id="overrides"):
                    gr.Markdown("Annotations in the person photo's pixels, in the dataset formats (VITON / CP-VTON). "
                                "Whatever is left empty is estimated (pose: OpenPose, parsing: SCHP LIP) or "
                                "computed (garment mask).")
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
                result = gr.Image(label="Try-on result (pasted into the photo)", type="pil", format="png",
                                  interactive=False, height=420, elem_id="result")
                with gr.Row():
                    zip_stages = gr.File(label="All stages (zip: PNGs + result.json)", interactive=False,
                                         elem_id="zip-stages")
                    zip_dataset = gr.File(label="Preprocessing in dataset layout (zip)", interactive=False,
                                          elem_id="zip-dataset")

        gr.Examples(webapp.example_rows(webapp.default_method(rows)),
                    inputs=[person, cloth, method, pose_json, parse_png, mask_png],
                    label="Examples (drawn by the project, CC0; pose, parse and mask supplied so no pose/parsing "
                          "weights are needed)")

        images: dict[str, gr.Image] = {}
        for title, blurb, keys in webapp.SECTIONS:
            gr.Markdown(f"## {title}\n{blurb}", elem_classes=["section-head"])
            with gr.Row(equal_height=True):
                for key in keys:
                    images[key] = gr.Image(label=webapp.STAGE_TITLES[key], type="numpy", format="png",
                                           interactive=False, elem_id=f"stage-{key}",
                                           elem_classes=["stage-image"], buttons=["download", "fullscreen"])
            if keys is webapp.PREPROCESS_KEYS:
                with gr.Accordion("Keypoints (frame pixels, 192 × 256) and scores", open=False):
                    keypoints = gr.Dataframe(label="Keypoints", headers=["keypoint", "x", "y", "score", "present"],
                                             datatype=["str", "number", "number", "number", "str"],
                                             interactive=False, elem_id="keypoints")
        with gr.Accordion("Run summary (JSON: timings, sources, θ, stages)", open=False):
            summary = gr.JSON(label="Run summary", elem_id="summary")

        all_images = [images[k] for k in webapp.STAGE_KEYS]
        files_in = [person, cloth]
        overrides = [pose_json, parse_png, mask_png]
        run.click(
            tryon, inputs=[*files_in, method, *overrides],
            outputs=[status, result, *(images[k] for k in webapp.STAGE_KEYS), keypoints, summary, zip_stages,
                     zip_dataset],
            api_name="tryon", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status, result],
        ).success(relabel, summary, all_images, queue=False, api_visibility="private", show_progress="hidden")
        rest = [images[k] for k in webapp.STAGE_KEYS if k not in webapp.PREPROCESS_KEYS]
        run_pre.click(clear_network_stages, None, [result, *rest, zip_stages], queue=False,
                      api_visibility="private").then(
            preprocess, inputs=[*files_in, *overrides],
            outputs=[status, *(images[k] for k in webapp.PREPROCESS_KEYS), keypoints, summary, zip_dataset],
            api_name="preprocess", preprocess=False, concurrency_limit=1, concurrency_id="pipeline",
            show_progress_on=[status],
        ).success(relabel, summary, all_images, queue=False, api_visibility="private", show_progress="hidden")
        gr.api(methods, api_name="methods", concurrency_limit=None, queue=False)
        demo.load(refresh, None, [method, notice], queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo


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
                allowed_paths=[str(webapp.EXAMPLES_DIR)], css=CSS, footer_links=["api", "gradio"])


if __name__ == "__main__":
    main()
