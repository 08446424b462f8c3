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
    assert "needs weights" in markdown and "VTON_WEIGHTS_DIR" in markdown and "random-weights" in markdown
    assert "Hub: offline" in markdown


def test_methods_endpoint_reports_missing_weights_with_instructions(offline_app):
    gradio_client = pytest.importorskip("gradio_client")
    from vton import methods

    rows = gradio_client.Client(offline_app.url, verbose=False).predict(api_name="/methods")
    assert [r["id"] for r in rows] == list(methods.ids())
    for r in rows:
        names = [name for name, _ in methods.card(r["id"]).weights]
        assert r["ready"] == (not names) and r["missing"] == names
        if names:
            assert "--weights-dir" in r["how_to"] and "VTON_WEIGHTS_DIR" in r["how_to"]
            assert "random-weights" in r["how_to"]


def test_app_py_does_no_tensor_maths():
    import ast
    from pathlib import Path

    tree = ast.parse((Path(__file__).resolve().parents[1] / "app.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"torch", "numpy", "cv2"}, imported


def test_gpu_decorator_is_spaces_gpu_when_importable_and_a_noop_otherwise(monkeypatch):
    import sys
    import types

    from vton import webapp

    def f(x):
        return x + 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert webapp.gpu()(f) is f
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: (lambda fn: calls.append(duration) or fn)
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert webapp.gpu(duration=60)(f)(1) == 2 and calls == [60]


def test_binds_localhost_unless_running_on_a_space(monkeypatch):
    from vton import webapp

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert webapp.server_host(None) == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "someone/vton")
    assert webapp.server_host(None) == "0.0.0.0"
    assert webapp.server_host("127.0.0.1") == "127.0.0.1"


def test_unexpected_errors_become_a_short_message_and_vton_errors_stay_as_written():
    from vton import webapp
    from vton.errors import InputError

    assert webapp.user_message(InputError("the person photo is too small")) == "the person photo is too small"
    msg = webapp.user_message(KeyError("secret internal detail"))
    assert "KeyError" in msg and "secret" not in msg and "server log" in msg


def test_every_shipped_example_file_exists():
    import json
    import os

    from vton import webapp

    listed = json.loads((webapp.EXAMPLES_DIR / "examples.json").read_text())
    rows = webapp.example_rows()
    assert len(rows) == len(listed) >= 4
    for row in rows:
        assert len(row) == 5  # person, garment, pose, parse, mask: no method, so an example keeps the chosen one
        for value in row:
            assert value is None or os.path.isfile(value), value


def test_space_dependency_step_runs_only_on_a_space_and_only_when_missing(monkeypatch):
    from vton import webapp

    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert webapp.ensure_space_dependencies() is False
    monkeypatch.setenv("SPACE_ID", "owner/vton")
    assert webapp.ensure_space_dependencies() is False  # controlnet-aux is installed here
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert webapp.ensure_space_dependencies() is True
    assert calls and calls[0][0][-2:] == ["--no-deps", webapp.CONTROLNET_AUX]
