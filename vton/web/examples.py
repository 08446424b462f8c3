"""The shipped examples of the page (``examples/examples.json``) and which methods can run them now.

Serves the app of this project (``app.py``); an example supplies pose, parse map and garment mask, so only the
methods' own weights decide whether it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vton.web.readiness import md, runnable_methods

__all__ = ["EXAMPLES_DIR", "example_rows", "example_labels", "examples_note"]

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def example_labels(rows: list[dict[str, Any]], examples: list[list[Any]] | None = None) -> list[str]:
    """One short label per example row: its two files and how many methods can run it now (an example supplies
    pose, parse map and garment mask, so only the methods' own weights matter), or "cannot run yet"."""
    out = []
    for ex in example_rows() if examples is None else examples:
        can = runnable_methods(rows, _example_supplied(ex))
        name = f"{Path(ex[0]).stem} + {Path(ex[1]).stem}"
        out.append(f"{name} · " + (f"{len(can)} method{'s' if len(can) != 1 else ''}" if can else "cannot run yet"))
    return out


def _example_supplied(ex: list[Any]) -> set[str]:
    return {k for k, v in zip(("pose", "parsing", "cloth_mask"), ex[2:5], strict=False) if v}


def examples_note(rows: list[dict[str, Any]], examples: list[list[Any]] | None = None) -> str:
    """Markdown under the examples: which methods run them now (and which examples cannot run yet)."""
    from vton import methods

    examples = example_rows() if examples is None else examples
    lines = []
    groups: dict[tuple[str, ...], list[str]] = {}
    for ex in examples:
        can = tuple(runnable_methods(rows, _example_supplied(ex)))
        groups.setdefault(can, []).append(f"{Path(ex[0]).stem} + {Path(ex[1]).stem}")
    for can, names in groups.items():
        which = "every example" if len(names) == len(examples) else ", ".join(names)
        if can:
            lines.append(f"**Runs now:** {which} with " + ", ".join(md(methods.card(m).title) for m in can) + ".")
        else:
            lines.append(f"**Cannot run yet:** {which} (no method has its weights; see the top of the page).")
    return " ".join(lines)


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

