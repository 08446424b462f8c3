"""The pages of a blind A/B user study (:mod:`vton.study`): the participant's trials and the researcher's results.

The protocol is the forced choice of the CP-VTON user study (Wang et al., ECCV 2018, sergeywong/cp-vton@fbaf333b).
One Gradio page serves both: ``?study=<id>&p=<participant>`` shows the participant their next trial (a new
participant id is made, and written into the address bar, when ``p`` is absent, so a reload resumes);
``?view=results`` shows the researcher's token box, then the win-rate table and the results file to download.
Nothing here names a method: the participant page gets only images with content-hash names and the trial number.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from . import weblaunch
from .errors import InputError, VtonError
from .study import (
    PreparedStudy,
    ResultsFile,
    check_token,
    load_study,
    make_answer,
    method_rows,
    new_participant_id,
    next_trial,
    pairwise_rows,
    participant_view,
    prepare_study,
    researcher_token,
    results_scheduler,
    schedule,
    summarize,
    validate_participant_id,
)

__all__ = ["build_study_app", "launch_study", "summary_markdown", "main", "METHOD_HEADERS", "PAIRWISE_HEADERS"]

log = logging.getLogger(__name__)

METHOD_HEADERS = ["Method", "Wins", "Comparisons", "Win rate", "95 % CI (Wilson)"]
PAIRWISE_HEADERS = ["Method A", "Method B", "A wins", "Comparisons", "A's win rate", "95 % CI (Wilson)"]

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

def _progress_html(number: int, total: int, done: bool) -> str:
    answered = total if done else number - 1
    text = "All done — thank you!" if done else f"Trial {number} of {total}"
    return (f'<div id="study-progress-inner"><progress value="{answered}" max="{total}" style="width:100%">'
            '</progress>'
            f'<div class="study-progress-text">{html.escape(text)}</div></div>')


def summary_markdown(prepared: PreparedStudy, records: list[dict[str, Any]]) -> tuple[str, list, list]:
    """The researcher's view of ``records``: a Markdown summary, the method rows and the pairwise rows."""
    study = prepared.study
    s = summarize(study, records)
    rate = "–" if s.check_pass_rate is None else f"{100 * s.check_pass_rate:.1f} %"
    excluded = ", ".join(f"`{p}`" for p in s.excluded) or "none"
    text = (f"**{s.participants}** participant(s), **{s.completed}** finished all {study.trials_total} trials; "
            f"**{s.comparisons}** comparison(s) counted.\n\n"
            f"Attention checks: **{s.checks_passed} of {s.checks_answered}** passed ({rate}).\n\n"
            f"Excluded (attention-check pass rate below {100 * study.exclude_below:.0f} %): {excluded}.")
    return text, method_rows(s), pairwise_rows(s)


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
    trials_of: dict[str, tuple] = {}

    def trials(participant: str) -> tuple:
        if participant not in trials_of:
            trials_of[participant] = schedule(study, participant)
        return trials_of[participant]

    owner = demo if demo is not None else gr.Blocks(title=f"User study — {study.id}")
    with owner:
        state = gr.State(None)
        with gr.Column(visible=True, elem_id="study-participant") as participant_col:
            gr.Markdown(f"## {html.escape(study.question)}", elem_id="study-question")
            progress = gr.HTML(_progress_html(1, study.trials_total, False), elem_id="study-progress")
            message = gr.Markdown("", elem_id="study-message")
            with gr.Row(elem_id="study-images") as images_row:
                left = gr.Image(label="A", type="filepath", format="png", interactive=False, buttons=[],
                                height=420, elem_id="study-left")
                right = gr.Image(label="B", type="filepath", format="png", interactive=False, buttons=[],
                                 height=420, elem_id="study-right")
            with gr.Row(elem_id="study-buttons") as buttons_row:
                choose_left = gr.Button("A", variant="primary", elem_id="study-choose-left")
                choose_right = gr.Button("B", variant="primary", elem_id="study-choose-right")
            thanks = gr.Markdown("### Thank you!\n\nYou have answered every trial; you can close this page.",
                                 visible=False, elem_id="study-thanks")
            participant_box = gr.Textbox(visible=False, elem_id="study-participant-id")
        with gr.Column(visible=False, elem_id="study-researcher") as researcher_col:
            gr.Markdown(f"## Results of study `{html.escape(study.id)}`")
            token_box = gr.Textbox(label="Researcher token", type="password", elem_id="study-token")
            show = gr.Button("Show results", variant="primary", elem_id="study-show")
            results_message = gr.Markdown("", elem_id="study-results-message")
            summary = gr.Markdown("", elem_id="study-summary")
            method_table = gr.Dataframe(headers=METHOD_HEADERS, value=[], type="array", interactive=False,
                                        visible=False, label="Win rate of each method", elem_id="study-table")
            pair_table = gr.Dataframe(headers=PAIRWISE_HEADERS, value=[], type="array", interactive=False,
                                      visible=False, label="Head to head", elem_id="study-pairwise")
            download = gr.DownloadButton("Download results.jsonl", visible=False, elem_id="study-download")

        screen = [state, participant_box, message, progress, left, right, images_row, buttons_row, thanks]

        def show_screen(participant: str, note: str = "") -> list[Any]:
            trial = next_trial(trials(participant), results.answered(study.id, participant))
            view = participant_view(prepared, trial)
            st = None if trial is None else {"participant": participant, "trial": trial.index,
                                             "shown": time.monotonic()}
            return [st, participant, note, _progress_html(view.number, view.total, view.done),
                    None if view.done else str(view.left_image), None if view.done else str(view.right_image),
                    gr.Row(visible=not view.done), gr.Row(visible=not view.done), gr.Markdown(visible=view.done)]

        def stop_screen(note: str) -> list[Any]:
            return [None, "", note, "", None, None, gr.Row(visible=False), gr.Row(visible=False),
                    gr.Markdown(visible=False)]

        def on_load(request: gr.Request):
            query = dict(request.query_params) if request is not None else {}
            if query.get("view") == "results":
                return [gr.Column(visible=False), gr.Column(visible=True), *stop_screen("")]
            cols = [gr.Column(visible=True), gr.Column(visible=False)]
            if query.get("study") and query["study"] != study.id:
                return [*cols, *stop_screen(f"This link is for study `{html.escape(query['study'])}`, but this "
                                            f"server runs study `{study.id}`. Please check the link you were given.")]
            try:
                participant = validate_participant_id(query.get("p") or new_participant_id())
            except InputError as e:
                return [*cols, *stop_screen(str(e))]
            return [*cols, *show_screen(participant)]

        def answer(side: str, st: dict | None):
            if not st:
                return stop_screen("This session has expired; please reload the page to continue.")
            participant = st["participant"]
            trial = trials(participant)[st["trial"]]
            record = make_answer(study, participant, trial, side, time.monotonic() - st["shown"])
            if not results.append(record):
                log.info("study %s: participant %s answered trial %d again; kept the first answer", study.id,
                         participant, trial.index)
            return show_screen(participant)

        def show_results(given: str):
            hidden = [gr.Dataframe(visible=False), gr.Dataframe(visible=False), gr.DownloadButton(visible=False)]
            if not check_token(given, token):
                return ["Wrong token.", "", *hidden]
            records = results.records()
            text, rows, pairs = summary_markdown(prepared, records)
            export = Path(tempfile.mkdtemp(prefix="vton-study-")) / f"{study.id}-results.jsonl"
            if prepared.results_path.is_file():
                shutil.copyfile(prepared.results_path, export)
            else:
                export.write_bytes(b"")
            return [notice, text, gr.Dataframe(value=rows, visible=True), gr.Dataframe(value=pairs, visible=True),
                    gr.DownloadButton(value=str(export), visible=True)]

        owner.load(on_load, None, [participant_col, researcher_col, *screen], api_visibility="private").then(
            None, participant_box, None, js=_KEEP_PARTICIPANT_IN_URL.replace("STUDY_ID", json.dumps(study.id)))
        choose_left.click(lambda st: answer("left", st), state, screen, api_visibility="private")
        choose_right.click(lambda st: answer("right", st), state, screen, api_visibility="private")
        outputs = [results_message, summary, method_table, pair_table, download]
        show.click(show_results, token_box, outputs, api_visibility="private")
        token_box.submit(show_results, token_box, outputs, api_visibility="private")
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


def main(argv: list[str] | None = None) -> None:
    """``python -m vton.study_ui STUDY_FILE --folder DIR``: serve a study whose images were rendered before."""
    parser = argparse.ArgumentParser(prog="python -m vton.study_ui", description=main.__doc__)
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
