"""The compare tab's handlers: several methods on the same photos and the same preprocessing, laid out in aligned
rows (one per section) and columns (one per method that ran).

Serves the app of this project (``app.py``), in the manner of FastChat's side-by-side arena
(``fastchat/serve/gradio_block_arena_anony.py``: a tab's handlers beside its layout). Each method's run is held
with its stage files by key (``vton.web.held``), so the rows are filled from the held runs, not from the gallery's
order.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from vton.run import SECTIONS
from vton.web.galleries import DownloadFolder, compare_summary, write_stages
from vton.web.held import HeldCompare, HeldRun, RunStore
from vton.web.messages import Failures, first_clause, user_message
from vton.web.records import CompareRecord, CompareStartRecord, CompareView, Page
from vton.web.running import Uploads, run_compare
from vton.web.space import gpu
from vton.web.tryon import reporter, safe_name, uploads_of

__all__ = ["CompareHandlers"]


@gpu(duration=300)
def _compare_on_device(ids: list[str], up: Uploads, weights_dir: Any, progress: Any):
    return run_compare(ids, up, weights_dir, reporter(progress))


class CompareHandlers:
    """The handlers of the compare tab, bound to the page's components and the held comparisons.

    Args:
        page: the named components (``vton.web.records.Page``).
        weights_dir: the weights folder of this server.
        method_ids: every method's id, in the page's column order.
        store, downloads, failures: as for ``vton.web.tryon.TryOnHandlers``.
    """

    def __init__(self, page: Page, weights_dir: Any, method_ids: list[str], store: RunStore,
                 downloads: DownloadFolder, failures: Failures) -> None:
        self.page, self.weights_dir, self.method_ids = page, weights_dir, list(method_ids)
        self.store, self.downloads, self.failures = store, downloads, failures

    def starting(self, token: Any) -> dict:
        return CompareStartRecord("Running the comparison…", RunStore.new_token(token)).to(self.page)

    def compare(self, person, cloth, method_list, pose_json, parse_png, cloth_mask_png, token=None,
                progress=gr.Progress(), request: gr.Request = None) -> dict:  # noqa: B008
        """Run several methods on the same pair and the same preprocessing; returns status, every method's stages as
        (image, "method · caption") one method after another, and a JSON summary (per method its run summary or
        error, its stage rows naming their files; per section each method's stage keys). The files are named
        ``<method>-<n>-NN_<key>.png`` (``n``: the method's place in the run), so every gallery item is found by
        its name (``vton.web.galleries.split_compare``)."""
        try:
            up = uploads_of(person, cloth, pose_json, parse_png, cloth_mask_png)
            if isinstance(method_list, str):
                method_list = [m.strip() for m in method_list.split(",") if m.strip()]
            results = _compare_on_device(list(method_list or []), up, self.weights_dir, progress)
            files = {card.id: write_stages(r.stages(), self.downloads, prefix=f"{safe_name(card.id)}-{j}-")
                     for j, (card, r) in enumerate(results) if not isinstance(r, BaseException)}
            summary = compare_summary(results, user_message, files)  # each stage row names its file
            runs = {c.id: HeldRun(c, up, files[c.id], {}, summary=summary["results"][c.id])
                    for c, _ in results if c.id in files}
            items = [it for c, _ in results if c.id in files for it in files[c.id].items(prefix=f"{c.title} · ")]
        except Exception as e:
            message = user_message(e)
            self.failures.put(request, message)
            raise gr.Error(message.replace("`", ""), title="vton could not run", duration=None, visible=False,
                           print_exception=False) from None
        errors = {c.id: summary["results"][c.id]["error"] for c, r in results if isinstance(r, BaseException)}
        self.store.put(token, "compare", HeldCompare(runs, errors, tuple(c for c, _ in results)))
        return CompareRecord(_status(results), items, summary).to(self.page)

    def show_compare(self, token: Any) -> dict:
        """One column per method that ran (its time), a row per section with only the cells that have stages."""
        held = self.store.get(token, "compare")
        if held is None:
            return {}
        heads, rows, cols, cells, notes = {}, {}, {}, {}, {}
        for m in self.method_ids:
            run = held.runs.get(m)
            if run is None:
                heads[m] = gr.update(value="", visible=False)
                continue
            cached = ", ".join(run.summary.get("cached_steps", [])) or "none"
            heads[m] = gr.update(value=f"### {run.card.title}\n{run.summary['total_s']:.2f} s · cached: {cached}",
                                 visible=True)
        for sec in SECTIONS:
            filled = [m for m, run in held.runs.items() if run.files.section(sec.id)]
            rows[sec.id] = gr.update(visible=bool(filled))
            for m in self.method_ids:  # a method that ran keeps its column in every shown row, so columns align
                run = held.runs.get(m)
                cols[(sec.id, m)] = gr.update(visible=run is not None)
                cells[(sec.id, m)] = gr.update(value=run.files.section(sec.id) if run else [], visible=m in filled)
                notes[(sec.id, m)] = gr.update(visible=run is not None and m not in filled)
        return CompareView(heads, rows, cols, cells, notes).to(self.page)

    def show_compare_failure(self, summary: Any, request: gr.Request = None) -> dict:
        earlier = "\n\n*The comparison below is from the earlier run.*" if summary else ""
        return CompareRecord(compare_status=f"**Failed:** {self.failures.take(request)}{earlier}").to(self.page)


def _status(results: list[tuple[Any, Any]]) -> str:
    done, failed = [], []
    for c, r in results:
        if isinstance(r, BaseException):
            failed.append(f"{c.title} ({first_clause(user_message(r))})")
        else:
            cached = f", cached: {', '.join(r.provenance['cached_steps'])}" if r.provenance["cached_steps"] else ""
            done.append(f"{c.title}: {sum(r.timings.values()):.2f} s{cached}")
    status = f"**Compared** {len(done)} of {len(results)} methods on the same preprocessing"
    status += (" — " + "; ".join(done)) if done else ""
    return status + (("\n\n**Not run:** " + "; ".join(failed)) if failed else "")
