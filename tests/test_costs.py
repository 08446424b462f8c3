"""What a method costs is data written by bench/bench_costs.py (vton/methods/costs.json), shown by ``methods`` and
the page before a run; nothing is hard-coded in the app or the CLI."""

from __future__ import annotations

import json

import pytest

from vton import methods
from vton.cli import main


@pytest.fixture
def costs(tmp_path, monkeypatch):
    path = tmp_path / "costs.json"
    monkeypatch.setattr(methods, "COSTS_FILE", path)
    return path


def test_the_cost_comes_from_the_benchmark_file_and_is_shown_by_methods(costs, capsys):
    first = methods.ids()[0]
    costs.write_text(json.dumps({"machine": "test CPU, 2 threads", "measured": "2026-01-02",
                                 "methods": {first: {"devices": {"CPU": {"tryon_s": 1.234, "swap_s": 0.321}}}}}))
    c = methods.cost(first)
    assert c["devices"]["CPU"] == {"tryon_s": 1.234, "swap_s": 0.321} and c["machine"] == "test CPU, 2 threads"
    text = methods.cost_text(first)
    assert "~1.2 s a try-on" in text and "~0.32 s a garment swap on CPU" in text and "test CPU" in text
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert f"cost: {text}" in out
    row = methods.describe(first)
    assert row["cost_text"] == text
    from vton.web.readiness import method_choices, weights_notice

    assert "~1.2 s" in dict((v, k) for k, v in method_choices([row]))[first]
    assert text in weights_notice([row], None)


@pytest.mark.parametrize("content", [None, "not json", "[]", json.dumps({"methods": {"x": 1}})])
def test_no_or_a_broken_cost_file_shows_no_cost(costs, content):
    if content is not None:
        costs.write_text(content)
    for m in methods.ids():
        assert methods.cost(m) is None and methods.cost_text(m) == ""


def test_the_shipped_cost_file_names_only_registered_methods_with_positive_seconds():
    data = json.loads(methods.COSTS_FILE.read_text())
    assert set(data["methods"]) <= set(methods.ids()) and data["machine"] and data["measured"]
    for row in data["methods"].values():
        for device in row["devices"].values():
            assert device["tryon_s"] > 0 and device["swap_s"] > 0
