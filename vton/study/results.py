"""The results file of a user study: one JSON line per answer, appended atomically across threads and processes,
each (study, participant, trial) once.

Part of :mod:`vton.study`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError
from .definition import Study
from .schedule import Trial

__all__ = ["SIDES", "make_answer", "ResultsFile"]

log = logging.getLogger(__name__)

SIDES: tuple[str, str] = ("left", "right")


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
