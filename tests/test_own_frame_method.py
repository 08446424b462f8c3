"""A method with its own frame is one package and nothing else (issue 19): the test-only toy method of
``tests/toy_methods/framed_toy`` declares frame 384 × 512 (W × H, the cards' convention) and runs through
``python -m vton methods`` and ``tryon`` (CLI and API) once its folder is on the registry's path. Every preprocessing
output is in its frame, the pose and parse of the example photo included; the try-on is pasted back into the photo.
Its stage pictures are drawn only when asked for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton import methods
from vton.cli import main
from vton.pipeline import TryOnPipeline
from vton.run import FRAME

EX = Path(__file__).resolve().parents[1] / "examples"
TOYS = Path(__file__).resolve().parent / "toy_methods"
PHOTO, CLOTH = EX / "person_photo.jpg", EX / "cloth_tshirt.png"
GIVEN = {"pose": EX / "person_photo_keypoints.json", "parsing": EX / "person_photo_parse.png"}


@pytest.fixture
def toy(monkeypatch):
    """The toy package registered the way every method is: a package with a ``card.py`` on ``vton.methods``'s
    path."""
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(TOYS)])
    methods._registry.cache_clear()
    yield methods.card("framed-toy")
    methods._registry.cache_clear()
    for name in [m for m in sys.modules if m.startswith("vton.methods.framed_toy")]:
        del sys.modules[name]
    vars(methods).pop("framed_toy", None)  # the import set it as an attribute of the package


def test_the_toy_declares_another_frame(toy):
    assert tuple(toy.frame) != tuple(FRAME)
    assert toy.frame[1] > toy.frame[0]  # (W, H): a portrait frame like every card's


def test_methods_lists_the_toy_with_its_frame(toy, capsys):
    assert main(["methods", "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[toy.id]["frame"] == list(toy.frame)
    assert rows[toy.id]["ready"] and rows[toy.id]["weights"] == {}
    assert main(["methods"]) == 0
    assert toy.title in capsys.readouterr().out


def test_the_api_runs_the_toy_in_its_frame(toy):
    w, h = toy.frame
    result = TryOnPipeline(toy.id, device="cpu")(PHOTO, CLOTH, **GIVEN)
    pre = result.pre
    assert pre.person.size == pre.cloth.size == (w, h)
    assert pre.parsing.labels.shape == pre.cloth_mask.shape == pre.body_mask.shape == (h, w)
    assert tuple(pre.pose.size) == (w, h)
    kp = pre.pose.keypoints[pre.pose.present]
    assert len(kp) > 0 and np.all(kp >= 0) and np.all(kp[:, 0] < w) and np.all(kp[:, 1] < h)
    assert tuple(result.tryon.shape) == (1, 3, h, w)
    assert result.output.data["frame"] == [w, h]
    with Image.open(PHOTO) as photo:
        assert result.pasted_image.size == photo.size
    keys = [s.key for s in result.stages()]
    assert keys[-len(toy.stage_keys):] == list(toy.stage_keys)
    for key in ("person", "pose", "body_mask", "cloth", "cloth_mask", "toy_mix", "tryon"):
        assert result.stage(key).image.shape == (h, w, 3), key
    on = result.pre.body_mask & result.pre.cloth_mask
    assert on.any() and np.array_equal(result.stage("toy_mix").image[..., 0] > 0, on)


def test_stages_are_drawn_only_when_asked_for(toy):
    result = TryOnPipeline(toy.id, device="cpu")(PHOTO, CLOTH, **GIVEN)
    lazy = [s for s in result.stages() if not s.drawn]
    assert {"toy_mix", "pose", "parsing", "pasted"} <= {s.key for s in lazy}
    mix = result.stage("toy_mix")
    first = mix.image
    assert mix.drawn and mix.image is first  # drawn once, then kept


def test_the_cli_writes_the_toy_s_stages_in_its_frame(toy, tmp_path, capsys):
    w, h = toy.frame
    out = tmp_path / "toy"
    code = main(["tryon", "--method", toy.id, "--person", str(PHOTO), "--cloth", str(CLOTH), "--pose",
                 str(GIVEN["pose"]), "--parse", str(GIVEN["parsing"]), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "result.json").read_text())
    sizes = {r["key"]: r["size"] for r in summary["stages"]}
    assert sizes["person"] == sizes["tryon"] == sizes["toy_mix"] == [w, h]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r["file"] for r in summary["stages"])
    with Image.open(out / next(r["file"] for r in summary["stages"] if r["key"] == "tryon")) as im:
        assert im.size == (w, h)
