"""Serving a Gradio app that starts on a busy machine too, with vton's input guard in front of it.

Gradio's ``Blocks.launch`` probes its own local URL once the server runs (``gradio.networking.url_ok``) and exits
with "When localhost is not accessible, a shareable link must be created" when that probe fails. The probe gives up
on the *first* request that takes longer than 3 s, which happens on a loaded CPU (a Space starting next to other
work, CI beside another job): the app then dies although it serves. ``launch`` keeps the probe but makes it
patient: it asks again until ``STARTUP_PROBE_SECONDS`` have passed, so a slow first answer is not taken for an
unreachable host, while a host that never answers still fails as Gradio intends.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator
from typing import Any

from vton.web import inputs as webinputs

__all__ = ["STARTUP_PROBE_SECONDS", "launch", "patient_url_ok"]

STARTUP_PROBE_SECONDS = 180.0  # how long the start-up probe may wait for the local server's first answer
_OK_STATUS = (200, 301, 302, 303, 307, 308, 401)  # the statuses Gradio's own probe accepts


def patient_url_ok(url: str, *, seconds: float = STARTUP_PROBE_SECONDS) -> bool:
    """True once ``url`` answers a HEAD request with a status Gradio accepts; False after ``seconds`` without one.

    Each request may take up to 30 s; a timeout or a refused connection is retried (Gradio's probe stops there).
    """
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore")
                if httpx.head(url, timeout=30, verify=False).status_code in _OK_STATUS:
                    return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


@contextlib.contextmanager
def _patient_startup_probe() -> Iterator[None]:
    from gradio import networking

    original = networking.url_ok
    networking.url_ok = patient_url_ok
    try:
        yield
    finally:
        networking.url_ok = original


def launch(blocks: Any, **kwargs: Any) -> Any:
    """``blocks.launch(**kwargs)`` behind ``webinputs.InputGuard``, with the patient start-up probe."""
    with _patient_startup_probe():
        return blocks.launch(app_kwargs=webinputs.app_kwargs(blocks), **kwargs)
