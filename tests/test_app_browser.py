"""The page in a real browser (Debian chromium driven by Playwright): upload, run, every stage shown with its caption;
the first open without weights, compare, a garment swap on cached person stages, a painted parse edit, the phone
layout and ``app.py --study``.

Saves full-page screenshots to ``test-artifacts/app-*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_app import (
    ARTIFACTS,
    EXAMPLE,
    RUN_WAIT_MS,
    AppServer,
    app_env,
    click_and_wait,
    new_page,
    shared_app,
    wait_image,
    wait_uploaded,
)

from vton import methods
from vton.pipeline import PREPROCESS_STAGES
from vton.web.galleries import section_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]


TIME = re.compile(r"\((\d+ ms|\d+\.\d\d s)\)\s*$")


@pytest.fixture
def page(browser):
    server = shared_app()
    pg = new_page(browser, viewport={"width": 1500, "height": 1000})
    pg.goto(server.url, wait_until="domcontentloaded")
    pg.wait_for_selector("#run")
    yield pg
    pg.close()


def _upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def _choose_method(page, method_id: str) -> None:
    title = methods.card(method_id).title
    page.locator("#method input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(title) + " · ")).click()


def _upload_example(page) -> None:
    _upload(page, "person-input", EXAMPLE["person"])
    _upload(page, "cloth-input", EXAMPLE["cloth"])
    wait_image(page, "person-input")
    wait_image(page, "cloth-input")
    # the example's annotations, so no pose / parsing weights are needed
    page.locator("#overrides").get_by_text("Your own annotations").click()
    for elem_id, key in (("pose-input", "pose"), ("parse-input", "parse"), ("mask-input", "cloth_mask")):
        _upload(page, elem_id, EXAMPLE[key])
        wait_uploaded(page, elem_id, EXAMPLE[key])


ALL = f"{len(methods.cards())} methods"  # the test app has (RANDOM) weights for every method


def _click_example(page, label: str = f"person + cloth_tshirt · {ALL}") -> None:
    """Click an example (fills the photos, pose, parse map and garment mask at once)."""
    page.locator("#examples").get_by_text(label, exact=True).click()
    wait_image(page, "person-input")
    wait_image(page, "cloth-input")


def _check_sections(page, method_id: str) -> int:
    """Every stage of the card (and the preprocessing) is shown in its section with caption and time."""
    card = methods.card(method_id)
    specs = [s for s in PREPROCESS_STAGES if s.key != "body_mask" or "body_mask" in card.needs]
    specs = [s for s in specs if s.step in ("framing", "cloth_framing", "cloth_mask") or s.key in card.needs]
    specs += list(card.stages)
    shown = 0
    for sid in ("inputs", "representation", "warp", "rendering", "composition"):
        expected = [s for s in specs if s.section == sid]
        gallery = page.locator(f"#section-{sid}")
        imgs = gallery.locator("img")
        if not expected:  # a section the method has no stage in is left out of the page
            assert imgs.count() == 0 and not gallery.is_visible(), sid
            assert not page.locator(f"#head-{sid}").is_visible(), sid
            continue
        gallery.scroll_into_view_if_needed()
        page.wait_for_function(f"() => document.querySelectorAll('#section-{sid} img').length >= {len(expected)}")
        captions = gallery.locator(".caption-label")
        texts = [captions.nth(i).inner_text().strip() for i in range(captions.count())]
        assert len(texts) == len(expected), (sid, texts)
        for spec, text in zip(expected, texts, strict=True):
            title, _, rest = text.partition(" — ")
            assert title == spec.title, text
            assert TIME.search(text) or "cached" in text or "shared with" in text, text
            assert len(rest) > 10, text
        assert page.locator(f"#head-{sid}").get_by_text(section_title(sid)).first.is_visible()
        shown += len(texts)
    return shown


@pytest.mark.parametrize("method_id", [c.id for c in methods.cards()])
def test_every_registered_method_runs_and_shows_its_stages(page, method_id):
    if not methods.describe(method_id, shared_app().weights_dir)["ready"]:
        pytest.fail(f"{method_id} has no weights in the test app's folder")
    _upload_example(page)
    _choose_method(page, method_id)
    click_and_wait(page, "#run", "Done")
    assert methods.card(method_id).title in page.locator("#status").inner_text()
    page.locator("#result img").first.wait_for(state="visible")
    assert _check_sections(page, method_id) >= len(methods.card(method_id).stages)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"app-{method_id.replace('+', 'plus')}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000


def test_example_runs_out_of_the_box_and_is_pasted_back_at_photo_size(page):
    # the photo-like example: 768 × 1024 person with its shipped pose, parse map and garment mask
    page.locator("#examples").get_by_text(f"person_photo + cloth_longsleeve · {ALL}").click()
    wait_image(page, "person-input")
    click_and_wait(page, "#run", "Done")
    result = page.locator("#result img").first
    result.wait_for(state="visible")
    page.wait_for_function("() => { const i = document.querySelector('#result img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    assert result.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [768, 1024]
    assert "supplied" in page.locator("#status").inner_text()


def test_an_error_is_named_in_the_status_and_the_last_run_is_marked_as_earlier(page):
    _upload_example(page)
    click_and_wait(page, "#run", "Done")
    page.locator("#section-warp img").first.wait_for(state="visible")
    page.locator("#person-input button[aria-label='Remove Image']").first.click()
    page.locator("#run").click()  # no person photo now
    page.locator("#status").get_by_text("Upload a person photo first").wait_for()
    assert "Traceback" not in page.content()
    status = page.locator("#status").inner_text()
    assert status.startswith("Failed") and "Running" not in status and "Done" not in status
    assert "from the earlier run" in status
    assert page.locator("#section-warp img").count() > 0  # the earlier stages stay, marked as such


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"app-{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000
    return shot


def _captions(page, sid: str) -> list[str]:
    caps = page.locator(f"#section-{sid} .caption-label")
    return [caps.nth(i).inner_text().strip() for i in range(caps.count())]


def _img_bytes(page, selector: str) -> bytes:
    src = page.locator(selector).first.get_attribute("src")
    return page.request.get(src).body()


def test_first_open_without_weights_tells_the_truth_and_the_geometric_example_runs(browser, tmp_path):
    cache = tmp_path / "hf"
    env = app_env(HF_HUB_OFFLINE="1", HF_HOME=str(cache), HF_HUB_CACHE=str(cache / "hub"))
    with AppServer(tmp_path / "no-weights", env=env) as server:
        pg = new_page(browser, viewport={"width": 1500, "height": 1000})
        pg.goto(server.url, wait_until="domcontentloaded")
        pg.wait_for_selector("#run")
        top = pg.locator("#readiness").inner_text()
        assert "Geometric TPS warp (training-free): ready" in top and "Hub: offline" in top
        for c in methods.cards():
            if c.weights:
                assert f"{c.title}: not ready" in top, c.id
        assert "How to get the weights" in top and "--weights-dir" not in top  # commands live in weights/README
        pg.locator("#examples").get_by_text("geometric_person + geometric_cloth · 1 method").click()
        wait_image(pg, "person-input")
        assert "Geometric" in pg.locator("#method input").input_value()
        click_and_wait(pg, "#run", "Done")
        assert "Geometric" in pg.locator("#status").inner_text()
        pg.locator("#section-warp img").first.wait_for(state="visible")
        pg.locator("#before-after img").first.wait_for(state="visible")
        _shot(pg, "first-open-no-weights")
        pg.close()


def test_compare_two_methods_side_by_side_on_one_preprocessing(page):
    _click_example(page)
    page.get_by_role("tab", name="Compare methods").click()
    group = page.locator("#compare-methods")
    for c in methods.cards():  # keep two with the same needs: geometric and CP-VTON
        box = group.get_by_label(c.title, exact=True)
        if box.is_checked() != (c.id in ("geometric", "cp-vton")):
            box.click()
    click_and_wait(page, "#run-compare", "Compared 2 of 2", "#compare-status")
    for m in ("geometric", "cp-vton"):
        page.locator(f"#compare-warp-{m} img").first.wait_for(state="visible")
        assert page.locator(f"#compare-composition-{m} img").count() >= 2  # try-on and pasted
        assert page.locator(f"#compare-head-{m}").is_visible()
    assert not page.locator("#compare-warp-acgpn").is_visible()  # not chosen
    # rows aligned by section: the two methods' warp galleries sit side by side
    a = page.locator("#compare-warp-geometric").bounding_box()
    b = page.locator("#compare-warp-cp-vton").bounding_box()
    assert abs(a["y"] - b["y"]) < 2 and a["x"] != b["x"]
    caps = page.locator("#compare-inputs-cp-vton .caption-label")
    texts = [caps.nth(i).inner_text() for i in range(caps.count())]
    # the second method reused the first one's pose, parsing, framing and garment mask
    assert len(texts) == 5 and all("cached, 0 s" in t for t in texts), texts
    _shot(page, "compare")


def test_garment_swap_reuses_the_cached_person_stages(page):
    _click_example(page)
    _choose_method(page, "cp-vton+")
    click_and_wait(page, "#run", "Done")
    _click_example(page, f"person + cloth_longsleeve · {ALL}")  # the same person, pose and parse map
    click_and_wait(page, "#run", "Done")
    page.wait_for_function("() => document.querySelectorAll('#section-inputs .caption-label').length >= 6")
    caps = {c.split(" — ")[0]: c for c in _captions(page, "inputs")}
    for title in ("Person (framed)", "Pose keypoints (COCO-18)", "Human parsing (LIP-20)", "Body mask"):
        assert "cached, 0 s" in caps[title], caps[title]
    assert "Garment (framed)" in caps and "Garment mask" in caps  # (cached too if an earlier test ran it)
    assert re.search(r"cached: body_mask, (cloth_framing, cloth_mask, )?framing, parsing, pose",
                     page.locator("#status").inner_text())
    _shot(page, "garment-swap")


def test_painted_parse_edit_reruns_and_changes_the_downstream_stages(page):
    _click_example(page)
    _choose_method(page, "cp-vton+")
    click_and_wait(page, "#run", "Done")
    page.locator("#section-representation img").first.wait_for(state="visible")
    before_src = page.locator("#section-representation img").first.get_attribute("src")
    before = _img_bytes(page, "#section-representation img")
    page.get_by_role("tab", name="Edit & re-run").click()
    page.locator("#parse-editor button[aria-label='Brush']").click()
    canvas = page.locator("#parse-editor canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 120, cy - 60)
    page.mouse.down()
    for i in range(20):  # a stroke of "upper clothes" over the background left of the body
        page.mouse.move(cx - 120 + i * 3, cy - 60 + i * 6, steps=2)
    page.mouse.up()
    _shot(page, "parse-painted")
    click_and_wait(page, "#rerun", "Re-ran from your edits (parse map)")
    status = page.locator("#status").inner_text()
    assert "cached: cloth_framing, cloth_mask" in status  # only what follows the edit ran again
    page.get_by_role("tab", name="Stages").click()
    # the status is written by the run, the galleries by the step after it: wait until the gallery shows this run's
    # picture (a new file) before reading it
    page.wait_for_function("s => { const img = document.querySelector('#section-representation img');"
                           " return img !== null && img.getAttribute('src') !== s; }", arg=before_src,
                           timeout=RUN_WAIT_MS)
    after = _img_bytes(page, "#section-representation img")
    assert after != before  # the body shape the representation is built from changed
    caps = {c.split(" — ")[0]: c for c in _captions(page, "inputs")}
    assert "cached, 0 s" in caps["Garment mask"] and "cached" not in caps["Human parsing (LIP-20)"]
    page.locator("#control-points-box").get_by_text("θ: the warp's control points").click()
    page.locator("#control-points").get_by_text("source_x").first.wait_for(state="visible")
    _shot(page, "parse-edit-rerun")


def test_phone_width_layout_does_not_overflow_and_zip_names_are_whole(browser):
    server = shared_app()
    pg = new_page(browser, viewport={"width": 390, "height": 844})
    pg.goto(server.url, wait_until="domcontentloaded")
    pg.wait_for_selector("#run")
    pg.locator("#examples").get_by_text("geometric_person + geometric_cloth").click()
    wait_image(pg, "person-input")
    _choose_method(pg, "geometric")
    click_and_wait(pg, "#run", "Done")
    pg.locator("#zip-stages").get_by_text(".zip").first.wait_for(state="visible")
    assert "vton_geometric_stages.zip" in re.sub(r"\s+", "", pg.locator("#zip-stages").inner_text())
    width = pg.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 392, width
    ex = pg.locator("#examples").bounding_box()
    assert ex["x"] >= 0 and ex["x"] + ex["width"] <= 391, ex
    _shot(pg, "phone")
    pg.close()


def test_app_py_study_serves_the_participant_page(browser, tmp_path):
    import json

    from helpers_app import GEOMETRIC

    study = {"id": "app-study", "question": "Which looks more realistic?", "methods": ["geometric", "cp-vton+"],
             "pairs": [{"id": "p1", "person": str(GEOMETRIC["person"]), "garment": str(GEOMETRIC["cloth"]),
                        "annotations": {"pose": str(GEOMETRIC["pose"]), "parsing": str(GEOMETRIC["parse"]),
                                        "cloth_mask": str(GEOMETRIC["cloth_mask"])}}]}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study))
    weights = shared_app().weights_dir
    env = app_env(VTON_STUDY_TOKEN="")
    with AppServer(weights, env=env, args=["--study", str(path), "--study-folder", str(tmp_path / "folder")]) as srv:
        log = srv.log()
        assert f"Participant link: http://127.0.0.1:{srv.port}/?study=app-study" in log
        assert "Researcher token (results at /?view=results): " in log
        assert len(list((tmp_path / "folder" / "images").glob("*.png"))) == 2  # one render per method
        pg = new_page(browser, viewport={"width": 1200, "height": 900})
        pg.goto(srv.url + "?study=app-study", wait_until="domcontentloaded")
        pg.locator("#study-left img").first.wait_for(state="visible")
        pg.locator("#study-right img").first.wait_for(state="visible")
        assert "Which looks more realistic?" in pg.locator("#study-question").inner_text()
        assert "Trial 1 of 1" in pg.locator("#study-progress").inner_text()
        assert "cp-vton" not in pg.content().lower()  # blind: no method names in the page
        assert "random" not in pg.content().lower()
        _shot(pg, "study")
        # the researcher is told, in the terminal and with the results, that the images come from RANDOM weights
        assert "WARNING: this study runs on RANDOM test weights for CP-VTON+" in log
        token = re.search(r"Researcher token \(results at /\?view=results\): (\S+)", log).group(1)
        pg.goto(srv.url + "?view=results", wait_until="domcontentloaded")
        pg.locator("#study-token input").fill(token)
        pg.locator("#study-show").click()
        pg.locator("#study-results-message").get_by_text("RANDOM test weights").wait_for()
        pg.close()
