"""The Hugging Face Hub as vton uses it: one reachability check per process (``hub_mode``), the offline state and
its wording, and where first-use downloads and conversions report their progress (``progress_to``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
from collections.abc import Callable, Iterator

__all__ = ["HUB_CHECK_TIMEOUT_S", "hub_mode", "hub_offline", "offline_reason", "offline_setting", "progress_to",
           "say", "tqdm_class", "first_line"]

log = logging.getLogger(__name__)

HUB_CHECK_TIMEOUT_S = 1.5  # one TCP connect to the Hub's host; longer means "unreachable"
_hub_mode: dict[str, str | None] = {"mode": None}


def offline_setting() -> bool:
    """True when the user set ``HF_HUB_OFFLINE`` (in the environment or in huggingface_hub's constants)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return True
    return bool(constants.HF_HUB_OFFLINE) and _hub_mode["mode"] != "unreachable"


def _hub_address() -> tuple[str, int]:
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_mode(check: bool = True) -> str | None:
    """How this process uses the Hub, decided once: ``"set"`` (``HF_HUB_OFFLINE`` is set), ``"unreachable"`` (one
    TCP connect to the Hub's host, ``HF_ENDPOINT``, failed within ``HUB_CHECK_TIMEOUT_S``: offline for the rest of
    the run, so nothing waits on retries) or ``"online"``. With ``check=False`` an undecided mode is None."""
    if offline_setting():
        return "set"
    if _hub_mode["mode"] is None and check:
        import socket

        try:
            with socket.create_connection(_hub_address(), timeout=HUB_CHECK_TIMEOUT_S):
                mode = "online"
        except OSError:
            mode = "unreachable"
            log.info("the Hugging Face Hub cannot be reached: working offline for this run")
        _hub_mode["mode"] = mode
        if mode == "unreachable":
            from huggingface_hub import constants

            constants.HF_HUB_OFFLINE = True  # huggingface_hub itself then fails at once instead of retrying
    return _hub_mode["mode"]


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set or the one reachability check of this process (``hub_mode``) failed."""
    return offline_setting() or _hub_mode["mode"] == "unreachable"


def offline_reason() -> str:
    """Why nothing can be downloaded, for messages (only says to unset ``HF_HUB_OFFLINE`` when it is set)."""
    if offline_setting():
        return "HF_HUB_OFFLINE=1 is set (offline mode)"
    return "the Hugging Face Hub cannot be reached from this machine (checked once at start)"


_PROGRESS: contextvars.ContextVar[Callable[[str, float, float], None] | None] = contextvars.ContextVar(
    "vton_weights_progress", default=None)


@contextlib.contextmanager
def progress_to(report: Callable[[str, float, float], None] | None) -> Iterator[None]:
    """Within the block, first-use downloads and conversions report to ``report(text, done, total)`` (bytes while
    downloading, 0/1 → 1/1 around a conversion) instead of a console progress bar (the web page's progress)."""
    token = _PROGRESS.set(report)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def say(text: str, done: float = 0, total: float = 1) -> None:
    report = _PROGRESS.get()
    if report is not None:
        report(text, done, total)
    else:  # the command line: one line per phase on stderr (the download itself shows huggingface_hub's bar)
        print(f"vton: {text}", file=sys.stderr, flush=True)


def tqdm_class(text: str):
    """A tqdm class that also forwards the byte counts to the ``progress_to`` reporter (None: the default bar)."""
    report = _PROGRESS.get()
    if report is None:
        return None
    from tqdm.auto import tqdm

    class _Reporting(tqdm):
        _vton_done = 0.0  # counted here: a disabled bar (HF_HUB_DISABLE_PROGRESS_BARS) does not count

        def update(self, n=1):
            out = super().update(n)
            self._vton_done += n or 0
            report(text, float(self._vton_done), float(self.total or 0))
            return out

    return _Reporting


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

