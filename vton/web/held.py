"""The runs the page holds: each visitor's last run (and last comparison) kept on the server, found through a token
in the visitor's ``gr.State``.

Serves the app of this project (``app.py``); the pattern is FastChat's per-visitor state (lm-sys/FastChat,
``fastchat/serve/gradio_web_server.py``), with the heavy part kept server-side and bounded. Editing, the views, the
quality readout and the comparison read the held ``TryOnResult`` / ``Preprocessed`` and the stage files written for
it by stage key: nothing is read back from the browser, matched by position or computed again.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vton.methods.base import MethodCard
from vton.web.galleries import StageFiles
from vton.web.running import Uploads

__all__ = ["HeldRun", "HeldCompare", "RunStore", "MAX_HELD", "MAX_HELD_BYTES", "light"]

MAX_HELD = 32  # runs and comparisons kept at once (all visitors together), least recently used first out
MAX_HELD_BYTES = 1024**3  # and at most this many bytes of stage images and photos among them


@dataclass(frozen=True)
class HeldRun:
    """One run as the page keeps it.

    Attributes:
        card: the method's card (resolved once, when the request came in).
        uploads: the files the run read (an edit re-runs on these).
        files: the stage PNGs shown, by stage key.
        stages: the stage images by key, in memory (the overlay and the quality readout read them).
        pre: the run's ``Preprocessed`` without its person cache (None after a refusal, and in a comparison).
        pasted: the path of the pasted try-on PNG shown; None for preprocessing only or a refusal.
        summary: the run summary shown (``TryOnResult.summary()``; the preprocessing's for preprocessing only).

    The ``TryOnResult`` itself is not held (its tensors are not needed again), nor the person features cached with
    the preprocessing (the preprocessor's cache bounds those).
        error: the refusal's message, when the method refused after computing ``stages``.
    """

    card: MethodCard
    uploads: Uploads
    files: StageFiles
    stages: Mapping[str, np.ndarray]
    pre: Any = None
    pasted: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class HeldCompare:
    """One comparison: per method (in the order run) its held run, or the message of its error."""

    runs: Mapping[str, HeldRun] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    cards: tuple[MethodCard, ...] = ()


class RunStore:
    """Held runs by ``(token, kind)``: the token is the visitor's ``gr.State`` value, ``kind`` "run" or "compare".

    Bounded: at most ``size`` entries and ``max_bytes`` of images, the least recently used dropped first (a visitor
    whose run was dropped is asked to run again). An API call carries no token and holds nothing.
    """

    def __init__(self, size: int = MAX_HELD, max_bytes: int = MAX_HELD_BYTES) -> None:
        self._held: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._bytes: dict[tuple[str, str], int] = {}
        self._size, self._max_bytes = size, max_bytes
        self._lock = threading.Lock()

    @staticmethod
    def new_token(token: str | None = None) -> str:
        """``token`` if the visitor has one, else a fresh one."""
        return token if isinstance(token, str) and token else uuid.uuid4().hex

    def put(self, token: str | None, kind: str, value: Any) -> None:
        if not token:
            return
        with self._lock:
            self._held.pop((token, kind), None)
            self._held[(token, kind)] = value
            self._bytes[(token, kind)] = _nbytes(value)
            while len(self._held) > 1 and (len(self._held) > self._size
                                           or sum(self._bytes[k] for k in self._held) > self._max_bytes):
                self._bytes.pop(self._held.popitem(last=False)[0], None)

    def get(self, token: str | None, kind: str) -> Any:
        if not token:
            return None
        with self._lock:
            value = self._held.get((token, kind))
            if value is not None:
                self._held.move_to_end((token, kind))
            return value

    def take(self, token: str | None, kind: str) -> Any:
        """The held value, no longer held."""
        if not token:
            return None
        with self._lock:
            self._bytes.pop((token, kind), None)
            return self._held.pop((token, kind), None)

    def __len__(self) -> int:
        return len(self._held)


def light(pre: Any) -> Any:
    """``pre`` without the person features methods cached with it (``Preprocessed.person_cache``): the page's
    edits need only the annotations, the framing and the garment."""
    try:
        return dataclasses.replace(pre, person_cache={})
    except (TypeError, ValueError):  # a preprocessing record without that cache
        return pre


def _nbytes(value: Any) -> int:
    """Bytes of the images a held value keeps: its stage images and its photo."""
    runs = value.runs.values() if isinstance(value, HeldCompare) else [value]
    total = 0
    for run in runs:
        total += sum(np.asarray(a).nbytes for a in run.stages.values())
        photo = getattr(run.pre, "photo", None)
        if photo is not None:
            total += photo.size[0] * photo.size[1] * len(photo.getbands())
    return total
