"""The page holds its run: the handlers of ``vton.web.tryon`` called as the page calls them (run → views → editors,
re-run, a refusal), with the page's components stood in by plain objects, no server and no browser."""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from vton.methods.base import SECTIONS
from vton.web import running
from vton.web.galleries import DownloadFolder
from vton.web.held import RunStore
from vton.web.messages import Failures
from vton.web.records import Page
from vton.web.tryon import TryOnHandlers

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
METHOD = "geometric"  # the training-free method: real pictures without weights


def _page() -> Page:
    page = Page()
    for f in dataclasses.fields(Page):
        if isinstance(getattr(page, f.name), dict):
            continue
        setattr(page, f.name, object())
    page.heads = {s.id: object() for s in SECTIONS}
    page.galleries = {s.id: object() for s in SECTIONS}
    return page


@pytest.fixture()
def page_and_handlers(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "uploads"))  # where Gradio would have put the uploads
    (tmp_path / "uploads").mkdir()
    page = _page()
    h = TryOnHandlers(page, None, {METHOD: "Geometric"}, RunStore(), DownloadFolder(), Failures())
    return page, h, tmp_path / "uploads"


def _no_progress(*args, **kwargs) -> None:
    return None


def _run(page, h, token, cloth="geometric_cloth.png", mask="geometric_cloth_mask.png", request=None):
    return h.tryon("geometric_person.png", cloth, METHOD, "geometric_person_keypoints.json",
                   "geometric_person_parse.png", mask, token, progress=_no_progress, request=request)


def _keys(gallery: list) -> list[str]:
    return [Path(path).stem.split("_", 1)[1] for path, _ in gallery]


def test_a_refusal_shows_the_stages_computed_before_it_beside_the_error(page_and_handlers):
    page, h, uploads = page_and_handlers
    for name in ("geometric_cloth.png", "geometric_cloth_mask.png"):  # upside down: the method refuses it
        img = np.asarray(Image.open(EX / name))[::-1]
        Image.fromarray(np.ascontiguousarray(img)).save(uploads / name)
    request = types.SimpleNamespace(session_hash="visitor")
    token = h.running(METHOD, None)[page.run_token]
    with pytest.raises(gr.Error) as e:
        _run(page, h, token, str(uploads / "geometric_cloth.png"), str(uploads / "geometric_cloth_mask.png"),
             request)
    assert "not upright" in e.value.message
    out = h.show_failure(None, token, request)
    status = out[page.status]
    assert status.startswith("**Failed:**") and "not upright" in status and "computed before" in status
    shown = {s.id: _keys(out[page.galleries[s.id]]) for s in SECTIONS}
    assert {"person", "pose", "parsing", "cloth", "cloth_mask"} <= set(shown["inputs"])
    assert "target_outline" in shown["representation"]
    assert not any("tryon" in keys or "pasted" in keys for keys in shown.values())
    assert h.show_failure(None, token, request)[page.status].count("computed before") == 0  # shown once


def test_views_editors_and_rerun_read_the_held_run_and_never_preprocess_again(page_and_handlers, monkeypatch):
    page, h, _ = page_and_handlers
    token = h.running(METHOD, None)[page.run_token]
    out = _run(page, h, token)
    assert out[page.status].startswith("**Done**")
    held = h.store.get(token, "run")

    def refuse(*args, **kwargs):
        raise AssertionError("the preprocessing ran again to recover the run")

    from vton import pipeline

    monkeypatch.setattr(pipeline.TryOnPipeline, "preprocess", refuse)
    monkeypatch.setattr(running, "run_preprocess", refuse)
    views = h.show_views(token)
    by_key = {k: p for s in SECTIONS for p, k in zip([p for p, _ in views[page.galleries[s.id]]],
                                                     _keys(views[page.galleries[s.id]]), strict=True)}
    assert by_key == {k: held.files.paths[k] for k in held.files.keys}
    overlay = views[page.overlay]
    person, cloth = held.stages["person"], held.stages["warped_cloth"]
    assert overlay.shape == person.shape and not np.array_equal(overlay, person)
    outside = (cloth >= 245).all(axis=2)
    assert np.array_equal(overlay[outside], person[outside])  # only the garment is laid over the person
    assert views[page.slider] == (str(held.uploads.person), held.pasted)
    table = views[page.control_points]
    assert table["value"] and len(table["value"]) == len(held.summary["data"]["matched_pairs"])
    editors = h.fill_editors(token)
    rows = editors[page.keypoints]["value"]
    assert [r[0] for r in rows] == [r["name"] for r in held.pre.keypoint_table()]
    unchanged = h.rerun(rows, None, None, token, progress=_no_progress)
    assert unchanged[page.status].startswith("**Nothing was edited**") and page.result not in unchanged
    moved = [list(r) for r in rows]
    moved[4][1] = float(moved[4][1]) + 6  # the right wrist, 6 frame pixels to the side
    again = h.rerun(moved, None, None, token, progress=_no_progress)
    assert again[page.status].startswith("**Re-ran from your edits (keypoints)**")
    assert h.store.get(token, "run").pasted != held.pasted


def test_the_held_runs_are_bounded_by_count_and_by_bytes():
    from vton import methods
    from vton.web.galleries import StageFiles
    from vton.web.held import HeldRun
    from vton.web.running import Uploads

    def run(nbytes: int) -> HeldRun:
        return HeldRun(methods.card(METHOD), Uploads(None, None), StageFiles((), {}, {}, {}),
                       {"person": np.zeros(nbytes, np.uint8)})

    store = RunStore(size=3, max_bytes=1000)
    for i in range(5):
        store.put(f"t{i}", "run", run(100))
    assert len(store) == 3 and store.get("t0", "run") is None and store.get("t4", "run") is not None
    store.get("t2", "run")  # used: now the most recent
    store.put("big", "run", run(850))  # 850 + 100 (t2) fits; t3 and t4 go
    assert store.get("t2", "run") is not None and store.get("t3", "run") is None and len(store) == 2
    store.put(None, "run", run(10))  # an API call carries no token: nothing held
    assert len(store) == 2 and store.get(None, "run") is None
    assert store.take("t2", "run") is not None and store.get("t2", "run") is None


def test_one_request_resolves_its_method_id_to_a_card_once(page_and_handlers, monkeypatch):
    from vton import methods

    page, h, _ = page_and_handlers
    token = h.running(METHOD, None)[page.run_token]
    _run(page, h, token)  # the pipeline is built (and kept) on the first request
    asked = []
    card = methods.card
    monkeypatch.setattr(methods, "card", lambda m: asked.append(m) or card(m))
    out = _run(page, h, token)
    assert out[page.status].startswith("**Done**") and asked == [METHOD]
    h.show_views(token)
    h.fill_editors(token)
    assert asked == [METHOD]  # the views and the editors read the held run's card
