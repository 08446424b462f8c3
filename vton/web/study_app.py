"""The pages of a blind A/B user study (:mod:`vton.study`): the participant's trials and the researcher's results.

The protocol is the forced choice of the CP-VTON user study (Wang et al., ECCV 2018, sergeywong/cp-vton@fbaf333b).
One Gradio page serves both, composed from one module per view as FastChat's ``gradio_web_server_multi.py`` composes
its tabs: ``?study=<id>&p=<participant>`` shows the participant their next trial (``vton.web.study_participant``; a
new participant id is made, and written into the address bar, when ``p`` is absent, so a reload resumes);
``?view=results`` shows the researcher's view (``vton.web.study_results``). Nothing here names a method.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
from pathlib import Path
from typing import Any

import gradio as gr

from vton.errors import InputError, VtonError
from vton.study import (
    PreparedStudy,
    ResultsFile,
    load_study,
    new_participant_id,
    prepare_study,
    researcher_token,
    results_scheduler,
    validate_participant_id,
)
from vton.web import launch as weblaunch
from vton.web.study_participant import build_participant
from vton.web.study_results import build_results

__all__ = ["build_study_app", "launch_study", "serve_study", "random_weights_notice", "main"]

log = logging.getLogger(__name__)

# puts the participant id into the address bar, so that a reload resumes where the participant left off
_KEEP_PARTICIPANT_IN_URL = """(p) => {
  const s = STUDY_ID;
  if (p) {
    const u = new URL(window.location.href);
    if (u.searchParams.get('p') !== p) {
      u.searchParams.set('p', p);
      if (s && !u.searchParams.get('study')) u.searchParams.set('study', s);
      window.history.replaceState(null, '', u.toString());
    }
  }
  return [];
}"""


def build_study_app(prepared: PreparedStudy, *, token: str, demo: gr.Blocks | None = None,
                    notice: str = "") -> gr.Blocks:
    """The study's participant page and researcher view, in ``demo`` or in a new ``gr.Blocks``.

    Args:
        prepared: from :func:`vton.study.prepare_study` (all images rendered).
        token: the researcher token that opens the results view (see :func:`vton.study.researcher_token`).
        demo: a Blocks to add the components and the ``load`` event to; None makes one.
        notice: a warning shown with the results, after the token (e.g. that the images come from RANDOM test
            weights); never in the participant's page, which must not name a method.

    Returns:
        the Blocks (``demo`` if given).
    """
    study = prepared.study
    results = ResultsFile(prepared.results_path)
    gr.set_static_paths([prepared.images_dir])  # the images are served from the study folder wherever it is
    owner = demo if demo is not None else gr.Blocks(title=f"User study — {study.id}")
    with owner:
        participant = build_participant(prepared, results)
        researcher = build_results(prepared, results, token, notice)

        def on_load(request: gr.Request):
            query = dict(request.query_params) if request is not None else {}
            if query.get("view") == "results":
                return [gr.Column(visible=False), gr.Column(visible=True), *participant.stop_screen("")]
            cols = [gr.Column(visible=True), gr.Column(visible=False)]
            if query.get("study") and query["study"] != study.id:
                asked = html.escape(query["study"])
                return [*cols, *participant.stop_screen(
                    f"This link is for study `{asked}`, but this server runs study `{study.id}`. Please check the "
                    "link you were given.")]
            try:
                pid = validate_participant_id(query.get("p") or new_participant_id())
            except InputError as e:
                return [*cols, *participant.stop_screen(str(e))]
            return [*cols, *participant.show_screen(pid)]

        owner.load(on_load, None, [participant.column, researcher.column, *participant.screen],
                   api_visibility="private").then(
            None, participant.participant_box, None,
            js=_KEEP_PARTICIPANT_IN_URL.replace("STUDY_ID", json.dumps(study.id)))
    return owner


def launch_study(prepared: PreparedStudy, *, token: str, host: str = "127.0.0.1", port: int | None = None,
                 block: bool = False, **launch_kwargs: Any) -> gr.Blocks:
    """Serve the study alone (tests, or a study without the rest of the app); returns the running Blocks.

    ``block=False`` returns at once (``demo.close()`` stops it).
    """
    demo = build_study_app(prepared, token=token)
    weblaunch.launch(demo, server_name=host, server_port=port, prevent_thread_lock=not block, quiet=True,
                     **launch_kwargs)
    return demo


def random_weights_notice(method_ids: Any, weights_dir: str | None) -> str:
    """A warning when any of the study's methods runs on RANDOM test weights (its images are noise), else ''."""
    from vton import methods as registry

    noisy = [registry.card(m).title for m in method_ids if registry.describe(m, weights_dir)["random"]]
    if not noisy:
        return ""
    return (f"this study runs on RANDOM test weights for {', '.join(noisy)}: those images are noise, so the study's "
            "results say nothing about the methods. Use the real weights for a real study.")


def serve_study(args: argparse.Namespace, max_file_size: str) -> None:
    """``app.py --study FILE``: render every (pair, method) once, print the participant link and the researcher
    token, then serve the study's pages."""
    from vton.web.messages import user_message
    from vton.web.running import pipeline
    from vton.web.space import server_host

    def render(pair, method_id):
        return pipeline(method_id, args.weights_dir)(pair.person, pair.garment, **pair.annotations).pasted_image

    try:
        study = load_study(args.study)
        folder = Path(args.study_folder) if args.study_folder else Path("studies") / study.id
        log.info("preparing study %s: %d pair(s) × %d method(s) into %s", study.id, len(study.pairs),
                 len(study.methods), folder)
        prepared = prepare_study(study, render, folder)
    except VtonError as e:
        raise SystemExit(f"error: {user_message(e)}") from None
    notice = random_weights_notice(study.methods, args.weights_dir)
    if notice:
        print(f"WARNING: {notice}", flush=True)
    token, generated = researcher_token()
    host = server_host(args.host)
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
                     max_file_size=max_file_size)


def main(argv: list[str] | None = None) -> None:
    """``python -m vton.web.study_app STUDY_FILE --folder DIR``: serve a study whose images were rendered before."""
    parser = argparse.ArgumentParser(prog="python -m vton.web.study_app", description=main.__doc__)
    parser.add_argument("study", help="the study file (.json or .csv, see docs/study.md)")
    parser.add_argument("--folder", help="the study folder (default: studies/<study id>)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        study = load_study(args.study)
        prepared = prepare_study(study, None, args.folder or Path("studies") / study.id)
    except VtonError as e:
        raise SystemExit(f"error: {e}") from None
    token, generated = researcher_token()
    if generated:
        print(f"Researcher token (results at ?view=results): {token}", flush=True)
    results_scheduler(prepared)
    launch_study(prepared, token=token, host=args.host, port=args.port, block=True)


if __name__ == "__main__":
    main()
