"""Reading photos safely and converting between images and the networks' tensors.

Convention: network tensors are ``(1, C, H, W) float32``; images in [-1, 1] = (x/255 − 0.5)/0.5 and masks in
{0, 1}, as in CP-VTON (sergeywong/cp-vton) and every method built on it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

__all__ = [
    "MAX_PIXELS", "MIN_SIDE", "ImageSource", "load_image", "to_tensor", "mask_to_tensor", "to_uint8", "to_pil",
]

MAX_PIXELS = 40_000_000  # larger images are refused from their header, before any pixel is decoded
MIN_SIDE = 16

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray


def _open(src: ImageSource, what: str) -> Image.Image:
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, np.ndarray):
        arr = src
        if arr.dtype != np.uint8:
            if arr.dtype.kind == "f" and arr.size and 0.0 <= float(arr.min()) and float(arr.max()) <= 1.0:
                arr = (arr * 255.0 + 0.5).astype(np.uint8)
            elif arr.dtype.kind in "ui" and arr.size and arr.min() >= 0 and arr.max() <= 255:
                arr = arr.astype(np.uint8)
            else:
                raise InputError(f"the {what} array must be uint8 (0..255) or float in [0, 1], got {arr.dtype}")
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4)):
            return Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr)
        raise InputError(f"the {what} array must be (H, W), (H, W, 3) or (H, W, 4), got shape {arr.shape}")
    if isinstance(src, (bytes, bytearray)):
        fp: object = io.BytesIO(bytes(src))
        name = "uploaded data"
    else:
        path = Path(src)
        if not path.is_file():
            raise InputError(f"the {what} file {str(path)!r} does not exist")
        fp, name = path, str(path)
    try:
        img = Image.open(fp)
    except Image.DecompressionBombError:
        raise InputError(
            f"the {what} ({name}) declares more pixels than vton accepts ({MAX_PIXELS // 1_000_000} megapixels); "
            "scale it down first"
        ) from None
    except UnidentifiedImageError:
        raise InputError(f"the {what} ({name}) is not an image PIL can read (PNG, JPEG, WebP, BMP, TIFF, …)") from None
    except OSError as e:
        raise InputError(f"the {what} ({name}) could not be opened: {e}") from None
    return img


def load_image(src: ImageSource, what: str = "image", *, keep_alpha: bool = False) -> Image.Image:
    """Read an image from a path, bytes, a PIL image or an array, validated, upright, 8-bit RGB (or RGBA).

    The pixel count is checked from the header before decoding; EXIF orientation is applied; 16-bit, grayscale,
    palette, CMYK and other modes become RGB. Without ``keep_alpha`` transparency is composited on white.

    Args:
        src: the image.
        what: how the error messages name it ("person photo", "garment photo").
        keep_alpha: return RGBA when the image has transparency.

    Returns:
        A loaded ``PIL.Image`` in mode RGB or (with ``keep_alpha`` and transparency) RGBA.

    Raises:
        InputError: not an image, truncated, too small or too large.
    """
    img = _open(src, what)
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise InputError(
            f"the {what} is {w} × {h} pixels, more than the {MAX_PIXELS // 1_000_000} megapixels vton accepts; "
            "scale it down first"
        )
    if min(w, h) < MIN_SIDE:
        raise InputError(f"the {what} is only {w} × {h} pixels; it needs at least {MIN_SIDE} pixels on each side")
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"the {what} is damaged or truncated and cannot be decoded ({e})") from None
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max() <= 1.0 else 255.0
        img = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if has_alpha:
        img = img.convert("RGBA")
        if keep_alpha:
            return img
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, img).convert("RGB")
    return img.convert("RGB")


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
