"""The page as a visitor sees it, in Chromium at 1280 px and 390 px: what is on the first screen, captions beside or
under their images (never over them) for one method and for five compared, nothing wider than a phone, the status
after an error, Compare's ticks and reasons, and the geometric method's table of matched pairs.

Every wait is on the page's own readiness signals (the status says Done / Failed / Compared, an upload shows its
image, a gallery's images have loaded), with generous limits, so a busy machine only makes the tests slower.
Screenshots of the first open, a geometric run, Compare with five methods (RANDOM weights) and the phone view go to
``$VTON_SCREENSHOT_DIR`` (default ``test-artifacts/``); README shows the first two (``docs/images/``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from helpers_app import ARTIFACTS, GEOMETRIC, AppServer, app_env, click_and_wait, shared_app, wait_status

from vton import methods, weights

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 800}  # a laptop's first screen
PHONE = {"width": 390, "height": 844}
PHONE_FIRST_UPLOAD_PX = 900
RUN_S = 600_000  # a run on a busy 2-core machine: generous, the waits end as soon as the page says so
OVERLAP_PX2 = 1.0  # rounding of sub-pixel layout; a caption over an image overlaps by thousands of px²


def shot_dir() -> Path:
    d = Path(os.environ.get("VTON_SCREENSHOT_DIR") or ARTIFACTS)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _shot(page, name: str, full_page: bool = True) -> Path:
    path = shot_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 20_000
    return path


def _open(browser, url: str, viewport: dict):
    pg = browser.new_page(viewport=viewport)
    pg.set_default_timeout(120_000)
    pg.goto(url, wait_until="domcontentloaded")
    pg.locator("#run").wait_for(state="visible")
    pg.locator("#readiness li").first.wait_for(state="visible")
    return pg


def _click_example(page, stem: str) -> None:
    """Click the example ``stem`` (``<person stem> + <cloth stem>``) and wait until both photos shown are the
    example's (by file name in the image's URL): the example fills the photos and its annotations in one update,
    so a photo left from an earlier upload must not pass for it."""
    page.locator("#examples").get_by_text(re.compile("^" + re.escape(stem) + " · ")).first.click()
    person, cloth = stem.split(" + ")
    for selector, name in (("#person-input", person), ("#cloth-input", cloth)):
        page.wait_for_function("([s, n]) => { const img = document.querySelector(s + ' img');"
                               " return img !== null && img.src.includes(n + '.'); }",
                               arg=[selector, name], timeout=RUN_S)


def _click_wait(page, button: str, selector: str, text: str) -> str:
    """Click ``button`` and return ``selector``'s text once it shows ``text`` from this click (not a status left
    over from the previous run); fails at once with the app's message when the run failed instead."""
    click_and_wait(page, button, text, selector, timeout_ms=RUN_S)
    return page.locator(selector).inner_text()


def _choose_method(page, method_id: str) -> None:
    title = methods.card(method_id).title
    page.locator("#method input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(title) + " · ")).click()
    page.wait_for_function("t => document.querySelector('#method input').value.startsWith(t)", arg=title)


def _wait_status(page, selector: str, text: str, timeout: int = RUN_S) -> str:
    """``selector``'s text once it shows ``text``; fails at once with the app's message when the run failed instead
    (a failed run must not look like a slow one)."""
    wait_status(page, text, selector, timeout_ms=timeout)
    return page.locator(selector).inner_text()


def _load_images(page, selector: str, at_least: int = 1) -> int:
    """Wait until the galleries under ``selector`` hold ``at_least`` images (they are filled right after the status
    changes), scroll each into view (images load lazily) and wait until every image has loaded; returns how many
    there are."""
    page.wait_for_function("([s, n]) => document.querySelectorAll(s + ' .gallery-item img').length >= n",
                           arg=[selector, at_least], timeout=RUN_S)
    galleries = page.locator(selector)
    for i in range(galleries.count()):
        g = galleries.nth(i)
        if g.is_visible():
            g.scroll_into_view_if_needed()
    n = page.locator(f"{selector} .gallery-item img").count()
    for i in range(n):
        page.locator(f"{selector} .gallery-item img").nth(i).scroll_into_view_if_needed()
    page.wait_for_function(
        "s => [...document.querySelectorAll(s + ' .gallery-item img')].every(i => i.complete && i.naturalWidth > 0)",
        arg=selector, timeout=RUN_S)
    return n


OVERLAPS_JS = """s => {
  const out = [];
  for (const item of document.querySelectorAll(s + ' .gallery-item')) {
    const img = item.querySelector('img'), cap = item.querySelector('.caption-label');
    if (!img || !cap) continue;
    const a = img.getBoundingClientRect(), b = cap.getBoundingClientRect();
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    out.push({area: Math.max(0, w) * Math.max(0, h), img_h: a.height, cap_h: b.height, cap_top: b.top,
              img_bottom: a.bottom, right: Math.max(a.right, b.right), caption: cap.innerText.slice(0, 60)});
  }
  return out;
}"""


def _check_captions(page, selector: str, width: int) -> int:
    """No caption box overlaps its image, each caption sits under its image, nothing ends past the viewport."""
    boxes = page.evaluate(OVERLAPS_JS, selector)
    assert boxes, selector
    for b in boxes:
        assert b["img_h"] > 20 and b["cap_h"] > 5, b  # the picture and its caption are both there
        assert b["area"] <= OVERLAP_PX2, b
        assert b["cap_top"] >= b["img_bottom"] - 1, b
        assert b["right"] <= width + 1, b
    return len(boxes)


def _no_spill(page, width: int) -> None:
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width + 1, scroll


def _fits_the_phone(page, selector: str) -> None:
    """At phone width: every image under ``selector`` loaded with its caption under it, nothing wider than the
    screen."""
    page.set_viewport_size(PHONE)
    _load_images(page, selector)
    _check_captions(page, selector, PHONE["width"])
    _no_spill(page, PHONE["width"])


def test_first_screen_has_the_uploads_and_examples_and_one_line_per_method(browser):
    server = shared_app()
    assert "vton: Hub offline" in server.log()  # app.py says the Hub state and each method's readiness at start
    for c in methods.cards():
        assert f"  {c.title}: ready" in server.log(), c.id
    pg = _open(browser, server.url, DESKTOP)
    for sel in ("#person-input", "#cloth-input", "#examples", "#run"):
        box = pg.locator(sel).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"], (sel, box)
    lines = pg.locator("#readiness li")
    assert lines.count() == len(methods.cards())
    for i, c in enumerate(methods.cards()):
        text = lines.nth(i).inner_text()
        assert text.startswith(f"{c.title}: ready") and "licence:" in text, text
    assert "Hub: offline" in pg.locator("#readiness").inner_text()
    pg.locator("#overrides").get_by_text("Your own annotations").click()
    assert "**Hub:** offline" not in pg.locator("#weights-notice").inner_text()
    assert "Hub: offline" in pg.locator("#weights-notice").inner_text()  # the same one check, said the same way
    pg.locator("#overrides").get_by_text("Your own annotations").click()
    pg.evaluate("window.scrollTo(0, 0)")
    _shot(pg, "first-open", full_page=False)
    pg.close()


def test_geometric_run_shows_captions_under_images_an_aligned_slider_and_its_matched_pairs(browser):
    pg = _open(browser, shared_app().url, DESKTOP)
    _click_example(pg, "geometric_person + geometric_cloth")
    _choose_method(pg, "geometric")
    status = _click_wait(pg, "#run", "#status", "Done")
    assert "Geometric" in status
    assert not pg.locator("#section-rendering").is_visible()  # no rendering stage: the section is left out
    assert not pg.locator("#head-rendering").is_visible()
    n = _load_images(pg, ".stage-gallery", at_least=len(methods.card("geometric").stages))
    assert n >= len(methods.card("geometric").stages) and _check_captions(pg, ".stage-gallery", 1280) == n
    # before / after: both pictures in one box at one scale, nothing cut
    pg.locator("#before-after").scroll_into_view_if_needed()
    pg.wait_for_function("() => [...document.querySelectorAll('#before-after img')].length == 2 && "
                         "[...document.querySelectorAll('#before-after img')].every(i => i.complete && "
                         "i.naturalWidth > 0)", timeout=RUN_S)
    imgs = pg.locator("#before-after img")
    a, b = imgs.nth(0).bounding_box(), imgs.nth(1).bounding_box()
    assert all(abs(a[k] - b[k]) <= 1 for k in ("x", "y", "width", "height")), (a, b)
    frame = pg.locator("#before-after").bounding_box()
    assert a["y"] >= frame["y"] and a["y"] + a["height"] <= frame["y"] + frame["height"] + 1, (a, frame)
    # the card's point table: the matched pairs the TPS is fitted to, one row per pair
    from vton.pipeline import TryOnPipeline

    expected = TryOnPipeline("geometric")(GEOMETRIC["person"], GEOMETRIC["cloth"], pose=GEOMETRIC["pose"],
                                          parsing=GEOMETRIC["parse"], cloth_mask=GEOMETRIC["cloth_mask"])
    pairs = expected.output.data["matched_pairs"]
    table = methods.card("geometric").point_table
    pg.locator("#control-points-box").get_by_text(table.title).click()
    pg.locator("#control-points").get_by_text("garment_x").first.wait_for(state="visible")
    grid = pg.locator("#control-points [role=grid]")
    assert grid.get_attribute("aria-rowcount") == str(len(pairs) + 1)  # a header and one row per matched pair
    texts = pg.locator("#control-points [role=row]").evaluate_all("rows => rows.map(r => r.innerText)")
    shown = [[float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", t)] for t in texts]
    shown = [r for r in shown if len(r) == 5]  # pair, garment x, y, person x, y (the table may render a window)
    assert len(shown) >= min(len(pairs), 5) and len(pairs) > 4, texts
    for row in shown:  # every row shown is the pair of its index, as the run computed it
        p = pairs[int(row[0])]
        assert row[1:] == pytest.approx([p[k] for k in ("garment_x", "garment_y", "person_x", "person_y")],
                                        abs=0.01), (row, p)
    pg.evaluate("window.scrollTo(0, 0)")
    _shot(pg, "geometric")
    # the same run on a phone: captions still under their images, nothing wider than the screen
    _fits_the_phone(pg, ".stage-gallery")
    pg.close()


def test_phone_first_upload_near_the_top_and_nothing_spills(browser):
    pg = _open(browser, shared_app().url, PHONE)
    box = pg.locator("#person-input").bounding_box()
    assert box["y"] + 60 <= PHONE_FIRST_UPLOAD_PX, box  # the upload's drop zone starts on the first screen
    _no_spill(pg, PHONE["width"])
    _click_example(pg, "person + cloth_tshirt")
    pg.locator("#overrides").get_by_text("Your own annotations").click()
    for elem, name in (("pose-input", "person_keypoints.json"), ("mask-input", "cloth_tshirt_mask.png")):
        cell = pg.locator(f"#{elem} td.filename").first
        cell.wait_for(state="visible")
        assert cell.inner_text().replace("\n", "").replace(" ", "") == name
        assert cell.bounding_box()["height"] < 40, (elem, cell.bounding_box())  # one line, not a column of letters
    _no_spill(pg, PHONE["width"])
    _choose_method(pg, "cp-vton+")
    _click_wait(pg, "#run", "#status", "Done")
    pg.locator("#zip-stages").get_by_text(".zip").first.wait_for(state="visible")
    name = pg.locator("#zip-stages td.filename").first
    assert name.inner_text().replace("\n", "").replace(" ", "") == "vton_cp-vton__stages.zip"
    assert name.bounding_box()["height"] < 60  # one or two lines, not a column of letters
    _fits_the_phone(pg, ".stage-gallery")
    pg.evaluate("window.scrollTo(0, 0)")
    _shot(pg, "phone")
    pg.close()


def test_after_an_error_the_status_names_it_keeps_urls_whole_and_marks_the_earlier_result(browser, tmp_path):
    pg = _open(browser, shared_app().url, DESKTOP)
    # photos without pose or parse map: the estimators' weights are not here and the Hub is offline
    # uploaded under other names than the example's, so that the example's photos are told apart when they arrive
    for kind in ("person", "cloth"):
        upload = tmp_path / f"uploaded_{kind}.png"
        upload.write_bytes(GEOMETRIC[kind].read_bytes())
        pg.locator(f"#{kind}-input input[type=file]").set_input_files(str(upload))
        pg.wait_for_function("s => document.querySelector(s + ' img')?.src.includes('uploaded_')",
                             arg=f"#{kind}-input", timeout=RUN_S)
    _choose_method(pg, "geometric")
    text = _click_wait(pg, "#run", "#status", "Failed")
    assert "Running" not in text and "openpose/body" in text and "schp/lip" in text
    url = weights.entry("openpose/body").hub_url
    assert url in text  # the URL whole, not "https:/…/"
    assert url in pg.locator("#status a").evaluate_all("els => els.map(e => e.href)")
    assert "earlier run" not in text  # there was none
    # a good run, then a text file as the person photo: the error is named, the good result stays, marked
    _click_example(pg, "geometric_person + geometric_cloth")
    _click_wait(pg, "#run", "#status", "Done")
    src = pg.locator("#result img").first.get_attribute("src")
    bad = tmp_path / "person.png"
    bad.write_text("not a picture")
    pg.locator("#person-input input[type=file]").set_input_files(str(bad))
    pg.wait_for_function("() => !document.querySelector('#person-input img') || "
                         "document.querySelector('#person-input img').src.includes('person.png')")
    text = _click_wait(pg, "#run", "#status", "Failed")
    assert "Running" not in text and "not an image" in text and "earlier run" in text, text
    assert pg.locator("#result img").first.get_attribute("src") == src
    assert "Traceback" not in pg.content()
    pg.close()


def test_rerun_without_edits_keeps_the_result(browser):
    pg = _open(browser, shared_app().url, DESKTOP)
    _click_example(pg, "geometric_person + geometric_cloth")
    _choose_method(pg, "geometric")
    _click_wait(pg, "#run", "#status", "Done")
    src = pg.locator("#result img").first.get_attribute("src")
    pg.get_by_role("tab", name="Edit & re-run").click()
    pg.locator("#keypoints").get_by_text("nose").first.wait_for(state="visible")  # the editors are filled
    text = _click_wait(pg, "#rerun", "#status", "Nothing was edited")
    assert "unchanged" in text
    assert pg.locator("#result img").first.get_attribute("src") == src
    pg.get_by_role("tab", name="Stages").click()
    assert pg.locator("#section-warp img").count() >= 3
    pg.close()


def test_compare_opens_with_every_ready_method_ticked_and_shows_five_side_by_side(browser):
    server = shared_app()
    pg = _open(browser, server.url, DESKTOP)
    _click_example(pg, "geometric_person + geometric_cloth")
    pg.get_by_role("tab", name="Compare methods").click()
    cards = methods.cards()
    ready = [c for c in cards if methods.describe(c.id, server.weights_dir)["ready"]]
    assert len(ready) == len(cards) >= 5  # the test app has (RANDOM) weights for every method
    boxes = pg.locator("#compare-methods input[type=checkbox]")
    assert boxes.count() == len(cards) and all(boxes.nth(i).is_checked() for i in range(len(cards)))
    assert not pg.locator("#compare-unready").is_visible()
    for i in range(5, len(cards)):  # five side by side (the first five cards), the rest unticked
        boxes.nth(i).click()
    ready = ready[:5]
    text = _click_wait(pg, "#run-compare", "#compare-status", "Compared")
    assert "Compared 5 of 5" in text and "Not run" not in text
    for c in ready:  # the columns are laid out right after the status (wait for them, do not race them)
        pg.locator(f"#compare-head-{c.id.replace('+', '_')}").wait_for(state="visible")
    # aligned: a method's cells share its column in every row it has a stage in
    xs = {}
    for sid in ("inputs", "warp", "composition"):
        for c in ready:
            cell = pg.locator(f"#compare-cell-{sid}-{c.id.replace('+', '_')}")
            cell.wait_for(state="visible")
            xs.setdefault(c.id, set()).add(round(cell.bounding_box()["x"]))
    assert all(len(v) == 1 for v in xs.values()), xs
    n = _load_images(pg, "#tab-compare .stage-gallery", at_least=sum(len(c.stages) for c in ready))
    assert _check_captions(pg, "#tab-compare .stage-gallery", DESKTOP["width"]) == n
    _no_spill(pg, DESKTOP["width"])
    _shot(pg, "compare-five")
    _fits_the_phone(pg, "#tab-compare .stage-gallery")
    pg.close()


def test_without_weights_compare_names_each_unready_method_once_and_leaves_no_empty_columns(browser, tmp_path):
    cache = tmp_path / "hf"
    env = app_env(HF_HUB_OFFLINE="1", HF_HOME=str(cache), HF_HUB_CACHE=str(cache / "hub"))
    unready = [c for c in methods.cards() if c.weights]
    with AppServer(tmp_path / "no-weights", env=env) as server:
        for c in unready:
            assert f"  {c.title}: not ready" in server.log(), c.id
        pg = _open(browser, server.url, DESKTOP)
        banner = pg.locator("#readiness").inner_text()
        assert "How to get the weights" in banner and "python -m vton convert" not in banner
        for c in unready:
            assert f"{c.title}: not ready" in banner, c.id
        pg.get_by_role("tab", name="Compare methods").click()
        boxes = pg.locator("#compare-methods input[type=checkbox]")
        ticked = [boxes.nth(i).is_checked() for i in range(boxes.count())]
        assert ticked == [not c.weights for c in methods.cards()]
        note = pg.locator("#compare-unready").inner_text()
        for c in unready:
            assert note.count(f"{c.title}: weights") == 1, note
        # tick them all anyway: one run, one line per method that could not run, no empty columns
        for i, t in enumerate(ticked):
            if not t:
                boxes.nth(i).click()
        _click_example(pg, "geometric_person + geometric_cloth")
        text = _click_wait(pg, "#run-compare", "#compare-status", "Compared")
        assert f"Compared 1 of {len(methods.cards())}" in text and "Not run" in text
        pg.locator("#compare-head-geometric").wait_for(state="visible")  # the columns are laid out
        pg.locator("#compare-cell-inputs-geometric").wait_for(state="visible")
        for c in unready:
            assert text.count(c.title + " (") == 1, text
            assert not pg.locator(f"#compare-head-{c.id.replace('+', '_')}").is_visible()
            assert not pg.locator(f"#compare-cell-inputs-{c.id.replace('+', '_')}").is_visible()
        assert len(text) < 1500, text  # a line per method, not a wall of paragraphs
        pg.close()


def test_a_refusal_shows_the_stages_computed_before_it_beside_the_error(browser, tmp_path):
    """A garment upside down is refused by the geometric method; the status names why and the stages computed up
    to the refusal (preprocessing, the target region) are shown, so the visitor sees it (issue 20)."""
    import numpy as np
    from helpers_app import wait_uploaded
    from PIL import Image

    flipped = {}
    for key in ("cloth", "cloth_mask"):
        img = np.asarray(Image.open(GEOMETRIC[key]))[::-1]
        flipped[key] = tmp_path / f"upside_down_{key}.png"
        Image.fromarray(np.ascontiguousarray(img)).save(flipped[key])
    pg = _open(browser, shared_app().url, DESKTOP)
    pg.locator("#person-input input[type=file]").set_input_files(str(GEOMETRIC["person"]))
    pg.locator("#cloth-input input[type=file]").set_input_files(str(flipped["cloth"]))
    pg.locator("#person-input img").first.wait_for(state="visible")
    pg.locator("#cloth-input img").first.wait_for(state="visible")
    pg.locator("#overrides").get_by_text("Your own annotations").click()
    for elem_id, path in (("pose-input", GEOMETRIC["pose"]), ("parse-input", GEOMETRIC["parse"]),
                          ("mask-input", flipped["cloth_mask"])):
        pg.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
        wait_uploaded(pg, elem_id, path)
    _choose_method(pg, "geometric")
    text = _click_wait(pg, "#run", "#status", "Failed")
    assert "not upright" in text and "computed before" in text, text
    _load_images(pg, "#section-representation")
    captions = pg.locator("#section-representation .caption-label").all_inner_texts()
    assert any(c.startswith(methods.card("geometric").stage("target_outline").title) for c in captions), captions
    assert pg.locator("#section-inputs .gallery-item img").count() >= 4  # person, pose, parsing, garment, mask
    assert pg.locator("#section-composition .gallery-item img").count() == 0  # no try-on: it was refused
    assert "Traceback" not in pg.content()
    pg.close()
