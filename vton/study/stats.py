"""The researcher's table of a user study: win rates with Wilson score intervals (Wilson, "Probable inference, the
law of succession, and statistical inference", JASA 1927), attention-check pass rate and exclusions.

Part of :mod:`vton.study`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .definition import Study

__all__ = ["MethodScore", "PairwiseScore", "Summary", "wilson_interval", "summarize", "method_rows", "pairwise_rows"]

_Z95 = 1.959963984540054  # the 97.5 % quantile of the standard normal


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
