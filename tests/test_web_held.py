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
    frame = tuple(held.card.frame)  # the default frame: the help and the canvases say so
    assert editors[page.parse_editor]["canvas_size"] == editors[page.mask_editor]["canvas_size"] == frame
    assert f"{frame[0]} × {frame[1]} frame" in editors[page.edit_help]
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


TOYS = Path(__file__).resolve().parent / "toy_methods"


@pytest.fixture()
def framed_toy(page_and_handlers, monkeypatch):
    """The test-only method with its own frame (``tests/toy_methods/framed_toy``, as in test_own_frame_method.py),
    registered, with the page's handlers knowing it."""
    import sys

    from vton import methods

    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(TOYS)])
    methods._registry.cache_clear()
    card = methods.card("framed-toy")
    page, h, uploads = page_and_handlers
    h.titles = {card.id: card.title}
    yield card, page, h
    methods._registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("vton.methods.framed_toy")]:
        del sys.modules[name]
    vars(methods).pop("framed_toy", None)


def _painted(path: str) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def test_editing_a_run_of_a_method_with_its_own_frame_paints_and_reruns_in_that_frame(framed_toy):
    from vton.labels import LIP
    from vton.run import FRAME

    card, page, h = framed_toy
    w, hh = card.frame
    assert (w, hh) != tuple(FRAME)
    token = h.running(card.id, None)[page.run_token]
    out = h.tryon("person_photo.jpg", "cloth_tshirt.png", card.id, "person_photo_keypoints.json",
                  "person_photo_parse.png", None, token, progress=_no_progress)
    assert out[page.status].startswith("**Done**")
    held = h.store.get(token, "run")
    editors = h.fill_editors(token)
    parse, mask = editors[page.parse_editor], editors[page.mask_editor]
    assert parse["canvas_size"] == mask["canvas_size"] == (w, hh)
    assert _painted(parse["value"]).shape[:2] == _painted(mask["value"]).shape[:2] == (hh, w)
    assert f"{w} × {hh} frame" in editors[page.edit_help] and f"{FRAME[0]} × {FRAME[1]}" not in editors[page.edit_help]
    assert f"{w} × {hh}" in editors[page.keypoints]["label"]

    # paint the torso as background and take the garment's top rows out of its mask, both in the run's frame
    labels = held.pre.parsing.labels
    ys, xs = np.nonzero(labels == LIP.names.index("upper_clothes"))
    y0, x0 = int(np.median(ys)), int(np.median(xs))
    box = (slice(y0 - 8, y0 + 8), slice(x0 - 8, x0 + 8))
    painted_parse = _painted(parse["value"])
    painted_parse[box] = LIP.colors()[0]
    painted_mask = _painted(mask["value"])
    rows_on = np.nonzero(painted_mask[..., 0].any(axis=1))[0]
    painted_mask[rows_on[0]:rows_on[0] + 10] = 0
    rows = editors[page.keypoints]["value"]
    again = h.rerun(rows, {"composite": painted_parse}, {"composite": painted_mask}, token, progress=_no_progress)
    assert again[page.status].startswith("**Re-ran from your edits (parse map, garment mask)**")
    rerun = h.store.get(token, "run")
    assert rerun.pre.person.size == (w, hh) and rerun.pre.parsing.labels.shape == (hh, w)
    inner = (slice(y0 - 4, y0 + 4), slice(x0 - 4, x0 + 4))  # mapped to the photo and framed again: the inside holds
    assert (rerun.pre.parsing.labels[inner] == 0).all() and (labels[inner] != 0).all()
    assert np.array_equal(rerun.pre.cloth_mask, painted_mask[..., 0] > 127)

    # a picture painted in another frame (the default one) is refused with both sizes named, not resized
    small = np.zeros((FRAME[1], FRAME[0], 3), np.uint8)
    for kind, args in (("parse map", (small, None)), ("garment mask", (None, small))):
        edits = [{"composite": a} if a is not None else None for a in args]
        with pytest.raises(gr.Error) as e:
            h.rerun(rows, *edits, token, progress=_no_progress)
        message = e.value.message
        assert f"{kind} editor holds a {FRAME[0]} × {FRAME[1]} picture" in message, message
        assert f"frame is {w} × {hh}" in message, message
