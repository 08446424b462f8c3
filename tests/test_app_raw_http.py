"""Raw HTTP against the running app (urllib, no gradio_client): no request can make vton read a server file.

Every endpoint with file inputs (``/tryon``, ``/compare``, ``/preprocess`` and the page's private events called by
``fn_index``) is sent server paths in every form a caller can write them — a bare string, ``{"path": ...}`` without
Gradio's ``meta``, a ``FileData`` with ``meta`` naming a file outside the upload folder, a URL, a list — for
targets that exist, do not exist, are folders, devices or FIFOs. Each must be refused with one and the same message
(``vton.web.inputs.REFUSED``) that names none of them, at once (a FIFO never blocks another client), while uploads
and shipped examples named by their file name run. The training-free ``geometric`` method with the examples'
annotations needs no weights (an empty weights folder).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from helpers_app import GEOMETRIC, AppServer

from vton.web.inputs import MAX_BODY_BYTES, REFUSED

pytestmark = pytest.mark.slow

SLOTS = {"tryon": ["person", "cloth", None, "pose", "parse", "cloth_mask"],
         "preprocess": ["person", "cloth", None, "pose", "parse", "cloth_mask"],
         "compare": ["person", "cloth", None, "pose", "parse", "cloth_mask"]}
METHOD = {"tryon": "geometric", "preprocess": "geometric", "compare": ["geometric"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with AppServer(tmp_path_factory.mktemp("no-weights")) as s:
        yield s


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """Server paths a caller might name: a secret image only the server holds, missing, a folder, text, a device,
    a FIFO, a shipped example by its absolute path."""
    tmp = tmp_path_factory.mktemp("server-files")
    secret = tmp / "secret.png"
    secret.write_bytes(GEOMETRIC["person"].read_bytes())
    fifo = tmp / "pipe.png"
    os.mkfifo(fifo)
    return {"secret image": str(secret), "missing": str(tmp / "no_such_file.png"), "folder": "/etc",
            "text": "/etc/passwd", "zero device": "/dev/zero", "urandom": "/dev/urandom", "fifo": str(fifo),
            "example by absolute path": str(GEOMETRIC["person"]), "relative": "../../etc/passwd",
            "url": "http://127.0.0.1:9/x.png"}


def forms(path: str) -> dict[str, object]:
    return {"bare string": path, "path without meta": {"path": path},
            "FileData with meta": {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": "a.png"},
            "url field": {"url": path, "path": path, "meta": {"_type": "gradio.FileData"}},
            "in a list": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}


def post(url: str, payload: dict | bytes, timeout: float = 30) -> tuple[int, bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def call(server, name: str, data: list, timeout: float = 120) -> tuple[int, str, object]:
    """POST /gradio_api/call/<name>, then read its event stream: (HTTP status, final event, its data)."""
    status, body = post(f"{server.url}gradio_api/call/{name}", {"data": data}, timeout)
    if status != 200:
        return status, "refused", json.loads(body)
    event_id = json.loads(body)["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/{name}/{event_id}", timeout=timeout) as r:
        text = r.read().decode()
    event, data_line = None, None
    for line in text.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data_line = line[6:]
    return 200, event or "", json.loads(data_line) if data_line else None


def upload(server, path: Path) -> dict:
    """POST the file to /gradio_api/upload (multipart) and return its FileData."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{server.url}gradio_api/upload", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        (cached,) = json.loads(r.read())
    return {"path": cached, "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def good_data(name: str, files: dict[str, object]) -> list:
    return [METHOD[name] if slot is None else files.get(slot) for slot in SLOTS[name]]


@pytest.fixture(scope="module")
def uploaded(server):
    return {k: upload(server, p) for k, p in GEOMETRIC.items()}


def assert_refused(status: int, event: str, payload: object, secret_bits: list[str]) -> None:
    assert status == 422 and event == "refused", (status, event, payload)
    assert payload["error"] == REFUSED
    assert [d["message"] for d in payload["detail"]] == [REFUSED]
    text = json.dumps(payload)
    for bit in secret_bits:
        assert bit not in text


@pytest.mark.parametrize("name", list(SLOTS))
@pytest.mark.parametrize("slot", ["person", "cloth", "pose", "parse", "cloth_mask"])
def test_server_paths_in_every_form_are_refused_with_one_message(server, targets, uploaded, name, slot):
    answers = set()
    for label, path in targets.items():
        for form, value in forms(path).items():
            data = good_data(name, {**uploaded, slot: value})
            t0 = time.monotonic()
            status, event, payload = call(server, name, data, timeout=20)
            assert time.monotonic() - t0 < 10, (label, form)  # refused at once, nothing opened
            assert_refused(status, event, payload, [path, Path(path).name, "exist", "folder", "not an image"])
            answers.add(json.dumps(payload, sort_keys=True))
    assert len(answers) == 1  # the same answer whatever the path names: no oracle of the server's files


def test_the_page_private_events_refuse_server_paths_by_fn_index(server, targets):
    """show_views puts the person photo into the before/after slider; called by fn_index with a server path it
    must not hand that file back."""
    config = json.loads(urllib.request.urlopen(f"{server.url}config", timeout=30).read())
    comps = {c["id"]: c for c in config["components"]}
    checked = 0
    for index, dep in enumerate(config["dependencies"]):
        kinds = [comps[i]["type"] for i in dep["inputs"]]
        if "image" not in kinds:
            continue
        for path in (targets["secret image"], targets["example by absolute path"]):
            for value in (path, {"path": path}, {"path": path, "meta": {"_type": "gradio.FileData"}}):
                data = [value if k == "image" else None for k in kinds]
                payload = {"data": data, "fn_index": dep.get("id", index), "session_hash": uuid.uuid4().hex[:10],
                           "event_data": None, "trigger_id": None}
                status, body = post(f"{server.url}gradio_api/queue/join", payload)
                assert status == 422, (index, kinds, status, body[:300])
                assert json.loads(body)["error"] == REFUSED
                checked += 1
    assert checked >= 6


def test_uploads_run_and_the_result_is_made_from_them(server, uploaded):
    status, event, data = call(server, "tryon", good_data("tryon", uploaded))
    assert (status, event) == (200, "complete"), data
    summary = data[3]
    assert summary["inputs_sha256"]["person"] == hashlib.sha256(GEOMETRIC["person"].read_bytes()).hexdigest()
    assert summary["inputs_sha256"]["cloth"] == hashlib.sha256(GEOMETRIC["cloth"].read_bytes()).hexdigest()


@pytest.mark.parametrize("name", list(SLOTS))
def test_shipped_examples_named_by_file_name_run(server, name):
    files = {k: p.name for k, p in GEOMETRIC.items()}
    status, event, data = call(server, name, good_data(name, files))
    assert (status, event) == (200, "complete"), data


def test_a_fifo_request_does_not_stall_another_clients_valid_request(server, targets, uploaded):
    fifo = targets["fifo"]
    stalled: list[object] = []

    def attacker() -> None:
        for value in forms(fifo).values():
            stalled.append(call(server, "tryon", good_data("tryon", {**uploaded, "person": value}), timeout=60))

    t = threading.Thread(target=attacker)
    t.start()
    t0 = time.monotonic()
    status, event, data = call(server, "tryon", good_data("tryon", uploaded), timeout=120)
    elapsed = time.monotonic() - t0
    t.join(60)
    assert not t.is_alive()
    assert (status, event) == (200, "complete"), data
    assert elapsed < 60
    assert [s[:2] for s in stalled] == [(422, "refused")] * len(forms(fifo))


def test_a_huge_method_string_is_never_echoed(server, uploaded):
    for n in (100_000, 1_000_000):
        status, event, data = call(server, "tryon", [*good_data("tryon", uploaded)[:2], "m" * n,
                                                      *good_data("tryon", uploaded)[3:]])
        assert (status, event) == (200, "error")
        assert "unknown method" in data["error"] and len(json.dumps(data)) < 2000
    # a body over the cap is refused from its Content-Length, before one byte of it is sent
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/gradio_api/call/tryon")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 10))
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    assert r.status == 413 and len(body) < 500 and b"request body" in body


@pytest.mark.parametrize("slot", ["pose", "parse", "cloth_mask"])
def test_a_raw_path_for_an_annotation_gets_a_message_not_a_null_error(server, uploaded, slot):
    status, event, payload = call(server, "tryon", good_data("tryon", {**uploaded, slot: str(GEOMETRIC[slot])}))
    assert status == 422 and payload["error"] == REFUSED


@pytest.mark.parametrize("n", [0, 1, 5])
def test_a_call_with_too_few_values_gets_a_message(server, n):
    status, event, payload = call(server, "tryon", ["geometric"] * n)
    assert status == 422 and "takes 6 values" in payload["error"] and f"carries {n}" in payload["error"]


def test_the_file_route_serves_no_server_file_outside_the_examples(server, targets):
    root = Path(__file__).resolve().parents[1]
    for path in (targets["secret image"], "/etc/passwd", str(root / "app.py"), str(root / "examples" / ".." /
                 "app.py"), str(Path(targets["secret image"]).parent / ".." / "secret.png")):
        try:
            with urllib.request.urlopen(f"{server.url}gradio_api/file={path}", timeout=30) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        assert status in (403, 404), (path, status)
    with urllib.request.urlopen(f"{server.url}gradio_api/file={GEOMETRIC['person']}", timeout=30) as r:
        assert r.read() == GEOMETRIC["person"].read_bytes()  # the shipped examples are public


def test_the_editors_nested_files_are_checked_too(server, targets):
    """The page's re-run event takes the parse and mask editors, whose values nest files (background, layers,
    composite): a server path in any of them is refused like a top-level one."""
    config = json.loads(urllib.request.urlopen(f"{server.url}config", timeout=30).read())
    comps = {c["id"]: c for c in config["components"]}
    deps = [(i, d) for i, d in enumerate(config["dependencies"])
            if any(comps[c]["type"] == "imageeditor" for c in d["inputs"])]
    assert deps
    path = targets["secret image"]
    for index, dep in deps:
        for nested in ({"background": path}, {"composite": {"path": path}}, {"layers": [path]},
                       {"layers": [{"path": path, "meta": {"_type": "gradio.FileData"}}]}):
            data = [dict(nested, id=None) if comps[c]["type"] == "imageeditor" else None for c in dep["inputs"]]
            payload = {"data": data, "fn_index": dep.get("id", index), "session_hash": uuid.uuid4().hex[:10],
                       "event_data": None, "trigger_id": None}
            status, body = post(f"{server.url}gradio_api/queue/join", payload)
            assert status == 422 and json.loads(body)["error"] == REFUSED, (nested, status, body[:200])
