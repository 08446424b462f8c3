"""The Python API (``TryOnPipeline``) under inputs that used to give another call's answer, a generic error or a
hang: generated cases per class, each ending in vton's own ``InputError`` or the right answer.

- caches: every cache is keyed by the bytes it was given — new ``BytesIO`` objects that reuse memory addresses, a
  file re-opened after its content changed, a path whose file changed, a PIL image or array changed in place;
- closed PIL images and file objects, NUL bytes in paths, pose dicts with a self-reference or a 4,300-digit
  integer, seeds outside torch's range, a ``weights_dir`` that is not a path;
- FIFOs and devices (``/dev/zero``, ``/dev/urandom``) for every file input: refused at once (regular files only,
  size checked before reading), never a hang.

The training-free ``geometric`` method with the shipped example's annotations runs without weights.
"""

from __future__ import annotations

import copy
import gc
import io
import json
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton.errors import InputError
from vton.pipeline import MAX_SEED, TryOnPipeline
from vton.preprocess.cache import CACHE_BYTES, CACHE_ENTRIES
from vton.preprocess.cache import LRU as _LRU
from vton.preprocess.runner import Preprocessor

EX = Path(__file__).resolve().parents[1] / "examples"
PERSON, CLOTH = EX / "geometric_person.png", EX / "geometric_cloth.png"
POSE, PARSE, MASK = EX / "geometric_person_keypoints.json", EX / "geometric_person_parse.png", \
    EX / "geometric_cloth_mask.png"
SLOT_ARG = {"person": "person", "cloth": "cloth", "pose": "pose", "parse": "parsing", "mask": "cloth_mask",
            "body mask": "body_mask"}
SLOT_FILE = {"person": PERSON, "cloth": CLOTH, "pose": POSE, "parse": PARSE, "mask": MASK, "body mask": MASK}


@pytest.fixture(scope="module")
def pipe():
    return TryOnPipeline("geometric", device="cpu")


def refused(fn, *args, match: str, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg and len(msg) <= 600, msg
    assert re.search(match, msg, re.I), f"{match!r} not in {msg!r}"
    return msg


def other_photo() -> bytes:
    """The example person with its colours inverted: same size, same pose and parse, different pixels."""
    arr = 255 - np.asarray(Image.open(PERSON).convert("RGB"))
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def run_pre(pipe, person, **kw):
    args = {"cloth": CLOTH, "pose": POSE, "parsing": PARSE, "cloth_mask": MASK, **kw}
    return pipe.preprocess(person, **args)


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


# ------------------------------------------------------------------------------------------------ caches by content


def test_new_bytesio_objects_alternating_two_photos_each_get_their_own_person(pipe):
    photos = [PERSON.read_bytes(), other_photo()]
    want = [pixels(Image.open(io.BytesIO(p))) for p in photos]
    wrong = 0
    for i in range(30):
        buf = io.BytesIO(photos[i % 2])  # a fresh object each call; CPython reuses freed addresses
        pre = run_pre(pipe, buf)
        del buf
        gc.collect()
        wrong += not np.array_equal(pixels(pre.photo), want[i % 2])
    assert wrong == 0


@pytest.mark.parametrize("form", ["file object", "path", "bytes", "bytearray", "memoryview"])
def test_a_file_whose_content_changed_gives_the_new_content(pipe, tmp_path, form):
    path = tmp_path / "person.png"
    results = []
    for data in (PERSON.read_bytes(), other_photo(), PERSON.read_bytes()):
        path.write_bytes(data)
        if form == "file object":
            with open(path, "rb") as f:
                pre = run_pre(pipe, f)
        elif form == "path":
            pre = run_pre(pipe, path)
        else:
            pre = run_pre(pipe, {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[form](data))
        results.append(pre)
        assert np.array_equal(pixels(pre.photo), pixels(Image.open(io.BytesIO(data))))
    assert results[0].input_sha256["person"] != results[1].input_sha256["person"]
    assert results[0].input_sha256["person"] == results[2].input_sha256["person"]
    assert "framing" in results[2].cached  # the same content again is served from the cache


@pytest.mark.parametrize("slot", ["cloth", "mask", "parse", "pose"])
def test_every_input_slot_is_keyed_by_content_not_by_object(pipe, tmp_path, slot):
    """Two different contents behind file objects: each call answers with its own."""
    arg = SLOT_ARG[slot]
    if slot == "pose":
        doc = json.loads(POSE.read_text())
        moved = copy.deepcopy(doc)
        kp = moved["people"][0]["pose_keypoints"]
        for i in range(0, len(kp), 3):
            if kp[i] > 1:
                kp[i] += 2.0  # every present point 2 pixels to the right
        datas = [json.dumps(doc).encode(), json.dumps(moved).encode()]
    elif slot == "parse":
        lab = np.asarray(Image.open(PARSE))
        datas = [PARSE.read_bytes(), _png(np.where(lab == 0, 0, lab))]
        datas[1] = _png(np.roll(lab, 1, axis=1))
    elif slot == "mask":
        m = np.asarray(Image.open(MASK).convert("L"))
        datas = [MASK.read_bytes(), _png(np.roll(m, 3, axis=1))]
    else:
        datas = [CLOTH.read_bytes(), _png(255 - np.asarray(Image.open(CLOTH).convert("RGB")))]
    seen = []
    for i in range(6):
        pre = run_pre(pipe, PERSON, **{arg: io.BytesIO(datas[i % 2])})
        seen.append(pre)
    for i in range(2, 6):
        assert pre_fingerprint(seen[i], slot) == pre_fingerprint(seen[i % 2], slot)
    assert pre_fingerprint(seen[0], slot) != pre_fingerprint(seen[1], slot)


def pre_fingerprint(pre, slot: str) -> bytes:
    if slot == "pose":
        return np.asarray(pre.pose.keypoints).tobytes()
    if slot == "parse":
        return np.asarray(pre.parsing.labels).tobytes()
    if slot == "mask":
        return np.asarray(pre.cloth_mask).tobytes()
    return pixels(pre.cloth).tobytes()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("form", ["pil", "array"])
def test_an_image_changed_in_place_is_not_served_from_the_cache(pipe, form):
    arr = np.asarray(Image.open(PERSON).convert("RGB")).copy()
    obj = Image.fromarray(arr) if form == "pil" else arr
    first = run_pre(pipe, obj)
    if form == "pil":
        obj.paste((0, 0, 0), (0, 0, 60, 60))
    else:
        arr[:60, :60] = 0
    second = run_pre(pipe, obj)
    assert first.input_sha256["person"] != second.input_sha256["person"]
    assert pixels(second.photo)[:60, :60].max() == 0 and pixels(first.photo)[:60, :60].max() > 0


# ------------------------------------------------------------------------------------------------ cache bounds


def test_the_caches_are_bounded_by_entries_and_bytes(pipe):
    pre = Preprocessor(cache_size=3, cache_bytes=10**9)
    p = TryOnPipeline("geometric", device="cpu", preprocessor=pre)
    base = np.asarray(Image.open(PERSON).convert("RGB"))
    for i in range(6):
        run_pre(p, Image.fromarray(np.clip(base.astype(int) + i, 0, 255).astype(np.uint8)))
    info = pre.cache_info()
    assert info["person"]["entries"] == 3 and info["garment"]["entries"] == 1
    one = info["person"]["bytes"] // 3
    small = Preprocessor(cache_size=100, cache_bytes=int(2.5 * one))
    p = TryOnPipeline("geometric", device="cpu", preprocessor=small)
    for i in range(6):
        run_pre(p, Image.fromarray(np.clip(base.astype(int) + i, 0, 255).astype(np.uint8)))
    assert small.cache_info()["person"]["entries"] == 2
    assert small.cache_info()["person"]["bytes"] <= int(2.5 * one)
    assert CACHE_ENTRIES >= 1 and CACHE_BYTES >= 16 * 1024**2


def test_an_entry_larger_than_the_byte_bound_is_not_kept():
    lru = _LRU(10, 1000)
    lru.put("a", np.zeros(2000, np.uint8))
    lru.put("b", np.zeros(500, np.uint8))
    assert lru.get("a") is None and lru.get("b") is not None and lru.nbytes == 500


# ------------------------------------------------------------------------------------ closed, NUL, pose dicts


@pytest.mark.parametrize("slot", ["person", "cloth", "mask", "parse"])
def test_closed_pil_images_are_refused(pipe, slot):
    img = Image.open(SLOT_FILE[slot])
    img.load()
    img.close()
    refused(run_pre, pipe, PERSON, match=r"closed", **{SLOT_ARG[slot]: img}) if slot != "person" else \
        refused(run_pre, pipe, img, match=r"closed")


@pytest.mark.parametrize("slot", list(SLOT_ARG))
def test_closed_file_objects_are_refused(pipe, slot):
    f = open(SLOT_FILE[slot], "rb")  # noqa: SIM115 - closed on purpose before use
    f.close()
    kw = {SLOT_ARG[slot]: f} if slot != "person" else {}
    refused(run_pre, pipe, f if slot == "person" else PERSON, match=r"closed", **kw)


@pytest.mark.parametrize("slot", list(SLOT_ARG))
@pytest.mark.parametrize("name", ["bad\x00name.png", "\x00", "x" * 5000, "a/" * 3000 + "b.png"])
def test_unusable_path_names_are_refused(pipe, slot, name):
    kw = {SLOT_ARG[slot]: name} if slot != "person" else {}
    msg = refused(run_pre, pipe, name if slot == "person" else PERSON, match=r"NUL|file name|does not exist", **kw)
    assert len(msg) < 600


def _self_ref() -> list[dict]:
    doc = json.loads(POSE.read_text())
    a = copy.deepcopy(doc)
    a["self"] = a
    b = copy.deepcopy(doc)
    b["people"][0]["pose_keypoints"].append(b["people"][0]["pose_keypoints"])
    c = copy.deepcopy(doc)
    c["people"].append(c["people"])
    return [a, b, c]


def _huge_ints() -> list[dict]:
    out = []
    for where in ("x", "confidence", "version", "other person"):
        doc = json.loads(POSE.read_text())
        big = 10**4300 + 7
        if where == "x":
            doc["people"][0]["pose_keypoints"][0] = big
        elif where == "confidence":
            doc["people"][0]["pose_keypoints"][2] = big
        elif where == "version":
            doc["version"] = big
        else:
            doc["people"].append({"pose_keypoints": [big] * 54})
        out.append(doc)
    return out


@pytest.mark.parametrize("doc", _self_ref(), ids=["top", "keypoints", "people"])
def test_pose_dicts_that_refer_to_themselves_are_refused(pipe, doc):
    refused(run_pre, pipe, PERSON, pose=doc, match=r"pose.*(self-reference|refers to itself)")


@pytest.mark.parametrize("doc", _huge_ints(), ids=["x", "confidence", "version", "other person"])
def test_pose_dicts_with_a_4300_digit_integer_are_refused(pipe, doc):
    refused(run_pre, pipe, PERSON, pose=doc, match=r"pose.*integer")


# ------------------------------------------------------------------------------------------------ options


@pytest.mark.parametrize("seed", [2**70, -1, MAX_SEED + 1, -(2**63), 10**5000],
                         ids=["2^70", "-1", "2^64", "-2^63", "5000 digits"])
def test_seeds_outside_torchs_range_are_refused(seed):
    msg = refused(TryOnPipeline, "geometric", device="cpu", seed=seed, match=r"seed")
    assert len(msg) < 300


@pytest.mark.parametrize("seed", [0, 2**63, MAX_SEED])
def test_seeds_at_the_bounds_run(seed):
    p = TryOnPipeline("geometric", device="cpu", seed=seed)
    result = p(PERSON, CLOTH, pose=POSE, parsing=PARSE, cloth_mask=MASK)
    assert result.provenance["seed"] == seed


@pytest.mark.parametrize("weights_dir", [123, 1.5, b"/tmp", ["a"], {"a": 1}, object()],
                         ids=lambda v: type(v).__name__)
def test_a_weights_dir_that_is_not_a_path_is_refused(weights_dir):
    refused(TryOnPipeline, "geometric", weights_dir=weights_dir, match=r"weights_dir")
    refused(Preprocessor, weights_dir, match=r"weights_dir")


# ------------------------------------------------------------------------------------------------ FIFOs and devices


@pytest.fixture(scope="module")
def fifo(tmp_path_factory):
    path = tmp_path_factory.mktemp("fifo") / "photo.png"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("slot", list(SLOT_ARG))
@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom", "folder"])
def test_fifos_devices_and_folders_are_refused_at_once(pipe, fifo, tmp_path, slot, special):
    path = {"fifo": fifo, "folder": tmp_path}.get(special, special)
    kw = {SLOT_ARG[slot]: path} if slot != "person" else {}
    outcome: list[object] = []

    def go() -> None:
        try:
            run_pre(pipe, path if slot == "person" else PERSON, **kw)
            outcome.append("accepted")
        except InputError as e:
            outcome.append(str(e))

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():  # unblock the reader before failing, so the test process can end
        with open(fifo, "wb"):
            pass
        pytest.fail(f"{special} as the {slot} blocked")
    (msg,) = outcome
    assert re.search(r"FIFO|device|folder", msg) and "regular file" in msg, msg
