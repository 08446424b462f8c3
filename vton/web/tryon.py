"""The try-on tab's handlers: run, preprocess, re-run from edits, and the views of the run the page holds.

Serves the app of this project (``app.py``, which lays the tab out and wires these), as FastChat's
``fastchat/serve/gradio_web_server.py`` keeps a tab's handlers beside its layout and the visitor's run in state. A
request resolves its method id to a card once; the run is held server-side (``vton.web.held``) under the visitor's
``gr.State`` token, so the views, the editors and a re-run read it back by stage key and never compute it again.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from vton.errors import InputError, VtonError
from vton.methods.base import MethodCard
from vton.run import SECTIONS
from vton.web import edits as ed
from vton.web.galleries import DownloadFolder, by_section, garment_over_person, png_bytes, stage_summaries, write_stages
from vton.web.held import HeldRun, RunStore, light
from vton.web.messages import Failures, progress_desc, run_status, user_message
from vton.web.readiness import method_table, readiness_banner, weights_notice
from vton.web.records import (
    KEEP,
    EditorsRecord,
    LayoutRecord,
    Page,
    PreprocessRecord,
    ReadinessRecord,
    RunRecord,
    StatusRecord,
    ViewsRecord,
)
from vton.web.running import Uploads, card_of, run_preprocess, run_tryon, upload_path
from vton.web.space import gpu

__all__ = ["TryOnHandlers", "uploads_of", "reporter", "safe_name", "section_heading"]

NOTHING_EDITED = ("**Nothing was edited**: change a keypoint, paint the parse map or the garment mask first (a plain "
                  "run is *Run try-on*). The result below is unchanged.")
NO_HELD_RUN = "Run a try-on first (or again: the page keeps only recent runs), then edit and re-run."


def uploads_of(person: Any, cloth: Any, pose: Any, parse: Any, mask: Any) -> Uploads:
    """The request's files as checked server paths (``vton.web.inputs``)."""
    p = upload_path
    return Uploads(p(person), p(cloth), p(pose), p(parse), p(mask))


def reporter(progress: Any):
    """A pipeline progress callback that drives Gradio's progress bar."""
    def report(key: str, done: int, total: int) -> None:
        progress((done, total), desc=progress_desc(key, done, total), unit="steps")

    return report


def safe_name(name: str) -> str:
    """A method id as a file-name and element-id part."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(name))[:40]


def section_heading(title: str, note: str) -> str:
    return f"## {title}\n{note}"


@gpu()
def _tryon_on_device(card: MethodCard, up: Uploads, weights_dir: Any, progress: Any, **edits: Any):
    return run_tryon(card, up, weights_dir, reporter(progress), **edits)


@gpu()
def _preprocess_on_device(card: MethodCard, up: Uploads, weights_dir: Any, progress: Any):
    return run_preprocess(up, weights_dir, reporter(progress), method=card)


class TryOnHandlers:
    """The handlers of the try-on page, bound to its components (``page``) and the runs it holds (``store``).

    Args:
        page: the named components (``vton.web.records.Page``), filled by the layout.
        weights_dir: the weights folder of this server.
        titles: method id → title (from the method table read once when the page was built).
        store, downloads, failures: the held runs, the per-request files, the last error of each session.
    """

    def __init__(self, page: Page, weights_dir: Any, titles: dict[str, str], store: RunStore,
                 downloads: DownloadFolder, failures: Failures) -> None:
        self.page, self.weights_dir, self.titles = page, weights_dir, titles
        self.store, self.downloads, self.failures = store, downloads, failures

    # -- the public endpoints --------------------------------------------------------------------------------------
    def running(self, method: Any, token: Any) -> dict:
        title = self.titles.get(method) if isinstance(method, str) else None
        return StatusRecord(f"Running {title}…" if title else "Running…", RunStore.new_token(token)).to(self.page)

    def tryon(self, person, cloth, method, pose_json, parse_png, cloth_mask_png, token=None,
              progress=gr.Progress(), request: gr.Request = None) -> dict:  # noqa: B008
        """Run the try-on; returns status, the pasted result, every stage as (image, caption) in card order, a JSON
        summary (provenance, stage rows with their keys and the names of their gallery files, timings, method data)
        and two zips (stages; dataset layout, when the
        method has a pose and a parse map)."""
        self.store.take(token, "refused")
        card = up = None
        try:
            card = card_of(method)
            up = uploads_of(person, cloth, pose_json, parse_png, cloth_mask_png)
            result = _tryon_on_device(card, up, self.weights_dir, progress)
        except Exception as e:  # every failure becomes a message in the page, never a traceback
            raise self._fail(e, request, token, card, up) from None
        return self._hold(token, card, up, result, "Done").to(self.page)

    def preprocess(self, person, cloth, method, pose_json, parse_png, cloth_mask_png, token=None,
                   progress=gr.Progress(), request: gr.Request = None) -> dict:  # noqa: B008
        """The preprocessing the chosen method needs: status, the stages as (image, caption), a JSON summary."""
        try:
            card = card_of(method)
            up = uploads_of(person, cloth, pose_json, parse_png, cloth_mask_png)
            pre = _preprocess_on_device(card, up, self.weights_dir, progress)
            stages = pre.stages()
            files = write_stages(stages, self.downloads)
            summary = {"sources": pre.sources, "timings_s": {k: round(v, 6) for k, v in pre.timings.items()},
                       "keypoints": pre.keypoint_table(), "stages": stage_summaries(stages, files),
                       "inputs_sha256": pre.input_sha256}
        except Exception as e:
            raise self._fail(e, request) from None
        self.store.put(token, "run", HeldRun(card, up, files, {s.key: s.image for s in stages}, pre=light(pre),
                                             summary=summary))
        status = ("**Preprocessing done**; " + ", ".join(f"{k}: {v}" for k, v in pre.sources.items())
                  + ". Press *Run try-on* for the method's stages.")
        return PreprocessRecord(status, files.items(), summary).to(self.page)

    # -- the page's own events -------------------------------------------------------------------------------------
    def rerun(self, keypoint_table, parse_edit, mask_edit, token=None, progress=gr.Progress(),  # noqa: B008
              request: gr.Request = None) -> dict:
        """Run the held run again with the page's edits (keypoints, parse map, garment mask) in place of what they
        replace; with no edit, says so and keeps the result on the page."""
        held = self.store.get(token, "run")
        self.store.take(token, "refused")
        try:
            if held is None or held.pre is None:
                raise InputError(NO_HELD_RUN)
            edits, what = ed.edits_against(held.pre, keypoint_table, parse_edit, mask_edit)
            if not what:
                return RunRecord(status=NOTHING_EDITED).to(self.page)
            result = _tryon_on_device(held.card, held.uploads, self.weights_dir, progress, **edits)
        except Exception as e:
            raise self._fail(e, request, token, *((held.card, held.uploads) if held else ())) from None
        return self._hold(token, held.card, held.uploads, result,
                          f"Re-ran from your edits ({', '.join(what)})").to(self.page)

    def show_failure(self, result: Any, token: Any = None, request: gr.Request = None) -> dict:
        """The status after a failed run: the error, and whether what is still shown is an earlier run's. After a
        refusal that computed stages (``VtonError.stages``), those stages are shown, so the visitor sees why."""
        message = self.failures.take(request)
        refused = self.store.take(token, "refused")
        if refused is None:
            earlier = "\n\n*The result and stages below are from the earlier run.*" if result else ""
            return ViewsRecord(status=f"**Failed:** {message}{earlier}").to(self.page)
        earlier = "\n\n*The result below is from the earlier run.*" if result else ""
        shown = ", ".join(refused.files.captions[k].split(" — ", 1)[0] for k in refused.files.keys)
        status = (f"**Failed:** {message}\n\n*{refused.card.title} stopped here; the {len(refused.files.keys)} "
                  f"stages it computed before that are shown below ({shown}).*{earlier}")
        return ViewsRecord(galleries=by_section(refused.files), control_points=self._points(refused),
                           overlay=garment_over_person(refused.stages, refused.card.overlay), status=status
                           ).to(self.page)

    def show_views(self, token: Any) -> dict:
        """Sections, the card's point table, the before/after slider and the overlay of the held run."""
        held = self.store.get(token, "run")
        if held is None:
            return {}
        photo = held.uploads.person
        slider = (str(photo), held.pasted) if photo and held.pasted else None
        cleared = None if held.pasted is None else KEEP  # preprocessing only: no try-on (it belonged to another run)
        return ViewsRecord(galleries=by_section(held.files), control_points=self._points(held), slider=slider,
                           overlay=garment_over_person(held.stages, held.card.overlay), result=cleared,
                           zip_stages=cleared, zip_dataset=cleared).to(self.page)

    def fill_editors(self, token: Any) -> dict:
        """The editors and their help, filled from the held run's preprocessing in the frame of its card (the
        canvases take that size, so a painted parse map or mask comes back in the run's frame)."""
        held = self.store.get(token, "run")
        if held is None or held.pre is None:
            return {}
        pre, frame = held.pre, tuple(held.card.frame)
        parse = None
        if pre.parsing is not None:
            parse = str(self.downloads.write("parse_frame.png", png_bytes(ed.parse_editor_image(pre.parsing))))
        mask = str(self.downloads.write("cloth_mask_frame.png", png_bytes(ed.mask_editor_image(pre.cloth_mask))))
        rows = ed.keypoint_rows(pre.keypoint_table())
        return EditorsRecord(keypoints=gr.update(value=rows, label=ed.keypoints_label(frame)),
                             parse_editor=gr.update(value=parse, canvas_size=frame),
                             mask_editor=gr.update(value=mask, canvas_size=frame),
                             edit_help=ed.edit_help(frame)).to(self.page)

    def method_layout(self, method: Any) -> LayoutRecord:
        """Per section: its heading (with the method's note) and whether it is shown (a method without a stage in a
        section, e.g. no rendering network, does not show it); the card's point table under the warp."""
        c = card_of(method)
        has = {st.section for st in c.stages} | {"inputs"}
        heads = {s.id: gr.update(value=section_heading(s.title, c.section_notes.get(s.id, "")), visible=s.id in has)
                 for s in SECTIONS}
        galleries = {s.id: gr.update(visible=s.id in has) for s in SECTIONS}
        table = c.point_table
        return LayoutRecord(heads, galleries, gr.update(label=table.title if table else "", visible=table is not None))

    def show_layout(self, method: Any) -> dict:
        return self.method_layout(method).to(self.page)

    def methods(self) -> list[dict]:
        """The method cards with weight status: id, title, licence, needs, weights, stages, ready, how_to."""
        return method_table(self.weights_dir)

    def refresh(self) -> dict:
        """The readiness banner and the weights notice, read again when a visitor opens the page."""
        table = method_table(self.weights_dir)
        return ReadinessRecord(readiness_banner(table), weights_notice(table, self.weights_dir)).to(self.page)

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _hold(self, token: Any, card: MethodCard, up: Uploads, result: Any, head: str) -> RunRecord:
        files = write_stages(result.stages(), self.downloads)
        summary = result.summary(files.names())  # each stage row names the file of its gallery item
        name = safe_name(card.id)
        stages_zip = self.downloads.write(f"vton_{name}_stages.zip", result.stages_zip())
        dataset_zip = (self.downloads.write("vton_dataset.zip", result.dataset_zip())
                       if result.pre.has_dataset_layout else None)
        pasted = str(self.downloads.write(f"vton_{name}_tryon.png", png_bytes(result.pasted_image)))
        self.store.put(token, "run", HeldRun(card, up, files, {s.key: s.image for s in result.stages()},
                                             pre=light(result.pre), pasted=pasted, summary=summary))
        return RunRecord(run_status(result, head), pasted, files.items(), summary, str(stages_zip),
                         str(dataset_zip) if dataset_zip else None)

    def _points(self, held: HeldRun) -> Any:
        table = held.card.point_table
        headers, rows = ed.control_point_rows(held.summary, table.key) if table else ([], [])
        return gr.update(value=rows or None, headers=headers or ["point"])

    def _fail(self, exc: BaseException, request: Any, token: Any = None, card: MethodCard | None = None,
              up: Uploads | None = None) -> gr.Error:
        """The error for the API client; the page shows it in the status line (``show_failure``), not a pop-up.
        A refusal that computed stages is held for the page to show."""
        message = user_message(exc)
        self.failures.put(request, message)
        stages = getattr(exc, "stages", ()) if isinstance(exc, VtonError) else ()
        if stages and token and card is not None and up is not None:
            files = write_stages(list(stages), self.downloads)
            self.store.put(token, "refused", HeldRun(card, up, files, {s.key: s.image for s in stages},
                                                     error=message))
        return gr.Error(message.replace("`", ""), title="vton could not run", duration=None, visible=False,
                        print_exception=False)
