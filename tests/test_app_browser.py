"""The page in a real browser (Debian chromium driven by Playwright): upload, run, every stage shown with its caption.

Saves a full-page screenshot to ``test-artifacts/app.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_app import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, EXAMPLE, shared_app

from vton import methods
from vton.pipeline import PREPROCESS_STAGES
from vton.webapp import section_title

pytestmark = [pytest.mark.browser, pytest.mark.slow]

sync_api = pytest.importorskip("playwright.sync_api")

TIME = re.compile(r"\((\d+ ms|\d+\.\d\d s)\)\s*$")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed (bash scripts/install.sh --test installs it)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    server = shared_app()
    pg = browser.new_page(viewport={"width": 1500, "height": 1000})
    pg.set_default_timeout(60_000)
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
    page.locator("#person-input img").first.wait_for(state="visible")
    page.locator("#cloth-input img").first.wait_for(state="visible")
    # the example's annotations, so no pose / parsing weights are needed
    page.locator("#overrides").get_by_text("Your own annotations").click()
    for elem_id, key in (("pose-input", "pose"), ("parse-input", "parse"), ("mask-input", "cloth_mask")):
        _upload(page, elem_id, EXAMPLE[key])
        page.locator(f"#{elem_id}").get_by_text(EXAMPLE[key].name).first.wait_for(state="visible")


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
        gallery.scroll_into_view_if_needed()
        imgs = gallery.locator("img")
        if not expected:
            assert imgs.count() == 0, sid
            continue
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
    page.locator("#run").click()
    page.locator("#status").get_by_text("Done").wait_for(timeout=240_000)
    assert methods.card(method_id).title in page.locator("#status").inner_text()
    page.locator("#result img").first.wait_for(state="visible")
    assert _check_sections(page, method_id) >= len(methods.card(method_id).stages)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"app-{method_id.replace('+', 'plus')}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000


def test_example_runs_out_of_the_box_and_is_pasted_back_at_photo_size(page):
    # the photo-like example: 768 × 1024 person with its shipped pose, parse map and garment mask
    page.get_by_text("person_photo_keypoints.json").first.click()
    page.locator("#person-input img").first.wait_for(state="visible")
    page.locator("#run").click()
    page.locator("#status").get_by_text("Done").wait_for(timeout=240_000)
    result = page.locator("#result img").first
    result.wait_for(state="visible")
    page.wait_for_function("() => { const i = document.querySelector('#result img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    assert result.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [768, 1024]
    assert "supplied" in page.locator("#status").inner_text()


def test_an_error_is_shown_as_a_readable_message_and_clears_the_last_run(page):
    _upload_example(page)
    page.locator("#run").click()
    page.locator("#status").get_by_text("Done").wait_for(timeout=240_000)
    page.locator("#section-warp img").first.wait_for(state="visible")
    page.locator("#person-input button[aria-label='Clear']").first.click()
    page.locator("#run").click()  # no person photo now
    page.get_by_text("Upload a person photo first").first.wait_for(state="visible")
    assert "Traceback" not in page.content()
    assert "Done" not in page.locator("#status").inner_text()
    assert page.locator("#section-warp img").count() == 0  # the old stages are gone
