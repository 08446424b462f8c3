"""A user study's definition: the pairs every method renders, the attention checks, the methods compared, read from
a ``.json`` or ``.csv`` file (formats in ``docs/study.md``) and validated into a frozen :class:`Study`.

Part of :mod:`vton.study` (the CP-VTON user-study protocol; Wang et al., ECCV 2018, sergeywong/cp-vton@fbaf333b).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["ANNOTATION_KINDS", "CHECK_ORIGINAL", "CHECK_CORRUPTED", "Pair", "AttentionCheck", "Study",
           "study_from_dict", "load_study"]

# the keyword names of the pipeline's supplied annotations
ANNOTATION_KINDS: tuple[str, ...] = ("pose", "parsing", "cloth_mask")
# the two "methods" of an attention check; a method id cannot start with "@"
CHECK_ORIGINAL = "@original"
CHECK_CORRUPTED = "@corrupted"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_STUDY_KEYS = ("id", "question", "methods", "pairs", "attention_checks", "trials_per_participant", "exclude_below")
_PAIR_KEYS = ("id", "person", "garment", "annotations")
_CHECK_KEYS = ("id", "image", "corrupted")


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


def _methods(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise InputError(f"study methods: expected a list of method ids, got {type(value).__name__}")
    methods = tuple(_id("method id", m) for m in value)
    if len(methods) < 2:
        raise InputError(f"study methods: a comparison needs at least 2 methods, got {len(methods)}")
    dup = sorted({m for m in methods if methods.count(m) > 1})
    if dup:
        raise InputError(f"study methods: duplicate method id(s) {', '.join(map(repr, dup))}")
    return methods


def _pairs(raw_pairs: Any, base: Path | None) -> list[Pair]:
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
    return pairs


def _checks(raw_checks: Any, base: Path | None) -> list[AttentionCheck]:
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
    return checks


def _trials_per_participant(n: Any, comparisons: int) -> int:
    if n is None:
        n = comparisons
    if isinstance(n, str) and n.strip().isdigit():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= comparisons:
        raise InputError(f"study trials_per_participant: expected a whole number from 1 to {comparisons} "
                         f"(pairs × method pairs), got {n!r}")
    return n


def _exclude_below(data: Mapping[str, Any]) -> float:
    thr = data.get("exclude_below", 1.0)
    try:
        thr = float(thr)
    except (TypeError, ValueError):
        thr = math.nan
    if isinstance(data.get("exclude_below"), bool) or not 0.0 <= thr <= 1.0:
        raise InputError(f"study exclude_below: expected a pass rate from 0 to 1, got {data.get('exclude_below')!r}")
    return thr


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
    methods = _methods(data["methods"])
    pairs = _pairs(data["pairs"], base)
    checks = _checks(data.get("attention_checks") or [], base)
    ids = [p.id for p in pairs] + [c.id for c in checks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"study: duplicate pair/attention-check id(s) {', '.join(map(repr, dup))}")
    n = _trials_per_participant(data.get("trials_per_participant"), len(pairs) * math.comb(len(methods), 2))
    return Study(study_id, question.strip(), methods, tuple(pairs), tuple(checks), n, _exclude_below(data))


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
