"""The runner's cache: inputs keyed by their content, and a least-recently-used store bounded by entries and bytes.

Paths, bytes and file objects are read once (``content``) and the readers decode those very bytes, so every cache
key is the sha256 of what was given, never an object's identity or text (issue 23: reused ``BytesIO`` addresses
once served another call's photo).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..annotations import Parsing, Pose
from ..errors import InputError

__all__ = ["content", "LRU", "CACHE_ENTRIES", "CACHE_BYTES"]

CACHE_ENTRIES = 16  # person sides (and, separately, garment sides) a Preprocessor keeps
CACHE_BYTES = 128 * 1024**2  # and at most this many bytes of images and arrays in each of the two caches


_WHAT = {"person": "person photo", "cloth": "garment photo", "pose": "pose file", "parsing": "parse map",
         "cloth_mask": "garment mask", "body_mask": "body mask"}


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))  # length-prefixed: no two inputs share a byte stream
        h.update(part)
    return h.hexdigest()


def _pose_dict_bytes(src: Any) -> bytes:
    """A decoded pose dict as canonical JSON bytes; a self-reference or an integer of thousands of digits is
    refused here with the reason (not with json's own error)."""
    try:
        return json.dumps(src, sort_keys=True, default=repr, allow_nan=True).encode()
    except (ValueError, RecursionError, TypeError) as e:
        text = str(e).lower()
        if "circular" in text or isinstance(e, RecursionError):
            why = "it refers to itself (a self-reference) or nests too deeply"
        elif "digits" in text or "integer" in text:
            why = "it holds an integer of thousands of digits, which is no pixel coordinate"
        else:
            why = f"it cannot be written as JSON ({type(e).__name__})"
        raise InputError(f"the pose dict cannot be used: {why}; give the OpenPose JSON file as written") from None


def content(key: str, src: Any) -> tuple[Any, str | None]:
    """``(the input to hand to the readers, sha256 of its content)`` for one input of a run.

    Paths, bytes and file objects are read once here (regular files only, the size checked before reading:
    ``vton.images.read_source_bytes``) and the readers decode those very bytes, so every cache is keyed by the
    content it was given, never by an object's identity or text. In-memory images and arrays are keyed by their
    pixels, poses and parses by their values. The hash is None only when the input is refused later anyway
    (a wrong type, too many pixels) — such a run is not cached.
    """
    from ..formats import MAX_POSE_JSON_BYTES
    from ..images import MAX_PIXELS, read_source_bytes

    if src is None:
        return None, None
    what = _WHAT[key]
    if key == "pose":
        if isinstance(src, Pose):
            return src, _digest(b"Pose", np.ascontiguousarray(src.keypoints, np.float64).tobytes(),
                                np.ascontiguousarray(src.scores, np.float64).tobytes(),
                                repr((tuple(src.size), src.people_found)).encode())
        if isinstance(src, dict):
            return src, _digest(b"pose-dict", _pose_dict_bytes(src))
        if isinstance(src, str) and src.lstrip().startswith(("{", "[")):
            text = src.encode("utf-8", errors="replace")
            if len(text) > MAX_POSE_JSON_BYTES:
                return src, None  # the reader refuses it with the cap's message
            return src, hashlib.sha256(text).hexdigest()
        if isinstance(src, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(src, "read"):
            data = read_source_bytes(src, what, MAX_POSE_JSON_BYTES, "MAX_POSE_JSON_BYTES")
            return data, hashlib.sha256(data).hexdigest()
        return src, None
    if key == "parsing" and isinstance(src, Parsing):
        return src, _digest(b"Parsing", repr(src.label_set.name if hasattr(src.label_set, "name") else
                                             src.label_set).encode(),
                            repr((src.labels.dtype.str, src.labels.shape)).encode(),
                            np.ascontiguousarray(src.labels).tobytes())
    if isinstance(src, Image.Image):
        try:
            src.im  # noqa: B018 - raises for a closed image
        except ValueError:
            raise InputError(f"the {what} is a closed PIL image; pass it before closing it (or its path or "
                             "bytes)") from None
        w, h = src.size
        if w * h > MAX_PIXELS:
            return src, None  # refused by the reader from its size, without decoding
        try:
            pixels = src.tobytes()
        except Exception as e:  # noqa: BLE001 - a lazily opened image whose data is damaged
            from ..decoding import decode_image

            decode_image(src, f"the {what}")  # the readers' own message for a damaged image
            raise InputError(f"the {what} cannot be decoded ({type(e).__name__})") from None
        return src, _digest(b"PIL", repr((src.mode, src.size)).encode(), pixels)
    if isinstance(src, np.ndarray):
        if src.dtype.kind not in "biuf" or src.size > 4 * MAX_PIXELS:
            return src, None  # refused by the reader
        return src, _digest(b"array", repr((src.dtype.str, src.shape)).encode(), np.ascontiguousarray(src).tobytes())
    if isinstance(src, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(src, "read"):
        data = read_source_bytes(src, what)
        return data, hashlib.sha256(data).hexdigest()
    return src, None


def _nbytes(x: Any, seen: set[int] | None = None) -> int:
    """Approximate bytes held by a cache entry: arrays, images, tensors and the containers holding them."""
    seen = set() if seen is None else seen
    if id(x) in seen:
        return 0
    seen.add(id(x))
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, torch.Tensor):
        return int(x.numel() * x.element_size())
    if isinstance(x, Image.Image):
        return x.size[0] * x.size[1] * max(len(x.getbands()), 1)
    if isinstance(x, (bytes, bytearray)):
        return len(x)
    if isinstance(x, dict):
        return 64 + sum(_nbytes(v, seen) for v in x.values())
    if isinstance(x, (list, tuple, set, frozenset)):
        return 64 + sum(_nbytes(v, seen) for v in x)
    if hasattr(x, "__dataclass_fields__"):
        return 64 + sum(_nbytes(getattr(x, f), seen) for f in x.__dataclass_fields__)
    return 64


class LRU:
    """A thread-safe least-recently-used cache bounded by entries and by bytes (``_nbytes`` of each value).

    A value larger than the byte bound alone is not kept.
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        self._d: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._size = max(int(size), 0)
        self._max_bytes = max(int(max_bytes), 0)
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._d)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key][0]
        return None

    def put(self, key: Any, value: Any) -> None:
        n = _nbytes(value)
        with self._lock:
            if key in self._d:
                self._bytes -= self._d.pop(key)[1]
            if n > self._max_bytes or self._size == 0:
                return
            self._d[key] = (value, n)
            self._bytes += n
            while len(self._d) > self._size or self._bytes > self._max_bytes:
                _, (_, m) = self._d.popitem(last=False)
                self._bytes -= m

    def remeasure(self, match: Any) -> None:
        """Measure again the entries for which ``match(value)`` holds (values that grew after their ``put``) and
        evict down to the bounds."""
        with self._lock:
            for key, (value, n) in list(self._d.items()):
                if match(value):
                    m = _nbytes(value)
                    self._d[key] = (value, m)
                    self._bytes += m - n
            while self._d and (len(self._d) > self._size or self._bytes > self._max_bytes):
                _, (_, m) = self._d.popitem(last=False)
                self._bytes -= m

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0
