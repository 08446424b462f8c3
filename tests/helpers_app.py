"""Launch ``app.py`` in a subprocess on a free 127.0.0.1 port and wait for it; shared by the app tests.

``shared_app()`` starts one app per test process, with RANDOM weights for every method that has networks generated
into a temporary weights folder (full size; the images are noise but every stage is produced), and stops it at
exit. ``AppServer`` starts any other
configuration (the offline test uses an empty weights folder).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "test-artifacts"

# the geometric example (listed first in examples/examples.json): runs with nothing downloaded
GEOMETRIC = {
    "person": EXAMPLES / "geometric_person.png",
    "cloth": EXAMPLES / "geometric_cloth.png",
    "pose": EXAMPLES / "geometric_person_keypoints.json",
    "parse": EXAMPLES / "geometric_person_parse.png",
    "cloth_mask": EXAMPLES / "geometric_cloth_mask.png",
}

# one example pair with every annotation it needs (so no pose / parsing weights are used)
EXAMPLE = {
    "person": EXAMPLES / "person.png",
    "cloth": EXAMPLES / "cloth_tshirt.png",
    "pose": EXAMPLES / "person_keypoints.json",
    "parse": EXAMPLES / "person_parse.png",
    "cloth_mask": EXAMPLES / "cloth_tshirt_mask.png",
}

# How long the browser tests wait, on the app's own readiness signals (never a fixed sleep). CI runs on small shared
# machines: under a load average of 5–7 on 2 cores an upload that takes a second on an idle machine took over 60 s,
# so the limits are far above any idle timing and only bound a hung app. VTON_TEST_WAIT_SCALE multiplies them.
_SCALE = float(os.environ.get("VTON_TEST_WAIT_SCALE", "1") or 1)
UI_WAIT_MS = int(300_000 * _SCALE)  # an element the page shows once the server answered (upload, example click)
RUN_WAIT_MS = int(900_000 * _SCALE)  # a pipeline run or a comparison (idle: seconds to ~1 minute on 2 CPU cores)
APP_START_S = 600.0 * _SCALE  # app.py imports torch and gradio and writes its examples before it serves

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(**extra: str) -> dict[str, str]:
    """The environment the app runs in for tests: no Hub, no analytics, nothing from the developer's weights."""
    env = {k: v for k, v in os.environ.items() if k not in ("VTON_WEIGHTS_DIR", "SPACE_ID")}
    env.update(HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"))
    env.update(extra)
    return env


# Gradio's launch() checks that it reaches its own URL and exits when that fails; its own probe gave up at the first
# request slower than 3 s, which killed the app on a loaded machine although it served (seen at load 12 and 24 on
# 2 cores). vton.web.launch makes that probe patient, so the app must now start on a busy machine: the harness waits
# until the check passed (Gradio then prints one of _LAUNCHED) and takes any exit as a failure. Should the app ever
# launch quietly (no such line), a page that has served for _SELF_CHECK_S is taken as launched.
_LAUNCHED = ("To create a public link", "Running on public URL")
_SELF_CHECK_S = 180.0


class AppServer:
    """``python app.py --weights-dir DIR --host 127.0.0.1 --port N`` as a subprocess; ``url`` once it serves."""

    def __init__(self, weights_dir: Path, *, env: dict[str, str] | None = None, timeout_s: float = APP_START_S,
                 args: list[str] | None = None) -> None:
        self.weights_dir = Path(weights_dir)
        self.args = list(args or [])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = env or app_env()
        self.timeout_s = timeout_s
        self.log_path = Path(tempfile.mkstemp(prefix="vton-app-", suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    def start(self) -> AppServer:
        """Start app.py and return once it serves and Gradio's own start-up check passed (see ``_LAUNCHED``)."""
        cmd = [sys.executable, str(ROOT / "app.py"), "--weights-dir", str(self.weights_dir), "--host", "127.0.0.1",
               "--port", str(self.port), *self.args]
        self._close_log()
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed when the process is stopped
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self._log = log
        deadline = time.monotonic() + self.timeout_s
        served_at: float | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n{self.log()}")
            if served_at is None:
                try:
                    with urllib.request.urlopen(self.url, timeout=30) as r:
                        if r.status == 200:
                            served_at = time.monotonic()
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                    pass
            if served_at is not None and (any(line in self.log() for line in _LAUNCHED)
                                          or time.monotonic() - served_at > _SELF_CHECK_S * _SCALE):
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"app.py did not serve {self.url} within {self.timeout_s:.0f} s:\n{self.log()}")

    def _close_log(self) -> None:
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._close_log()

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_app_weights(folder: Path) -> Path:
    """RANDOM full-size weights of every method with networks in ``folder`` (the examples supply pose and parse,
    so no estimator weights)."""
    from vton.tools.random_weights import write_random_weights

    write_random_weights(folder, seed=0)
    return folder


_shared: AppServer | None = None


def shared_app() -> AppServer:
    """The app with random weights for every method, started once per test process and stopped at exit."""
    global _shared
    if _shared is None:
        folder = Path(tempfile.mkdtemp(prefix="vton-app-weights-"))
        make_app_weights(folder)
        server = AppServer(folder)

        def cleanup() -> None:
            server.stop()
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(cleanup)
        _shared = server.start()
    return _shared


# ------------------------------------------------------------------------------------------ waiting in the page

# an error the app raised (gr.Error) is shown as an error toast; a failed run says so in its status line
_ERROR_TOAST = ".toast-body.error"
FAILED = "Failed:"


def _failure(page, selector: str, text: str) -> str:
    """The app's error shown in the page (a toast, or ``selector`` saying "Failed:" when ``text`` is not what the
    caller waits for), or ''."""
    toast = page.locator(_ERROR_TOAST)
    if toast.count():
        return toast.first.inner_text()
    shown = page.locator(selector).inner_text()
    return shown if FAILED in shown and not text.startswith("Failed") else ""


def new_page(browser, **kwargs):
    """A page whose default wait is ``UI_WAIT_MS``."""
    page = browser.new_page(**kwargs)
    page.set_default_timeout(UI_WAIT_MS)
    return page


def wait_uploaded(page, elem_id: str, path: Path) -> None:
    """Wait until the file component ``#elem_id`` lists ``path``: it does once the upload request returned."""
    page.locator(f"#{elem_id} .file-preview").get_by_text(path.stem).first.wait_for(state="visible",
                                                                                   timeout=UI_WAIT_MS)


def wait_image(page, elem_id: str) -> None:
    """Wait until the image component ``#elem_id`` shows its (uploaded or example) image."""
    page.locator(f"#{elem_id} img").first.wait_for(state="visible", timeout=UI_WAIT_MS)


def wait_status(page, text: str, selector: str = "#status", timeout_ms: int = RUN_WAIT_MS) -> None:
    """Wait until ``selector`` shows ``text`` (e.g. "Done"); fail at once, with the app's message, if the app shows
    an error instead — a run that failed must not look like a slow one. After a click that starts a run, use
    :func:`click_and_wait`: a status left over from the previous run already shows ``text``."""
    page.wait_for_function(
        """([sel, text, toast, failed]) => {
            const el = document.querySelector(sel);
            const shown = el ? el.innerText : "";
            return shown.includes(text) || document.querySelector(toast) !== null
                || (!text.startsWith("Failed") && shown.includes(failed));
        }""",
        arg=[selector, text, _ERROR_TOAST, FAILED], timeout=timeout_ms, polling=250)
    error = _failure(page, selector, text)
    if error:
        raise AssertionError(f"the app showed an error while waiting for {text!r} in {selector}: {error}")


def click_and_wait(page, button: str, text: str, status: str = "#status", timeout_ms: int = RUN_WAIT_MS) -> None:
    """Click ``button`` and wait until ``status`` shows ``text`` *from this run*.

    The app first clears the status ("Running…") and then writes the result, so if the status shows ``text`` before
    the click (the previous run's "Done"), the wait also requires that the status was seen without ``text`` since
    the click (a MutationObserver records it: a fast run cannot slip between two polls). Fails at once on an error.
    """
    page.evaluate(
        """([sel, text, failed]) => {
            const el = document.querySelector(sel);
            if (window.__vtonStatusObserver) window.__vtonStatusObserver.disconnect();
            window.__vtonStatusCleared = !el.innerText.includes(text);
            window.__vtonFailCleared = !el.innerText.includes(failed);
            window.__vtonStatusObserver = new MutationObserver(() => {
                if (!el.innerText.includes(text)) window.__vtonStatusCleared = true;
                if (!el.innerText.includes(failed)) window.__vtonFailCleared = true;
            });
            window.__vtonStatusObserver.observe(el, {subtree: true, childList: true, characterData: true});
        }""",
        [status, text, FAILED])
    page.locator(button).click()
    page.wait_for_function(
        """([sel, text, toast, failed]) => {
            const el = document.querySelector(sel);
            const done = window.__vtonStatusCleared && el.innerText.includes(text);
            const fail = !text.startsWith("Failed") && window.__vtonFailCleared && el.innerText.includes(failed);
            return done || fail || document.querySelector(toast) !== null;
        }""",
        arg=[status, text, _ERROR_TOAST, FAILED], timeout=timeout_ms, polling=250)
    page.evaluate("() => window.__vtonStatusObserver && window.__vtonStatusObserver.disconnect()")
    error = _failure(page, status, text)
    if error:
        raise AssertionError(f"the app showed an error after clicking {button} (waiting for {text!r} in {status}): "
                             f"{error}")
