"""With ``HF_HUB_OFFLINE=1`` and an empty weights folder the app starts, serves the page and says what is missing."""

from __future__ import annotations

import json
import urllib.request

import pytest
from helpers_app import AppServer, app_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    empty = tmp_path_factory.mktemp("no-weights")
    cache = tmp_path_factory.mktemp("empty-hf-cache")
    env = app_env(HF_HUB_OFFLINE="1", HF_HOME=str(cache), HF_HUB_CACHE=str(cache / "hub"))
    with AppServer(empty, env=env) as server:
        yield server


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, r.read().decode("utf-8", errors="replace")


def test_page_and_config_are_served_offline_without_weights(offline_app):
    status, html = _get(offline_app.url)
    assert status == 200 and "<html" in html.lower()
    status, text = _get(offline_app.url + "config")
    assert status == 200
    config = json.loads(text)
    labels = {c.get("props", {}).get("label") for c in config["components"]}
    assert {"Person photo", "Garment photo", "Method"} <= labels
    names = {d.get("api_name") for d in config["dependencies"]}
    assert {"tryon", "preprocess", "methods"} <= names
    markdown = " ".join(str(c.get("props", {}).get("value", "")) for c in config["components"]
                        if c.get("type") == "markdown")
    assert "missing" in markdown and "VTON_WEIGHTS_DIR" in markdown and "random-weights" in markdown


def test_methods_endpoint_reports_missing_weights_with_instructions(offline_app):
    gradio_client = pytest.importorskip("gradio_client")
    rows = gradio_client.Client(offline_app.url, verbose=False).predict(api_name="/methods")
    assert {r["id"] for r in rows} == {"cp-vton", "cp-vton+"}
    for r in rows:
        assert not r["ready"] and r["missing"] == ["gmm", "tom"]
        assert "--weights-dir" in r["how_to"] and "VTON_WEIGHTS_DIR" in r["how_to"]
        assert "random-weights" in r["how_to"]
        assert "offline" in r["message"].lower()
