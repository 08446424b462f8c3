"""Every bad or odd input gets vton's own clear error: generated cases of each class the fuzz run found.

Each class has a parametrised generator with several variants; every refusal must be an ``InputError`` with a
one-paragraph message that names the problem (never a PIL, OpenCV, json or zipfile traceback), and every odd but
valid input must be read correctly (never a silent wrong answer). Inputs are made in code: PIL, numpy, zipfile and
``struct`` for PNG chunks.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

import vton.images as images
import vton.unzip as unzip
from vton.annotations import Parsing, Pose, check_pose
from vton.datasets import VitonFolder, export_dataset_zip
from vton.errors import InputError
from vton.formats import (
    MAX_JSON_DEPTH,
    MAX_POSE_JSON_BYTES,
    MIN_GARMENT_FRACTION,
    check_cloth_mask,
    read_mask_png,
    read_openpose_json,
    read_parse_png,
)
from vton.images import MAX_ASPECT, MAX_PIXELS, MIN_SIDE, load_image
from vton.labels import COCO18, LIP
from vton.outputs import check_output_dir, check_output_file
from vton.preprocess.cloth_mask import compute_cloth_mask
from vton.preprocess.framing import frame_person, frame_transform
from vton.run import FRAME

W, H = 192, 256


def refused(fn, *args, match: str = "", error=InputError, **kwargs) -> str:
    """Call ``fn``; it must raise ``error`` with one paragraph naming the problem (``match``, a regex)."""
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert 20 <= len(msg) <= 900, msg
    assert info.value.__cause__ is None
    if match:
        assert re.search(match, msg, re.S), f"{match!r} not in {msg!r}"
    return msg


# ---------------------------------------------------------------------------------------------- generators


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_file(width: int, height: int, *, extra_before: bytes = b"", extra_after: bytes = b"", mode: str = "L",
             rows: bytes | None = None) -> bytes:
    """An 8-bit grey (or RGB) PNG with chunks inserted before and after its image data."""
    channels = 1 if mode == "L" else 3
    colour = 0 if mode == "L" else 2
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    if rows is None:
        rows = b"".join(b"\x00" + bytes(width * channels) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_before + png_chunk(b"IDAT", zlib.compress(rows))
            + extra_after + png_chunk(b"IEND", b""))


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width × height`` but whose data is a few bytes (never decodable in full)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + png_chunk(b"IEND", b""))


INFLATED = zlib.compress(b"\x00" * (2 * 1024**2), 9)  # 2 MB of zeros in about 2 kB, over PIL's 1 MB chunk limit


def bomb_chunk(kind: str) -> bytes:
    if kind == "zTXt":
        return png_chunk(b"zTXt", b"Comment\x00\x00" + INFLATED)
    if kind == "iTXt":
        return png_chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + INFLATED)
    return png_chunk(b"iCCP", b"icc\x00\x00" + INFLATED)


def encoded(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def photo(seed: int = 0, size=(W, H)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BILINEAR))


def triples(size=(W, H), seed: int = 1, missing=(17,)) -> list[float]:
    rng = np.random.default_rng(seed)
    pts = np.concatenate([rng.uniform(0.05, 0.95, (18, 2)) * size, rng.uniform(0.3, 1, (18, 1))], 1)
    pts[list(missing)] = 0.0
    return pts.reshape(-1).tolist()


def pose_doc(values) -> dict:
    return {"version": 1.3, "people": [{"pose_keypoints_2d": values}]}


# ---------------------------------------------------------------------------------------------- images: sizes

THIN = [(10000, 16), (16, 10000), (1, 500), (500, 1), (1, 1), (15, 300), (300, 74), (74, 300), (401, 100)]


@pytest.mark.parametrize("size", THIN)
def test_tiny_or_thin_photos_are_refused_from_the_header_before_decoding(size):
    w, h = size
    bound = "MIN_SIDE" if min(w, h) < MIN_SIDE else "MAX_ASPECT"
    # the header alone: the pixel data is garbage, so refusing it proves nothing was decoded
    refused(load_image, header_only_png(w, h), "person photo", match=rf"{w} × {h}.*{bound}")
    refused(load_image, np.zeros((h, w, 3), np.uint8), "person photo", match=bound)
    refused(frame_transform, (w, h), match=bound)


@pytest.mark.parametrize("size", [(400, 100), (100, 400), (MIN_SIDE, MIN_SIDE), (MIN_SIDE, 4 * MIN_SIDE)])
def test_photos_at_the_bounds_are_accepted(size):
    img = load_image(np.full((size[1], size[0], 3), 120, np.uint8), "person photo")
    assert img.size == size and max(size) / min(size) <= MAX_ASPECT
    framed, t = frame_person(img)
    assert framed.size == FRAME


def test_framing_refuses_thin_photos_with_the_images_message():
    a = refused(load_image, np.zeros((16, 10000, 3), np.uint8), "person photo")
    b = refused(frame_person, Image.new("RGB", (10000, 16)))
    assert a == b


@pytest.mark.parametrize("size", [(20_000, 20_000), (100_000, 1_000), (MAX_PIXELS // 4000 + 1, 4000)])
@pytest.mark.parametrize("reader", ["photo", "parse", "mask"])
def test_decompression_bombs_are_refused_by_every_reader(size, reader):
    data = header_only_png(*size)
    fn = {"photo": load_image, "parse": read_parse_png, "mask": read_mask_png}[reader]
    refused(fn, data, match="megapixels")


# ---------------------------------------------------------------------------------------------- images: floats


def _with_bad(arr: np.ndarray, value: float, seed: int) -> np.ndarray:
    out = arr.copy()
    rng = np.random.default_rng(seed)
    out[tuple(rng.integers(0, s) for s in out.shape)] = value
    return out


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(40, 30), (40, 30, 3), (40, 30, 4)])
def test_float_arrays_with_nan_or_inf_are_refused(value, shape):
    arr = _with_bad(np.random.default_rng(0).random(shape, dtype=np.float32), value, seed=len(shape))
    refused(load_image, arr, "person photo", match="NaN or infinite")


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("form", ["pil", "tiff"])
def test_float_images_with_nan_are_refused(value, form):
    arr = _with_bad(np.random.default_rng(1).random((32, 24), dtype=np.float32), value, seed=3)
    src = Image.fromarray(arr, mode="F") if form == "pil" else encoded(arr, "TIFF")
    refused(load_image, src, "garment photo", match="NaN or infinite")


@pytest.mark.parametrize("lo, hi", [(-0.5, 1.0), (0.0, 300.0), (-1.0, 1.0), (-255.0, 0.0), (0.0, 1e6)])
@pytest.mark.parametrize("form", ["array", "pil", "tiff"])
def test_float_images_outside_0_1_and_0_255_are_refused(lo, hi, form):
    arr = np.linspace(lo, hi, 32 * 24, dtype=np.float32).reshape(32, 24)
    src = arr if form == "array" else Image.fromarray(arr, mode="F") if form == "pil" else encoded(arr, "TIFF")
    refused(load_image, src, match=r"\[0, 1\] or \[0, 255\]")


@pytest.mark.parametrize("top", [1.0, 255.0])
@pytest.mark.parametrize("form", ["array", "pil", "tiff"])
def test_float_images_in_0_1_and_0_255_are_read_correctly(top, form):
    u8 = np.random.default_rng(2).integers(0, 256, (32, 24), dtype=np.uint8)
    u8[0, 0], u8[0, 1] = 0, 255
    arr = (u8.astype(np.float32) / 255.0 * top).astype(np.float32)
    src = arr if form == "array" else Image.fromarray(arr, mode="F") if form == "pil" else encoded(arr, "TIFF")
    got = np.asarray(load_image(src))
    np.testing.assert_array_equal(got[..., 0], u8)


# ---------------------------------------------------------------------------------------------- images: bytes


@pytest.mark.parametrize("chunk, where", [("zTXt", "before"), ("zTXt", "after"), ("iTXt", "before"),
                                          ("iTXt", "after"), ("iCCP", "before")])  # ICC profiles precede the data
@pytest.mark.parametrize("reader", ["photo", "parse", "mask"])
def test_png_metadata_chunks_that_inflate_hugely_are_refused(chunk, where, reader):
    bomb = bomb_chunk(chunk)
    data = png_file(32, 32, extra_before=bomb if where == "before" else b"",
                    extra_after=bomb if where == "after" else b"")
    fn = {"photo": load_image, "parse": read_parse_png, "mask": read_mask_png}[reader]
    refused(fn, data, match="metadata")


FORMATS = ["PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("keep", [0.03, 0.5, 0.9])
def test_truncated_files_of_every_format_are_refused(fmt, keep):
    data = encoded(photo(3, (64, 80)), fmt)
    cut = data[: max(8, int(len(data) * keep))]
    refused(load_image, cut, "person photo", match="damaged|truncated|not an image")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("reader", [read_parse_png, read_mask_png])
def test_truncated_parse_and_mask_files_are_refused(keep, reader):
    lab = np.random.default_rng(4).integers(0, 20, (H, W), dtype=np.uint8)
    data = encoded(lab, "PNG")
    refused(reader, data[: int(len(data) * keep)], match="damaged|truncated|not an image")


@pytest.mark.parametrize("form", ["bytes", "path", "file object"])
@pytest.mark.parametrize("reader", ["photo", "parse", "mask"])
def test_files_over_the_byte_cap_are_refused_before_decoding(form, reader, tmp_path, monkeypatch):
    data = encoded(photo(5, (64, 64)), "PNG")
    monkeypatch.setattr(images, "MAX_FILE_BYTES", len(data) - 1)
    path = tmp_path / "big.png"
    path.write_bytes(data)
    src = {"bytes": data, "path": path, "file object": io.BytesIO(data)}[form]
    fn = {"photo": load_image, "parse": read_parse_png, "mask": read_mask_png}[reader]
    refused(fn, src, match="MAX_FILE_BYTES")


def test_a_sparse_file_over_the_default_cap_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as f:
        f.truncate(images.MAX_FILE_BYTES + 1)  # no disk used: refused from its size alone
    refused(load_image, path, "person photo", match="MAX_FILE_BYTES")


WRONG_TYPES = [1, 2.5, None, True, [1, 2, 3], {"a": 1}, object(), {1, 2}]


@pytest.mark.parametrize("value", WRONG_TYPES, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("reader", ["photo", "parse", "mask"])
def test_wrong_python_types_name_the_expected_types(value, reader):
    fn = {"photo": load_image, "parse": read_parse_png, "mask": read_mask_png}[reader]
    refused(fn, value, match=f"path.*bytes.*PIL image.*numpy array.*got {type(value).__name__}")


@pytest.mark.parametrize("arr", [
    np.zeros((20, 20, 2), np.uint8), np.zeros((20, 20, 5), np.uint8), np.zeros(400, np.uint8),
    np.zeros((2, 20, 20, 3), np.uint8), np.zeros((20, 20), np.complex64), np.full((20, 20), "a"),
    np.full((20, 20), None, object), np.full((20, 20), 300, np.int32), np.full((20, 20), -1, np.int16),
], ids=lambda a: f"{a.dtype}{a.shape}")
def test_arrays_of_the_wrong_shape_or_dtype_are_refused(arr):
    refused(load_image, arr, "person photo", match="array")


@pytest.mark.parametrize("name", ["x" * 5000, "bad\x00name.png", "/no/such/folder/x.png"],
                         ids=["too long", "NUL byte", "missing"])
def test_unusable_paths_are_refused(name, tmp_path):
    refused(load_image, name, match="file name|does not exist")


def test_a_folder_is_not_an_image(tmp_path):
    refused(load_image, tmp_path, match="folder")


# ---------------------------------------------------------------------------------------------- masks and parses


def _mask_truth(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), bool)
    y, x = rng.integers(20, 120), rng.integers(20, 80)
    m[y : y + 100, x : x + 80] = True
    return m


MASK_FORMS = ["bool", "uint8 0/1", "uint8 0/255", "float32 0/1", "float64 0/1", "float 0/255", "F image 0/1",
              "F image 0/255", "L png 0/1", "L png 0/255", "float tiff 0/1", "I;16 png", "1 image", "RGBA alpha"]


def _mask_form(m: np.ndarray, form: str):
    if form == "bool":
        return m
    if form == "uint8 0/1":
        return m.astype(np.uint8)
    if form == "uint8 0/255":
        return m.astype(np.uint8) * 255
    if form.startswith("float32"):
        return m.astype(np.float32)
    if form.startswith("float64"):
        return m.astype(np.float64)
    if form == "float 0/255":
        return m.astype(np.float32) * 255
    if form == "F image 0/1":
        return Image.fromarray(m.astype(np.float32), mode="F")
    if form == "F image 0/255":
        return Image.fromarray(m.astype(np.float32) * 255, mode="F")
    if form == "L png 0/1":
        return encoded(m.astype(np.uint8), "PNG")
    if form == "L png 0/255":
        return encoded(m.astype(np.uint8) * 255, "PNG")
    if form == "float tiff 0/1":
        return encoded(m.astype(np.float32), "TIFF")
    if form == "I;16 png":
        return encoded(m.astype(np.uint16) * 65535, "PNG")
    if form == "1 image":
        return Image.fromarray(m).convert("1")
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = m * 255
    return Image.fromarray(rgba, "RGBA")


@pytest.mark.parametrize("form", MASK_FORMS)
@pytest.mark.parametrize("seed", [0, 1])
def test_masks_in_every_common_form_are_read_correctly(form, seed):
    truth = _mask_truth(seed)
    got = read_mask_png(_mask_form(truth, form))
    assert got.dtype == bool and got.shape == truth.shape
    np.testing.assert_array_equal(got, truth)
    np.testing.assert_array_equal(check_cloth_mask(got), truth)


@pytest.mark.parametrize("value", [np.nan, np.inf, -0.5, 256.0])
def test_float_masks_with_bad_values_are_refused(value):
    m = _with_bad(_mask_truth(0).astype(np.float32), value, seed=7)
    refused(read_mask_png, m, match="NaN|values")
    refused(check_cloth_mask, m, match="NaN|values")


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.uint16])
def test_parse_arrays_of_whole_numbers_in_any_dtype_are_read(dtype):
    lab = np.random.default_rng(3).integers(0, len(LIP), (H, W))
    np.testing.assert_array_equal(read_parse_png(lab.astype(dtype)).labels, lab)
    f_img = Image.fromarray(lab.astype(np.float32), mode="F")
    np.testing.assert_array_equal(read_parse_png(f_img).labels, lab)


@pytest.mark.parametrize("value", [np.nan, np.inf, 2.5, -1.0, 20.0])
def test_parse_arrays_with_fractions_nan_or_out_of_range_labels_are_refused(value):
    lab = _with_bad(np.random.default_rng(3).integers(0, 20, (H, W)).astype(np.float32), value, seed=2)
    refused(read_parse_png, lab, match="NaN|fraction|labels")


# ---------------------------------------------------------------------------------------------- empty garment masks


def _few_pixels(n: int, shape=(H, W), seed: int = 0) -> np.ndarray:
    m = np.zeros(shape, bool)
    idx = np.random.default_rng(seed).choice(m.size, n, replace=False)
    m.reshape(-1)[idx] = True
    return m


EMPTY_MASKS = {
    "all black": lambda: np.zeros((H, W), np.uint8),
    "all below 128": lambda: np.full((H, W), 127, np.uint8),
    "garment at 100": lambda: _mask_truth(0).astype(np.uint8) * 100,
    "float all 0.4": lambda: np.full((H, W), 0.4, np.float32),
    "one pixel": lambda: _few_pixels(1),
    "a few pixels": lambda: _few_pixels(12),
    "just under the minimum": lambda: _few_pixels(int(MIN_GARMENT_FRACTION * H * W) - 1, seed=1),
    "large image, small speck": lambda: _few_pixels(50, (1000, 800)),
}


@pytest.mark.parametrize("kind", list(EMPTY_MASKS))
def test_empty_or_nearly_empty_garment_masks_are_refused(kind):
    m = EMPTY_MASKS[kind]()
    refused(check_cloth_mask, m, "cloth mask", match=r"covers \d+ of \d+ pixels.*MIN_GARMENT_FRACTION")
    png = encoded(m.astype(np.uint8) if m.dtype == bool else m, "PNG") if m.dtype != np.float32 else m
    refused(read_mask_png, png, min_fraction=MIN_GARMENT_FRACTION, match="MIN_GARMENT_FRACTION")


def test_a_mask_just_over_the_minimum_is_accepted():
    n = int(np.ceil(MIN_GARMENT_FRACTION * H * W))
    assert check_cloth_mask(_few_pixels(n)).sum() == n


@pytest.mark.parametrize("alpha", [0, 60, 127])
def test_an_all_transparent_garment_photo_is_refused(alpha):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = (30, 60, 200)
    rgba[..., 3] = alpha
    refused(compute_cloth_mask, Image.fromarray(rgba, "RGBA"), match="transparent")


@pytest.mark.parametrize("n", [1, 4, 30])
def test_a_transparent_garment_photo_with_a_few_opaque_pixels_is_refused(n):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = _few_pixels(n, seed=n) * 255
    refused(compute_cloth_mask, Image.fromarray(rgba, "RGBA"), match="MIN_GARMENT_FRACTION")


@pytest.mark.parametrize("speck", [0, 1, 3, 8])
def test_a_blank_garment_photo_or_one_with_a_speck_is_refused(speck):
    arr = np.full((H, W, 3), 250, np.uint8)
    arr[100 : 100 + speck, 90 : 90 + speck] = (20, 40, 160)
    refused(compute_cloth_mask, Image.fromarray(arr), match="no garment found")


# ---------------------------------------------------------------------------------------------- pose JSON


@pytest.mark.parametrize("digits", [31, 400, 4301, 20_000])
@pytest.mark.parametrize("where", ["x", "confidence", "version", "other person"])
def test_huge_integers_anywhere_in_pose_json_are_refused(digits, where):
    values = [round(v) for v in triples()]
    big = "9" * digits
    doc = json.dumps(pose_doc(values))
    if where == "x":
        doc = doc.replace(f"[{values[0]},", f"[{big},", 1)
    elif where == "confidence":
        doc = doc.replace(f", {values[2]},", f", {big},", 1)
    elif where == "version":
        doc = doc.replace('"version": 1.3', f'"version": {big}')
    else:
        doc = doc[:-2] + ', {"pose_keypoints_2d": [' + big + "]}]}"
    assert big in doc
    refused(read_openpose_json, doc.encode(), match="digits|MAX_POSE_JSON_BYTES")


@pytest.mark.parametrize("value", [10**400, -(10**5000), 2**1024], ids=["1e400", "-1e5000", "2^1024"])
def test_huge_python_integers_in_a_decoded_dict_are_refused(value):
    values = triples()
    values[3] = value
    refused(read_openpose_json, pose_doc(values), match="numbers")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
@pytest.mark.parametrize("opener", ["[", "{\"a\":", "[{\"a\":"])
def test_deeply_nested_pose_json_is_refused_before_decoding(depth, opener):
    closer = {"[": "]", "{\"a\":": "}", "[{\"a\":": "}]"}[opener]
    n = depth if opener != "[{\"a\":" else depth // 2 + 1
    text = opener * n + "1" + closer * n
    for src in (text, text.encode()):
        refused(read_openpose_json, src, match="nests .* levels|MAX_POSE_JSON_BYTES")


def test_brackets_inside_strings_do_not_count_as_nesting():
    doc = pose_doc(triples())
    doc["comment"] = "[" * 10_000 + "{" * 100
    assert read_openpose_json(json.dumps(doc)).present.sum() == 17


def _nested_list(depth: int) -> list:
    out: list = [1.0]
    for _ in range(depth):
        out = [out]
    return out


@pytest.mark.parametrize("depth", [3, 1000, 100_000])
def test_deeply_nested_keypoints_in_a_decoded_dict_are_refused(depth):
    refused(read_openpose_json, {"people": [{"pose_keypoints": [_nested_list(depth)] * 18}]}, match="numbers")
    refused(Pose, [_nested_list(depth)] * 18, np.zeros(18), (W, H), match="numbers|shape")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_non_finite_numbers_in_pose_json_are_refused(literal):
    values = [round(v, 2) for v in triples()]
    text = json.dumps(pose_doc(values)).replace(f"[{values[0]},", f"[{literal},", 1)
    refused(read_openpose_json, text, match="non-standard|non-finite|NaN")


@pytest.mark.parametrize("form", ["bytes", "text", "path"])
def test_pose_json_over_the_byte_cap_is_refused(form, tmp_path):
    text = json.dumps(pose_doc(triples())) + " " * MAX_POSE_JSON_BYTES
    path = tmp_path / "big_keypoints.json"
    path.write_text(text)
    src = {"bytes": text.encode(), "text": text, "path": path}[form]
    refused(read_openpose_json, src, match="MAX_POSE_JSON_BYTES")


BAD_DOCS = [
    1, None, 2.5, [1, 2], {1, 2}, object(), [{"people": []}], {"people": "abc"}, {"people": [1]},
    {"people": [None]}, {"people": [{"pose_keypoints": "abc"}]}, {"people": [{"pose_keypoints": {"x": 1}}]},
    {"people": [{"pose_keypoints": [[[1, 2, 3]]] * 18}]}, {"people": [{"pose_keypoints": [True] * 54}]},
    {"people": [{"pose_keypoints": [None] * 54}]}, {"people": [{"pose_keypoints": ["1"] * 54}]},
    {"people": [{"pose_keypoints_2d": [1.0] * 53}]}, {"people": [{"pose_keypoints_2d": [1e30] * 54}]},
]


@pytest.mark.parametrize("doc", BAD_DOCS, ids=lambda d: repr(d)[:40])
def test_pose_json_of_wrong_types_anywhere_is_refused(doc):
    refused(read_openpose_json, doc)
    if isinstance(doc, (dict, list)):
        try:
            text = json.dumps(doc)
        except TypeError:
            return
        refused(read_openpose_json, text.encode())


# ---------------------------------------------------------------------------------------------- pose vs photo


def _fitting_values(size=(W, H), seed=1, missing=(17,)) -> np.ndarray:
    return np.asarray(triples(size, seed, missing), np.float64).reshape(18, 3)


def _alien(kind: str, size=(W, H), seed: int = 1) -> np.ndarray:
    v = _fitting_values(size, seed)
    if kind == "all zeros":
        v[:] = 0.0
    elif kind == "all negative":
        v[:, :2] = -np.abs(v[:, :2]) - 10.0
    elif kind == "scaled x4":
        v[:, :2] *= 4.0
    elif kind == "of a 4x larger photo":
        v[:, :2] = _fitting_values((size[0] * 4, size[1] * 4), seed + 1)[:, :2]
    elif kind == "x and y swapped":
        v[:, :2] = v[:, 1::-1] * 1.4
    elif kind == "one point far out":
        v[3, :2] = (size[0] * 3, size[1] / 2)
    return v


ALIENS = ["all zeros", "all negative", "scaled x4", "of a 4x larger photo", "x and y swapped", "one point far out"]


@pytest.mark.parametrize("kind", ALIENS)
@pytest.mark.parametrize("size", [(W, H), (600, 800), (1000, 700)])
def test_a_pose_that_does_not_belong_to_the_photo_is_refused(kind, size):
    v = _alien(kind, size)
    if kind == "x and y swapped" and size[0] > size[1]:
        v[:, :2] = _fitting_values(size)[:, 1::-1] * 2.0
    doc = pose_doc(v.reshape(-1).tolist())
    msg = refused(read_openpose_json, doc, size=size)
    assert re.search(r"outside the \d+ × \d+ photo|0 of 18 keypoints present", msg)


def test_points_just_inside_the_tolerance_are_accepted():
    v = _fitting_values()
    v[0, :2] = (W + 2.0, H + 2.0)
    v[1, :2] = (-2.0, 30.0)
    pose = read_openpose_json(pose_doc(v.reshape(-1).tolist()), size=(W, H))
    assert pose.size == (W, H)


@pytest.mark.parametrize("k", [0, 3, 7, 8, 12, 18])
def test_check_pose_needs_the_methods_minimum_and_names_the_counts(k):
    v = _fitting_values(missing=())
    present = np.zeros(18, bool)
    present[np.random.default_rng(k).choice(18, k, replace=False)] = True
    v[~present] = 0.0
    pose = Pose(v[:, :2], v[:, 2], (W, H))
    if k < 8:
        refused(check_pose, pose, (W, H), min_points=8, match=rf"{k} of 18 keypoints present.*at least 8")
        refused(pose.check_fits, (W, H), 8, match="at least 8")
    else:
        assert check_pose(pose, (W, H), min_points=8) is pose


@pytest.mark.parametrize("name", ["neck", "right_shoulder", "left_shoulder"])
def test_check_pose_names_a_missing_required_point(name):
    v = _fitting_values(missing=())
    v[COCO18.index(name)] = 0.0
    pose = Pose(v[:, :2], v[:, 2], (W, H))
    refused(check_pose, pose, (W, H), min_points=3, required=("neck", "right_shoulder", "left_shoulder"),
            match=rf"17 of 18.*{name} missing")


@pytest.mark.parametrize("photo_size", [(W * 2, H * 2), (H, W), (W + 1, H)])
def test_check_pose_refuses_a_pose_of_another_image_size(photo_size):
    pose = Pose(_fitting_values()[:, :2], _fitting_values()[:, 2], (W, H))
    refused(check_pose, pose, photo_size, match=rf"for a {W} × {H} image.*{photo_size[0]} × {photo_size[1]}")


@pytest.mark.parametrize("size", [(0, 10), (-5, 10), ("a", 3), (1.5, 2), None, (1, 2, 3), (True, 4)])
def test_a_pose_with_an_unusable_size_is_refused(size):
    refused(Pose, np.zeros((18, 2)), np.zeros(18), size, match="width, height")


@pytest.mark.parametrize("keypoints", [[["a", "b"]] * 18, np.full((18, 2), None), np.full((18, 2), 1e39)])
def test_a_pose_of_non_numbers_is_refused(keypoints):
    refused(Pose, keypoints, np.zeros(18), (W, H), match="numbers")


# ---------------------------------------------------------------------------------------------- dataset zips


def _export(tmp_path) -> bytes:
    rng = np.random.default_rng(0)
    lab = np.zeros((H, W), np.uint8)
    lab[30:230, 50:140] = rng.integers(1, 20, (200, 90))
    mask = np.zeros((H, W), bool)
    mask[40:200, 40:150] = True
    pose = read_openpose_json(pose_doc(triples()))
    return export_dataset_zip(None, "p", Image.fromarray(photo(1)), Image.fromarray(photo(2)), mask,
                              Parsing(lab), pose)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rezip(files: dict[str, bytes], compression=zipfile.ZIP_STORED, extra: list[zipfile.ZipInfo] = ()) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names
        with zipfile.ZipFile(buf, "w", compression=compression) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
            for info, data in extra:
                zf.writestr(info, data)
    return buf.getvalue()


def _open_zip(tmp_path, data: bytes, name="ds.zip"):
    path = tmp_path / name
    path.write_bytes(data)
    return VitonFolder(path)


def _patch_headers(data: bytes, offset_local: int, offset_central: int, value: bytes) -> bytes:
    """Overwrite a field in every local (PK 3 4) and central (PK 1 2) header."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", offset_local), (b"PK\x01\x02", offset_central)):
        i = out.find(sig)
        while i >= 0:
            out[i + off : i + off + len(value)] = value
            i = out.find(sig, i + 4)
    return bytes(out)


def test_an_exported_zip_reads_back(tmp_path):
    folder = _open_zip(tmp_path, _export(tmp_path))
    assert len(folder) == 1 and folder[0].cloth_mask.any()


@pytest.mark.parametrize("member", ["test/pose/p_keypoints.json", "test_pairs.txt", "test/image/p.jpg"])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_corrupt_zip_member_is_refused(tmp_path, member, compression):
    files = _members(_export(tmp_path))
    data = bytearray(_rezip(files, compression))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(3):  # flip bytes inside the member's data
        data[start + 5 + k * 7] ^= 0x5A
    refused(_open_zip, tmp_path, bytes(data), match="damaged|CRC|not a readable zip")


def test_an_encrypted_zip_is_refused(tmp_path):
    data = _patch_headers(_rezip(_members(_export(tmp_path))), 6, 8, struct.pack("<H", 0x1))
    refused(_open_zip, tmp_path, data, match="encrypted")


@pytest.mark.parametrize("method", [1, 6, 9, 98, 99])
def test_an_unsupported_compression_method_is_refused(tmp_path, method):
    data = _patch_headers(_rezip(_members(_export(tmp_path))), 8, 10, struct.pack("<H", method))
    refused(_open_zip, tmp_path, data, match=f"compression method {method}")


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


@pytest.mark.parametrize("name, target", [("test/image", "/etc"), ("link", "../../"), ("test/pose/a.json", "/x"),
                                          ("test", "/tmp")])
def test_symlink_members_are_refused(tmp_path, name, target):
    files = _members(_export(tmp_path))
    data = _rezip(files, extra=[_symlink(name, target)])
    refused(_open_zip, tmp_path, data, match="symbolic link")


@pytest.mark.parametrize("extra", [
    {"test/image": b"x"}, {"test/image/p.jpg/inner": b"x"}, {"test_pairs.txt/": b""}, {"README.txt/a": b"x"},
])
def test_a_file_and_folder_of_the_same_name_are_refused(tmp_path, extra):
    files = {**_members(_export(tmp_path)), **extra}
    refused(_open_zip, tmp_path, _rezip(files), match="both as a file and as a folder")


def test_a_member_twice_is_refused(tmp_path):
    files = _members(_export(tmp_path))
    info = zipfile.ZipInfo("test_pairs.txt")
    refused(_open_zip, tmp_path, _rezip(files, extra=[(info, b"other")]), match="twice")


@pytest.mark.parametrize("name", ["../outside.txt", "/abs/path.txt", "a/../../b.txt"])
def test_members_outside_the_folder_are_refused(tmp_path, name):
    refused(_open_zip, tmp_path, _rezip({name: b"x"}), match="outside")


@pytest.mark.parametrize("n", [11, 50])
def test_too_many_members_are_refused(tmp_path, monkeypatch, n):
    monkeypatch.setattr(unzip, "MAX_ZIP_MEMBERS", 10)
    refused(_open_zip, tmp_path, _rezip({f"f{i}.txt": b"x" for i in range(n)}), match="MAX_ZIP_MEMBERS")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.99])
def test_a_truncated_or_fake_zip_is_refused(tmp_path, keep):
    data = _export(tmp_path)
    cut = data[: int(len(data) * keep)] if keep else b"PK\x03\x04 not really a zip"
    refused(_open_zip, tmp_path, cut, match="not a zip|damaged|not a readable zip")


@pytest.mark.parametrize("name", ["a" * 256, "a" * 300 + ".jpg", "ä" * 128, "x" * 1000])
def test_pairs_names_longer_than_a_file_name_may_be_are_refused(tmp_path, name):
    files = _members(_export(tmp_path))
    files["test_pairs.txt"] = f"{name} p_cloth.jpg\n".encode()
    refused(_open_zip, tmp_path, _rezip(files), match=f"at most {unzip.MAX_NAME_BYTES} bytes")


@pytest.mark.parametrize("line", ["x" * 100_000, "a b c", "\x00 p_cloth.jpg", "p.jpg\tp\x01.jpg"])
def test_malformed_pairs_lines_are_refused(tmp_path, line):
    files = _members(_export(tmp_path))
    files["test_pairs.txt"] = (line + "\n").encode()
    refused(_open_zip, tmp_path, _rezip(files), match="line 1|control characters")


@pytest.mark.parametrize("root", [1, None, 2.5, ["a"]])
def test_a_dataset_of_the_wrong_type_is_refused(root):
    refused(VitonFolder, root, match="folder or a .zip path")


def test_an_empty_cloth_mask_in_a_dataset_is_refused(tmp_path):
    files = _members(_export(tmp_path))
    files["test/cloth-mask/p_cloth.jpg"] = encoded(np.zeros((H, W), np.uint8), "PNG")
    folder = _open_zip(tmp_path, _rezip(files))
    refused(folder.__getitem__, 0, match="cloth mask.*MIN_GARMENT_FRACTION")


def test_a_dataset_pose_of_another_photo_is_refused(tmp_path):
    files = _members(_export(tmp_path))
    v = _alien("scaled x4").reshape(-1).tolist()
    files["test/pose/p_keypoints.json"] = json.dumps(pose_doc(v)).encode()
    folder = _open_zip(tmp_path, _rezip(files))
    refused(folder.__getitem__, 0, match="outside the 192 × 256 photo")


# ---------------------------------------------------------------------------------------------- output paths


def _export_to(out, tmp_path):
    rng = np.random.default_rng(0)
    lab = np.zeros((H, W), np.uint8)
    lab[30:230, 50:140] = rng.integers(1, 20, (200, 90))
    return export_dataset_zip(out, "p", Image.fromarray(photo(1)), Image.fromarray(photo(2)),
                              np.ones((H, W), bool), Parsing(lab), read_openpose_json(pose_doc(triples())))


OUT_CASES = {
    "an existing folder": (lambda t: t, "is a folder"),
    "under a file": (lambda t: (t / "f.txt").write_text("x") and t / "f.txt" / "x.zip", "is a file"),
    "in a missing folder": (lambda t: t / "missing" / "x.zip", "does not exist"),
    "wrong type": (lambda t: 42, "path, a writable binary file or None"),
    "a read-only file object": (lambda t: open(t.parent / "ro.bin", "wb+") and io.BufferedReader(io.BytesIO()),
                                "cannot be written"),
}


@pytest.mark.parametrize("case", list(OUT_CASES))
def test_export_to_an_unusable_destination_is_refused(tmp_path, case):
    make, match = OUT_CASES[case]
    refused(_export_to, make(tmp_path), tmp_path, match=match)


def test_export_and_output_dirs_refuse_unwritable_folders(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as a non-root user sees a read-only folder
    refused(_export_to, ro / "x.zip", tmp_path, match="permission denied")
    refused(check_output_dir, ro, match="not writable")


def test_export_reports_a_failed_write(tmp_path, monkeypatch):
    def fail(self, data):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "write_bytes", fail)
    refused(_export_to, tmp_path / "x.zip", tmp_path, match=r"cannot be written \(Permission denied\)")


def test_check_output_dir_reports_a_folder_it_cannot_create(tmp_path, monkeypatch):
    def fail(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "mkdir", fail)
    refused(check_output_dir, tmp_path / "new", match="cannot be created \\(permission denied\\)")


@pytest.mark.parametrize("kind", ["a file", "under a file", "wrong type"])
def test_check_output_dir_refuses_files(tmp_path, kind):
    f = tmp_path / "f.txt"
    f.write_text("x")
    path = {"a file": f, "under a file": f / "sub", "wrong type": 3}[kind]
    refused(check_output_dir, path, match="is a file|a part of its path is a file|must be a path")


def test_check_output_dir_and_file_accept_good_paths(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b").is_dir()
    assert check_output_file(tmp_path / "a" / "b" / "x.zip") == tmp_path / "a" / "b" / "x.zip"


# ---------------------------------------------------------------------------------------------- framing: the head


def _drawn_person(size=(600, 800), neck=(300, 330), torso=330):
    """A half-body person on white: hair (black) over a round head (skin), a shirt down past the photo's bottom.

    Adult proportions: the eyes 0.2 nose-to-neck lengths above the nose, the top of the hair 0.85 above the eyes,
    shoulders as wide as the torso is long. Returns the photo, its pose and the y of the top of the hair.
    """
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    nx, ny = neck
    nose_d = 0.42 * torso  # nose-to-neck length
    nose = (nx, ny - nose_d)
    eye_y = nose[1] - 0.2 * nose_d
    hair_top = eye_y - 0.85 * nose_d
    head_r = 0.62 * nose_d
    cy = eye_y - 0.1 * nose_d
    d.ellipse((nx - head_r - 6, hair_top, nx + head_r + 6, cy + 0.3 * head_r), fill=(20, 20, 20))  # hair
    d.ellipse((nx - head_r, cy - 0.7 * head_r, nx + head_r, cy + 1.25 * head_r), fill=(230, 180, 150))  # face
    sh = 0.5 * torso
    d.polygon([(nx - sh, ny), (nx + sh, ny), (nx + 0.45 * torso, size[1]), (nx - 0.45 * torso, size[1])],
              fill=(40, 90, 200))
    pts = {
        "nose": nose, "neck": neck, "right_shoulder": (nx - sh, ny), "left_shoulder": (nx + sh, ny),
        "right_eye": (nx - 0.25 * head_r, eye_y), "left_eye": (nx + 0.25 * head_r, eye_y),
        "right_ear": (nx - 0.9 * head_r, eye_y + 0.1 * nose_d), "left_ear": (nx + 0.9 * head_r, eye_y + 0.1 * nose_d),
        "right_elbow": (nx - 0.55 * torso, ny + 0.5 * torso), "left_elbow": (nx + 0.55 * torso, ny + 0.5 * torso),
        "right_hip": (nx - 0.2 * torso, ny + torso), "left_hip": (nx + 0.2 * torso, ny + torso),
    }
    kp = np.zeros((18, 2), np.float32)
    sc = np.zeros(18, np.float32)
    for name, p in pts.items():
        kp[COCO18.index(name)] = p
        sc[COCO18.index(name)] = 0.9
    return img, Pose(kp, sc, size), hair_top


@pytest.mark.parametrize("neck_y, torso", [(330, 330), (360, 360), (420, 380), (380, 420), (300, 300)])
@pytest.mark.parametrize("face_seen", [True, False])
def test_half_body_framing_keeps_the_whole_head_with_its_hair(neck_y, torso, face_seen):
    img, pose, hair_top = _drawn_person(neck=(300, neck_y), torso=torso)
    if not face_seen:  # seen from behind: no nose, eyes or ears; the shoulders give the head's size
        face = [COCO18.index(n) for n in ("nose", "right_eye", "left_eye", "right_ear", "left_ear")]
        kp, sc = pose.keypoints.copy(), pose.scores.copy()
        kp[face], sc[face] = 0.0, 0.0
        pose = Pose(kp, sc, pose.size)
    assert hair_top > 0, "the drawn hair must lie inside the photo"
    framed, t = frame_person(img, pose)
    assert t.to_frame((300, hair_top))[1] >= 0, "the top of the hair maps above the frame"
    arr = np.asarray(framed).astype(int)
    hair = (arr.max(2) < 60)
    assert hair.any(), "no hair in the frame"
    assert not hair[0].any(), "the hair touches the top edge of the frame: it was cut"
    rows = np.nonzero(hair.any(1))[0]
    assert rows[0] >= 1

