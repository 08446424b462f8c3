"""Strict decoding of image files: refuse what PIL's tolerant decoders would turn into a partial or wrong image.

PIL returns a partial image from damaged data without a word. Here a JPEG is first decoded by libjpeg-turbo with
every recoverable error raised (``simplejpeg``, ``strict=True``: a corrupted scan, bad Huffman codes, a premature
end, extraneous bytes); a PNG's chunks are walked, every CRC checked (image data included), unknown critical
chunks refused (as the PNG specification requires) and its text chunks capped (``MAX_PNG_TEXT_BYTES``); a TIFF of
signed 8-bit samples is refused. High-bit-depth and unusual modes are mapped explicitly (``_MODES``): 16-bit and
32-bit integer images hold 0..65535, floats [0, 1] or [0, 255], and a mode not listed is refused rather than
converted by guesswork. ``vton.images`` opens and reads the inputs and calls these; every failure is an
``InputError`` that says what to do.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
from PIL import Image

from .errors import InputError
from .errors import short_reason as _reason

__all__ = ["MAX_PNG_TEXT_BYTES", "check_encoded", "decode_image", "float_to_uint8", "to_8bit"]

MAX_PNG_TEXT_BYTES = 1024**2  # text chunks (tEXt, zTXt, iTXt) of one PNG, as stored; PIL's own cap per inflated chunk
_PNG_CRITICAL = (b"IHDR", b"PLTE", b"IDAT", b"IEND")  # the critical chunks of PNG (ISO/IEC 15948); others are refused
# The PIL modes vton reads and how: 8-bit modes are converted by PIL; the others by ``to_8bit``.
_MODES = frozenset({"1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "LA", "PA", "CMYK", "YCbCr", "LAB", "HSV",
                    "I;16", "I;16B", "I;16L", "I;16N", "I", "F"})



def float_to_uint8(arr: np.ndarray, what: str) -> np.ndarray:
    """Float pixels in [0, 1] or [0, 255] → uint8; non-finite or other ranges are refused."""
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise InputError(
            f"the {what} has {bad} pixel value(s) that are NaN or infinite; save it as an 8-bit image or fix "
            "those pixels first"
        )
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if lo < 0.0 or hi > 255.0:
        raise InputError(
            f"the {what} holds float values {lo:g}..{hi:g}; float images must be in [0, 1] or [0, 255]; "
            "rescale it or save it as an 8-bit image"
        )
    top = 1.0 if hi <= 1.0 else 255.0
    return np.clip(arr.astype(np.float64) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _encoded_bytes(fp: object) -> bytes:
    if isinstance(fp, io.BytesIO):
        return fp.getvalue()
    with open(fp, "rb") as f:  # a path whose size was checked (MAX_FILE_BYTES)
        return f.read()


def check_encoded(img: Image.Image, fp: object, name: str) -> None:
    """Refuse what PIL's tolerant decoders would decode into a partial or wrong image (see the module docstring)."""
    fmt = img.format
    if fmt in ("JPEG", "MPO"):
        _check_jpeg(_encoded_bytes(fp), name)
    elif fmt == "PNG":
        _check_png(_encoded_bytes(fp), name)
    elif fmt == "TIFF" and img.mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        sample_format = img.tag_v2.get(339, 1) if hasattr(img, "tag_v2") else 1
        if 2 in (sample_format if isinstance(sample_format, tuple) else (sample_format,)):
            raise InputError(f"{name} is a TIFF of signed 8-bit samples (negative values would be read as large "
                             "ones); save it as an unsigned 8-bit image")


def _check_jpeg(data: bytes, name: str) -> None:
    """libjpeg-turbo decodes the whole stream (at 1/8 scale: every coefficient is still read) and raises on any
    recoverable error, which PIL silences."""
    import simplejpeg

    try:
        space = simplejpeg.decode_jpeg_header(data, strict=True)[2]
        simplejpeg.decode_jpeg(data, colorspace="CMYK" if space in ("CMYK", "YCCK") else "GRAY", strict=True,
                               min_factor=8, fastdct=True, fastupsample=True)
    except (ValueError, RuntimeError, MemoryError) as e:
        raise InputError(f"{name} is a damaged JPEG: libjpeg-turbo reports {_reason(e)!r}; PIL would show a "
                         "partly garbled image. Re-save or re-export the photo") from None


def _check_png(data: bytes, name: str) -> None:
    """Walk a PNG's chunks: every CRC, no unknown critical chunk, at most ``MAX_PNG_TEXT_BYTES`` of text."""
    pos, text = 8, 0
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return  # a truncated file: the decoder refuses it with its own message
        if not kind.isalpha():
            raise InputError(f"{name} is a damaged PNG: a chunk at byte {pos} has the invalid type {kind!r}; "
                             "re-save or re-export it")
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(data[pos + 4 : end - 4]) & 0xFFFFFFFF != crc:
            raise InputError(f"{name} is a damaged PNG: the checksum (CRC) of its {kind.decode()} chunk at byte {pos} "
                             "does not match its data, so the file was altered after it was written; re-save or "
                             "re-export it")
        if kind[:1].isupper() and kind not in _PNG_CRITICAL:
            raise InputError(f"{name} holds the unknown critical PNG chunk {kind.decode()!r}; the PNG specification "
                             "says an image with a critical chunk the reader does not know must not be shown. Re-save "
                             "it as a plain PNG")
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            text += length
            if text > MAX_PNG_TEXT_BYTES:
                raise InputError(f"{name} holds more than {MAX_PNG_TEXT_BYTES // 1024**2} MB of text metadata "
                                 "(MAX_PNG_TEXT_BYTES); a photo needs none: re-save it without its metadata")
        if kind == b"IEND":
            return
        pos = end


def decode_image(img: Image.Image, name: str) -> Image.Image:
    """Decode ``img``'s pixels (``img.load()``), turning every decoder failure into an ``InputError``."""
    try:
        img.load()
    except ValueError as e:
        raise InputError(
            f"{name} cannot be decoded: {_reason(e)}; re-save the image without its metadata (PNG text or ICC chunks)"
        ) from None
    except Exception as e:  # noqa: BLE001 - any decoder failure is a damaged file to the user
        raise InputError(
            f"{name} is damaged or truncated and cannot be decoded ({type(e).__name__}: {_reason(e)}); "
            "re-save or re-export it"
        ) from None
    return img


def to_8bit(img: Image.Image, what: str) -> Image.Image:
    """16-bit, 32-bit integer and float images → 8-bit L; the other modes of ``_MODES`` are left as they are."""
    if img.mode not in _MODES:
        raise InputError(f"the {what} has image mode {img.mode}, which vton does not read; save it as an 8-bit RGB "
                         "or grey image")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if lo < 0 or hi > 65535:
            raise InputError(
                f"the {what} is a {img.mode} integer image with values {lo:g}..{hi:g}; vton reads 8- and 16-bit "
                "images (0..65535); save it as an 8-bit image"
            )
        top = 65535.0 if hi > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if img.mode == "F":
        return Image.fromarray(float_to_uint8(np.asarray(img, dtype=np.float64), what))
    return img
