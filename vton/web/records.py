"""What the page's handlers return: named records, each mapped onto the page's components by field name.

Serves the app of this project (``app.py``). A handler returns one of these dataclasses; ``to(page)`` gives Gradio a
``{component: value}`` dict (the fields left at ``KEEP`` are not in it, so those components stay as they are). A
field whose page attribute is a dict of components (one per section, per method, per section and method) holds a
dict with the same keys. ``Page`` names the components; ``app.py`` lays them out and fills it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["KEEP", "Record", "Page", "RunRecord", "PreprocessRecord", "StatusRecord", "ReadinessRecord", "ViewsRecord",
           "EditorsRecord", "LayoutRecord", "CompareRecord", "CompareStartRecord", "CompareView", "outputs_of"]


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()  # a field left at KEEP leaves its component as it is


@dataclass
class Page:
    """The components the handlers write to, by name (``app.py`` creates them). Dict-valued attributes hold one
    component per section id, per method id, or per ``(section id, method id)``."""

    run_token: Any = None
    readiness: Any = None
    notice: Any = None
    status: Any = None
    result: Any = None
    all_stages: Any = None
    summary: Any = None
    zip_stages: Any = None
    zip_dataset: Any = None
    heads: dict[str, Any] = field(default_factory=dict)
    galleries: dict[str, Any] = field(default_factory=dict)
    points_box: Any = None
    control_points: Any = None
    slider: Any = None
    overlay: Any = None
    edit_help: Any = None
    keypoints: Any = None
    parse_editor: Any = None
    mask_editor: Any = None
    compare_status: Any = None
    compare_all: Any = None
    compare_summary: Any = None
    compare_heads: dict[str, Any] = field(default_factory=dict)
    compare_rows: dict[str, Any] = field(default_factory=dict)
    compare_cols: dict[tuple[str, str], Any] = field(default_factory=dict)
    compare_cells: dict[tuple[str, str], Any] = field(default_factory=dict)
    compare_notes: dict[tuple[str, str], Any] = field(default_factory=dict)


class Record:
    """A handler's named result."""

    def to(self, page: Page) -> dict[Any, Any]:
        """``{component: value}`` for every field not left at ``KEEP`` (dict fields key by key)."""
        out: dict[Any, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is KEEP:
                continue
            target = getattr(page, f.name)
            if isinstance(target, Mapping):
                out.update({target[k]: v for k, v in value.items() if k in target and v is not KEEP})
            else:
                out[target] = value
        return out


def outputs_of(record_type: type, page: Page) -> list[Any]:
    """The output components of an event whose handler returns ``record_type``, in field order."""
    out: list[Any] = []
    for f in fields(record_type):
        target = getattr(page, f.name)
        out.extend(target.values() if isinstance(target, Mapping) else [target])
    return out


@dataclass
class RunRecord(Record):
    """``/tryon``: status, the pasted try-on, every stage, the run summary and the two zips."""

    status: Any = KEEP
    result: Any = KEEP
    all_stages: Any = KEEP
    summary: Any = KEEP
    zip_stages: Any = KEEP
    zip_dataset: Any = KEEP


@dataclass
class PreprocessRecord(Record):
    """``/preprocess``: status, the preprocessing stages and their summary."""

    status: Any = KEEP
    all_stages: Any = KEEP
    summary: Any = KEEP


@dataclass
class ReadinessRecord(Record):
    """The readiness banner and the weights notice."""

    readiness: Any = KEEP
    notice: Any = KEEP


@dataclass
class StatusRecord(Record):
    """The status line alone (and the visitor's token, kept or made)."""

    status: Any = KEEP
    run_token: Any = KEEP


@dataclass
class ViewsRecord(Record):
    """The page's views of the held run: the section galleries, the card's point table, the before/after slider and
    the overlay; after preprocessing only, the try-on and its zips are cleared; after a refusal, the status."""

    galleries: dict[str, Any] = field(default_factory=dict)
    control_points: Any = KEEP
    slider: Any = KEEP
    overlay: Any = KEEP
    result: Any = KEEP
    zip_stages: Any = KEEP
    zip_dataset: Any = KEEP
    status: Any = KEEP


@dataclass
class EditorsRecord(Record):
    """The editors, filled from the held run's preprocessing, and the edit tab's help (both in the run's frame)."""

    keypoints: Any = KEEP
    parse_editor: Any = KEEP
    mask_editor: Any = KEEP
    edit_help: Any = KEEP


@dataclass
class LayoutRecord(Record):
    """Per section its heading and whether it shows; the card's point-table box."""

    heads: dict[str, Any] = field(default_factory=dict)
    galleries: dict[str, Any] = field(default_factory=dict)
    points_box: Any = KEEP


@dataclass
class CompareRecord(Record):
    """``/compare``: status, every method's stages as one gallery, the comparison summary."""

    compare_status: Any = KEEP
    compare_all: Any = KEEP
    compare_summary: Any = KEEP


@dataclass
class CompareStartRecord(Record):
    """The comparison's status while it runs, and the visitor's token (kept or made)."""

    compare_status: Any = KEEP
    run_token: Any = KEEP


@dataclass
class CompareView(Record):
    """The comparison laid out: a head per method that ran, a row per section with stages, the cells."""

    compare_heads: dict[str, Any] = field(default_factory=dict)
    compare_rows: dict[str, Any] = field(default_factory=dict)
    compare_cols: dict[tuple[str, str], Any] = field(default_factory=dict)
    compare_cells: dict[tuple[str, str], Any] = field(default_factory=dict)
    compare_notes: dict[tuple[str, str], Any] = field(default_factory=dict)
