"""Which methods can run now, in words: the method table, the readiness banner and lines, the weights notice, and the
one Hub check they all read.

Serves the app of this project (``app.py``). Readiness comes from the registry (``vton.methods.describe``) and the
weights' status (``vton.weights``); the Hub is checked once per process (``vton.weights.hub_mode``), so the banner,
the table, the runs and the messages all read the same answer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vton.run import NEEDS, Need

__all__ = [
    "method_table", "method_choices", "default_method", "hub_reachable", "hub_state", "readiness_lines",
    "unready_reasons", "readiness_banner", "weights_sources", "weights_notice", "runnable_methods",
    "print_readiness", "HOW_TO_URL", "md", "short_licence",
]


def _estimated() -> list[Need]:
    """The needs an estimator network computes when the user does not supply them (pose, parsing)."""
    return [n for n in NEEDS.values() if n.estimator]


def md(text: str) -> str:
    """Text safe inside Markdown/HTML: angle brackets and ampersands escaped."""
    return html.escape(text, quote=False)


def method_table(weights_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per registered method: the card plus weight status (``vton.methods.describe``), the licences of
    the estimators it runs, and ``annotators`` (where the pose / parsing weights are)."""
    from vton import methods
    from vton.weights import availability, hub_offline

    offline = hub_offline()
    status = availability(weights_dir)

    def where(key: str) -> str:
        s = status.get(key, "unknown")
        return f"{s} (offline: cannot download)" if s == "hub" and offline else s

    rows = []
    for c in methods.cards():
        row = methods.describe(c.id, weights_dir)
        row["annotators"] = {n.key: where(n.estimator) for n in _estimated() if n.key in c.needs}
        rows.append(row)
    return rows


def method_choices(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, id)``: the title, the licence and whether the weights are there."""
    from vton.weights import readiness_text

    out = []
    for r in rows:
        st = r["state"]  # the method's vton.weights.Readiness
        if not st.networks:
            state = "training-free, no weights"
        elif st.ready:
            state = "weights " + readiness_text(st, flags=False)
        else:
            state = "weights missing: " + ", ".join(st.missing)
        if st.random:
            state += " (RANDOM test weights)"
        if st.unverified:
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


def hub_reachable() -> bool:
    """True when the Hub can be used by this process: ``HF_HUB_OFFLINE`` not set and the one reachability check
    (``vton.weights.hub_mode``: a TCP connect with a 1.5 s timeout, done once per process) succeeded."""
    from vton.weights import hub_mode

    return hub_mode() == "online"


def hub_state() -> str:
    """The Hub's state in words, from the one check (``vton.weights.hub_mode``)."""
    from vton.weights import hub_mode

    mode = hub_mode()
    if mode == "set":
        return "offline (HF_HUB_OFFLINE is set: nothing is downloaded)"
    if mode == "unreachable":
        return "offline (the Hub cannot be reached: nothing can be downloaded)"
    return "online (weights that are not on this machine are downloaded on first use)"


def readiness_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One plain line per method: ready or not, why (the one wording, ``vton.weights.readiness_text``), and its
    licence (the page's banner and the terminal)."""
    from vton.weights import readiness_text

    return [f"{r['title']}: {readiness_text(r['state'], why=True)} · licence: {short_licence(r['licence'])}"
            for r in rows]


def unready_reasons(rows: list[dict[str, Any]]) -> list[str]:
    """"Title: why" for each method that cannot run now (its readiness wording after "not ready: ")."""
    from vton.weights import readiness_text

    return [f"{r['title']}: " + readiness_text(r["state"], why=True).removeprefix("not ready: ")
            for r in rows if not r["ready"]]


def short_licence(text: str) -> str:
    """A licence in a few words: up to the first parenthesis or full stop."""
    short = re.split(r"\s\(|\.\s|;", text.strip(), maxsplit=1)[0].rstrip(".")
    return short if len(short) <= 60 else short[:57] + "…"


HOW_TO_URL = "gradio_api/file=" + str(Path(__file__).resolve().parents[2] / "weights" / "README.md")


def readiness_banner(rows: list[dict[str, Any]]) -> str:
    """Markdown for the page: one line per method (ready or not, why, licence), the Hub state and a link to the
    how-to (the commands live in ``weights/README.md`` and ``python -m vton methods``, not on the page)."""
    lines = []
    for line in readiness_lines(rows):
        title, rest = line.split(": ", 1)
        lines.append(f"- **{md(title)}**: {md(rest)}")
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
    where = "; ".join(f"{n}: {md(v['source'])}" for n, v in nets.items())
    return f"- **{md(row['title'])}** weights: {where}. Licence: {md(row['licence'])}."


def weights_notice(rows: list[dict[str, Any]], weights_dir: str | Path | None) -> str:
    """Markdown: the weights folder in use and, per method, its licence, weights and the estimators it runs."""
    from vton.weights import hub_mode, readiness_text

    folder = f"`{md(str(weights_dir))}`" if weights_dir else "none (set `--weights-dir` or `VTON_WEIGHTS_DIR`)"
    lines = [f"**Local weights folder:** {folder} · **Hub:** {'online' if hub_mode() == 'online' else 'offline'}", "",
             "| method | licence | weights | estimators it runs (licence) | cost (bench/bench_costs.py) | status |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        nets = ", ".join(f"{n}: {v['status']}" + ("" if v["verified"] else " (unverified)")
                         for n, v in r["weights"].items()) or "none"
        est = "; ".join(f"{k}: {md(short_licence(v))}" for k, v in r["estimator_licences"].items()) or "none"
        status = readiness_text(r["state"]) if r["ready"] else "**missing**"
        cost = md(r.get("cost_text") or "not measured")
        licence = md(short_licence(r["licence"]))
        lines.append(f"| {md(r['title'])} | {licence} | {nets} | {est} | {cost} | {status} |")
    return "\n".join(lines)


def runnable_methods(rows: list[dict[str, Any]], supplied: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Ids of the methods that can run now: weights ready and, for every estimator a method needs and the user did
    not supply, its weights on this machine or the Hub reachable."""
    out = []
    for r in rows:
        if not r["ready"]:
            continue
        blocked = False
        for need in _estimated():
            if need.key in r["needs"] and need.key not in supplied:
                where = str(r.get("annotators", {}).get(need.key, ""))
                if not where.startswith(("local", "cached")) and not hub_reachable():
                    blocked = True
        if not blocked:
            out.append(r["id"])
    return out



def print_readiness(weights_dir: str | None) -> list[dict]:
    """At start, in the terminal: the Hub's state (one quick check that holds for the whole run) and one line per
    method (ready or not, why, licence); returns the method table."""
    rows = method_table(weights_dir)
    print(f"vton: Hub {hub_state()}; weights folder: {weights_dir or 'none (Hub only)'}", flush=True)
    for line in readiness_lines(rows):
        print(f"  {line}", flush=True)
    if not all(r["ready"] for r in rows):
        print("  how to get the missing weights: weights/README.md or `python -m vton methods`", flush=True)
    return rows
