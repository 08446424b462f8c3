"""Running methods for the page: uploads to pipeline calls, the kept pipelines, and the runs of one request.

Serves the app of this project (``app.py``); nothing here draws or touches tensors. A request resolves its method id
to a card once (``methods.card``) and passes the card on; the pipelines are built lazily and kept per (method,
weights folder), bounded by count and by the bytes of their loaded weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vton.errors import InputError, VtonError
from vton.methods.base import MethodCard
from vton.run import Progress
from vton.web.messages import weights_progress

__all__ = ["Uploads", "upload_path", "pipeline", "preprocessor", "release_memory", "run_tryon", "run_preprocess",
           "run_compare", "card_of", "MAX_PIPELINES", "MAX_PIPELINE_BYTES", "MAX_PREPROCESSORS"]


@dataclass(frozen=True)
class Uploads:
    """The files of one request, as server paths (None when not given)."""

    person: Path | None
    cloth: Path | None
    pose: Path | None = None
    parsing: Path | None = None
    cloth_mask: Path | None = None

    def require_photos(self) -> None:
        missing = [what for what, p in (("person photo", self.person), ("garment photo", self.cloth)) if p is None]
        if missing:
            raise InputError(f"Upload a {' and a '.join(missing)} first (or click one of the examples).")

    def annotations(self) -> dict[str, Path | None]:
        """Keyword arguments for the pipeline: the supplied annotations (None → estimated or computed)."""
        return {"pose": self.pose, "parsing": self.parsing, "cloth_mask": self.cloth_mask}

    def supplied(self) -> set[str]:
        return {k for k, v in self.annotations().items() if v is not None}


def upload_path(value: Any) -> Path | None:
    """The server path of an upload as Gradio hands it over without preprocessing (``vton.web.inputs``).

    Args:
        value: ``None``, a path string, or a Gradio ``FileData``/``ImageData`` dict (``{"path": ..., ...}``).

    Raises:
        InputError: the path is not a regular file in Gradio's upload folder nor a shipped example (one message,
            ``vton.web.inputs.REFUSED``, whatever the path names).
    """
    from vton.web.inputs import checked_upload

    return checked_upload(value)


MAX_PIPELINES = 8  # TryOnPipelines kept (one per method and weights folder), least recently used first out


MAX_PIPELINE_BYTES = 3 * 1024**3  # and at most this many bytes of loaded network weights among them


MAX_PREPROCESSORS = 2  # Preprocessors (estimators + person/garment caches) kept, one per weights folder


_pipelines: OrderedDict[tuple[str, str | None], Any] = OrderedDict()


_preprocessors: OrderedDict[str | None, Any] = OrderedDict()


_pipelines_lock = threading.Lock()


def _weight_bytes(pipe: Any) -> int:
    """Bytes of the parameters and buffers of a pipeline's loaded networks (0 before its first run)."""
    total = 0
    for net in getattr(pipe.method, "nets", {}).values():
        for t in (*net.parameters(), *net.buffers()):
            total += t.numel() * t.element_size()
    return total


def _evict_pipelines(keep: tuple[str, str | None]) -> None:
    """Drop least recently used pipelines beyond ``MAX_PIPELINES`` or ``MAX_PIPELINE_BYTES`` (never ``keep``)."""
    while len(_pipelines) > MAX_PIPELINES or (
            len(_pipelines) > 1 and sum(_weight_bytes(p) for p in _pipelines.values()) > MAX_PIPELINE_BYTES):
        oldest = next(k for k in _pipelines if k != keep)
        del _pipelines[oldest]


def preprocessor(weights_dir: str | Path | None):
    """The shared ``Preprocessor`` (estimators + content cache) of ``weights_dir`` (at most ``MAX_PREPROCESSORS``
    kept)."""
    from vton.preprocess.runner import Preprocessor

    key = str(weights_dir) if weights_dir else None
    with _pipelines_lock:
        if key not in _preprocessors:
            _preprocessors[key] = Preprocessor(weights_dir)
            while len(_preprocessors) > MAX_PREPROCESSORS:
                _preprocessors.popitem(last=False)
        _preprocessors.move_to_end(key)
        return _preprocessors[key]


def card_of(method: Any) -> MethodCard:
    """The card of a method id (a clear ``InputError`` for an unknown id or a non-string); a card is returned as is."""
    from vton import methods

    return method if isinstance(method, MethodCard) else methods.card(method)


def pipeline(method: MethodCard | str, weights_dir: str | Path | None):
    """The ``TryOnPipeline`` for ``method`` (a card or an id) and ``weights_dir``, built on first use and kept
    (bounded by ``MAX_PIPELINES`` entries and ``MAX_PIPELINE_BYTES`` of weights)."""
    from vton.pipeline import TryOnPipeline

    card = card_of(method)
    pre = preprocessor(weights_dir)
    key = (card.id, str(weights_dir) if weights_dir else None)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = TryOnPipeline(card.id, weights_dir=weights_dir, device=None, preprocessor=pre)
        _pipelines.move_to_end(key)
        _evict_pipelines(key)
        return _pipelines[key]


def release_memory() -> None:
    """After a job: collect garbage and hand freed heap pages back to the system (glibc ``malloc_trim``), so an
    idle server's resident memory falls back instead of staying at its peak."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        pass


def run_tryon(method: MethodCard | str, uploads: Uploads, weights_dir: str | Path | None,
              progress: Progress | None = None, **edits: Any):
    """Run the whole chain on the uploads; returns the ``TryOnResult``.

    ``edits`` (``person``, ``cloth``, ``pose``, ``parsing``, ``cloth_mask`` as objects) replace the uploads' files:
    the page's re-run after an edit.
    """
    uploads.require_photos()
    inputs = {"person": uploads.person, "cloth": uploads.cloth, **uploads.annotations()}
    inputs.update({k: v for k, v in edits.items() if v is not None})
    from vton.weights import progress_to

    try:
        with progress_to(weights_progress(progress)):
            return pipeline(method, weights_dir)(progress=progress, **inputs)
    finally:
        release_memory()


def run_preprocess(uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None,
                   method: MethodCard | str | None = None):
    """The preprocessing ``method`` needs (default: the method that needs the most); returns ``Preprocessed``."""
    from vton import methods

    if method is None:
        method = max(methods.cards(), key=lambda c: len(c.needs))
    uploads.require_photos()
    try:
        return pipeline(method, weights_dir).preprocess(uploads.person, uploads.cloth, progress=progress,
                                                        **uploads.annotations())
    finally:
        release_memory()


def run_compare(method_ids: list[str], uploads: Uploads, weights_dir: str | Path | None,
                progress: Progress | None = None) -> list[tuple[MethodCard, Any]]:
    """Run each method on the same uploads, one after another; ``[(card, TryOnResult or VtonError)]``.

    The methods share the preprocessor of ``weights_dir`` (one content cache), so the second method reuses the
    pose, parsing and framing the first computed (its stages say "cached"). A method that fails (missing weights,
    a pose it cannot use) gives its error in its place; the others still run.
    """
    uploads.require_photos()
    if not method_ids:
        raise InputError("choose at least one method to compare")
    cards: list[MethodCard] = []
    for m in method_ids:
        c = card_of(m)
        if c.id not in [x.id for x in cards]:
            cards.append(c)
    out: list[tuple[MethodCard, Any]] = []
    for i, c in enumerate(cards):
        def report(key: str, done: int, total: int, i: int = i) -> None:
            if progress is not None:
                progress(key, i * 1000 + int(1000 * done / max(total, 1)), 1000 * len(cards))

        try:
            out.append((c, run_tryon(c, uploads, weights_dir, report)))
        except VtonError as e:
            out.append((c, e))
    return out

