"""Blind A/B user studies: which of two try-ons, by two methods, looks more realistic?

The protocol is the two-alternative forced choice of the CP-VTON user study (Wang et al., "Toward
Characteristic-Preserving Image-based Virtual Try-On Network", ECCV 2018, sergeywong/cp-vton@fbaf333b): a
participant sees the results of two methods for the same person and garment and picks one. Win rates carry a Wilson
score interval (Wilson, "Probable inference, the law of succession, and statistical inference", JASA 1927).

This module is pure logic with no UI and no method names: images come from a ``render(pair, method_id)`` callable,
the page (:mod:`vton.study_ui`) asks it for what to show and where to record an answer. See ``docs/study.md``.

Study folder::

    <folder>/images/<sha256 of the PNG, 20 hex>.png   every rendered result and attention-check image, once
    <folder>/renders.json                            {render key: image file name}; a key hashes inputs + method
    <folder>/results.jsonl                           one JSON line per answer, appended atomically
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import logging
import math
import os
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = [
    "ANNOTATION_KINDS", "CHECK_ORIGINAL", "CHECK_CORRUPTED", "TOKEN_ENV", "HF_REPO_ENV", "HF_EVERY_ENV",
    "Pair", "AttentionCheck", "Study", "Trial", "PreparedStudy", "ParticipantView", "ResultsFile",
    "MethodScore", "PairwiseScore", "Summary",
    "study_from_dict", "load_study", "prepare_study", "corrupt_image", "participant_seed", "schedule",
    "new_participant_id", "validate_participant_id", "next_trial", "participant_view", "make_answer",
    "wilson_interval", "summarize", "method_rows", "pairwise_rows", "researcher_token", "check_token",
    "scheduler_kwargs", "results_scheduler",
]

log = logging.getLogger(__name__)

# the keyword names of the pipeline's supplied annotations
ANNOTATION_KINDS: tuple[str, ...] = ("pose", "parsing", "cloth_mask")
# the two "methods" of an attention check; a method id cannot start with "@"
CHECK_ORIGINAL = "@original"
CHECK_CORRUPTED = "@corrupted"
TOKEN_ENV = "VTON_STUDY_TOKEN"
HF_REPO_ENV = "VTON_STUDY_HF_REPO"
HF_EVERY_ENV = "VTON_STUDY_HF_EVERY_MIN"
SIDES: tuple[str, str] = ("left", "right")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_STUDY_KEYS = ("id", "question", "methods", "pairs", "attention_checks", "trials_per_participant", "exclude_below")
_PAIR_KEYS = ("id", "person", "garment", "annotations")
_CHECK_KEYS = ("id", "image", "corrupted")
_Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal


# ---------------------------------------------------------------------------------------------------------------
# the study definition


@dataclass(frozen=True)
class Pair:
    """A person photo and a garment photo every method renders, with optional supplied annotations.

    Attributes:
        id: unique within the study (shared namespace with the attention checks).
        person, garment: image files.
        annotations: ``{kind: file}`` with kinds from :data:`ANNOTATION_KINDS` (``pose`` JSON, ``parsing`` PNG,
            ``cloth_mask`` PNG), passed on to ``render``.
    """

    id: str
    person: Path
    garment: Path
    annotations: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class AttentionCheck:
    """A trial with a known answer: an intact image against a visibly corrupted copy (the intact one is correct).

    ``corrupted`` is None when the study lets :func:`corrupt_image` make the copy.
    """

    id: str
    image: Path
    corrupted: Path | None = None


@dataclass(frozen=True)
class Study:
    """A validated study definition; build it with :func:`load_study` or :func:`study_from_dict`.

    Attributes:
        trials_per_participant: method comparisons each participant makes (attention checks come on top);
            at most ``len(pairs) × C(len(methods), 2)``.
        exclude_below: a participant whose attention-check pass rate is below this is excluded from the win rates.
    """

    id: str
    question: str
    methods: tuple[str, ...]
    pairs: tuple[Pair, ...]
    attention_checks: tuple[AttentionCheck, ...] = ()
    trials_per_participant: int = 0
    exclude_below: float = 1.0

    @property
    def comparisons(self) -> int:
        """All (pair, method pair) combinations."""
        return len(self.pairs) * math.comb(len(self.methods), 2)

    @property
    def trials_total(self) -> int:
        """Trials one participant sees: comparisons plus attention checks."""
        return self.trials_per_participant + len(self.attention_checks)


def _check_keys(what: str, data: Mapping[str, Any], allowed: Sequence[str], required: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise InputError(f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    missing = [k for k in required if k not in data or data[k] in (None, "")]
    if missing:
        raise InputError(f"{what}: missing field(s) {', '.join(map(repr, missing))}")


def _id(what: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InputError(f"{what}: {value!r} is not a valid id (1–64 letters, digits or . _ + -, starting with a "
                         "letter or digit)")
    return value


def _file(what: str, value: Any, base_dir: Path | None) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise InputError(f"{what}: expected a file path, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise InputError(f"{what}: file {str(path)!r} does not exist")
    return path.resolve()


def study_from_dict(data: Mapping[str, Any], base_dir: str | Path | None = None) -> Study:
    """Validate a study definition given as data (the JSON form of ``docs/study.md``).

    Args:
        data: ``{"id", "question", "methods", "pairs", ["attention_checks", "trials_per_participant",
            "exclude_below"]}``.
        base_dir: folder that relative image paths are resolved against (the study file's folder).

    Raises:
        InputError: naming the field that is wrong.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"a study definition is an object/dict, got {type(data).__name__}")
    base = Path(base_dir) if base_dir is not None else None
    _check_keys("study", data, _STUDY_KEYS, ("id", "question", "methods", "pairs"))
    study_id = _id("study id", data["id"])
    question = data["question"]
    if not isinstance(question, str) or not question.strip():
        raise InputError("study question: expected a non-empty text such as 'Which looks more realistic?'")

    methods = data["methods"]
    if not isinstance(methods, (list, tuple)):
        raise InputError(f"study methods: expected a list of method ids, got {type(methods).__name__}")
    methods = tuple(_id("method id", m) for m in methods)
    if len(methods) < 2:
        raise InputError(f"study methods: a comparison needs at least 2 methods, got {len(methods)}")
    dup = sorted({m for m in methods if methods.count(m) > 1})
    if dup:
        raise InputError(f"study methods: duplicate method id(s) {', '.join(map(repr, dup))}")

    raw_pairs = data["pairs"]
    if not isinstance(raw_pairs, (list, tuple)) or not raw_pairs:
        raise InputError("study pairs: expected a non-empty list of {id, person, garment[, annotations]}")
    pairs = []
    for i, p in enumerate(raw_pairs):
        if not isinstance(p, Mapping):
            raise InputError(f"study pairs[{i}]: expected an object, got {type(p).__name__}")
        _check_keys(f"study pairs[{i}]", p, _PAIR_KEYS, ("id", "person", "garment"))
        pid = _id(f"pairs[{i}] id", p["id"])
        ann = p.get("annotations") or {}
        if not isinstance(ann, Mapping):
            raise InputError(f"pair {pid!r} annotations: expected an object {{kind: file}}")
        _check_keys(f"pair {pid!r} annotations", ann, ANNOTATION_KINDS, ())
        pairs.append(Pair(pid, _file(f"pair {pid!r} person", p["person"], base),
                          _file(f"pair {pid!r} garment", p["garment"], base),
                          {k: _file(f"pair {pid!r} {k}", v, base) for k, v in ann.items() if v not in (None, "")}))

    raw_checks = data.get("attention_checks") or []
    if not isinstance(raw_checks, (list, tuple)):
        raise InputError("study attention_checks: expected a list of {id, image[, corrupted]}")
    checks = []
    for i, c in enumerate(raw_checks):
        if not isinstance(c, Mapping):
            raise InputError(f"study attention_checks[{i}]: expected an object, got {type(c).__name__}")
        _check_keys(f"study attention_checks[{i}]", c, _CHECK_KEYS, ("id", "image"))
        cid = _id(f"attention_checks[{i}] id", c["id"])
        corrupted = c.get("corrupted")
        checks.append(AttentionCheck(cid, _file(f"attention check {cid!r} image", c["image"], base),
                                     None if corrupted in (None, "") else
                                     _file(f"attention check {cid!r} corrupted", corrupted, base)))
    ids = [p.id for p in pairs] + [c.id for c in checks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"study: duplicate pair/attention-check id(s) {', '.join(map(repr, dup))}")

    comparisons = len(pairs) * math.comb(len(methods), 2)
    n = data.get("trials_per_participant")
    if n is None:
        n = comparisons
    if isinstance(n, str) and n.strip().isdigit():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= comparisons:
        raise InputError(f"study trials_per_participant: expected a whole number from 1 to {comparisons} "
                         f"(pairs × method pairs), got {n!r}")
    thr = data.get("exclude_below", 1.0)
    try:
        thr = float(thr)
    except (TypeError, ValueError):
        thr = math.nan
    if isinstance(data.get("exclude_below"), bool) or not 0.0 <= thr <= 1.0:
        raise InputError(f"study exclude_below: expected a pass rate from 0 to 1, got {data.get('exclude_below')!r}")
    return Study(study_id, question.strip(), methods, tuple(pairs), tuple(checks), n, thr)


_CSV_META = ("id", "question", "methods", "trials_per_participant", "exclude_below")
_CSV_COLUMNS = ("kind", "id", "person", "garment", *ANNOTATION_KINDS, "image", "corrupted")


def _study_dict_from_csv(text: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    rows: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            key = key.strip()
            if not sep or key not in _CSV_META:
                raise InputError(f"study CSV line {n}: expected '# key: value' with key one of {', '.join(_CSV_META)}")
            meta[key] = value.strip()
        elif line.strip():
            rows.append(line)
    if "methods" in meta:
        meta["methods"] = [m.strip() for m in meta["methods"].split(",") if m.strip()]
    reader = csv.DictReader(io.StringIO("\n".join(rows)))
    columns = reader.fieldnames or []
    unknown = [c for c in columns if c not in _CSV_COLUMNS]
    if unknown or "id" not in columns:
        raise InputError(f"study CSV header: columns must include 'id' and come from {', '.join(_CSV_COLUMNS)}; "
                         f"unknown: {', '.join(map(repr, unknown)) or 'none'}")
    pairs, checks = [], []
    for n, row in enumerate(reader, 2):
        if None in row:
            raise InputError(f"study CSV row {n}: more cells than columns")
        cells = {k: (v or "").strip() for k, v in row.items()}
        kind = cells.pop("kind", "") or "pair"
        if kind == "pair":
            stray = [k for k in ("image", "corrupted") if cells.get(k)]
            if stray:
                raise InputError(f"study CSV row {n}: a pair row leaves {', '.join(stray)} empty")
            pairs.append({"id": cells["id"], "person": cells.get("person", ""), "garment": cells.get("garment", ""),
                          "annotations": {k: cells[k] for k in ANNOTATION_KINDS if cells.get(k)}})
        elif kind == "check":
            stray = [k for k in ("person", "garment", *ANNOTATION_KINDS) if cells.get(k)]
            if stray:
                raise InputError(f"study CSV row {n}: a check row leaves {', '.join(stray)} empty")
            checks.append({"id": cells["id"], "image": cells.get("image", ""), "corrupted": cells.get("corrupted")})
        else:
            raise InputError(f"study CSV row {n}: kind must be 'pair' or 'check', got {kind!r}")
    return {**meta, "pairs": pairs, "attention_checks": checks}


def load_study(path: str | Path) -> Study:
    """Read and validate a study file: ``.json`` or ``.csv`` (formats in ``docs/study.md``).

    Relative image paths are relative to the file's folder.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"study file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"study file {path.name}: not valid JSON ({e.msg} at line {e.lineno})") from None
    elif suffix == ".csv":
        data = _study_dict_from_csv(text)
    else:
        raise InputError(f"study file {path.name}: expected a .json or .csv file")
    return study_from_dict(data, base_dir=path.parent)


# ---------------------------------------------------------------------------------------------------------------
# rendering once into the study folder


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


# ---------------------------------------------------------------------------------------------------------------
# participants and their schedule


@dataclass(frozen=True)
class Trial:
    """One screen of a participant: ``left`` and ``right`` are method ids (or the check's two images).

    Attributes:
        index: 0-based position in the participant's schedule.
        pair: the pair id, or the attention check's id.
        correct: ``"left"``/``"right"`` for an attention check, else None.
    """

    index: int
    pair: str
    left: str
    right: str
    attention_check: bool = False
    correct: str | None = None


def participant_seed(study_id: str, participant: str) -> int:
    """The schedule's random seed: 64 bits of sha256(study id, participant id); the same on every machine."""
    digest = hashlib.sha256(f"{study_id}\n{participant}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def new_participant_id() -> str:
    """A fresh random participant id (16 URL-safe characters)."""
    return secrets.token_urlsafe(12)


def validate_participant_id(participant: str) -> str:
    """``participant`` if it is 4–64 letters, digits, ``_`` or ``-``; else InputError."""
    if not isinstance(participant, str) or not _PARTICIPANT.match(participant):
        raise InputError("This participant link is malformed (the p= part must be 4–64 letters, digits, _ or -). "
                         "Open the link you were given again, or open it without p= to start afresh.")
    return participant


def schedule(study: Study, participant: str) -> tuple[Trial, ...]:
    """The participant's trials, the same for the same (study, participant) on every call.

    Comparisons: ``trials_per_participant`` (pair, method pair) combinations, method pairs as equally often as
    possible (counts differ by at most one), pairs spread over them; shown in random order. Counter-balancing: each
    method pair's trials alternate which method is on the left from a random start, so within a participant each
    method of a pair is on the left as often as the other, within one. Attention checks (all of them, intact image
    alternating sides) are put at random positions, never first.
    """
    rng = random.Random(participant_seed(study.id, participant))
    method_pairs = list(itertools.combinations(study.methods, 2))
    rng.shuffle(method_pairs)
    pair_ids = [p.id for p in study.pairs]
    rng.shuffle(pair_ids)
    n_pairs = len(pair_ids)
    # round k gives every method pair one image pair, shifted so consecutive method pairs get different image pairs
    combos = [(pair_ids[(k + j) % n_pairs], mp) for k in range(n_pairs) for j, mp in enumerate(method_pairs)]
    chosen = combos[:study.trials_per_participant]
    rng.shuffle(chosen)
    left_first = {mp: rng.random() < 0.5 for mp in method_pairs}
    seen: dict[tuple[str, str], int] = {}
    comparisons = []
    for pair_id, (a, b) in chosen:
        k = seen.get((a, b), 0)
        seen[(a, b)] = k + 1
        a_left = (k % 2 == 0) == left_first[(a, b)]
        comparisons.append((pair_id, a, b) if a_left else (pair_id, b, a))

    checks = list(study.attention_checks)
    rng.shuffle(checks)
    good_left = rng.random() < 0.5
    total = len(comparisons) + len(checks)
    check_at = set(rng.sample(range(1, total), len(checks))) if checks else set()
    trials: list[Trial] = []
    it_cmp, it_chk = iter(comparisons), iter(enumerate(checks))
    for index in range(total):
        if index in check_at:
            k, check = next(it_chk)
            if (k % 2 == 0) == good_left:
                trials.append(Trial(index, check.id, CHECK_ORIGINAL, CHECK_CORRUPTED, True, "left"))
            else:
                trials.append(Trial(index, check.id, CHECK_CORRUPTED, CHECK_ORIGINAL, True, "right"))
        else:
            pair_id, left, right = next(it_cmp)
            trials.append(Trial(index, pair_id, left, right))
    return tuple(trials)


def next_trial(trials: Sequence[Trial], answered: Iterable[int]) -> Trial | None:
    """The first trial not answered yet (resuming after a reload), or None when all are done."""
    done = set(answered)
    return next((t for t in trials if t.index not in done), None)


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


# ---------------------------------------------------------------------------------------------------------------
# results


def make_answer(study: Study, participant: str, trial: Trial, choice: str, seconds: float,
                now: float | None = None) -> dict[str, Any]:
    """The results-file record of one answer.

    Args:
        choice: ``"left"`` or ``"right"``.
        seconds: time from showing the trial to the answer.
        now: POSIX time of the answer (default: now).
    """
    if choice not in SIDES:
        raise InputError(f"choice must be 'left' or 'right', got {choice!r}")
    chosen = trial.left if choice == "left" else trial.right
    stamp = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    return {
        "study": study.id, "participant": participant, "trial": trial.index, "pair": trial.pair,
        "left": trial.left, "right": trial.right, "choice": choice, "chosen": chosen,
        "attention_check": trial.attention_check,
        "correct": (choice == trial.correct) if trial.attention_check else None,
        "seconds": round(max(0.0, float(seconds)), 3),
        "timestamp": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def _answer_key(record: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return record.get("study"), record.get("participant"), record.get("trial")


class ResultsFile:
    """An append-only JSONL file of answers, safe across threads and processes.

    Each answer is one ``os.write`` of a whole line to a file opened with ``O_APPEND``, under an exclusive
    ``flock`` and followed by ``fsync``: concurrent writers never interleave, a restart loses nothing written, and
    a (study, participant, trial) already in the file is not written again. A torn last line (a crash mid-write on
    a file system without atomic appends) is skipped when reading and sealed off with a newline before the next.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._offset = 0
        self._keys: set[tuple[Any, Any, Any]] = set()
        self._records: list[dict[str, Any]] = []

    def _refresh(self) -> None:
        """Read what was appended since the last call (by anyone) into the cache."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size < self._offset:  # replaced or truncated: start over
            self._offset, self._keys, self._records = 0, set(), []
        if size == self._offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read(size - self._offset)
        end = data.rfind(b"\n") + 1  # only complete lines
        for n, line in enumerate(data[:end].splitlines()):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                log.warning("%s: skipping an unreadable line near byte %d", self.path, self._offset + n)
                continue
            key = _answer_key(record)
            if key not in self._keys:
                self._keys.add(key)
                self._records.append(record)
        self._offset += end

    def append(self, record: Mapping[str, Any]) -> bool:
        """Append ``record`` as one line; False (and nothing written) if its (study, participant, trial) is there."""
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        key = _answer_key(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    self._refresh()
                    if key in self._keys:
                        return False
                    size = os.fstat(fd).st_size
                    if size > self._offset:  # a torn last line: keep it on a line of its own
                        line = b"\n" + line
                    written = os.write(fd, line)
                    if written != len(line):
                        raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
                    os.fsync(fd)
                    self._offset = size + len(line)
                    self._keys.add(key)
                    self._records.append(dict(record))
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.path.parent)
        return True

    def records(self) -> list[dict[str, Any]]:
        """Every readable answer in file order, each (study, participant, trial) once."""
        with self._lock:
            self._refresh()
            return list(self._records)

    def answered(self, study_id: str, participant: str) -> dict[int, dict[str, Any]]:
        """``{trial index: record}`` of one participant's answers."""
        return {r["trial"]: r for r in self.records() if r.get("study") == study_id
                and r.get("participant") == participant and isinstance(r.get("trial"), int)}


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------------------------
# analysis


def wilson_interval(successes: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (95 % by default); ``(0, 1)`` when ``n == 0``."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n={n}], got {successes}")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class MethodScore:
    """How often a method was chosen over any other. ``win_rate`` is None without comparisons."""

    method: str
    wins: int
    comparisons: int
    win_rate: float | None
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class PairwiseScore:
    """How often ``method_a`` was chosen over ``method_b`` (the first of the study's order is ``method_a``)."""

    method_a: str
    method_b: str
    a_wins: int
    comparisons: int
    a_rate: float | None
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Summary:
    """The researcher's table.

    Attributes:
        participants: participants with at least one answer; ``completed``: those who answered every trial.
        excluded: participants whose attention-check pass rate is below ``Study.exclude_below`` (none of their
            comparisons count); a participant who has answered no check yet is not excluded.
        checks_answered, checks_passed: over all participants, excluded ones included.
        comparisons: comparison answers counted in the win rates.
    """

    methods: tuple[MethodScore, ...]
    pairwise: tuple[PairwiseScore, ...]
    participants: int
    completed: int
    excluded: tuple[str, ...]
    checks_answered: int
    checks_passed: int
    comparisons: int

    @property
    def check_pass_rate(self) -> float | None:
        return self.checks_passed / self.checks_answered if self.checks_answered else None


def summarize(study: Study, records: Iterable[Mapping[str, Any]]) -> Summary:
    """Win rates with Wilson 95 % intervals, attention-check pass rate and exclusions from results records.

    Records of another study, a repeated (participant, trial) and comparisons naming a method that is not in the
    study are ignored.
    """
    methods = set(study.methods)
    seen: set[tuple[Any, Any]] = set()
    by_participant: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if r.get("study") != study.id or (r.get("participant"), r.get("trial")) in seen:
            continue
        seen.add((r.get("participant"), r.get("trial")))
        by_participant.setdefault(str(r.get("participant")), []).append(r)

    excluded, checks_answered, checks_passed, counted = [], 0, 0, []
    for participant, rs in by_participant.items():
        checks = [r for r in rs if r.get("attention_check")]
        passed = sum(1 for r in checks if r.get("correct") is True)
        checks_answered += len(checks)
        checks_passed += passed
        if checks and passed / len(checks) < study.exclude_below:
            excluded.append(participant)
        else:
            counted += [r for r in rs if not r.get("attention_check") and r.get("left") in methods
                        and r.get("right") in methods and r.get("chosen") in (r.get("left"), r.get("right"))]

    wins = dict.fromkeys(study.methods, 0)
    total = dict.fromkeys(study.methods, 0)
    order = {m: i for i, m in enumerate(study.methods)}
    pair_wins: dict[tuple[str, str], int] = {}
    pair_total: dict[tuple[str, str], int] = {}
    for r in counted:
        left, right, chosen = r["left"], r["right"], r["chosen"]
        total[left] += 1
        total[right] += 1
        wins[chosen] += 1
        a, b = sorted((left, right), key=order.__getitem__)
        pair_total[(a, b)] = pair_total.get((a, b), 0) + 1
        pair_wins[(a, b)] = pair_wins.get((a, b), 0) + (chosen == a)

    def rate(k: int, n: int) -> float | None:
        return k / n if n else None

    method_scores = tuple(MethodScore(m, wins[m], total[m], rate(wins[m], total[m]),
                                      *wilson_interval(wins[m], total[m])) for m in study.methods)
    pairwise = tuple(PairwiseScore(a, b, pair_wins.get((a, b), 0), pair_total.get((a, b), 0),
                                   rate(pair_wins.get((a, b), 0), pair_total.get((a, b), 0)),
                                   *wilson_interval(pair_wins.get((a, b), 0), pair_total.get((a, b), 0)))
                     for a, b in itertools.combinations(study.methods, 2))
    completed = sum(1 for rs in by_participant.values() if len(rs) >= study.trials_total)
    return Summary(method_scores, pairwise, len(by_participant), completed, tuple(sorted(excluded)),
                   checks_answered, checks_passed, len(counted))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def method_rows(summary: Summary) -> list[list[Any]]:
    """Rows ``[method, wins, comparisons, win rate, 95 % CI]`` for a table, best win rate first."""
    ranked = sorted(summary.methods, key=lambda s: -1.0 if s.win_rate is None else s.win_rate, reverse=True)
    return [[s.method, s.wins, s.comparisons, _pct(s.win_rate), f"{_pct(s.ci_low)} – {_pct(s.ci_high)}"]
            for s in ranked]


def pairwise_rows(summary: Summary) -> list[list[Any]]:
    """Rows ``[method A, method B, A wins, comparisons, A's win rate, 95 % CI]``."""
    return [[s.method_a, s.method_b, s.a_wins, s.comparisons, _pct(s.a_rate), f"{_pct(s.ci_low)} – {_pct(s.ci_high)}"]
            for s in summary.pairwise]


# ---------------------------------------------------------------------------------------------------------------
# the researcher's token and the optional Hub backup


def researcher_token(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """The token that opens the results view: ``$VTON_STUDY_TOKEN``, or a new random one.

    Returns:
        ``(token, generated)``; print a generated token at start, it exists nowhere else.
    """
    env = os.environ if env is None else env
    token = (env.get(TOKEN_ENV) or "").strip()
    if token:
        return token, False
    return secrets.token_urlsafe(18), True


def check_token(given: str | None, expected: str) -> bool:
    """True when ``given`` equals ``expected`` (constant time); an empty token never passes."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def scheduler_kwargs(folder: str | Path, repo_id: str, study_id: str, every_min: float = 5.0) -> dict[str, Any]:
    """Keyword arguments of ``huggingface_hub.CommitScheduler`` that push ``results.jsonl`` to a dataset repo."""
    return {"repo_id": repo_id, "repo_type": "dataset", "folder_path": Path(folder), "every": every_min,
            "path_in_repo": f"studies/{study_id}", "allow_patterns": ["results.jsonl"], "private": True}


def results_scheduler(prepared: PreparedStudy, env: Mapping[str, str] | None = None) -> Any:
    """Back the results up to a Hugging Face dataset repo every few minutes, only if ``$VTON_STUDY_HF_REPO`` is set.

    For a Space, whose disk is lost on restart. ``$VTON_STUDY_HF_EVERY_MIN`` sets the period (default 5 min); the
    write token comes from ``$HF_TOKEN`` as usual. The repo is created private if it does not exist.

    Returns:
        the started ``CommitScheduler``, or None when the variable is not set.
    """
    env = os.environ if env is None else env
    repo_id = (env.get(HF_REPO_ENV) or "").strip()
    if not repo_id:
        return None
    try:
        every = float(env.get(HF_EVERY_ENV) or 5.0)
    except ValueError:
        raise InputError(f"${HF_EVERY_ENV} must be a number of minutes, got {env.get(HF_EVERY_ENV)!r}") from None
    from huggingface_hub import CommitScheduler

    return CommitScheduler(**scheduler_kwargs(prepared.folder, repo_id, prepared.study.id, every))
