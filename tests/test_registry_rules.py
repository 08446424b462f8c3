"""The rules of ``docs/registry.md`` ("Add a method") that no other test states: a method is one folder, and its
weights rows belong to its card.

The end-to-end contract (every card runs on tiny random weights, every declared stage present) is
``tests/test_method_contract.py``; the layering (a method package imports nothing above ``vton/methods/``) is
``tests/test_layers.py``.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from vton import methods

ROOT = Path(__file__).resolve().parents[1]


def _manifest_entries() -> dict[str, dict]:
    return json.loads((ROOT / "weights" / "manifest.json").read_text(encoding="utf-8"))["entries"]


def _package_of(card) -> str:
    """The method package a card's factory lives in: ``vton.methods.<package>``."""
    module = card.factory.split(":")[0]
    parts = module.split(".")
    assert parts[:2] == ["vton", "methods"] and len(parts) >= 4, f"{card.id}: factory {card.factory!r}"
    return ".".join(parts[:3])


@pytest.mark.parametrize("card", methods.cards(), ids=lambda c: c.id)
def test_a_cards_weights_rows_name_the_card_as_their_method(card):
    """Manifest key = ``<card id>/<network>``, and the row's ``method`` is the card's id: the registry finds a
    method's weights by its id, so a row filed under another id would be a weight no card can use."""
    entries = _manifest_entries()
    for network, key in card.weights:
        assert key in entries, f"{card.id}: {key} has no row in weights/manifest.json"
        row = entries[key]
        assert (row["method"], row["network"]) == (card.id, network), (card.id, key)
        assert key == f"{card.id}/{network}"


@pytest.mark.parametrize("card", methods.cards(), ids=lambda c: c.id)
def test_a_method_is_one_folder(card):
    """The card and the class its factory names live in the same package under ``vton/methods/``."""
    package = _package_of(card)
    folder = ROOT / Path(*package.split("."))
    assert (folder / "card.py").is_file() and (folder / "__init__.py").is_file()
    card_module = importlib.import_module(f"{package}.card")
    assert card.id in {c.id for c in card_module.CARDS}, f"{card.id} is not in {package}.card.CARDS"
