"""Stage galleries and downloads of the page, keyed by stage key: captions, PNG files per request, the sections of a
run, the comparison's rows, and the warped garment over the person.

Serves the app of this project (``app.py``). A run's stage files are written once, named by stage key, and the page
finds them again by key (``StageFiles``), never by their position in a gallery.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vton.run import SECTIONS

__all__ = ["section_title", "stage_caption", "png_bytes", "stage_summaries", "DownloadFolder", "StageFiles",
           "write_stages", "by_section", "compare_summary", "split_compare", "item_path", "items_by_file",
           "garment_over_person"]


def section_title(section_id: str) -> str:
    return next((s.title for s in SECTIONS if s.id == section_id), section_id)


def stage_caption(stage: Any) -> str:
    """The caption under a stage image: title, caption and time (or the step it shares, or 'cached')."""
    return f"{stage.title} — {stage.caption} ({stage.time_text()})"


def png_bytes(image: Any) -> bytes:
    """A PIL image as PNG bytes."""
    import io

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def stage_summaries(stages: list[Any], files: StageFiles | None = None) -> list[dict[str, Any]]:
    """JSON rows for the API: key, title, caption, section, step, seconds, shared_with, cached, size; with
    ``files``, the ``file`` each stage was written to (the name its gallery item has)."""
    names = files.names() if files is not None else {}
    return [{**s.summary(), **({"file": names[s.key]} if s.key in names else {})} for s in stages]


def item_path(item: Any) -> str | None:
    """The image path of one gallery item as an API client holds it: ``(path, caption)``, gradio_client's
    ``{"image": path or {"path": ...}, "caption": ...}``, or a path."""
    if isinstance(item, Mapping):
        item = item.get("image", item.get("path"))
        if isinstance(item, Mapping):
            item = item.get("path")
    elif isinstance(item, (list, tuple)):
        item = item[0] if item else None
    return str(item) if item is not None else None


def items_by_file(items: list[Any] | None) -> dict[str, Any]:
    """Gallery items by the name of their file (the ``file`` of their stage row in a ``/tryon``, ``/preprocess``
    or ``/compare`` summary): the name survives Gradio's cache and gradio_client's download, the folder does not."""
    out: dict[str, Any] = {}
    for item in items or []:
        path = item_path(item)
        if path:
            out[Path(path).name] = item
    return out


def split_compare(items: list[Any] | None, summary: Mapping | None) -> dict[tuple[str, str], list[Any]]:
    """The ``/compare`` gallery grouped by ``(method, section)``, each item found by its file name in the stage
    rows of the summary (``summary["results"][method]["stages"][i]["file"]``), in stage order: for an API client
    holding the two outputs (the page keeps its runs and reads them by stage key instead). Items no row names are
    left out; a row whose item is missing is skipped."""
    found = items_by_file(items)
    out: dict[tuple[str, str], list[Any]] = {}
    results = (summary or {}).get("results", {})
    for m in (summary or {}).get("methods", []):
        for row in results.get(m, {}).get("stages", []):
            item = found.get(str(row.get("file", "")))
            if item is not None:
                out.setdefault((m, row["section"]), []).append(item)
    return out


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


@dataclass(frozen=True)
class StageFiles:
    """A run's stages as the page shows them: per stage key its PNG (a file of this request's own) and caption, in
    display order, with the section of each."""

    keys: tuple[str, ...]
    paths: Mapping[str, str]
    captions: Mapping[str, str]
    sections: Mapping[str, str]

    def items(self, prefix: str = "") -> list[tuple[str, str]]:
        """``(path, caption)`` per stage, in display order (a gallery's value); ``prefix`` goes before captions."""
        return [(self.paths[k], f"{prefix}{self.captions[k]}") for k in self.keys]

    def names(self) -> dict[str, str]:
        """The file name of each stage, by key (the summary's ``file``, the gallery item's name)."""
        return {k: Path(self.paths[k]).name for k in self.keys}

    def section(self, section_id: str) -> list[tuple[str, str]]:
        """The gallery value of one section."""
        return [(self.paths[k], self.captions[k]) for k in self.keys if self.sections[k] == section_id]


def write_stages(stages: list[Any], downloads: DownloadFolder, prefix: str = "") -> StageFiles:
    """Every stage written as ``<prefix>NN_<key>.png`` into a folder of this request's own: concurrent requests never
    hand Gradio the same file (identical images of two requests would otherwise share one cache file, written by one
    while the other is being sent). A comparison gives each method its own ``prefix``, so every name is unique."""
    from PIL import Image

    files = {}
    for i, s in enumerate(stages):
        buf = io.BytesIO()
        Image.fromarray(s.image).save(buf, format="PNG")
        files[f"{prefix}{i:02d}_{s.key}.png"] = buf.getvalue()
    paths = downloads.write_many(files)
    return StageFiles(tuple(s.key for s in stages),
                      {s.key: str(paths[name]) for name, s in zip(files, stages, strict=True)},
                      {s.key: stage_caption(s) for s in stages}, {s.key: s.section for s in stages})


def by_section(files: StageFiles | None) -> dict[str, list[tuple[str, str]]]:
    """The gallery value of every section (empty lists for the sections a run has no stage in)."""
    return {s.id: files.section(s.id) if files is not None else [] for s in SECTIONS}


def compare_summary(results: list[tuple[Any, Any]], message: Any,
                    files: Mapping[str, StageFiles] | None = None) -> dict[str, Any]:
    """The ``/compare`` JSON: the methods in order; per method its run summary (or its error, worded by
    ``message``), whose stage rows name the files written for it; per section the stage keys of each method (the
    rows the page aligns).

    Args:
        results: ``(card, TryOnResult or exception)`` per method, in the order run.
        message: ``exception -> str``, the page's wording of an error.
        files: per method id, its stage files (``write_stages``); their names are the rows' ``file``.
    """
    out: dict[str, Any] = {"methods": [c.id for c, _ in results], "results": {}, "sections": {}}
    for c, r in results:
        names = files[c.id].names() if files and c.id in files else None
        out["results"][c.id] = ({"error": message(r), "title": c.title} if isinstance(r, BaseException)
                                else r.summary(names))
    for sec in SECTIONS:
        out["sections"][sec.id] = {m: [row["key"] for row in res.get("stages", []) if row["section"] == sec.id]
                                   for m, res in out["results"].items()}
    return out


def garment_over_person(stages: Mapping[str, np.ndarray], overlay: Any, alpha: float = 0.6) -> np.ndarray | None:
    """The picture beside the before/after slider: the warped garment over the framed person, as the method's card
    declares it (``MethodCard.overlay``): its overlay stage as it is, or its warped garment (on white) blended
    (``alpha``) over the stage the card names (the framed person) where the garment is
    (``vton.preprocess.cloth_mask.on_white``).

    Args:
        stages: the run's stage images by key.
        overlay: the card's ``OverlaySpec``, or None (no picture).
    """
    from vton.preprocess.cloth_mask import on_white

    if overlay is None or overlay.stage not in stages:
        return None
    image = stages[overlay.stage]
    if not overlay.over:
        return image
    person = stages.get(overlay.over)
    if person is None or person.shape != image.shape:
        return None
    inside = on_white(image)[..., None]
    out = np.where(inside, alpha * image.astype(np.float32) + (1 - alpha) * person.astype(np.float32), person)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
