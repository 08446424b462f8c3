"""The web app's glue: uploads and overrides to pipeline calls, the method table, messages and downloads.

``app.py`` builds the Gradio page from these pieces; nothing here draws or touches tensors. The page is built from
the method cards (:mod:`vton.methods`): the shared preprocessing stages first, then each method's stages in the
shared sections (representation, warp, rendering, composition), so rows of different methods align.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, VtonError
from .methods.base import SECTIONS
from .run import NEEDS, Progress

__all__ = [
    "SECTIONS", "Uploads", "upload_path", "pipeline", "preprocessor", "method_table", "method_choices",
    "default_method", "weights_notice", "readiness_banner", "stage_caption", "stage_summaries", "step_name",
    "user_message", "DownloadFolder", "run_tryon", "run_preprocess", "gpu", "server_host", "EXAMPLES_DIR",
    "example_rows", "section_title", "gallery_items", "split_by_section", "png_bytes", "hub_state", "hub_reachable",
    "check_estimators", "example_labels", "examples_note", "runnable_methods", "run_compare", "split_compare",
    "compare_summary", "readiness_lines", "unready_reasons", "short_reason", "HOW_TO_URL", "progress_desc",
    "weights_progress", "weights_sources", "release_memory", "MAX_PIPELINES", "MAX_PIPELINE_BYTES",
    "MAX_PREPROCESSORS",
]

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


WEIGHTS_STEP = "weights:"  # progress keys of first-use downloads and conversions: "weights:<what is happening>"


def step_name(key: str) -> str:
    """A pipeline progress key as words for the progress bar (from the cards' step labels)."""
    from . import methods

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


def section_title(section_id: str) -> str:
    return next((s.title for s in SECTIONS if s.id == section_id), section_id)


# ---------------------------------------------------------------------------------------------------------------
# inputs


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
    """The server path of an upload as Gradio hands it over without preprocessing (``vton.webinputs``).

    Args:
        value: ``None``, a path string, or a Gradio ``FileData``/``ImageData`` dict (``{"path": ..., ...}``).

    Raises:
        InputError: the path is not a regular file in Gradio's upload folder nor a shipped example (one message,
            ``vton.webinputs.REFUSED``, whatever the path names).
    """
    from .webinputs import checked_upload

    return checked_upload(value)


# ---------------------------------------------------------------------------------------------------------------
# pipelines, built lazily and kept per (method, weights folder)

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
    from .pipeline import Preprocessor

    key = str(weights_dir) if weights_dir else None
    with _pipelines_lock:
        if key not in _preprocessors:
            _preprocessors[key] = Preprocessor(weights_dir)
            while len(_preprocessors) > MAX_PREPROCESSORS:
                _preprocessors.popitem(last=False)
        _preprocessors.move_to_end(key)
        return _preprocessors[key]


def pipeline(method: Any, weights_dir: str | Path | None):
    """The ``TryOnPipeline`` for ``method`` and ``weights_dir``, built on first use and kept (bounded by
    ``MAX_PIPELINES`` entries and ``MAX_PIPELINE_BYTES`` of weights)."""
    from . import methods
    from .pipeline import TryOnPipeline

    methods.card(method)  # a clear error for an unknown id or a non-string
    pre = preprocessor(weights_dir)
    key = (method, str(weights_dir) if weights_dir else None)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = TryOnPipeline(method, weights_dir=weights_dir, device=None, preprocessor=pre)
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


# ---------------------------------------------------------------------------------------------------------------
# the method table


def method_table(weights_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per registered method: the card plus weight status (``vton.methods.describe``), the licences of
    the estimators it runs, and ``annotators`` (where the pose / parsing weights are)."""
    from . import methods
    from .weights import availability, hub_offline

    offline = hub_offline()
    status = availability(weights_dir)

    def where(key: str) -> str:
        s = status.get(key, "unknown")
        return f"{s} (offline: cannot download)" if s == "hub" and offline else s

    rows = []
    for c in methods.cards():
        row = methods.describe(c.id, weights_dir)
        row["annotators"] = {n.key: where(n.estimator) for n in NEEDS.values() if n.estimator and n.key in c.needs}
        rows.append(row)
    return rows


def method_choices(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, id)``: the title, the licence and whether the weights are there."""
    out = []
    for r in rows:
        if not r["weights"]:
            state = "training-free, no weights"
        elif r["ready"]:
            state = "weights " + r.get("readiness", "ready")
        else:
            state = "weights missing: " + ", ".join(r["missing"])
        if r["random"]:
            state += " (RANDOM test weights)"
        if r["unverified"]:
            state += " (UNVERIFIED weights)"
        cost = r.get("cost") or {}
        seconds = [row["tryon_s"] for row in (cost.get("devices") or {}).values()]
        if seconds:
            state += f" · ~{min(seconds):.2g} s"
        out.append((f"{r['title']} · {r['licence']} · {state}", r["id"]))
    return out


def default_method(rows: list[dict[str, Any]]) -> str:
    """The first method whose weights are ready, else the first method."""
    return next((r["id"] for r in rows if r["ready"]), rows[0]["id"])


def _md(text: str) -> str:
    """Text safe inside Markdown/HTML: angle brackets and ampersands escaped."""
    return html.escape(text, quote=False)


# ---------------------------------------------------------------------------------------------------------------
# is the Hub reachable? (one quick check per process, in vton.weights: the banner, the table, the runs and the
# messages all read the same answer)

HUB_CHECK_TIMEOUT_S = 1.5  # the longest a first page load can wait on the check (vton.weights.HUB_CHECK_TIMEOUT_S)


def hub_reachable(wait_s: float | None = None) -> bool:
    """True when the Hub can be used by this process: ``HF_HUB_OFFLINE`` not set and the one reachability check
    (``vton.weights.hub_mode``: a TCP connect with a 1.5 s timeout, done once per process) succeeded."""
    from .weights import hub_mode

    return hub_mode() == "online"


def hub_state() -> str:
    """The Hub's state in words, from the one check (``vton.weights.hub_mode``)."""
    from .weights import hub_mode

    mode = hub_mode()
    if mode == "set":
        return "offline (HF_HUB_OFFLINE is set: nothing is downloaded)"
    if mode == "unreachable":
        return "offline (the Hub cannot be reached: nothing can be downloaded)"
    return "online (weights that are not on this machine are downloaded on first use)"


def readiness_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One plain line per method: ready or not, why, and its licence (the page's banner and the terminal)."""
    out = []
    for r in rows:
        if not r["weights"]:
            state = "ready (training-free, no weights)"
        elif r["ready"]:
            state = r.get("readiness") or "ready"
            if r["random"]:
                state += " (RANDOM test weights: the output is noise)"
            if r["unverified"]:
                state += f" (unverified weights: {', '.join(r['unverified'])})"
        else:
            reasons = {r["weights"][n]["status"] for n in r["missing"]}
            why = ("the Hub is offline" if reasons <= {"hub", "mirror"}
                   else "not on this machine and not on the Hub yet")
            state = f"not ready: weights {', '.join(r['missing'])} missing ({why})"
        out.append(f"{r['title']}: {state} · licence: {_short_licence(r['licence'])}")
    return out


def unready_reasons(rows: list[dict[str, Any]]) -> list[str]:
    """"Title: why" for each method that cannot run now (its readiness line without the licence)."""
    return [line.split(": not ready: ", 1)[0] + ": " + line.split(": not ready: ", 1)[1].rsplit(" · licence: ", 1)[0]
            for r, line in zip(rows, readiness_lines(rows), strict=True) if not r["ready"]]


def _short_licence(text: str) -> str:
    """A licence in a few words: up to the first parenthesis or full stop."""
    short = re.split(r"\s\(|\.\s|;", text.strip(), maxsplit=1)[0].rstrip(".")
    return short if len(short) <= 60 else short[:57] + "…"


HOW_TO_URL = "gradio_api/file=" + str(Path(__file__).resolve().parents[1] / "weights" / "README.md")


def readiness_banner(rows: list[dict[str, Any]]) -> str:
    """Markdown for the page: one line per method (ready or not, why, licence), the Hub state and a link to the
    how-to (the commands live in ``weights/README.md`` and ``python -m vton methods``, not on the page)."""
    lines = []
    for line in readiness_lines(rows):
        title, rest = line.split(": ", 1)
        lines.append(f"- **{_md(title)}**: {_md(rest)}")
    lines += [line for r in rows if r["ready"] and (line := weights_sources(r))]  # where downloads come from
    how = ("" if all(r["ready"] for r in rows) else
           f" · [How to get the weights]({HOW_TO_URL}) (or `python -m vton methods`)")
    lines.append(f"\nHub: {hub_state()}{how}")
    return "\n".join(lines)


def weights_sources(row: Mapping[str, Any]) -> str:
    """One banner line for a method whose weights come from somewhere other than the local folder: per network
    where from (e.g. "the authors' release, third-party copy `owner/repo@7f0687b`, ...") and the licence."""
    nets = {n: v for n, v in row.get("weights", {}).items() if v.get("status") != "local"}
    if not nets:
        return ""
    where = "; ".join(f"{n}: {_md(v['source'])}" for n, v in nets.items())
    return f"- **{_md(row['title'])}** weights: {where}. Licence: {_md(row['licence'])}."


def weights_notice(rows: list[dict[str, Any]], weights_dir: str | Path | None) -> str:
    """Markdown: the weights folder in use and, per method, its licence, weights and the estimators it runs."""
    from .weights import hub_mode

    folder = f"`{_md(str(weights_dir))}`" if weights_dir else "none (set `--weights-dir` or `VTON_WEIGHTS_DIR`)"
    lines = [f"**Local weights folder:** {folder} · **Hub:** {'online' if hub_mode() == 'online' else 'offline'}", "",
             "| method | licence | weights | estimators it runs (licence) | cost (bench/bench_costs.py) | status |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        nets = ", ".join(f"{n}: {v['status']}" + ("" if v["verified"] else " (unverified)")
                         for n, v in r["weights"].items()) or "none"
        est = "; ".join(f"{k}: {_md(_short_licence(v))}" for k, v in r["estimator_licences"].items()) or "none"
        status = r.get("readiness", "ready") if r["ready"] else "**missing**"
        if r["random"]:
            status += " (RANDOM test weights: output is noise)"
        cost = _md(r.get("cost_text") or "not measured")
        licence = _md(_short_licence(r["licence"]))
        lines.append(f"| {_md(r['title'])} | {licence} | {nets} | {est} | {cost} | {status} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# running, messages, downloads


def stage_caption(stage: Any) -> str:
    """The caption under a stage image: title, caption and time (or the step it shares, or 'cached')."""
    return f"{stage.title} — {stage.caption} ({stage.time_text()})"


def png_bytes(image: Any) -> bytes:
    """A PIL image as PNG bytes."""
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def stage_summaries(stages: list[Any]) -> list[dict[str, Any]]:
    """JSON rows for the API: key, title, caption, section, step, seconds, shared_with, cached, size."""
    return [s.summary() for s in stages]


def gallery_items(stages: list[Any], downloads: DownloadFolder | None = None) -> list[tuple[Any, str]]:
    """``(image, caption)`` per stage, in card order (the ``/tryon`` gallery).

    With ``downloads`` every image is written as a PNG into a folder of this request's own, and its path is
    returned: concurrent requests never hand Gradio the same file (identical images of two requests would
    otherwise share one cache file, written by one while the other is being sent).
    """
    if downloads is None:
        return [(s.image, stage_caption(s)) for s in stages]
    import io

    from PIL import Image

    files = {}
    for i, s in enumerate(stages):
        buf = io.BytesIO()
        Image.fromarray(s.image).save(buf, format="PNG")
        files[f"{i:02d}_{s.key}.png"] = buf.getvalue()
    paths = downloads.write_many(files)
    return [(str(paths[name]), stage_caption(s)) for name, s in zip(files, stages, strict=True)]


def split_by_section(items: list[Any], summary: Mapping | None) -> dict[str, list[Any]]:
    """Gallery items of a run grouped by the section of each stage (from the run summary's stage rows)."""
    rows = (summary or {}).get("stages", [])
    out: dict[str, list[Any]] = {s.id: [] for s in SECTIONS}
    for item, row in zip(items or [], rows, strict=False):
        out.setdefault(row.get("section", "composition"), []).append(item)
    return out


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


def short_reason(message: str, limit: int = 160) -> str:
    """The first clause of a message (up to its first full stop or parenthesis), at most ``limit`` characters: the
    one line a compare column or a readiness line shows."""
    head = re.split(r"(?<=[a-z0-9)])\.\s|\s\(", message.strip(), maxsplit=1)[0]
    return head if len(head) <= limit else head[: limit - 1] + "…"


class DownloadFolder:
    """Per-process folder for download files: every write gets a folder of its own (concurrent requests never
    share a file). Folders older than ``max_age_s`` are removed on each write and at exit, and the oldest go
    first whenever there are more than ``max_folders`` or they hold more than ``max_bytes``."""

    def __init__(self, max_age_s: float = 3600.0, max_folders: int = 400, max_bytes: int = 512 * 1024**2) -> None:
        import atexit

        self.root = Path(tempfile.mkdtemp(prefix="vton-app-"))
        self.max_age_s = max_age_s
        self.max_folders = max_folders
        self.max_bytes = max_bytes
        self._folders: OrderedDict[Path, list] = OrderedDict()  # folder → [created, bytes], oldest first
        self._lock = threading.Lock()
        atexit.register(shutil.rmtree, self.root, True)

    @property
    def nbytes(self) -> int:
        return sum(n for _, n in self._folders.values())

    def _new_folder(self) -> Path:
        now = time.time()
        with self._lock:
            while self._folders:
                old, (created, _) = next(iter(self._folders.items()))
                if (now - created <= self.max_age_s and len(self._folders) < self.max_folders
                        and self.nbytes <= self.max_bytes):
                    break
                del self._folders[old]
                shutil.rmtree(old, ignore_errors=True)
            folder = Path(tempfile.mkdtemp(dir=self.root))
            self._folders[folder] = [now, 0]
        return folder

    def _add(self, folder: Path, n: int) -> None:
        with self._lock:
            if folder in self._folders:
                self._folders[folder][1] += n

    def write_many(self, files: Mapping[str, bytes]) -> dict[str, Path]:
        """Write several files into one new folder of their own; their paths by name."""
        folder = self._new_folder()
        out = {}
        for name, data in files.items():
            path = folder / name
            path.write_bytes(data)
            self._add(folder, len(data))
            out[name] = path
        return out

    def write(self, name: str, data: bytes) -> Path:
        return self.write_many({name: data})[name]


ESTIMATORS = tuple((n.key, n.estimator, n.estimator_title, n.supply) for n in NEEDS.values() if n.estimator)


def check_estimators(method: str, supplied: set[str] | frozenset[str], weights_dir: str | Path | None) -> None:
    """Fail at once when ``method`` would have to download an estimator and the Hub is offline.

    Raises:
        InputError: naming the estimator and the annotation that avoids it (a pose JSON, a parse PNG).
    """
    from . import methods
    from .weights import availability

    card = methods.card(method)
    status = availability(weights_dir)
    blocked = [(need, name, avoid) for need, key, name, avoid in ESTIMATORS
               if need in card.needs and need not in supplied and status.get(key) not in ("local", "cached")]
    if not blocked or hub_reachable():
        return
    names = " and ".join(f"the {name} weights" for _, name, _ in blocked)
    avoids = " and ".join(avoid for _, _, avoid in blocked)
    raise InputError(f"{card.title} needs {names}, which are not on this machine, and the Hub is offline, so "
                     f"they cannot be downloaded. Supply {avoids} in “Your own annotations” (the examples ship "
                     "them) to avoid the download, or put the weights into the weights folder.")


def run_tryon(method: str, uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None,
              **edits: Any):
    """Run the whole chain on the uploads; returns the ``TryOnResult``.

    ``edits`` (``person``, ``cloth``, ``pose``, ``parsing``, ``cloth_mask`` as objects) replace the uploads' files:
    the page's re-run after an edit.
    """
    uploads.require_photos()
    inputs = {"person": uploads.person, "cloth": uploads.cloth, **uploads.annotations()}
    inputs.update({k: v for k, v in edits.items() if v is not None})
    from .weights import progress_to

    try:
        with progress_to(weights_progress(progress)):
            return pipeline(method, weights_dir)(progress=progress, **inputs)
    finally:
        release_memory()


def run_preprocess(uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None,
                   method: str | None = None):
    """The preprocessing ``method`` needs (default: the method that needs the most); returns ``Preprocessed``."""
    from . import methods

    if method is None:
        method = max(methods.cards(), key=lambda c: len(c.needs)).id
    uploads.require_photos()
    try:
        return pipeline(method, weights_dir).preprocess(uploads.person, uploads.cloth, progress=progress,
                                                        **uploads.annotations())
    finally:
        release_memory()


# ---------------------------------------------------------------------------------------------------------------
# comparing methods on one pair


def runnable_methods(rows: list[dict[str, Any]], supplied: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Ids of the methods that can run now: weights ready and, for every estimator a method needs and the user did
    not supply, its weights on this machine or the Hub reachable."""
    out = []
    for r in rows:
        if not r["ready"]:
            continue
        blocked = False
        for need, _, _, _ in ESTIMATORS:
            if need in r["needs"] and need not in supplied:
                where = str(r.get("annotators", {}).get(need, ""))
                if not where.startswith(("local", "cached")) and not hub_reachable():
                    blocked = True
        if not blocked:
            out.append(r["id"])
    return out


def run_compare(method_ids: list[str], uploads: Uploads, weights_dir: str | Path | None,
                progress: Progress | None = None) -> list[tuple[str, Any]]:
    """Run each method on the same uploads, one after another; ``[(method id, TryOnResult or VtonError)]``.

    The methods share the preprocessor of ``weights_dir`` (one content cache), so the second method reuses the
    pose, parsing and framing the first computed (its stages say "cached"). A method that fails (missing weights,
    a pose it cannot use) gives its error in its place; the others still run.
    """
    from . import methods

    uploads.require_photos()
    if not method_ids:
        raise InputError("choose at least one method to compare")
    ids = []
    for m in method_ids:
        methods.card(m)
        if m not in ids:
            ids.append(m)
    out: list[tuple[str, Any]] = []
    for i, m in enumerate(ids):
        def report(key: str, done: int, total: int, i: int = i) -> None:
            if progress is not None:
                progress(key, i * 1000 + int(1000 * done / max(total, 1)), 1000 * len(ids))

        try:
            out.append((m, run_tryon(m, uploads, weights_dir, report)))
        except VtonError as e:
            out.append((m, e))
    return out


def compare_summary(results: list[tuple[str, Any]]) -> dict[str, Any]:
    """The ``/compare`` JSON: the methods in order; per method its run summary (or its error); per section the
    stage keys of each method (the rows the page aligns)."""
    from . import methods

    out: dict[str, Any] = {"methods": [m for m, _ in results], "results": {}, "sections": {}}
    for m, r in results:
        if isinstance(r, BaseException):
            out["results"][m] = {"error": user_message(r), "title": methods.card(m).title}
            continue
        out["results"][m] = r.summary()
    for sec in SECTIONS:
        out["sections"][sec.id] = {m: [row["key"] for row in res.get("stages", []) if row["section"] == sec.id]
                                   for m, res in out["results"].items()}
    return out


def split_compare(items: list[Any], summary: Mapping | None) -> dict[tuple[str, str], list[Any]]:
    """The ``/compare`` gallery (every method's stages, method after method) grouped by ``(method, section)``."""
    out: dict[tuple[str, str], list[Any]] = {}
    it = iter(items or [])
    for m in (summary or {}).get("methods", []):
        for row in (summary or {}).get("results", {}).get(m, {}).get("stages", []):
            item = next(it, None)
            if item is None:
                return out
            out.setdefault((m, row["section"]), []).append(item)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face Spaces


def gpu(duration: int = 120) -> Callable[[Callable], Callable]:
    """``spaces.GPU(duration=...)`` when the ``spaces`` package is importable (ZeroGPU Spaces), else a no-op."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


CONTROLNET_AUX = "controlnet-aux==0.0.10"


def ensure_space_dependencies() -> bool:
    """On a Hugging Face Space, install controlnet-aux without its dependencies when it is missing.

    A Space installs ``requirements.txt`` only, and controlnet-aux's own dependencies (torchvision, timm, …) must not
    be pulled; ``scripts/install.sh`` does the same step locally. Returns True when something was installed.
    """
    import importlib.util
    import subprocess
    import sys

    if not os.environ.get("SPACE_ID") or importlib.util.find_spec("controlnet_aux") is not None:
        return False
    log.info("installing %s --no-deps for the OpenPose body estimator", CONTROLNET_AUX)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", CONTROLNET_AUX], check=True)
    return True


def server_host(host: str | None) -> str:
    """The address to bind: as given, else 0.0.0.0 on a Space (``SPACE_ID`` set), else 127.0.0.1."""
    if host:
        return host
    return "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"


def example_labels(rows: list[dict[str, Any]], examples: list[list[Any]] | None = None) -> list[str]:
    """One short label per example row: its two files and how many methods can run it now (an example supplies
    pose, parse map and garment mask, so only the methods' own weights matter), or "cannot run yet"."""
    out = []
    for ex in example_rows() if examples is None else examples:
        can = runnable_methods(rows, _example_supplied(ex))
        name = f"{Path(ex[0]).stem} + {Path(ex[1]).stem}"
        out.append(f"{name} · " + (f"{len(can)} method{'s' if len(can) != 1 else ''}" if can else "cannot run yet"))
    return out


def _example_supplied(ex: list[Any]) -> set[str]:
    return {k for k, v in zip(("pose", "parsing", "cloth_mask"), ex[2:5], strict=False) if v}


def examples_note(rows: list[dict[str, Any]], examples: list[list[Any]] | None = None) -> str:
    """Markdown under the examples: which methods run them now (and which examples cannot run yet)."""
    from . import methods

    examples = example_rows() if examples is None else examples
    lines = []
    groups: dict[tuple[str, ...], list[str]] = {}
    for ex in examples:
        can = tuple(runnable_methods(rows, _example_supplied(ex)))
        groups.setdefault(can, []).append(f"{Path(ex[0]).stem} + {Path(ex[1]).stem}")
    for can, names in groups.items():
        which = "every example" if len(names) == len(examples) else ", ".join(names)
        if can:
            lines.append(f"**Runs now:** {which} with " + ", ".join(_md(methods.card(m).title) for m in can) + ".")
        else:
            lines.append(f"**Cannot run yet:** {which} (no method has its weights; see the top of the page).")
    return " ".join(lines)


def example_rows() -> list[list[Any]]:
    """Rows for ``gr.Examples``: person, garment, pose JSON, parse PNG, garment mask (all shipped).

    The examples are listed in ``examples/examples.json``; the method is not part of a row, so clicking an example
    keeps the method the user chose.
    """
    import json

    listing = EXAMPLES_DIR / "examples.json"
    if not listing.is_file():
        return []
    out = []
    for ex in json.loads(listing.read_text(encoding="utf-8")):
        files = [ex.get(k) for k in ("person", "cloth", "pose", "parse", "cloth_mask")]
        if not all((EXAMPLES_DIR / f).is_file() for f in files if f):
            continue
        out.append([str(EXAMPLES_DIR / f) if f else None for f in files])
    return out
