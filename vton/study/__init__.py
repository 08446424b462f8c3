"""Blind A/B user studies: which of two try-ons, by two methods, looks more realistic?

The protocol is the two-alternative forced choice of the CP-VTON user study (Wang et al., "Toward
Characteristic-Preserving Image-based Virtual Try-On Network", ECCV 2018, sergeywong/cp-vton@fbaf333b): a
participant sees the results of two methods for the same person and garment and picks one. Win rates carry a Wilson
score interval (Wilson, "Probable inference, the law of succession, and statistical inference", JASA 1927).

This package is pure logic with no UI and no method names: images come from a ``render(pair, method_id)`` callable,
the page (:mod:`vton.web.study_app`) asks it for what to show and where to record an answer. See ``docs/study.md``.
One job per module, each importing only those above it in this list:

- :mod:`~vton.study.definition`: the study file, validated into a :class:`Study`;
- :mod:`~vton.study.schedule`: a participant's blinded, counter-balanced trials;
- :mod:`~vton.study.results`: the append-only results file;
- :mod:`~vton.study.prepare`: rendering once into the study folder, and the screens served from it;
- :mod:`~vton.study.stats`: win rates with Wilson intervals;
- :mod:`~vton.study.researcher`: the researcher's token and the optional Hub backup.

Study folder::

    <folder>/images/<sha256 of the PNG, 20 hex>.png   every rendered result and attention-check image, once
    <folder>/renders.json                            {render key: image file name}; a key hashes inputs + method
    <folder>/results.jsonl                           one JSON line per answer, appended atomically
"""

from __future__ import annotations

from .definition import (
    ANNOTATION_KINDS,
    CHECK_CORRUPTED,
    CHECK_ORIGINAL,
    AttentionCheck,
    Pair,
    Study,
    load_study,
    study_from_dict,
)
from .prepare import ParticipantView, PreparedStudy, corrupt_image, participant_view, prepare_study
from .researcher import (
    HF_EVERY_ENV,
    HF_REPO_ENV,
    TOKEN_ENV,
    check_token,
    researcher_token,
    results_scheduler,
    scheduler_kwargs,
)
from .results import SIDES, ResultsFile, make_answer
from .schedule import Trial, new_participant_id, next_trial, participant_seed, schedule, validate_participant_id
from .stats import MethodScore, PairwiseScore, Summary, method_rows, pairwise_rows, summarize, wilson_interval

__all__ = [
    "ANNOTATION_KINDS", "CHECK_ORIGINAL", "CHECK_CORRUPTED", "TOKEN_ENV", "HF_REPO_ENV", "HF_EVERY_ENV",
    "Pair", "AttentionCheck", "Study", "Trial", "PreparedStudy", "ParticipantView", "ResultsFile",
    "MethodScore", "PairwiseScore", "Summary",
    "study_from_dict", "load_study", "prepare_study", "corrupt_image", "participant_seed", "schedule",
    "new_participant_id", "validate_participant_id", "next_trial", "participant_view", "make_answer",
    "wilson_interval", "summarize", "method_rows", "pairwise_rows", "researcher_token", "check_token",
    "scheduler_kwargs", "results_scheduler", "SIDES",
]
