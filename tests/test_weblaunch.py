"""The app's start-up probe waits out a slow first answer (a loaded machine) instead of exiting."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from vton.web import launch as weblaunch


class _SlowFirstAnswer(http.server.BaseHTTPRequestHandler):
    delay = 0.0
    answered = 0

    def do_HEAD(self):  # noqa: N802 - the name http.server dispatches to
        cls = type(self)
        if cls.answered == 0:
            time.sleep(cls.delay)
        cls.answered += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_server():
    handler = type("Handler", (_SlowFirstAnswer,), {"delay": 4.0, "answered": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", handler
    server.shutdown()


def test_gradios_probe_gives_up_on_a_first_answer_slower_than_3_s(slow_server):
    from gradio import networking

    url, _ = slow_server
    assert networking.url_ok(url) is False  # why the app died on a busy machine


def test_patient_probe_accepts_a_slow_first_answer(slow_server):
    url, handler = slow_server
    assert weblaunch.patient_url_ok(url, seconds=60) is True
    assert handler.answered >= 1


def test_patient_probe_still_fails_when_nothing_answers():
    import socket

    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert weblaunch.patient_url_ok(f"http://127.0.0.1:{port}/", seconds=1.0) is False


def test_launch_restores_gradios_probe_afterwards():
    from gradio import networking

    before = networking.url_ok
    with weblaunch._patient_startup_probe():
        assert networking.url_ok is weblaunch.patient_url_ok
    assert networking.url_ok is before
