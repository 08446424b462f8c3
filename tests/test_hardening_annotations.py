"""Annotations that cannot belong to the photos are refused; unusual ones are used with a visible warning.

Generated per class, on the drawn example (``examples/geometric_*``), through the API (the preprocessing, which
needs no weights) and the CLI: garment masks inverted, the whole image, uniform grey, a small square, another
garment's; poses of another person or place, mirrored, with confidences -1, 1e6 or all 0;
parse maps all upper clothes, uniform random labels, another person's, empty; body masks empty, whole, another
person's, and as NumPy arrays with NaN, 0.4, 300 or negative values; annotations a method does not use (warning).
The invariants and their thresholds are in ``vton.consistency``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton.annotations import Parsing, Pose
from vton.cli import main
from vton.consistency import MIN_MASK_IOU, WARN_MASK_IOU
from vton.errors import InputError
from vton.formats import read_mask_png, read_openpose_json, read_parse_png
from vton.labels import COCO18, LIP
from vton.pipeline import TryOnPipeline

EX = Path(__file__).resolve().parents[1] / "examples"
PERSON, CLOTH = EX / "geometric_person.png", EX / "geometric_cloth.png"
POSE, PARSE = EX / "geometric_person_keypoints.json", EX / "geometric_person_parse.png"
MASK = EX / "geometric_cloth_mask.png"
W, H = Image.open(PERSON).size


def _pre(method: str = "geometric", **given):
    args = {"pose": POSE, "parsing": PARSE, "cloth_mask": MASK, **given}
    return TryOnPipeline(method).preprocess(PERSON, CLOTH, **{k: v for k, v in args.items() if v is not None})


def refused(match: str, method: str = "geometric", **given) -> str:
    with pytest.raises(InputError) as info:
        _pre(method, **given)
    msg = str(info.value)
    assert "\n" not in msg and info.value.__cause__ is None and len(msg) < 900, msg
    assert match.lower() in msg.lower(), f"{match!r} not in {msg!r}"
    return msg


def _mask() -> np.ndarray:
    return read_mask_png(MASK)


def _pose() -> Pose:
    return read_openpose_json(POSE, size=(W, H))


def _parse() -> Parsing:
    return read_parse_png(PARSE)


def _shifted(a: np.ndarray, dx: int, dy: int = 0) -> np.ndarray:
    out = np.zeros_like(a)
    src = a[max(-dy, 0) : a.shape[0] - max(dy, 0), max(-dx, 0) : a.shape[1] - max(dx, 0)]
    out[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
    return out


# ---------------------------------------------------------------------------------------------- garment masks


def _pants(shape) -> np.ndarray:
    """Another garment: a pair of trousers (two legs from a waistband), where the photo shows a shirt."""
    h, w = shape
    m = np.zeros(shape, bool)
    m[int(0.7 * h) : int(0.76 * h), int(0.3 * w) : int(0.7 * w)] = True
    m[int(0.76 * h) : int(0.99 * h), int(0.3 * w) : int(0.47 * w)] = True
    m[int(0.76 * h) : int(0.99 * h), int(0.53 * w) : int(0.7 * w)] = True
    return m


GARMENT_MASKS = {
    "inverted": (lambda m: ~m, "inverted"),
    "inverted as 0..255 grey": (lambda m: np.where(m, 0, 255).astype(np.uint8), "inverted"),
    "whole image": (lambda m: np.ones_like(m), "whole image"),
    "uniform grey 128": (lambda m: np.full(m.shape, 128, np.uint8), "whole image"),
    "uniform grey 200 as float": (lambda m: np.full(m.shape, 200.0), "whole image"),
    "24 x 24 square": (lambda m: _shifted(np.pad(np.ones((24, 24), bool), ((0, m.shape[0] - 24), (0, m.shape[1] - 24))),
                                          80, 110), "does not outline"),
    "another garment (trousers)": (lambda m: _pants(m.shape), "does not outline"),
    "the garment moved away": (lambda m: _shifted(m, 0, 120), "does not outline"),
}


@pytest.mark.parametrize("case", list(GARMENT_MASKS))
def test_garment_masks_that_cannot_be_the_photos_are_refused(case):
    change, phrase = GARMENT_MASKS[case]
    refused(phrase, cloth_mask=change(_mask()))


def test_a_partly_matching_garment_mask_is_used_with_a_warning_and_the_photos_own_without():
    assert _pre().warnings == ()
    other = read_mask_png(EX / "cloth_longsleeve_mask.png")  # another shirt of almost the same shape
    iou = (other & _mask()).sum() / (other | _mask()).sum()
    assert MIN_MASK_IOU <= iou < WARN_MASK_IOU
    pre = _pre(cloth_mask=other)
    assert len(pre.warnings) == 1 and "agrees only partly" in pre.warnings[0] and f"{iou:.2f}" in pre.warnings[0]
    eroded = _mask() & _shifted(_mask(), 1) & _shifted(_mask(), -1)  # a slightly tighter mask is fine
    assert _pre(cloth_mask=eroded).warnings == ()


# ---------------------------------------------------------------------------------------------- poses


def _with(pose: Pose, keypoints=None, scores=None) -> Pose:
    kp = pose.keypoints if keypoints is None else keypoints
    return Pose(kp, pose.scores if scores is None else scores, pose.size)


def _mirrored(p: Pose) -> Pose:
    kp = p.keypoints.copy()
    kp[p.present, 0] = W - kp[p.present, 0]
    return _with(p, kp)


def _moved(p: Pose, dx: float, dy: float) -> Pose:
    kp = p.keypoints.copy()
    kp[p.present] += (dx, dy)
    kp[p.present] = np.clip(kp[p.present], 2, (W - 2, H - 2))
    return _with(p, kp)


def _scores(p: Pose, value: float, which: str = "all") -> Pose:
    sc = p.scores.copy()
    if which == "all":
        sc[p.present] = value
    else:
        sc[COCO18.index(which)] = value
    return _with(p, scores=sc)


POSES = {
    "mirrored": (_mirrored, "mirrored"),
    "another person further right": (lambda p: _moved(p, 0.4 * W, 0), "background"),
    "another person further down": (lambda p: _moved(p, 0, 0.3 * H), "do not belong together"),
    "confidence -1": (lambda p: _scores(p, -1.0, "neck"), "confidence -1"),
    "confidences 1e6": (lambda p: _scores(p, 1e6), "confidence 1e+06"),
}


@pytest.mark.parametrize("case", list(POSES))
@pytest.mark.parametrize("form", ["Pose", "JSON"])
def test_poses_that_cannot_be_the_photos_are_refused(case, form, tmp_path):
    change, phrase = POSES[case]
    pose = change(_pose())
    if form == "JSON":
        path = tmp_path / "pose.json"
        path.write_text(json.dumps({"people": [{"pose_keypoints_2d": pose.as_openpose_triples()}]}))
        pose = path
    refused(phrase, pose=pose)


def test_all_zero_confidences_are_refused_saying_so():
    refused("every confidence as 0", pose=_scores(_pose(), 0.0))


# ---------------------------------------------------------------------------------------------- parse maps


def _labels_everywhere(name: str) -> np.ndarray:
    return np.full((H, W), LIP.id(name), np.uint8)


PARSES = {
    "all upper clothes": (lambda p: _labels_everywhere("upper_clothes"), "upper_clothes"),
    "all face": (lambda p: _labels_everywhere("face"), "MAX_SINGLE_LABEL"),
    "uniform random labels": (lambda p: np.random.default_rng(0).integers(0, 20, (H, W)).astype(np.uint8), "noise"),
    "random labels in blocks of 2": (lambda p: np.kron(np.random.default_rng(1).integers(0, 20, (H // 2, W // 2)),
                                                       np.ones((2, 2), int)).astype(np.uint8), "noise"),
    "nobody (all background)": (lambda p: np.zeros((H, W), np.uint8), "shows nobody"),
    "another person further right": (lambda p: _shifted(p.labels, int(0.45 * W)), "do not belong together"),
    "another person lower down": (lambda p: _shifted(p.labels, 0, int(0.35 * H)), "do not belong together"),
    "mirrored parse": (lambda p: p.labels[:, ::-1].copy(), "mirrored"),
}


@pytest.mark.parametrize("case", list(PARSES))
def test_parse_maps_that_cannot_be_the_photos_are_refused(case):
    change, phrase = PARSES[case]
    refused(phrase, parsing=change(_parse()))


# ---------------------------------------------------------------------------------------------- body masks


def _body() -> np.ndarray:
    return _parse().labels > 0


BODY_MASKS = {
    "empty": (lambda b: np.zeros_like(b), "empty"),
    "whole image": (lambda b: np.ones_like(b), "whole image"),
    "another person": (lambda b: _shifted(b, int(0.45 * W)), "another person"),
    "NaN array": (lambda b: np.where(b, np.nan, 0.0), "NaN"),
    "0.4 everywhere": (lambda b: np.full(b.shape, 0.4), "whole image"),
    "300 on the body": (lambda b: np.where(b, 300.0, 0.0), "300"),
    "negative values": (lambda b: np.where(b, -1.0, 0.0), "-1"),
}


@pytest.mark.parametrize("case", list(BODY_MASKS))
def test_body_masks_that_cannot_be_the_photos_are_refused(case):
    change, phrase = BODY_MASKS[case]
    refused(phrase, method="cp-vton+", body_mask=change(_body()))


@pytest.mark.parametrize("form", ["bool", "0/1 uint8", "0..255 uint8", "[0, 1] float"])
def test_the_photos_body_mask_in_any_form_is_accepted(form):
    b = _body()
    arr = {"bool": b, "0/1 uint8": b.astype(np.uint8), "0..255 uint8": b.astype(np.uint8) * 255,
           "[0, 1] float": b.astype(np.float32)}[form]
    pre = _pre("cp-vton+", body_mask=arr)
    assert pre.warnings == () and pre.sources["body_mask"] == "supplied"
    assert (pre.body_mask == (pre.parsing.labels > 0)).mean() > 0.98


# ---------------------------------------------------------------------------------------------- unused annotations


@pytest.mark.parametrize("given", [("pose", "pose"), ("parsing", "parse map"), ("body_mask", "body mask")])
def test_annotations_a_method_does_not_use_are_named_as_ignored(given, tmp_path):
    key, name = given
    bad_json = tmp_path / "broken_keypoints.json"
    bad_json.write_text("{not a pose")
    broken = {"pose": bad_json, "parsing": np.full((5, 5), 99), "body_mask": np.full((3, 3), np.nan)}
    method = "geometric" if key == "body_mask" else "pf-afn"
    needed = {"pose": POSE, "parsing": PARSE} if method == "geometric" else {}
    pre = TryOnPipeline(method).preprocess(PERSON, CLOTH, cloth_mask=MASK, **needed, **{key: broken[key]})
    assert [w for w in pre.warnings if f"a {name} was given" in w and "ignored" in w], pre.warnings


# ---------------------------------------------------------------------------------------------- the CLI


def _cli(tmp_path: Path, *extra: str) -> list[str]:
    return ["tryon", "--method", "geometric", "--person", str(PERSON), "--cloth", str(CLOTH), "--pose", str(POSE),
            "--parse", str(PARSE), "--out", str(tmp_path / "out"), *extra]


def test_the_cli_refuses_an_inverted_garment_mask(tmp_path, capsys):
    inv = tmp_path / "inv.png"
    Image.fromarray(np.where(_mask(), 0, 255).astype(np.uint8)).save(inv)
    assert main(_cli(tmp_path, "--cloth-mask", str(inv))) == 2
    err = capsys.readouterr().err
    assert "inverted" in err and "Traceback" not in err and not (tmp_path / "out").exists()


def test_the_cli_shows_warnings_and_result_json_records_them(tmp_path, capsys):
    body = tmp_path / "body.png"
    Image.fromarray(np.full((H, W), 255, np.uint8)).save(body)  # a broken body mask geometric does not read
    assert main(_cli(tmp_path, "--cloth-mask", str(EX / "cloth_longsleeve_mask.png"), "--body-mask", str(body))) == 0
    err = capsys.readouterr().err
    warnings = json.loads((tmp_path / "out" / "result.json").read_text())["warnings"]
    assert len(warnings) == 2
    assert any("body mask was given" in w and "ignored" in w for w in warnings)
    assert any("agrees only partly" in w for w in warnings)
    for w in warnings:
        assert f"WARNING: {w}"[:60] in err
