"""With ``HF_HUB_OFFLINE=1`` and an empty weights folder the app starts, serves the page and says what is missing."""

from __future__ import annotations

import json
import urllib.request

import pytest
from helpers_app import UI_WAIT_MS, AppServer, app_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    empty = tmp_path_factory.mktemp("no-weights")
    cache = tmp_path_factory.mktemp("empty-hf-cache")
    env = app_env(HF_HUB_OFFLINE="1", HF_HOME=str(cache), HF_HUB_CACHE=str(cache / "hub"))
    with AppServer(empty, env=env) as server:
        yield server


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=UI_WAIT_MS / 1000) as r:  # a loaded machine answers slowly
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
    assert {"tryon", "compare", "preprocess", "methods"} <= names
    markdown = " ".join(str(c.get("props", {}).get("value", "")) for c in config["components"]
                        if c.get("type") == "markdown")
    assert "not ready: weights gmm, tom missing" in markdown and "How to get the weights" in markdown
    assert "python -m vton convert" not in markdown  # maintainer commands live in weights/README.md, not the page
    assert "Hub: offline" in markdown and "**Hub:** offline" in markdown  # one check, said the same everywhere


def test_methods_endpoint_reports_missing_weights_with_instructions(offline_app):
    import gradio_client

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

    from vton.web import space

    def f(x):
        return x + 1

    monkeypatch.setitem(sys.modules, "spaces", None)  # import spaces -> ImportError
    assert space.gpu()(f) is f
    calls = []
    fake = types.ModuleType("spaces")
    fake.GPU = lambda duration: (lambda fn: calls.append(duration) or fn)
    monkeypatch.setitem(sys.modules, "spaces", fake)
    assert space.gpu(duration=60)(f)(1) == 2 and calls == [60]


def test_binds_localhost_unless_running_on_a_space(monkeypatch):
    from vton.web import space

    monkeypatch.delenv("SPACE_ID", raising=False)
    assert space.server_host(None) == "127.0.0.1"
    monkeypatch.setenv("SPACE_ID", "someone/vton")
    assert space.server_host(None) == "0.0.0.0"
    assert space.server_host("127.0.0.1") == "127.0.0.1"


def test_unexpected_errors_become_a_short_message_and_vton_errors_stay_as_written():
    from vton.errors import InputError
    from vton.web import messages

    assert messages.user_message(InputError("the person photo is too small")) == "the person photo is too small"
    msg = messages.user_message(KeyError("secret internal detail"))
    assert "KeyError" in msg and "secret" not in msg and "server log" in msg


def test_every_shipped_example_file_exists():
    import json
    import os

    from vton.web import examples

    listed = json.loads((examples.EXAMPLES_DIR / "examples.json").read_text())
    rows = examples.example_rows()
    assert len(rows) == len(listed) >= 4
    for row in rows:
        assert len(row) == 5  # person, garment, pose, parse, mask: no method, so an example keeps the chosen one
        for value in row:
            assert value is None or os.path.isfile(value), value


def test_space_dependency_step_runs_only_on_a_space_and_only_when_missing(monkeypatch):
    from vton.web import space

    calls = []
    monkeypatch.setattr("subprocess.run", lambda *a, **k: calls.append(a))
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert space.ensure_space_dependencies() is False
    monkeypatch.setenv("SPACE_ID", "owner/vton")
    assert space.ensure_space_dependencies() is False  # controlnet-aux is installed here
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert space.ensure_space_dependencies() is True
    assert calls and calls[0][0][-2:] == ["--no-deps", space.CONTROLNET_AUX]


def _client(server):
    import gradio_client
    return gradio_client, gradio_client.Client(server.url, verbose=False)


def test_method_without_weights_says_how_to_add_them(offline_app):
    from helpers_app import EXAMPLE

    gradio_client, client = _client(offline_app)
    f = gradio_client.handle_file
    with pytest.raises(gradio_client.exceptions.AppError) as err:
        client.predict(f(str(EXAMPLE["person"])), f(str(EXAMPLE["cloth"])), "cp-vton", f(str(EXAMPLE["pose"])),
                       f(str(EXAMPLE["parse"])), f(str(EXAMPLE["cloth_mask"])), api_name="/tryon")
    msg = str(err.value)
    assert "cp-vton/gmm" in msg and "--weights-dir" in msg
    assert "/tmp/" not in msg and "`" not in msg  # no server paths, no markdown backticks


def test_offline_estimator_fails_at_once_and_says_how_to_avoid_the_download(offline_app):
    import time

    from helpers_app import GEOMETRIC

    gradio_client, client = _client(offline_app)
    f = gradio_client.handle_file
    t0 = time.monotonic()
    with pytest.raises(gradio_client.exceptions.AppError) as err:  # no pose JSON, no parse PNG, Hub offline
        client.predict(f(str(GEOMETRIC["person"])), f(str(GEOMETRIC["cloth"])), "geometric", None, None, None,
                       api_name="/tryon")
    assert time.monotonic() - t0 < 10
    msg = str(err.value)
    assert "openpose/body" in msg and "schp/lip" in msg and "HF_HUB_OFFLINE=1 is set" in msg
    assert "pose JSON" in msg and "parse PNG" in msg and "avoid the download" in msg
    assert "/tmp/" not in msg


def test_geometric_example_runs_with_nothing_downloaded(offline_app):
    from helpers_app import GEOMETRIC

    gradio_client, client = _client(offline_app)
    f = gradio_client.handle_file
    status, result, _, summary, _, _ = client.predict(
        f(str(GEOMETRIC["person"])), f(str(GEOMETRIC["cloth"])), "geometric", f(str(GEOMETRIC["pose"])),
        f(str(GEOMETRIC["parse"])), f(str(GEOMETRIC["cloth_mask"])), api_name="/tryon")
    assert status.startswith("**Done** with Geometric") and summary["networks"] == {}
    assert summary["random_weights"] is False


def test_examples_say_which_methods_run_them(monkeypatch, tmp_path):
    from vton.web import examples, readiness

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = readiness.method_table(tmp_path)
    labels = examples.example_labels(rows)
    assert len(labels) == len(examples.example_rows())
    assert labels[0] == "geometric_person + geometric_cloth · 1 method"  # the training-free one
    assert all(len(lab) <= 60 for lab in labels)  # Gradio cuts longer example labels
    note = examples.examples_note(rows)
    assert note.startswith("**Runs now:** every example with Geometric") and "CP-VTON" not in note
    no_method = [dict(r, ready=False) for r in rows]
    assert all(lab.endswith("cannot run yet") for lab in examples.example_labels(no_method))
    assert examples.examples_note(no_method).startswith("**Cannot run yet:** every example")


def test_hub_check_is_one_quick_connect_that_decides_the_whole_run(monkeypatch):
    import socket
    import time

    from vton import weights
    from vton.web import readiness

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert readiness.hub_reachable() is False and readiness.hub_state().startswith("offline (HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr(weights.hub, "_hub_mode", {"mode": None})
    calls = []

    def slow_connect(addr, timeout=None):
        calls.append((addr, timeout))
        time.sleep(0.2)
        raise OSError("unreachable")

    monkeypatch.setattr(socket, "create_connection", slow_connect)
    t0 = time.monotonic()
    assert readiness.hub_reachable() is False
    assert readiness.hub_state() == "offline (the Hub cannot be reached: nothing can be downloaded)"
    assert weights.hub_offline() and "HF_HUB_OFFLINE" not in weights.offline_reason()  # never "unset" what is unset
    assert len(calls) == 1 and calls[0][1] == weights.HUB_CHECK_TIMEOUT_S  # one connect for the whole run
    assert time.monotonic() - t0 < 2.0


def test_edits_become_pipeline_inputs_in_the_photos_pixels():
    import numpy as np

    from vton.labels import COCO18, LIP
    from vton.preprocess.framing import FrameTransform
    from vton.web import edits, galleries

    t = FrameTransform(0.25, 10.0, 0.0, (688, 1024))  # a 688 × 1024 photo, scaled by 1/4 and shifted 10 px
    rows = [[n, 0, 0, 0, "no"] for n in COCO18]
    rows[0] = ["nose", 96.0, 40.0, 0.9, "yes"]
    pose = edits.pose_from_table(rows, t)
    assert pose.size == (688, 1024)
    assert np.allclose(pose.keypoints[0], [(96 - 10) * 4, 160]) and pose.scores[0] == np.float32(0.9)
    assert pose.present.sum() == 1
    frame = np.zeros((256, 192, 3), np.uint8)
    colours = LIP.colors()
    frame[100:120, 50:90] = colours[5]  # upper clothes
    frame[100, 50] = (colours[5] * 0.8).astype(np.uint8)  # a brush's soft edge snaps to the nearest label
    parsing = edits.parsing_from_editor({"composite": frame}, t)
    assert parsing.labels.shape == (1024, 688)
    assert parsing.labels[440, 200] == 5 and parsing.labels[10, 10] == 0
    assert LIP.names[5] == "upper_clothes"
    mask = edits.mask_from_editor({"composite": np.full((256, 192, 3), 255, np.uint8)}, (192, 256))
    assert mask.shape == (256, 192) and mask.all()
    headers, cp = edits.control_point_rows({"data": {"control_points": [{"i": 0, "x": -1.0, "y": -1.0},
                                                                      {"i": 1, "x": 0.0, "y": -1.0}]}},
                                           "control_points")
    assert headers == ["i", "x", "y"] and cp == [[0, -1.0, -1.0], [1, 0.0, -1.0]]
    assert edits.control_point_rows({"data": {}}, "control_points") == ([], [])
    assert "upper clothes" in edits.legend_html() and len(edits.brush_colours()) == 20
    # the /compare gallery's items (a tuple, gradio_client's dict, a path) in another order than the summary's rows
    one, two, three = ("/c/1/a-0-00_person.png", "1"), {"image": {"path": "/c/2/a-0-01_warp.png"}}, "/c/3/b-1-00_w.png"
    rows_a = [{"section": "inputs", "file": "a-0-00_person.png"}, {"section": "warp", "file": "a-0-01_warp.png"}]
    assert galleries.split_compare([three, one, two], {"methods": ["a", "b"], "results": {
        "a": {"stages": rows_a}, "b": {"stages": [{"section": "warp", "file": "b-1-00_w.png"}]}}}) == {
        ("a", "inputs"): [one], ("a", "warp"): [two], ("b", "warp"): [three]}
