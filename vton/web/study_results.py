"""The researcher's view of a blind A/B user study: the token box, then the win rates and the results file.

The statistics (win rates with Wilson intervals, attention-check exclusions) come from :mod:`vton.study`; the view is
laid out and wired as one tab in the manner of FastChat's leaderboard tab (``fastchat/serve/monitor/``).
"""

from __future__ import annotations

import html
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from vton.study import PreparedStudy, ResultsFile, check_token, method_rows, pairwise_rows, summarize

__all__ = ["ResultsTab", "build_results", "summary_markdown", "METHOD_HEADERS", "PAIRWISE_HEADERS"]

METHOD_HEADERS = ["Method", "Wins", "Comparisons", "Win rate", "95 % CI (Wilson)"]
PAIRWISE_HEADERS = ["Method A", "Method B", "A wins", "Comparisons", "A's win rate", "95 % CI (Wilson)"]


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


@dataclass
class ResultsTab:
    """The researcher's components and the handler that fills them once the token is right."""

    prepared: PreparedStudy
    results: ResultsFile
    token: str
    notice: str
    column: Any
    token_box: Any
    show: Any
    outputs: list[Any]

    def show_results(self, given: str) -> list[Any]:
        hidden = [gr.Dataframe(visible=False), gr.Dataframe(visible=False), gr.DownloadButton(visible=False)]
        if not check_token(given, self.token):
            return ["Wrong token.", "", *hidden]
        study = self.prepared.study
        text, rows, pairs = summary_markdown(self.prepared, self.results.records())
        export = Path(tempfile.mkdtemp(prefix="vton-study-")) / f"{study.id}-results.jsonl"
        if self.prepared.results_path.is_file():
            shutil.copyfile(self.prepared.results_path, export)
        else:
            export.write_bytes(b"")
        return [self.notice, text, gr.Dataframe(value=rows, visible=True), gr.Dataframe(value=pairs, visible=True),
                gr.DownloadButton(value=str(export), visible=True)]

    def wire(self) -> None:
        self.show.click(self.show_results, self.token_box, self.outputs, api_visibility="private")
        self.token_box.submit(self.show_results, self.token_box, self.outputs, api_visibility="private")


def build_results(prepared: PreparedStudy, results: ResultsFile, token: str, notice: str = "") -> ResultsTab:
    """The researcher's column (hidden unless the page is opened with ``?view=results``), wired."""
    study = prepared.study
    with gr.Column(visible=False, elem_id="study-researcher") as column:
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
    tab = ResultsTab(prepared, results, token, notice, column, token_box, show,
                     [results_message, summary, method_table, pair_table, download])
    tab.wire()
    return tab
