"""What the page says while and after a method runs: progress text, error messages, and the status line of a run.

Serves the app of this project (``app.py``): every failure becomes a short message in the page (a ``VtonError`` as
written, with server paths cut to their last part), never a traceback.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from vton.errors import VtonError
from vton.run import Progress

__all__ = ["step_name", "progress_desc", "weights_progress", "user_message", "first_clause", "run_status",
           "Failures", "MAX_MESSAGE_CHARS", "WEIGHTS_STEP"]

log = logging.getLogger(__name__)

WEIGHTS_STEP = "weights:"  # progress keys of first-use downloads and conversions: "weights:<what is happening>"


def step_name(key: str) -> str:
    """A pipeline progress key as words for the progress bar (from the cards' step labels)."""
    from vton import methods

    if key.startswith(WEIGHTS_STEP):
        return key[len(WEIGHTS_STEP):]
    if key.startswith("load_"):
        return f"loading the {key[5:]} weights"
    for c in methods.cards():
        for st in c.steps:
            if st.key == key:
                return st.label
    return key.replace("_", " ")


def progress_desc(key: str, done: int, total: int) -> str:
    """The progress bar's text: "3/12 · <step>", or for a first-use download "<what> · 56/117 MB"."""
    if key.startswith(WEIGHTS_STEP) and total > 1:
        return f"{step_name(key)} · {done / 1e6:.0f}/{total / 1e6:.0f} MB"
    if key.startswith(WEIGHTS_STEP):
        return step_name(key)
    return f"{done}/{total} · {step_name(key)}"


def weights_progress(progress: Progress | None):
    """``vton.weights.progress_to`` reporter that forwards first-use downloads and conversions to ``progress``
    (keys ``weights:<text>``; bytes while downloading)."""
    if progress is None:
        return None

    def report(text: str, done: float, total: float) -> None:
        progress(WEIGHTS_STEP + text, int(done), int(total))

    return report


MAX_MESSAGE_CHARS = 1500  # the longest message the page or the API shows


# an absolute server path (not part of a URL or of a Hub repo name): shown as its last part
_PATHS = re.compile(r"(?<![\w:/.~-])(?:[A-Za-z]:)?/(?:[^\s/'\"`()<>]+/)+[^\s/'\"`()<>,;]*")


_INTERNAL = re.compile(r"\s*\((?:MAX|MIN)_[A-Z_]+\)")


def user_message(exc: BaseException) -> str:
    """The message shown in the page (Markdown): a ``VtonError`` as written, with server paths cut to their last
    part and internal constant names left out (URLs, repo names and commands stay whole); anything else short
    (the traceback is logged)."""
    if isinstance(exc, VtonError):
        text = str(exc)
        if len(text) > MAX_MESSAGE_CHARS:  # no caller's value comes back unbounded
            text = text[:MAX_MESSAGE_CHARS] + " …"

        def short(m: re.Match) -> str:
            name = m.group(0).rstrip("/").rsplit("/", 1)[-1]
            return name or "the folder"

        return _INTERNAL.sub("", _PATHS.sub(short, text))
    log.error("unexpected error in the app", exc_info=exc)
    return (f"Something went wrong inside vton ({type(exc).__name__}). The server log has the details; "
            "please report it with the inputs that caused it.")


def first_clause(message: str, limit: int = 160) -> str:
    """The first clause of a message (up to its first full stop or parenthesis), at most ``limit`` characters: the
    one line a compare column or a readiness line shows."""
    head = re.split(r"(?<=[a-z0-9)])\.\s|\s\(", message.strip(), maxsplit=1)[0]
    return head if len(head) <= limit else head[: limit - 1] + "…"



def run_status(result: Any, head: str = "Done") -> str:
    """The status line of a finished run: time, device, where each annotation came from, cached steps, warnings,
    and a loud note when the weights are RANDOM or unverified."""
    total = sum(result.timings.values())
    prov = result.provenance
    notes = ""
    if prov["random_weights"]:
        notes += " — **RANDOM test weights: the images are noise**"
    if prov["unverified_weights"]:
        notes += f" — **unverified weights: {', '.join(prov['unverified_weights'])}**"
    cached = f"; cached: {', '.join(prov['cached_steps'])}" if prov["cached_steps"] else ""
    warnings = "".join(f"\n\n⚠ **Warning:** {w}" for w in prov.get("warnings", ()))
    return (f"**{head}** with {result.card.title} in {total:.2f} s on {prov['device']}; "
            + ", ".join(f"{k}: {v}" for k, v in result.sources.items()) + cached + notes + warnings)


class Failures:
    """The last error message of each browser session, for the status line after a failed run (the API client gets
    the error itself)."""

    def __init__(self, size: int = 256) -> None:
        self._by_session: dict[str, str] = {}
        self._size = size

    def put(self, request: Any, message: str) -> None:
        key = getattr(request, "session_hash", None)
        if key is None:
            return
        self._by_session.pop(key, None)
        self._by_session[key] = message
        while len(self._by_session) > self._size:
            self._by_session.pop(next(iter(self._by_session)))

    def take(self, request: Any) -> str:
        return self._by_session.pop(getattr(request, "session_hash", None), "") or "the run failed (see the log)"
