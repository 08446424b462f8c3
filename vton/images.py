"""Reading photos safely and converting between images and the networks' tensors.

Convention: network tensors are ``(1, C, H, W) float32``; images in [-1, 1] = (x/255 − 0.5)/0.5 and masks in
{0, 1}, as in CP-VTON (sergeywong/cp-vton) and every method built on it.

Every input is checked before any pixel is decoded, and every failure is an ``InputError`` that says what is
wrong and what to do: the Python type (a path, bytes, a binary file object, a PIL image or a numpy array), the
file's byte size (``MAX_FILE_BYTES``), the pixel count (``MAX_PIXELS``), the shorter side (``MIN_SIDE``) and the
aspect ratio (``MAX_ASPECT``: a 3 × 4 person frame must be able to hold the photo), damaged or truncated data,
PNG text or ICC chunks that inflate beyond PIL's limits, and float pixels that are not finite or not in [0, 1]
or [0, 255].

Decoding is strict where PIL is tolerant (``vton.decoding``): a JPEG is decoded by libjpeg-turbo with every
recoverable error raised, a PNG's chunks are walked and their CRCs checked, and high-bit-depth and unusual modes
are mapped explicitly or refused.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .decoding import check_encoded, decode_image, float_to_uint8, to_8bit
from .errors import InputError
from .errors import short_reason as _reason

__all__ = [
    "MAX_PIXELS", "MIN_SIDE", "MAX_ASPECT", "MAX_FILE_BYTES", "ImageSource", "check_image_size", "check_file_size",
    "open_image", "SourceBytes", "read_source_bytes", "read_path_bytes", "array_to_image", "load_image", "to_tensor",
    "mask_to_tensor", "to_uint8", "to_pil",
]

MAX_PIXELS = 40_000_000  # larger images are refused from their header, before any pixel is decoded
MIN_SIDE = 16  # pixels on the shorter side
MAX_ASPECT = 4.0  # longer side / shorter side; a 3 × 4 frame letterboxes a 4 : 1 photo to 48 pixels, no more
MAX_FILE_BYTES = 100 * 1024**2  # any image file read from a path, bytes or a file object; checked before decoding

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray

_ACCEPTED = "a file path, the file's bytes, a binary file object, a PIL image or a numpy array"


def _mb(n: int) -> str:
    return f"{n / 1024**2:.0f} MB" if n >= 1024**2 else f"{n} bytes"


def check_file_size(n_bytes: int, what: str, limit: int | None = None, limit_name: str = "MAX_FILE_BYTES") -> None:
    """Refuse a file of more than ``limit`` bytes (default ``MAX_FILE_BYTES``), checked before it is decoded.

    Raises:
        InputError: the file is larger than ``limit``.
    """
    limit = MAX_FILE_BYTES if limit is None else limit
    if n_bytes > limit:
        raise InputError(
            f"the {what} is {n_bytes:,} bytes, more than the {_mb(limit)} vton reads from one file "
            f"({limit_name}); use a smaller or more "
            "compressed file"
        )


def check_image_size(size: tuple[int, int], what: str = "image", *, max_pixels: int | None = None,
                     min_side: int | None = None, max_aspect: float | None | bool = True) -> None:
    """Refuse an image size vton cannot work with, from its ``(width, height)`` alone.

    Args:
        size: ``(width, height)`` in pixels.
        what: how messages name the image.
        max_pixels: most pixels (default ``MAX_PIXELS``).
        min_side: fewest pixels on the shorter side (default ``MIN_SIDE``).
        max_aspect: largest longer/shorter side ratio (default ``MAX_ASPECT``); None skips the check.

    Raises:
        InputError: too many pixels, a side shorter than ``min_side``, or too thin.
    """
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    min_side = MIN_SIDE if min_side is None else min_side
    max_aspect = MAX_ASPECT if max_aspect is True else max_aspect
    w, h = int(size[0]), int(size[1])
    if w * h > max_pixels:
        raise InputError(
            f"the {what} is {w} × {h} pixels, more than the {max_pixels // 1_000_000} megapixels vton accepts "
            f"(MAX_PIXELS); scale it down first"
        )
    if min(w, h) < min_side:
        raise InputError(
            f"the {what} is only {w} × {h} pixels; it needs at least {min_side} pixels on each side (MIN_SIDE); "
            "use a larger image"
        )
    if max_aspect is not None and max(w, h) > max_aspect * min(w, h):
        raise InputError(
            f"the {what} is {w} × {h} pixels, {max(w, h) / min(w, h):.1f} times longer than it is wide; vton "
            f"accepts at most {max_aspect:g} : 1 (MAX_ASPECT), since a 3 × 4 person frame must hold it; crop it "
            "to the person or garment first"
        )


def array_to_image(arr: np.ndarray, what: str = "image") -> Image.Image:
    """A numpy image → PIL: ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` of bool, uint8 (or an
    integer type holding 0..255), or float in [0, 1] or [0, 255] (finite).

    Raises:
        InputError: another shape or dtype, a value out of range, NaN or infinity, too many pixels.
    """
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4))):
        raise InputError(
            f"the {what} array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {arr.shape}"
        )
    h, w = arr.shape[:2]
    if h * w > MAX_PIXELS:
        check_image_size((w, h), what, max_aspect=None)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    kind = arr.dtype.kind
    if kind == "b":
        arr = arr.astype(np.uint8) * 255
    elif kind in "ui" and arr.dtype != np.uint8:
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 255:
            raise InputError(
                f"the {what} array is {arr.dtype} with values {lo}..{hi}; integer images must hold 0..255 "
                "(convert 16-bit data to uint8 first)"
            )
        arr = arr.astype(np.uint8)
    elif kind == "f":
        arr = float_to_uint8(arr, what)
    elif kind != "u":
        raise InputError(f"the {what} array has dtype {arr.dtype}; it must be uint8, bool or float")
    if min(h, w) < 1:
        raise InputError(f"the {what} array is empty (shape {arr.shape})")
    return Image.fromarray(np.ascontiguousarray(arr))


# ---------------------------------------------------------------------------------------------------------------
# opening and reading input bytes (paths, bytes, file objects): checked before anything is read


class SourceBytes(bytes):
    """An input's bytes, read once, with the label messages use for it (a file name, "uploaded data").

    The pipeline reads every input once (``read_source_bytes``), keys its caches by these bytes and hands them to
    the readers, so what is decoded is exactly what was hashed.
    """

    label: str

    def __new__(cls, data: bytes, label: str) -> SourceBytes:
        obj = super().__new__(cls, data)
        obj.label = label
        return obj


def _short(text: str, n: int = 120) -> str:
    return text if len(text) <= n else text[:n] + "…"


def read_path_bytes(src: str | os.PathLike, what: str, max_bytes: int | None = None,
                    limit_name: str = "MAX_FILE_BYTES") -> SourceBytes:
    """The bytes of a regular file named by a path: the name, the file type and the size are checked first.

    A FIFO, a device (``/dev/zero``, ``/dev/urandom``), a socket or a folder is refused before it is opened, so
    nothing blocks or reads without end; the file is opened non-blocking and checked again on the open handle (it
    cannot be swapped for a FIFO in between), and at most ``max_bytes + 1`` bytes are read.

    Raises:
        InputError: a NUL byte or an unusable name, missing, not a regular file, too large, unreadable.
    """
    import stat

    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        text = os.fsdecode(src)
    except (TypeError, ValueError) as e:
        raise InputError(f"the {what} path cannot be used as a file name ({_reason(e)})") from None
    name = f"the {what} {_short(text)!r}"
    if "\x00" in text:
        raise InputError(f"the {what} path contains a NUL byte, so it cannot be a file name")

    def kind(mode: int) -> str | None:
        if stat.S_ISREG(mode):
            return None
        if stat.S_ISDIR(mode):
            return "a folder"
        if stat.S_ISFIFO(mode):
            return "a FIFO (named pipe)"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return "a device"
        if stat.S_ISSOCK(mode):
            return "a socket"
        return "not a regular file"

    def refuse_kind(mode: int) -> None:
        k = kind(mode)
        if k is not None:
            raise InputError(f"{name} is {k}, not a regular file; vton reads {what}s from regular files only")

    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise InputError(f"{name} does not exist") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{name} cannot be used as a file name ({_reason(e)})") from None
    refuse_kind(st.st_mode)
    check_file_size(st.st_size, f"{what} {_short(text)!r}", max_bytes, limit_name)
    try:
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as e:
        raise InputError(f"{name} cannot be opened ({_reason(e)})") from None
    try:
        st = os.fstat(fd)
        refuse_kind(st.st_mode)
        check_file_size(st.st_size, f"{what} {_short(text)!r}", max_bytes, limit_name)
        chunks, total = [], 0
        while total <= max_bytes:
            block = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not block:
                break
            chunks.append(block)
            total += len(block)
    except InputError:
        raise
    except OSError as e:
        raise InputError(f"{name} cannot be read ({_reason(e)})") from None
    finally:
        os.close(fd)
    check_file_size(total, f"{what} {_short(text)!r}", max_bytes, limit_name)  # it grew while being read
    return SourceBytes(b"".join(chunks), name)


def read_source_bytes(src: object, what: str, max_bytes: int | None = None,
                      limit_name: str = "MAX_FILE_BYTES") -> SourceBytes:
    """The bytes of an input given as a path, bytes (``bytes``, ``bytearray``, ``memoryview``) or a binary file
    object, read once and at most ``max_bytes + 1`` of them (see ``read_path_bytes`` for paths).

    Raises:
        InputError: a closed or text-mode file object, a failing read, too many bytes, or another type.
    """
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if isinstance(src, SourceBytes):
        check_file_size(len(src), what, max_bytes, limit_name)
        return src
    if isinstance(src, (bytes, bytearray, memoryview)):
        check_file_size(len(src), what, max_bytes, limit_name)
        return SourceBytes(bytes(src), f"the {what} (uploaded data)")
    if isinstance(src, (str, os.PathLike)):
        return read_path_bytes(src, what, max_bytes, limit_name)
    if hasattr(src, "read"):
        if getattr(src, "closed", False):
            raise InputError(f"the {what} file object is closed; open the file again (or pass its path or bytes)")
        try:
            data = src.read(max_bytes + 1)
        except (OSError, ValueError) as e:
            raise InputError(f"the {what} could not be read from the given file object ({_reason(e)})") from None
        if not isinstance(data, (bytes, bytearray)):
            raise InputError(f"the {what} file object must be opened in binary mode ('rb'), it gave "
                             f"{type(data).__name__}")
        check_file_size(len(data), what, max_bytes, limit_name)
        return SourceBytes(bytes(data), f"the {what} (uploaded data)")
    raise InputError(f"the {what} must be {_ACCEPTED}; got {type(src).__name__}")


def _file_source(src: object, what: str, max_bytes: int | None) -> tuple[object, str]:
    """``(something Image.open reads, name for messages)`` from a path, bytes or a binary file object."""
    data = read_source_bytes(src, what, max_bytes)
    label = data.label if data.label.startswith(f"the {what}") else f"the {what} ({data.label})"
    return io.BytesIO(data), label


def open_image(src: ImageSource, what: str = "image", *, max_pixels: int | None = None,
               max_bytes: int | None = None) -> tuple[Image.Image, str]:
    """Open an image without decoding its pixels: the type, the byte size and the header's pixel count are checked.

    Args:
        src: a path, the file's bytes, a binary file object, a PIL image or a numpy array (see ``array_to_image``).
        what: how messages name it.
        max_pixels: most pixels the header may declare (default ``MAX_PIXELS``).
        max_bytes: most bytes the file may hold (default ``MAX_FILE_BYTES``).

    Returns:
        ``(image, name for messages)``; the image is not yet loaded unless it came as an array.

    Raises:
        InputError: a wrong type, a too large file, not an image, a damaged header, too many pixels, or PNG
            chunks that inflate beyond PIL's limits.
    """
    max_pixels = MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(src, Image.Image):
        img, name = src, f"the {what}"
        try:
            img.im  # noqa: B018 - raises for a closed image
        except ValueError:
            raise InputError(f"the {what} is a closed PIL image; pass it before closing it (or its path or "
                             "bytes)") from None
    elif isinstance(src, np.ndarray):
        img, name = array_to_image(src, what), f"the {what}"
    else:
        fp, name = _file_source(src, what, max_bytes)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the pixel count is checked below
                img = Image.open(fp)
        except Image.DecompressionBombError:
            raise InputError(
                f"{name} declares more pixels than vton accepts ({max_pixels // 1_000_000} megapixels); "
                "scale it down first"
            ) from None
        except UnidentifiedImageError:
            raise InputError(
                f"{name} is not an image PIL can read (PNG, JPEG, WebP, BMP, TIFF, …); check the file"
            ) from None
        except ValueError as e:  # PNG text/iTXt/zTXt/ICC chunks that inflate beyond PIL's limits
            raise InputError(
                f"{name} holds metadata (PNG text or ICC chunks) that inflates beyond safe limits ({_reason(e)}); "
                "re-save the image without its metadata"
            ) from None
        except (OSError, SyntaxError, EOFError, IndexError, KeyError, TypeError) as e:
            raise InputError(
                f"{name} is damaged or truncated and cannot be opened ({type(e).__name__}: {_reason(e)})"
            ) from None
    w, h = img.size
    if w * h > max_pixels:
        raise InputError(
            f"{name} is {w} × {h} pixels, more than the {max_pixels // 1_000_000} megapixels vton accepts "
            "(MAX_PIXELS); scale it down first"
        )
    if not isinstance(src, (Image.Image, np.ndarray)):
        check_encoded(img, fp, name)
    return img, name


def load_image(src: ImageSource, what: str = "image", *, keep_alpha: bool = False) -> Image.Image:
    """Read an image from a path, bytes, a binary file object, a PIL image or an array: validated, upright, 8-bit
    RGB (or RGBA).

    The type, the file's byte size, the pixel count, the shorter side and the aspect ratio are checked before any
    pixel is decoded (see the module docstring); EXIF orientation is applied; 16-bit, float, grayscale, palette,
    CMYK and other modes become RGB. Without ``keep_alpha`` transparency is composited on white.

    Args:
        src: the image.
        what: how the error messages name it ("person photo", "garment photo").
        keep_alpha: return RGBA when the image has transparency.

    Returns:
        A loaded ``PIL.Image`` in mode RGB or (with ``keep_alpha`` and transparency) RGBA.

    Raises:
        InputError: a wrong type, not an image, damaged, truncated, too small, too thin, too large, or float
            pixels that are not finite or out of range.
    """
    img, name = open_image(src, what)
    check_image_size(img.size, what)
    img = decode_image(img, name)
    try:
        img = ImageOps.exif_transpose(img)
    except Exception as e:  # noqa: BLE001 - malformed EXIF data
        raise InputError(
            f"{name} has damaged EXIF metadata ({type(e).__name__}: {_reason(e)}); re-save it without EXIF"
        ) from None
    img = to_8bit(img, what)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)
    try:
        if has_alpha:
            img = img.convert("RGBA")
            if keep_alpha:
                return img
            white = Image.new("RGBA", img.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, img).convert("RGB")
        return img.convert("RGB")
    except (ValueError, OSError) as e:
        raise InputError(
            f"{name} has image mode {img.mode}, which vton cannot convert to RGB ({_reason(e)}); save it as RGB"
        ) from None


def to_tensor(img: Image.Image | np.ndarray):
    """RGB image (PIL or ``(H, W, 3) uint8``) → ``(1, 3, H, W) float32`` in [-1, 1]."""
    import torch

    arr = np.asarray(img.convert("RGB") if isinstance(img, Image.Image) else img, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"expected an RGB image (H, W, 3), got shape {arr.shape}")
    return torch.from_numpy((arr / 255.0 - 0.5) / 0.5).permute(2, 0, 1).unsqueeze(0).contiguous()


def mask_to_tensor(mask: np.ndarray):
    """``(H, W)`` bool or {0, 1} mask → ``(1, 1, H, W) float32`` in {0, 1}."""
    import torch

    m = np.asarray(mask)
    if m.ndim != 2:
        raise InputError(f"a mask must be 2-D (H, W), got shape {m.shape}")
    return torch.from_numpy((m > 0).astype(np.float32))[None, None]


def to_uint8(t, *, signed: bool = True) -> np.ndarray:
    """``(1, C, H, W)`` or ``(C, H, W)`` tensor → ``(H, W, C)`` or ``(H, W)`` uint8.

    Args:
        t: the tensor.
        signed: values are in [-1, 1] (images); otherwise in [0, 1] (masks).
    """
    x = t.detach().float().cpu()
    if x.ndim == 4:
        x = x[0]
    x = (x + 1.0) / 2.0 if signed else x
    arr = (x.clamp(0, 1) * 255.0 + 0.5).to(dtype=__import__("torch").uint8).permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def to_pil(t, *, signed: bool = True) -> Image.Image:
    """A tensor as a PIL image (see ``to_uint8``)."""
    return Image.fromarray(to_uint8(t, signed=signed))
