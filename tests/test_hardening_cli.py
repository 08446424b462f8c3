"""Every class of bad input through the CLI (``vton.cli.main``, in process): vton's own one-paragraph error and exit
status 2, never a traceback, never a silent wrong answer. Cases are generated per class (several variants each);
the readers' own generated cases are in tests/test_hardening_inputs.py.

The training-free ``geometric`` method is used so no weights are needed; the inputs are otherwise good, so each
case fails only for the reason it is about.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vton.cli import main

EX = Path(__file__).resolve().parents[1] / "examples"
GOOD = {"person": EX / "geometric_person.png", "cloth": EX / "geometric_cloth.png",
        "pose": EX / "geometric_person_keypoints.json", "parse": EX / "geometric_person_parse.png",
        "cloth-mask": EX / "geometric_cloth_mask.png"}


def _png(path: Path, arr: np.ndarray) -> Path:
    Image.fromarray(arr).save(path)
    return path


def _png_with_chunk(path: Path, chunk_type: bytes, payload: bytes) -> Path:
    """A valid small PNG with one extra ancillary chunk before IEND."""
    src = GOOD["person"].read_bytes()
    iend = src.rindex(b"IEND") - 4
    chunk = struct.pack(">I", len(payload)) + chunk_type + payload
    chunk += struct.pack(">I", zlib.crc32(chunk_type + payload) & 0xFFFFFFFF)
    path.write_bytes(src[:iend] + chunk + src[iend:])
    return path


def _pose(path: Path, keypoints: list[float]) -> Path:
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": keypoints}]}))
    return path


def _good_keypoints() -> list[float]:
    return json.loads(GOOD["pose"].read_text())["people"][0]["pose_keypoints"]


def _cases(tmp: Path) -> list[tuple[str, dict[str, object], str]]:
    """(name, argument overrides, a phrase the message must hold)."""
    kp = np.asarray(_good_keypoints(), np.float64).reshape(-1, 3)
    photo_w, photo_h = Image.open(GOOD["person"]).size
    cases: list[tuple[str, dict[str, object], str]] = []
    # sizes: thin, tiny, extreme aspect
    for w, h in ((10000, 16), (16, 4000), (8, 8), (900, 60)):
        cases.append((f"photo {w}x{h}", {"person": _png(tmp / f"p{w}x{h}.png", np.full((h, w, 3), 200, np.uint8))},
                      "person photo"))
    # modes: a float TIFF with NaN / Inf pixels
    for bad in (np.nan, np.inf):
        arr = np.full((256, 192), 0.5, np.float32)
        arr[10, 10] = bad
        p = tmp / f"f{bad}.tiff"
        Image.fromarray(arr, mode="F").save(p)
        cases.append((f"float tiff {bad}", {"person": p}, "person photo"))
    # bombs: text chunks that inflate hugely, a header declaring a gigantic image
    big = zlib.compress(b"x" * (80 << 20), 9)
    cases.append(("zTXt bomb", {"person": _png_with_chunk(tmp / "ztxt.png", b"zTXt", b"k\x00\x00" + big)},
                  "person photo"))
    cases.append(("iCCP bomb", {"person": _png_with_chunk(tmp / "iccp.png", b"iCCP", b"p\x00\x00" + big)},
                  "person photo"))
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
    header += struct.pack(">I", zlib.crc32(header[12:]) & 0xFFFFFFFF)
    (tmp / "bomb.png").write_bytes(header + b"\x00" * 64)
    cases.append(("declared bomb photo", {"person": tmp / "bomb.png"}, "person photo"))
    cases.append(("declared bomb parse", {"parse": tmp / "bomb.png"}, "parse"))
    cases.append(("declared bomb mask", {"cloth-mask": tmp / "bomb.png"}, "mask"))
    # empty garment masks
    for name, arr in (("black", np.zeros((256, 192), np.uint8)),
                      ("below threshold", np.full((256, 192), 100, np.uint8)),
                      ("one pixel", np.pad(np.full((1, 1), 255, np.uint8), ((100, 155), (90, 101))))):
        cases.append((f"mask {name}", {"cloth-mask": _png(tmp / f"m_{name}.png", arr)}, "garment"))
    rgba = np.zeros((256, 192, 4), np.uint8)
    cases.append(("transparent garment", {"cloth": _png(tmp / "clear.png", rgba), "cloth-mask": None}, "garment"))
    # annotations that do not belong to the photo
    for name, arr in (("all zeros", np.zeros_like(kp)), ("all negative", -np.abs(kp) - 5),
                      ("scaled x4", kp * [4, 4, 1]), ("larger photo", kp * [1, 1, 1] + [photo_w, photo_h, 0])):
        cases.append((f"pose {name}", {"pose": _pose(tmp / f"pose_{name}.json", arr.reshape(-1).tolist())}, "pose"))
    cases.append(("pose huge int", {"pose": tmp / "huge.json"}, "pose"))
    (tmp / "huge.json").write_text('{"people": [{"pose_keypoints_2d": [' + "9" * 5000 + "]}]}")
    cases.append(("pose deep nesting", {"pose": tmp / "deep.json"}, "pose"))
    (tmp / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    cases.append(("parse of another size", {"parse": _png(tmp / "small_parse.png", np.zeros((128, 96), np.uint8))},
                  "size"))
    # options
    cases.append(("unknown method", {"method": "no-such-method"}, "method"))
    out_file = tmp / "out.txt"
    out_file.write_text("x")
    cases.append(("--out is a file", {"out": out_file}, "is a file"))
    cases.append(("--out of 300 characters", {"out": tmp / ("o" * 300)}, "folder name"))
    for seed in (2**70, -1, 2**64):
        cases.append((f"--seed {seed}", {"seed": seed}, "seed"))
    # FIFOs and devices as any input: refused before opening (a regular file only), never a hang
    fifo = tmp / "pipe.png"
    os.mkfifo(fifo)
    for special in (fifo, "/dev/zero", "/dev/urandom", tmp):
        for slot in ("person", "cloth", "pose", "parse", "cloth-mask", "body-mask"):
            cases.append((f"{special} as --{slot}", {slot: special}, "regular file"))
    return cases


def _argv(overrides: dict[str, object], tmp: Path) -> list[str]:
    args = {**GOOD, "method": "geometric", "out": tmp / "out", **overrides}
    argv = ["tryon"]
    for k, v in args.items():
        if v is not None:
            argv += [f"--{k}", str(v)]
    return argv


def test_every_bad_input_class_gives_one_paragraph_and_exit_2(tmp_path, capsys):
    cases = _cases(tmp_path)
    assert len(cases) >= 24
    failures = []
    for name, overrides, phrase in cases:
        try:
            code = main(_argv(overrides, tmp_path))
        except SystemExit as e:  # argparse refuses bad choices itself (exit 2, usage message)
            code = e.code
        err = capsys.readouterr().err
        ok = code == 2 and "Traceback" not in err and "internal error" not in err and phrase in err.lower()
        if not ok:
            failures.append(f"{name}: exit {code}: {err.strip()[:300]}")
    assert failures == []


def test_the_good_inputs_themselves_run(tmp_path, capsys):
    assert main(_argv({}, tmp_path)) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "result.json").is_file()


@pytest.mark.parametrize("damage", ["crc", "encrypted", "clash", "symlink"])
def test_damaged_dataset_zips_are_refused_by_the_dataset_command(tmp_path, capsys, damage):
    z = tmp_path / "data.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("test/image/a.jpg", GOOD["person"].read_bytes())
        zf.writestr("test_pairs.txt", "a.jpg b.jpg\n")
        if damage == "clash":
            zf.writestr("test/image", b"a file where a folder is")
        if damage == "symlink":
            info = zipfile.ZipInfo("test/cloth")
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc")
    data = bytearray(z.read_bytes())
    if damage == "crc":
        i = data.index(b"\x89PNG")
        data[i + 40] ^= 0xFF
    if damage == "encrypted":
        for sig in (b"PK\x03\x04", b"PK\x01\x02"):
            start = 0
            while (i := data.find(sig, start)) >= 0:
                off = 6 if sig == b"PK\x03\x04" else 8
                data[i + off] |= 1  # the "encrypted" flag bit
                start = i + 4
    z.write_bytes(bytes(data))
    code = main(["dataset", "--root", str(z), "--method", "geometric", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "zip" in err.lower(), err


@pytest.mark.parametrize("bad", [[1, 2], "text", {"file": 3}, {"licence": None}, {"repo": ["a"]}, {"bytes": "x"},
                                 {"revision": 5}])
def test_a_malformed_manifest_entry_is_a_weights_error_naming_it(tmp_path, monkeypatch, capsys, bad):
    from vton import weights

    data = json.loads(weights.manifest_path().read_text())
    key = next(iter(data["entries"]))
    if isinstance(bad, dict):
        data["entries"][key].update(bad)
    else:
        data["entries"][key] = bad
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("VTON_MANIFEST", str(path))
    weights.manifests.reload()
    try:
        code = main(["methods"])
    finally:
        weights.manifests.reload()
    err = capsys.readouterr().err
    assert code == 2 and key in err and "Traceback" not in err, err


def test_publish_is_wired_into_the_cli_and_refuses_offline_leaving_the_manifest(tmp_path, monkeypatch, capsys):
    from vton import weights

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = weights.manifest_path().read_bytes()
    pth = tmp_path / "warp_model_final.pth"
    pth.write_bytes(b"not used: offline stops first")
    code = main(["publish", "--method", "pf-afn", "--warp", str(pth), "--repo", "someone/pf-afn"])
    err = capsys.readouterr().err
    assert code == 2 and "offline" in err.lower() and "Traceback" not in err, err
    assert weights.manifest_path().read_bytes() == before


@pytest.mark.parametrize("target", ["file", "/proc", "under a file", "300 characters"])
def test_random_weights_into_a_place_that_cannot_hold_files_is_refused(tmp_path, capsys, target):
    (tmp_path / "f").write_text("x")
    out = {"file": tmp_path / "f", "/proc": "/proc", "under a file": tmp_path / "f" / "w",
           "300 characters": tmp_path / ("w" * 300)}[target]
    code = main(["random-weights", str(out), "--methods", "cp-vton"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "weights folder" in err, err
    assert not (tmp_path / "f").is_dir()


def test_compile_says_what_it_costs_before_compiling_for_a_method_whose_card_notes_it(tmp_path, capsys,
                                                                                        monkeypatch):
    from vton import methods

    noted = [c for c in methods.cards() if c.compile_note]
    assert noted, "no card notes a --compile cost"
    card = noted[0]
    monkeypatch.setattr("vton.pipeline.TryOnPipeline.__call__", lambda *a, **k: (_ for _ in ()).throw(
        __import__("vton.errors", fromlist=["InputError"]).InputError("stopped here by the test")))
    code = main(_argv({"method": card.id, "compile": None}, tmp_path) + ["--compile"])
    err = capsys.readouterr().err
    assert code == 2 and f"note: --compile: {card.compile_note}" in err.replace("\n", " ") or \
        card.compile_note[:40] in err, err
