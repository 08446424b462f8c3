"""A participant's blinded trials: the seed from (study, participant), the counter-balanced schedule with the
attention checks placed at random, and resuming where the participant stopped.

Part of :mod:`vton.study` (the two-alternative forced choice of the CP-VTON user study; Wang et al., ECCV 2018,
sergeywong/cp-vton@fbaf333b).
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import InputError
from .definition import CHECK_CORRUPTED, CHECK_ORIGINAL, Study

__all__ = ["Trial", "participant_seed", "new_participant_id", "validate_participant_id", "schedule", "next_trial"]

_PARTICIPANT = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


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
