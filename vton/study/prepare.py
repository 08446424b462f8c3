"""Rendering a user study once into its folder, and the blinded screens served from it.

Every (pair, method) is rendered once, stored content-addressed as ``images/<sha256 of the PNG, 20 hex>.png`` and
indexed in ``renders.json`` by a hash of the inputs and the method, so a restarted server reuses them. Part of
:mod:`vton.study`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from .definition import CHECK_ORIGINAL, Pair, Study
from .results import ResultsFile
from .schedule import Trial

__all__ = ["corrupt_image", "PreparedStudy", "prepare_study", "ParticipantView", "participant_view"]


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _render_key(pair: Pair, method: str) -> str:
    desc = {"method": method, "person": _sha256_file(pair.person), "garment": _sha256_file(pair.garment),
            "annotations": {k: _sha256_file(v) for k, v in sorted(pair.annotations.items())}}
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _store_png(images_dir: Path, image: Any) -> str:
    """Save ``image`` (PIL) as ``<sha256 of the PNG>.png`` and return the file name."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise InputError(f"render must return a PIL image, got {type(image).__name__}")
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG")  # no text chunks: nothing but pixels reaches the page
    data = buf.getvalue()
    name = hashlib.sha256(data).hexdigest()[:20] + ".png"
    if not (images_dir / name).is_file():
        _write_atomic(images_dir / name, data)
    return name


def corrupt_image(image: Any, tiles: int = 4) -> Any:
    """A visibly corrupted copy for an attention check: the image cut into ``tiles × tiles`` blocks, scrambled.

    The block order is reversed and every other block flipped upside down, so no block stays in place.
    """
    from PIL import ImageOps

    img = image.convert("RGB")
    w, h = img.size
    tw, th = max(1, w // tiles), max(1, h // tiles)
    boxes = [(c * tw, r * th, (c + 1) * tw, (r + 1) * th) for r in range(tiles) for c in range(tiles)]
    out = img.copy()
    for i, (dst, src) in enumerate(zip(boxes, reversed(boxes), strict=True)):
        block = img.crop(src)
        out.paste(ImageOps.flip(block) if i % 2 == 0 else block, dst[:2])
    return out


@dataclass(frozen=True)
class PreparedStudy:
    """A study whose images are all in its folder: what the page serves and where answers go.

    Attributes:
        images: ``{(pair id, method id): image file}``.
        checks: ``{check id: (intact image file, corrupted image file)}``.
    """

    study: Study
    folder: Path
    images: Mapping[tuple[str, str], Path]
    checks: Mapping[str, tuple[Path, Path]]

    @property
    def images_dir(self) -> Path:
        return self.folder / "images"

    @property
    def results_path(self) -> Path:
        return self.folder / "results.jsonl"

    @property
    def results(self) -> ResultsFile:
        return ResultsFile(self.results_path)

    def trial_images(self, trial: Trial) -> tuple[Path, Path]:
        """The (left, right) image files of ``trial``."""
        if trial.attention_check:
            good, bad = self.checks[trial.pair]
            return (good, bad) if trial.left == CHECK_ORIGINAL else (bad, good)
        return self.images[(trial.pair, trial.left)], self.images[(trial.pair, trial.right)]


def prepare_study(study: Study, render: Callable[[Pair, str], Any] | None, folder: str | Path,
                  progress: Callable[[int, int], None] | None = None) -> PreparedStudy:
    """Render every (pair, method) once into ``folder/images`` and copy the attention-check images there.

    A result already in ``folder/renders.json`` with the same inputs and method is not rendered again, so a
    restarted server (or ``render=None``) reuses them.

    Args:
        render: ``render(pair, method_id) -> PIL.Image``; None serves only images rendered before.
        folder: the study folder (created).
        progress: ``progress(done, total)`` after each (pair, method).

    Raises:
        InputError: when ``render`` is None and an image is missing, or ``render`` returns no image.
    """
    from PIL import Image

    folder = Path(folder)
    images_dir = folder / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    index_path = folder / "renders.json"
    index: dict[str, str] = json.loads(index_path.read_text()) if index_path.is_file() else {}
    images: dict[tuple[str, str], Path] = {}
    todo = [(p, m) for p in study.pairs for m in study.methods]
    missing = []
    for done, (pair, method) in enumerate(todo, 1):
        key = _render_key(pair, method)
        name = index.get(key)
        if name is None or not (images_dir / name).is_file():
            if render is None:
                missing.append(f"{pair.id}/{method}")
                continue
            name = _store_png(images_dir, render(pair, method))
            index[key] = name
            _write_atomic(index_path, json.dumps(index, indent=1, sort_keys=True).encode())
        images[(pair.id, method)] = images_dir / name
        if progress is not None:
            progress(done, len(todo))
    if missing:
        raise InputError(f"study {study.id!r}: {len(missing)} result image(s) were never rendered into {folder} "
                         f"({', '.join(missing[:5])}{', …' if len(missing) > 5 else ''}); prepare it with a renderer")
    checks = {}
    for c in study.attention_checks:
        with Image.open(c.image) as im:
            good = _store_png(images_dir, im)
            if c.corrupted is None:
                bad = _store_png(images_dir, corrupt_image(im))
            else:
                with Image.open(c.corrupted) as cim:
                    bad = _store_png(images_dir, cim)
        checks[c.id] = (images_dir / good, images_dir / bad)
    return PreparedStudy(study, folder, images, checks)


@dataclass(frozen=True)
class ParticipantView:
    """Everything the participant page receives for one screen; no method id, no pair id.

    Attributes:
        left_image, right_image: content-addressed files (None when done).
        number: 1-based trial number shown ("Trial 3 of 12"); ``total`` trials in all.
    """

    question: str
    left_image: Path | None
    right_image: Path | None
    number: int
    total: int
    done: bool

    @property
    def progress_text(self) -> str:
        return "All done" if self.done else f"Trial {self.number} of {self.total}"


def participant_view(prepared: PreparedStudy, trial: Trial | None) -> ParticipantView:
    """The blinded screen for ``trial`` (None: the participant has finished)."""
    study = prepared.study
    if trial is None:
        return ParticipantView(study.question, None, None, study.trials_total, study.trials_total, True)
    left, right = prepared.trial_images(trial)
    return ParticipantView(study.question, left, right, trial.index + 1, study.trials_total, False)
