"""The registry's contract, for every registered card: tiny random weights, the pipeline end to end, every declared
stage present with an image, a caption and its own time; ``tryon`` and ``pasted``; ``result.json`` provenance.
And no module outside a method's own package names a method id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton import methods
from vton.methods.base import SECTIONS, Trace
from vton.pipeline import TryOnPipeline
from vton.run import PREPROCESS_STAGES, preprocess_steps

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "examples"
CARDS = methods.cards()


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    from vton.tools.random_weights import write_random_weights

    folder = tmp_path_factory.mktemp("tiny")
    for c in CARDS:
        if c.weights:
            write_random_weights(folder, methods=[c.id], seed=1, **c.test_overrides)
    return folder


def test_registry_lists_cards_without_building_networks():
    assert len(CARDS) >= 5 and len({c.id for c in CARDS}) == len(CARDS)
    assert [c.id for c in CARDS] == list(methods.ids())
    for c in CARDS:
        assert c.title and c.paper and c.repo.startswith("https://github.com/") and c.licence
        assert {"tryon", "pasted"} <= set(c.stage_keys)
        assert {s.section for s in c.stages} <= {s.id for s in SECTIONS}


def test_unknown_ids_and_wrong_types_are_refused_with_the_list():
    from vton.errors import InputError

    for bad in ("nope", ["cp-vton"], None, 3):
        with pytest.raises(InputError) as err:
            methods.create(bad)
        assert all(i in str(err.value) for i in methods.ids())


def test_trace_refuses_a_stage_the_card_did_not_declare():
    trace = Trace(None, 1, CARDS[0].stages)
    with pytest.raises(KeyError, match="not declared"):
        trace.record("made_up", np.zeros((4, 4, 3), np.uint8))


@pytest.mark.parametrize("card", CARDS, ids=[c.id for c in CARDS])
def test_every_card_runs_end_to_end_with_every_declared_stage(card, tiny_weights, tmp_path):
    seen = []
    pipe = TryOnPipeline(card.id, weights_dir=tiny_weights, device="cpu", network_overrides=dict(card.test_overrides))
    result = pipe(EX / "geometric_person.png", EX / "geometric_cloth.png", pose=EX / "geometric_person_keypoints.json",
                  parsing=EX / "geometric_person_parse.png", cloth_mask=EX / "geometric_cloth_mask.png",
                  progress=lambda k, d, t: seen.append((k, d, t)))
    stages = {s.key: s for s in result.stages()}
    # a stage's picture is drawn when something shows or writes it (a garment swap draws nothing nobody looks at):
    # right after the run nothing but (for some methods) the try-on itself is drawn
    assert {k for k, s in stages.items() if s.drawn} <= {"tryon"}
    pre_expected = [s.key for s in PREPROCESS_STAGES if s.step in preprocess_steps(card.needs)
                    and (s.key != "body_mask" or "body_mask" in card.needs)]
    assert list(stages) == pre_expected + list(card.stage_keys)
    for spec in card.stages:
        s = stages[spec.key]
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3 and s.image.size > 0
        assert s.title == spec.title and len(s.caption) > 10
        assert s.seconds == result.timings[spec.step]  # its own step's time ...
        sharing = [k for k, o in stages.items() if o.step == s.step and k != s.key]
        assert list(s.shared_with) == sharing  # ... and it says which stages share that step
    w, h = card.frame  # every method frames, runs and pastes back at its own card's frame
    assert stages["tryon"].image.shape[:2] == (h, w) and result.pre.person.size == (w, h)
    assert stages["person"].image.shape[:2] == stages["cloth"].image.shape[:2] == (h, w)
    assert result.pasted_image.size == Image.open(EX / "geometric_person.png").size
    assert result.tryon.shape == (1, 3, h, w) and result.tryon.abs().max() <= 1.0
    plan = pipe.plan()
    assert [k for k, d, t in seen if d > 0 and (k, d - 1, t) in seen] == list(plan)
    # provenance in result.json
    paths = result.save(tmp_path)
    summary = json.loads((tmp_path / "result.json").read_text())
    assert [p.name for p in paths if p.suffix == ".png"] == [r["file"] for r in summary["stages"]]
    assert summary["method"] == card.id and summary["vton_version"]
    assert set(summary["networks"]) == {name for name, _ in card.weights}
    for name, key in card.weights:
        net = summary["networks"][name]
        assert net["manifest_key"] == key and re.fullmatch(r"[0-9a-f]{64}", net["sha256"])
        assert net["origin"] == "local" and net["verified"] is True and net["random"] is True
    assert summary["random_weights"] is bool(card.weights)
    assert set(summary["inputs_sha256"]) == {"person", "cloth", "pose", "parsing", "cloth_mask"}
    assert summary["sources"]["cloth_mask"] == "supplied"
    assert set(summary["timings_s"]) >= set(plan)
    if "pose" not in card.needs:  # no estimator ran, so its licence does not apply
        assert "pose" not in summary["sources"] and summary["estimators"] == {}


def test_a_method_without_pose_runs_no_pose_estimator(tiny_weights, monkeypatch):
    from vton.preprocess.runner import Preprocessor

    called = []
    monkeypatch.setattr(Preprocessor, "_estimate_pose", lambda *a: called.append("pose"))
    monkeypatch.setattr(Preprocessor, "_estimate_parsing", lambda *a: called.append("parsing"))
    for c in CARDS:
        if "pose" in c.needs or "parsing" in c.needs:
            continue
        pipe = TryOnPipeline(c.id, weights_dir=tiny_weights, device="cpu", network_overrides=dict(c.test_overrides))
        result = pipe(EX / "person_photo.jpg", EX / "cloth_tshirt.png")  # no annotations at all
        assert called == [] and result.pre.pose is None and result.pre.parsing is None
        assert result.sources["framing"].startswith("letterbox")


_ID = re.compile(r"""["']({})["'/]""".format("|".join(re.escape(i) for i in methods.ids())))


def test_no_module_outside_a_method_package_names_a_method_id():
    offenders = []
    files = [*ROOT.joinpath("vton").rglob("*.py"), ROOT / "app.py"]
    for f in files:
        rel = f.relative_to(ROOT)
        if rel.parts[:2] == ("vton", "methods") and len(rel.parts) > 3:
            continue  # inside vton/methods/<package>/
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if _ID.search(line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
