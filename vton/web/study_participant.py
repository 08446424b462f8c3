"""The participant's page of a blind A/B user study: the question, two images, two buttons, the progress.

The protocol is the forced choice of the CP-VTON user study (Wang et al., ECCV 2018, sergeywong/cp-vton@fbaf333b);
the page is laid out and wired as one tab in the manner of FastChat's arena (``fastchat/serve/
gradio_block_arena_anony.py``). Nothing here names a method: the page gets only images with content-hash names and
the trial number.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from vton.study import (
    PreparedStudy,
    ResultsFile,
    make_answer,
    next_trial,
    participant_view,
    schedule,
)

__all__ = ["ParticipantTab", "build_participant", "progress_html"]

log = logging.getLogger(__name__)


def progress_html(number: int, total: int, done: bool) -> str:
    answered = total if done else number - 1
    text = "All done — thank you!" if done else f"Trial {number} of {total}"
    return (f'<div id="study-progress-inner"><progress value="{answered}" max="{total}" style="width:100%">'
            '</progress>'
            f'<div class="study-progress-text">{html.escape(text)}</div></div>')


@dataclass
class ParticipantTab:
    """The participant's components and the handlers that fill them (``screen`` is every output of a trial)."""

    prepared: PreparedStudy
    results: ResultsFile
    column: Any
    participant_box: Any
    screen: list[Any]
    choose_left: Any
    choose_right: Any

    def __post_init__(self) -> None:
        self._trials: dict[str, tuple] = {}

    def trials(self, participant: str) -> tuple:
        if participant not in self._trials:
            self._trials[participant] = schedule(self.prepared.study, participant)
        return self._trials[participant]

    def show_screen(self, participant: str, note: str = "") -> list[Any]:
        study = self.prepared.study
        trial = next_trial(self.trials(participant), self.results.answered(study.id, participant))
        view = participant_view(self.prepared, trial)
        st = None if trial is None else {"participant": participant, "trial": trial.index, "shown": time.monotonic()}
        return [st, participant, note, progress_html(view.number, view.total, view.done),
                None if view.done else str(view.left_image), None if view.done else str(view.right_image),
                gr.Row(visible=not view.done), gr.Row(visible=not view.done), gr.Markdown(visible=view.done)]

    @staticmethod
    def stop_screen(note: str) -> list[Any]:
        return [None, "", note, "", None, None, gr.Row(visible=False), gr.Row(visible=False),
                gr.Markdown(visible=False)]

    def answer(self, side: str, st: dict | None) -> list[Any]:
        if not st:
            return self.stop_screen("This session has expired; please reload the page to continue.")
        study = self.prepared.study
        participant = st["participant"]
        trial = self.trials(participant)[st["trial"]]
        record = make_answer(study, participant, trial, side, time.monotonic() - st["shown"])
        if not self.results.append(record):
            log.info("study %s: participant %s answered trial %d again; kept the first answer", study.id,
                     participant, trial.index)
        return self.show_screen(participant)

    def wire(self) -> None:
        self.choose_left.click(lambda st: self.answer("left", st), self.screen[0], self.screen,
                               api_visibility="private")
        self.choose_right.click(lambda st: self.answer("right", st), self.screen[0], self.screen,
                                api_visibility="private")


def build_participant(prepared: PreparedStudy, results: ResultsFile) -> ParticipantTab:
    """The participant's column (visible unless the page is the researcher's view), wired."""
    study = prepared.study
    state = gr.State(None)
    with gr.Column(visible=True, elem_id="study-participant") as column:
        gr.Markdown(f"## {html.escape(study.question)}", elem_id="study-question")
        progress = gr.HTML(progress_html(1, study.trials_total, False), elem_id="study-progress")
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
    screen = [state, participant_box, message, progress, left, right, images_row, buttons_row, thanks]
    tab = ParticipantTab(prepared, results, column, participant_box, screen, choose_left, choose_right)
    tab.wire()
    return tab
