"""A whole user study in a real browser (Debian chromium driven by Playwright).

Two participants answer every trial in two browser contexts — the second opens the link without a participant id,
reloads in the middle and resumes — then the researcher opens the results view with the token. Screenshots go to
``test-artifacts/study-*.png``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from helpers_app import ARTIFACTS, UI_WAIT_MS, free_port
from PIL import Image, ImageDraw

from vton import study as st

pytestmark = [pytest.mark.browser, pytest.mark.slow]


METHODS = ["methodalpha", "methodbeta", "methodgamma"]
TOKEN = "researcher-token-1234"


def _render(pair: st.Pair, method: str) -> Image.Image:
    rgb = tuple(hashlib.sha256(f"{pair.id}/{method}".encode()).digest()[:3])
    img = Image.open(pair.person).convert("RGB")
    ImageDraw.Draw(img).ellipse((20, 40, 170, 200), fill=rgb)
    return img


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from vton.web.study_app import launch_study

    src = tmp_path_factory.mktemp("study-src")
    for i in range(2):
        Image.new("RGB", (192, 256), (60 * i, 120, 200)).save(src / f"person{i}.png")
        Image.new("RGB", (192, 256), (200, 60 * i, 40)).save(src / f"garment{i}.png")
    photo = Image.new("RGB", (192, 256), (90, 140, 90))
    ImageDraw.Draw(photo).rectangle((40, 40, 150, 220), fill=(230, 200, 170))
    photo.save(src / "real.png")
    (src / "study.json").write_text(json.dumps({
        "id": "browser-study", "question": "Which looks more realistic?", "methods": METHODS,
        "pairs": [{"id": f"pair{i}", "person": f"person{i}.png", "garment": f"garment{i}.png"} for i in range(2)],
        "attention_checks": [{"id": "check1", "image": "real.png"}], "trials_per_participant": 4}))
    prepared = st.prepare_study(st.load_study(src / "study.json"), _render, tmp_path_factory.mktemp("study-folder"))
    port = free_port()
    demo = launch_study(prepared, token=TOKEN, host="127.0.0.1", port=port)
    yield prepared, f"http://127.0.0.1:{port}/"
    demo.close()


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_WAIT_MS)  # waits are on the page's own signals (trial shown, images loaded)
    return context, page


def _progress(page) -> str:
    return page.locator("#study-progress").inner_text().strip()


def _wait_trial(page, number: int, total: int) -> None:
    page.locator("#study-progress").get_by_text(f"Trial {number} of {total}", exact=True).wait_for()
    for side in ("left", "right"):
        page.wait_for_function(f"() => {{ const i = document.querySelector('#study-{side} img'); "
                               "return i && i.complete && i.naturalWidth > 0; }")


def _answer(page, prepared, participant: str, number: int, fail_checks: bool) -> dict:
    """Answer the trial on screen (trial ``number``, 1-based) and return the record it must leave."""
    study = prepared.study
    _wait_trial(page, number, study.trials_total)
    html = page.content()
    leaked = [s for s in [*METHODS, "pair0", "pair1", "check1", "@original"] if s in html]
    assert not leaked, leaked
    assert page.locator("#study-left").get_by_text("A", exact=True).first.is_visible()
    assert page.locator("#study-right").get_by_text("B", exact=True).first.is_visible()
    trial = st.schedule(study, participant)[number - 1]
    if trial.attention_check:
        side = trial.correct if not fail_checks else ("left" if trial.correct == "right" else "right")
    else:
        side = "left" if number % 2 else "right"
    page.locator(f"#study-choose-{side}").click()
    return st.make_answer(study, participant, trial, side, 0.0)


def _strip(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in ("seconds", "timestamp")}


def test_two_participants_one_reloading_then_the_researcher_sees_their_answers(server, browser):
    prepared, url = server
    study = prepared.study
    total = study.trials_total
    ARTIFACTS.mkdir(exist_ok=True)
    expected = []

    # participant 1: a link with a participant id, answers everything and passes the attention check
    ctx1, page1 = _new_page(browser)
    page1.goto(f"{url}?study={study.id}&p=alice-0001", wait_until="domcontentloaded")
    page1.get_by_role("heading", name="Which looks more realistic?").wait_for()
    for number in range(1, total + 1):
        if number == 2:
            page1.screenshot(path=str(ARTIFACTS / "study-trial.png"), full_page=True)
        expected.append(_answer(page1, prepared, "alice-0001", number, fail_checks=False))
    page1.locator("#study-thanks").get_by_text("Thank you!").wait_for()
    assert "All done" in _progress(page1)
    assert not page1.locator("#study-choose-left").is_visible()
    page1.screenshot(path=str(ARTIFACTS / "study-thanks.png"), full_page=True)

    # participant 2: no participant id in the link (one is made and put into the address bar), reloads mid-way
    ctx2, page2 = _new_page(browser)
    page2.goto(url, wait_until="domcontentloaded")
    _wait_trial(page2, 1, total)
    page2.wait_for_function("() => new URL(window.location.href).searchParams.get('p')")
    query = parse_qs(urlparse(page2.url).query)
    bob = query["p"][0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", bob) and query["study"] == [study.id]
    for number in (1, 2):
        expected.append(_answer(page2, prepared, bob, number, fail_checks=True))
    _wait_trial(page2, 3, total)
    page2.reload(wait_until="domcontentloaded")
    _wait_trial(page2, 3, total)  # resumed where it left off
    for number in range(3, total + 1):
        expected.append(_answer(page2, prepared, bob, number, fail_checks=True))
    page2.locator("#study-thanks").get_by_text("Thank you!").wait_for()
    page2.reload(wait_until="domcontentloaded")  # a finished participant stays finished
    page2.locator("#study-thanks").get_by_text("Thank you!").wait_for()
    ctx1.close()
    ctx2.close()

    # the results file holds exactly their answers, once each
    lines = prepared.results_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 2 * total
    assert sorted(map(_strip, records), key=lambda r: (r["participant"], r["trial"])) == sorted(
        map(_strip, expected), key=lambda r: (r["participant"], r["trial"]))
    assert all(0.0 < r["seconds"] < 60.0 for r in records)

    # the researcher: nothing without the token, then the table, the counts and the file
    summary = st.summarize(study, records)
    assert summary.excluded == (bob,) and summary.comparisons == study.trials_per_participant
    ctx3, page3 = _new_page(browser)
    page3.goto(f"{url}?view=results", wait_until="domcontentloaded")
    page3.locator("#study-token input").wait_for()
    assert not page3.locator("#study-choose-left").is_visible()
    page3.locator("#study-token input").fill("wrong")
    page3.locator("#study-show").click()
    page3.locator("#study-results-message").get_by_text("Wrong token.").wait_for()
    assert not page3.locator("#study-table").is_visible()
    page3.locator("#study-token input").fill(TOKEN)
    page3.locator("#study-show").click()
    page3.locator("#study-table").wait_for(state="visible")
    text = page3.locator("#study-summary").inner_text()
    assert "2 participant(s), 2 finished all 5 trials" in text
    assert f"{study.trials_per_participant} comparison(s) counted" in text
    assert "1 of 2 passed (50.0 %)" in text and bob in text
    table_text = page3.locator("#study-table").inner_text()
    rows = "\n".join(str(cell) for row in st.method_rows(summary) for cell in row)
    assert rows in table_text, table_text  # every method's wins, comparisons, rate and interval, best first
    assert sum(row[2] for row in st.method_rows(summary)) == 2 * study.trials_per_participant
    with page3.expect_download() as info:
        page3.locator("#study-download").click()
    assert Path(info.value.path()).read_bytes() == prepared.results_path.read_bytes()
    page3.screenshot(path=str(ARTIFACTS / "study-results.png"), full_page=True)
    ctx3.close()
    for name in ("study-trial.png", "study-thanks.png", "study-results.png"):
        assert (ARTIFACTS / name).stat().st_size > 5_000
