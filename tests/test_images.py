"""Reading photos: every bad input gets its own clear error; odd but valid images become upright 8-bit RGB."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from vton.errors import InputError
from vton.images import MAX_PIXELS, load_image, mask_to_tensor, to_tensor, to_uint8


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width × height`` but whose data is a few bytes (never decodable in full)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 16))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def test_not_an_image_is_refused_with_a_clear_error(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("this is not a picture")
    with pytest.raises(InputError, match="not an image"):
        load_image(p, "person photo")


def test_truncated_file_is_refused_as_damaged():
    data = _png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)))
    with pytest.raises(InputError, match="damaged or truncated"):
        load_image(data[: len(data) // 2], "person photo")


def test_one_pixel_image_is_refused_as_too_small():
    with pytest.raises(InputError, match=r"only 1 × 1 pixels"):
        load_image(_png_bytes(Image.new("RGB", (1, 1))), "garment photo")


def test_huge_image_is_refused_from_its_header_before_decoding():
    data = _png_header_only(20_000, 20_000)
    assert len(data) < 200
    with pytest.raises(InputError, match="megapixels"):
        load_image(data, "person photo")
    just_over = _png_header_only(MAX_PIXELS // 4000 + 1, 4000)
    with pytest.raises(InputError, match="more than the"):
        load_image(just_over, "person photo")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "nope.jpg", "person photo")


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=95)
    out = load_image(buf.getvalue(), "person photo")
    assert out.size == (20, 40)
    top = np.asarray(out)[2, 10]
    assert top[2] > 200 and top[0] < 60  # the blue strip is now at the top


def test_modes_become_8bit_rgb():
    gray16 = Image.fromarray((np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16))
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))
    pal = Image.new("P", (32, 32), 3)
    for img in (gray16, cmyk, pal, Image.new("L", (32, 32), 7)):
        out = load_image(img, "photo")
        assert out.mode == "RGB" and out.size == (32, 32)
    assert np.asarray(load_image(cmyk, "photo"))[0, 0].tolist() == [255, 0, 0]
    g = np.asarray(load_image(gray16, "photo"))[..., 0].astype(int)
    assert g.min() == 0 and g.max() == round(1023 * 60 / 65535 * 255)  # the 16-bit range scaled to 8 bits


def test_rgba_is_composited_on_white_or_kept():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (10, 20, 30, 255)
    img = Image.fromarray(rgba)
    flat = np.asarray(load_image(img, "garment photo"))
    assert flat[0, 0].tolist() == [255, 255, 255] and flat[10, 10].tolist() == [10, 20, 30]
    kept = load_image(img, "garment photo", keep_alpha=True)
    assert kept.mode == "RGBA" and np.asarray(kept)[0, 0, 3] == 0


def test_tensor_round_trip_is_exact_for_uint8():
    arr = np.random.default_rng(1).integers(0, 256, (8, 6, 3), dtype=np.uint8)
    t = to_tensor(Image.fromarray(arr))
    assert t.shape == (1, 3, 8, 6) and t.min() >= -1 and t.max() <= 1
    np.testing.assert_array_equal(to_uint8(t), arr)
    m = mask_to_tensor(arr[..., 0] > 128)
    assert m.shape == (1, 1, 8, 6) and set(torch.unique(m).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(to_uint8(m, signed=False), (arr[..., 0] > 128).astype(np.uint8) * 255)
