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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, VtonError
from .methods.base import SECTIONS

__all__ = [
    "SECTIONS", "Uploads", "upload_path", "pipeline", "preprocessor", "method_table", "method_choices",
    "default_method", "weights_notice", "readiness_banner", "stage_caption", "stage_summaries", "step_name",
    "user_message", "DownloadFolder", "run_tryon", "run_preprocess", "gpu", "server_host", "EXAMPLES_DIR",
    "example_rows", "section_title", "gallery_items", "split_by_section", "png_bytes",
]

log = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def step_name(key: str) -> str:
    """A pipeline progress key as words for the progress bar (from the cards' step labels)."""
    from . import methods

    if key.startswith("load_"):
        return f"loading the {key[5:]} weights"
    for c in methods.cards():
        for st in c.steps:
            if st.key == key:
                return st.label
    return key.replace("_", " ")


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
    """The server path of an upload as Gradio hands it over without preprocessing.

    Args:
        value: ``None``, a path string, or a Gradio ``FileData``/``ImageData`` dict (``{"path": ..., ...}``).
    """
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        value = value.get("path")
        if not value:
            return None
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise InputError(f"unexpected upload value of type {type(value).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# pipelines, built lazily and kept per (method, weights folder)

_pipelines: dict[tuple[str, str | None], Any] = {}
_preprocessors: dict[str | None, Any] = {}
_pipelines_lock = threading.Lock()


def preprocessor(weights_dir: str | Path | None):
    """The shared ``Preprocessor`` (estimators + content cache) of ``weights_dir``."""
    from .pipeline import Preprocessor

    key = str(weights_dir) if weights_dir else None
    with _pipelines_lock:
        if key not in _preprocessors:
            _preprocessors[key] = Preprocessor(weights_dir)
        return _preprocessors[key]


def pipeline(method: Any, weights_dir: str | Path | None):
    """The ``TryOnPipeline`` for ``method`` and ``weights_dir``, built on first use and kept."""
    from . import methods
    from .pipeline import TryOnPipeline

    methods.card(method)  # a clear error for an unknown id or a non-string
    pre = preprocessor(weights_dir)
    key = (method, str(weights_dir) if weights_dir else None)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = TryOnPipeline(method, weights_dir=weights_dir, device=None, preprocessor=pre)
        return _pipelines[key]


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
        row["annotators"] = {need: where(key) for need, key in (("pose", "openpose/body"), ("parsing", "schp/lip"))
                             if need in c.needs}
        rows.append(row)
    return rows


def method_choices(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, id)``: the title, the licence and whether the weights are there."""
    out = []
    for r in rows:
        if not r["weights"]:
            state = "training-free, no weights"
        elif r["ready"]:
            state = "weights ready"
        else:
            state = "weights missing: " + ", ".join(r["missing"])
        if r["random"]:
            state += " (RANDOM test weights)"
        if r["unverified"]:
            state += " (UNVERIFIED weights)"
        out.append((f"{r['title']} · {r['licence']} · {state}", r["id"]))
    return out


def default_method(rows: list[dict[str, Any]]) -> str:
    """The first method whose weights are ready, else the first method."""
    return next((r["id"] for r in rows if r["ready"]), rows[0]["id"])


def _md(text: str) -> str:
    """Text safe inside Markdown/HTML: angle brackets and ampersands escaped."""
    return html.escape(text, quote=False)


def readiness_banner(rows: list[dict[str, Any]]) -> str:
    """Markdown for the top of the page: which methods run now, which do not and the one fix for each."""
    from .weights import hub_offline

    ready = [r for r in rows if r["ready"]]
    lines = []
    if ready:
        lines.append("**Ready to run:** " + ", ".join(
            r["title"] + (" (RANDOM test weights)" if r["random"] else "")
            + (" (unverified weights)" if r["unverified"] else "") for r in ready))
    for r in rows:
        if not r["ready"]:
            lines.append(f"- **{_md(r['title'])}** needs weights: {_md(r['how_to'])}")
    hub = "offline (HF_HUB_OFFLINE is set or the Hub cannot be reached)" if hub_offline() else "reachable"
    lines.append(f"\nHub: {hub}. Without pose/parsing weights, supply a pose JSON and a parse PNG (the examples ship "
                 "them).")
    return "\n".join(lines)


def weights_notice(rows: list[dict[str, Any]], weights_dir: str | Path | None) -> str:
    """Markdown: the weights folder in use and, per method, its licence, weights and the estimators it runs."""
    from .weights import hub_offline

    folder = f"`{_md(str(weights_dir))}`" if weights_dir else "none (set `--weights-dir` or `VTON_WEIGHTS_DIR`)"
    lines = [f"**Local weights folder:** {folder} · **Hub:** {'offline' if hub_offline() else 'online'}", "",
             "| method | licence | weights | estimators it runs (licence) | status |", "|---|---|---|---|---|"]
    for r in rows:
        nets = ", ".join(f"{n}: {v['status']}" + ("" if v["verified"] else " (unverified)")
                         for n, v in r["weights"].items()) or "none"
        est = "; ".join(f"{k}: {_md(v)}" for k, v in r["estimator_licences"].items()) or "none"
        status = "ready" if r["ready"] else "**missing**"
        if r["random"]:
            status += " (RANDOM test weights: output is noise)"
        lines.append(f"| {_md(r['title'])} | {_md(r['licence'])} | {nets} | {est} | {status} |")
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


_PATHS = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s/'\"`]+){2,}/?")


def user_message(exc: BaseException) -> str:
    """The message shown in the page: a ``VtonError`` as written, with server paths and markup removed; anything
    else short (the traceback is logged)."""
    if isinstance(exc, VtonError):
        text = _PATHS.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], str(exc))
        return text.replace("`", "")
    log.error("unexpected error in the app", exc_info=exc)
    return (f"Something went wrong inside vton ({type(exc).__name__}). The server log has the details; "
            "please report it with the inputs that caused it.")


class DownloadFolder:
    """Per-process folder for download files: every write gets a folder of its own (concurrent requests never
    share a file), and folders older than ``max_age_s`` are removed on each write and at exit."""

    def __init__(self, max_age_s: float = 3600.0) -> None:
        import atexit

        self.root = Path(tempfile.mkdtemp(prefix="vton-app-"))
        self.max_age_s = max_age_s
        atexit.register(shutil.rmtree, self.root, True)

    def write_many(self, files: Mapping[str, bytes]) -> dict[str, Path]:
        """Write several files into one new folder of their own; their paths by name."""
        folder = self.write(".keep", b"").parent
        out = {}
        for name, data in files.items():
            path = folder / name
            path.write_bytes(data)
            out[name] = path
        return out

    def write(self, name: str, data: bytes) -> Path:
        now = time.time()
        for old in self.root.iterdir():
            try:
                if now - old.stat().st_mtime > self.max_age_s:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError:
                pass
        folder = Path(tempfile.mkdtemp(dir=self.root))
        path = folder / name
        path.write_bytes(data)
        return path


Progress = Callable[[str, int, int], None]


def run_tryon(method: str, uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None):
    """Run the whole chain on the uploads; returns the ``TryOnResult``."""
    uploads.require_photos()
    return pipeline(method, weights_dir)(uploads.person, uploads.cloth, progress=progress, **uploads.annotations())


def run_preprocess(uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None,
                   method: str | None = None):
    """The preprocessing ``method`` needs (default: the method that needs the most); returns ``Preprocessed``."""
    from . import methods

    if method is None:
        method = max(methods.cards(), key=lambda c: len(c.needs)).id
    uploads.require_photos()
    return pipeline(method, weights_dir).preprocess(uploads.person, uploads.cloth, progress=progress,
                                                    **uploads.annotations())


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
