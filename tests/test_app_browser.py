"""The page in a real browser (Debian chromium driven by Playwright): upload, run, every stage shown with its caption.

Saves a full-page screenshot to ``test-artifacts/app.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers_app import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, EXAMPLE, shared_app

from vton.webapp import STAGE_KEYS, STAGE_TITLES

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


def test_upload_run_and_every_stage_is_shown_with_its_caption(page):
    _upload(page, "person-input", EXAMPLE["person"])
    _upload(page, "cloth-input", EXAMPLE["cloth"])
    page.locator("#person-input img").first.wait_for(state="visible")
    page.locator("#cloth-input img").first.wait_for(state="visible")
    # the example's annotations, so no pose / parsing weights are needed
    page.get_by_text("Optional: your own annotations").click()
    for elem_id, key in (("pose-input", "pose"), ("parse-input", "parse"), ("mask-input", "cloth_mask")):
        _upload(page, elem_id, EXAMPLE[key])
        page.locator(f"#{elem_id}").get_by_text(EXAMPLE[key].name).first.wait_for(state="visible")

    page.locator("#run").click()
    page.locator("#status").get_by_text("Done").wait_for(timeout=240_000)
    page.locator("#result img").first.wait_for(state="visible")

    for key in STAGE_KEYS:
        block = page.locator(f"#stage-{key}")
        block.scroll_into_view_if_needed()  # the images load lazily
        img = block.locator("img").first
        img.wait_for(state="visible")
        assert img.evaluate("el => el.complete && el.naturalWidth > 0"), key
        label = block.locator("[data-testid='block-label']").first
        label.get_by_text(STAGE_TITLES[key], exact=False).wait_for(state="visible")  # the relabel step has run
        text = label.inner_text().strip()
        title, _, rest = text.partition(" — ")
        assert title == STAGE_TITLES[key], text
        caption = TIME.sub("", rest).strip()
        assert len(caption) > 10 and TIME.search(text), text
        assert label.is_visible()
    for title in ("Inputs & preprocessing", "Person representation", "Geometric matching (GMM)",
                  "Try-on module (TOM)"):
        assert page.get_by_role("heading", name=title).is_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)
    assert (ARTIFACTS / "app.png").stat().st_size > 50_000


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


def test_an_error_is_shown_as_a_readable_message_in_the_page(page):
    page.locator("#run").click()  # nothing uploaded
    page.get_by_text("Upload a person photo and a garment photo first").first.wait_for(state="visible")
    assert "Traceback" not in page.content()
