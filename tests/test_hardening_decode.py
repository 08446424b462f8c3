"""Corrupt images are refused, never decoded into a partial picture that runs as if fine.

Generated per class (several variants each), for the photo, parse and mask readers: JPEGs whose scan data was
overwritten (random bytes of several lengths at several places, a lost end marker, truncation), PNGs with a bad
CRC (image data or header), an unknown critical chunk, megabytes of text; TIFFs of 32-bit integers beyond 16 bits
and of signed 8-bit samples. Inputs are made in code (PIL, numpy, tifffile, ``struct``).

Documented acceptance: a JPEG whose scan was altered so that it is still a valid stream (for instance a single
byte changed, which libjpeg-turbo resynchronises after) cannot be told from a genuine photo by any decoder; such a
photo is decoded and shown as the first stage, where the damage is visible.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from vton.decoding import MAX_PNG_TEXT_BYTES
from vton.errors import InputError
from vton.formats import read_mask_png, read_parse_png
from vton.images import load_image

READERS = {"photo": lambda d: load_image(d, "person photo"), "parse": read_parse_png, "mask": read_mask_png}


def refused(fn, data, match: str) -> str:
    with pytest.raises(InputError) as info:
        fn(data)
    msg = str(info.value)
    assert "\n" not in msg and info.value.__cause__ is None and len(msg) < 900, msg
    assert match.lower() in msg.lower(), f"{match!r} not in {msg!r}"
    return msg


def _photo(size=(384, 512), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    noise = rng.integers(0, 40, (size[1], size[0], 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)) // 2 + noise  # detailed


def _jpeg(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _insert_before_idat(png: bytes, chunk: bytes) -> bytes:
    i = png.index(b"IDAT") - 4
    return png[:i] + chunk + png[i:]


# ------------------------------------------------------------------------------------------------------ JPEG


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("where", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("n", [100, 2000])
def test_jpegs_with_an_overwritten_scan_are_refused(progressive, where, n):
    data = _jpeg(_photo(), progressive=progressive)
    sos = data.index(b"\xff\xda")
    p = sos + 20 + int((len(data) - sos - n - 30) * where)
    bad = bytearray(data)
    bad[p : p + n] = np.random.default_rng(p).integers(0, 256, n, dtype=np.uint8).tobytes()
    refused(READERS["photo"], bytes(bad), "damaged JPEG")


@pytest.mark.parametrize("cut", ["no end marker", "keep 40 %", "keep 90 %"])
def test_jpegs_cut_short_are_refused(cut):
    data = _jpeg(_photo())
    bad = data[:-2] if cut == "no end marker" else data[: int(len(data) * int(cut.split()[1]) / 100)]
    refused(READERS["photo"], bad, "damaged")


def test_a_good_jpeg_and_a_cmyk_jpeg_still_read():
    arr = _photo()
    data = _jpeg(arr)
    img = load_image(data, "person photo")
    assert np.array_equal(np.asarray(img), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    buf = io.BytesIO()
    Image.fromarray(arr).convert("CMYK").save(buf, "JPEG", quality=92)
    assert load_image(buf.getvalue(), "person photo").size == (arr.shape[1], arr.shape[0])


# ------------------------------------------------------------------------------------------------------- PNG


def _bad_crc(png: bytes, kind: bytes) -> bytes:
    i = png.index(kind)
    length = struct.unpack(">I", png[i - 4 : i])[0]
    bad = bytearray(png)
    bad[i + 4 + length] ^= 0xFF  # first CRC byte
    return bytes(bad)


def _flipped_idat(png: bytes) -> bytes:
    i = png.index(b"IDAT")
    length = struct.unpack(">I", png[i - 4 : i])[0]
    bad = bytearray(png)
    bad[i + 4 + length // 2] ^= 0x01  # one bit of the image data, CRC left as it was
    return bytes(bad)


PNG_CASES = {
    "bad IDAT CRC": (lambda p: _bad_crc(p, b"IDAT"), "checksum (CRC) of its IDAT"),
    "flipped IDAT bit": (_flipped_idat, "checksum (CRC) of its IDAT"),
    "bad IHDR CRC": (lambda p: _bad_crc(p, b"IHDR"), "(uploaded data)"),  # PIL refuses it at open
    "unknown critical chunk": (lambda p: _insert_before_idat(p, _chunk(b"ZZZZ", b"hello")),
                               "critical PNG chunk 'ZZZZ'"),
    "critical-looking vendor chunk": (lambda p: _insert_before_idat(p, _chunk(b"CgBI", b"\x00" * 4)), "'CgBI'"),
    "5 MB text chunk": (lambda p: _insert_before_idat(p, _chunk(b"tEXt", b"Comment\x00" + b"a" * 5_000_000)),
                        "MAX_PNG_TEXT_BYTES"),
    "many text chunks": (lambda p: _insert_before_idat(p, _chunk(b"tEXt", b"k\x00" + b"b" * 300_000) * 4),
                         "MAX_PNG_TEXT_BYTES"),
    "invalid chunk type": (lambda p: _insert_before_idat(p, _chunk(b"a1b2", b"x")), "invalid type"),
}


@pytest.mark.parametrize("case", list(PNG_CASES))
@pytest.mark.parametrize("reader", list(READERS))
def test_damaged_or_non_conforming_pngs_are_refused_by_every_reader(case, reader):
    arr = _photo((96, 128)) if reader == "photo" else np.where(_photo((96, 128))[..., 0] > 128, 255, 0)
    data = _png(arr.astype(np.uint8) if reader != "parse" else (arr > 0).astype(np.uint8) * 5)
    change, phrase = PNG_CASES[case]
    refused(READERS[reader], change(data), phrase)


def test_text_just_under_the_cap_and_ancillary_chunks_are_accepted():
    data = _png(_photo((96, 128)))
    ok = _insert_before_idat(data, _chunk(b"tEXt", b"Comment\x00" + b"a" * (MAX_PNG_TEXT_BYTES - 20))
                             + _chunk(b"vnDr", b"private ancillary data"))
    assert np.array_equal(np.asarray(load_image(ok, "person photo")), np.asarray(load_image(data, "person photo")))


# ------------------------------------------------------------------------------------------------------ TIFF


def _tiff(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("dtype", [np.uint32, np.int32])
@pytest.mark.parametrize("top", [65_536, 70_000, 2**31 - 1])
@pytest.mark.parametrize("reader", list(READERS))
def test_32_bit_tiffs_beyond_16_bits_are_refused(dtype, top, reader):
    arr = np.linspace(0, top, 96 * 128).reshape(128, 96).astype(dtype)
    refused(READERS[reader], _tiff(arr), "values")


@pytest.mark.parametrize("reader", ["photo", "mask"])
def test_32_bit_tiffs_within_16_bits_are_scaled_explicitly(reader):
    arr = np.zeros((128, 96), np.uint32)
    arr[:, 48:] = 65535
    out = np.asarray(READERS[reader](_tiff(arr)))
    if reader == "photo":
        assert out[:, :48].max() == 0 and out[:, 48:].min() == 255
    else:
        assert not out[:, :48].any() and out[:, 48:].all()


@pytest.mark.parametrize("reader", list(READERS))
def test_signed_8_bit_tiffs_are_refused(reader):
    arr = np.linspace(-100, 100, 96 * 128).reshape(128, 96).astype(np.int8)
    refused(READERS[reader], _tiff(arr), "signed 8-bit")


@pytest.mark.parametrize("mode", sorted(Image.MODES))
def test_every_mode_pil_makes_is_read_as_rgb_when_listed_and_refused_otherwise(mode):
    from vton.decoding import _MODES

    if mode in _MODES:
        img = load_image(Image.new(mode, (64, 64)), "person photo")
        assert img.mode == "RGB" and img.size == (64, 64)
    else:  # La (premultiplied alpha): PIL has no conversion for it
        refused(READERS["photo"], Image.new(mode, (64, 64)), f"image mode {mode}")
