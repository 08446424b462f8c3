"""Human parsing of a photo: SCHP (Li et al., "Self-Correction for Human Parsing", TPAMI 2020;
GoGoDuck912/Self-Correction-Human-Parsing) trained on LIP (20 labels, 473 px input) or ATR (18 labels, 512 px),
run from its public ONNX export with onnxruntime.

Convention (from the published facts; the code is ours):

- letterbox by an affine map without rotation, pixel centres at integer coordinates: with
  ``k = (n − 1) / max(w − 1, h − 1)``, photo pixel ``x`` goes to ``x' = k · (x − (w − 1)/2) + (n − 1)/2`` (same for
  y); bilinear, black border;
- input BGR, ``x / 255``, minus mean ``(0.406, 0.456, 0.485)``, divided by std ``(0.225, 0.224, 0.229)`` per
  channel (B, G, R);
- of the three outputs (parsing, fusion, edge logits at a quarter of the input) the **fusion** logits (second);
- bilinear upsampling to ``n × n`` with ``align_corners=True``, then the inverse affine back to the photo
  (bilinear on the logits), argmax → ``uint8`` labels at the photo's size.

Bounded input: the network always sees ``[1, 3, n, n]``; photos more elongated than 4:1
(``vton.preprocess.pose.MAX_ASPECT_RATIO``) are refused with an ``InputError`` (the person would be a few pixels
wide in the letterbox). onnxruntime runs with deliberate session options (``session_options``): intra-op threads
from ``$VTON_THREADS`` (default: the CPUs this process may use), one inter-op thread, sequential execution, all
graph optimisations, memory-pattern planning and the CPU arena; one session per model file, shared by every
parser of that file in the process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ..annotations import Parsing
from ..errors import InputError, WeightsError
from ..images import ImageSource, load_image
from ..labels import ATR, LIP, LabelSet
from .pose import check_photo_shape

__all__ = [
    "DATASETS", "MEAN_BGR", "STD_BGR", "THREADS_ENV", "default_threads", "session_options", "letterbox_matrix",
    "invert_affine", "letterbox", "normalize", "upsample_align_corners", "logits_to_photo", "HumanParser",
    "parse_human",
]

MEAN_BGR = np.array([0.406, 0.456, 0.485], dtype=np.float32)
STD_BGR = np.array([0.225, 0.224, 0.229], dtype=np.float32)
# dataset -> (manifest key, label set, input size)
DATASETS: dict[str, tuple[str, LabelSet, int]] = {"lip": ("schp/lip", LIP, 473), "atr": ("schp/atr", ATR, 512)}
_BAND_PIXELS = 1 << 20  # the back-mapping runs in bands of rows: (H, W, labels) logits never fill memory
THREADS_ENV = "VTON_THREADS"


def default_threads() -> int:
    """``$VTON_THREADS`` if set, else the number of CPUs this process may run on.

    Raises:
        InputError: ``VTON_THREADS`` is not a positive integer.
    """
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise InputError(f"{THREADS_ENV} must be a positive integer (threads for onnxruntime), got {env!r}")
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def session_options(threads: int | None = None):
    """onnxruntime ``SessionOptions`` for one single-image model on the CPU.

    ``threads`` (default ``default_threads()``) intra-op threads, one inter-op thread with sequential execution
    (SCHP's graph is one chain; parallel branches only oversubscribe the cores), every graph optimisation,
    memory-pattern planning and the CPU arena (the input shape never changes), errors only in the log.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = default_threads() if threads is None else int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_mem_pattern = True
    opts.enable_cpu_mem_arena = True
    opts.log_severity_level = 3
    return opts


_SESSIONS: dict[tuple, tuple[object, threading.Lock]] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(model_path: Path, threads: int | None) -> tuple[object, threading.Lock]:
    """The process's one session for this model file (keyed by real path, size, mtime and threads) and its lock."""
    import onnxruntime as ort

    threads = default_threads() if threads is None else int(threads)
    try:
        st = model_path.stat()
        key = (str(model_path.resolve()), st.st_size, st.st_mtime_ns, threads)
    except OSError:
        key = None
    with _SESSIONS_LOCK:
        if key is not None and key in _SESSIONS:
            return _SESSIONS[key]
        try:
            session = ort.InferenceSession(str(model_path), session_options(threads),
                                           providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise WeightsError(f"the human-parsing model {model_path} cannot be loaded by onnxruntime: {e}") from None
        entry = (session, threading.Lock())
        if key is not None:
            _SESSIONS[key] = entry
        return entry


def letterbox_matrix(size: tuple[int, int], n: int) -> np.ndarray:
    """``(2, 3) float64`` affine map from photo pixels to the ``n × n`` letterbox (pixel centres at integers).

    Args:
        size: the photo's ``(width, height)``.
        n: the square input size.
    """
    w, h = size
    if w < 1 or h < 1 or n < 2:
        raise ValueError(f"letterbox needs a non-empty photo and n >= 2, got size {size} and n {n}")
    k = (n - 1) / max(w - 1, h - 1, 1)
    c = (n - 1) / 2
    return np.array([[k, 0.0, c - k * (w - 1) / 2], [0.0, k, c - k * (h - 1) / 2]], dtype=np.float64)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """The inverse of a ``(2, 3)`` affine map."""
    full = np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def letterbox(rgb: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3) uint8`` photo → ``(n, n, 3) uint8`` letterbox (bilinear, black border) and its matrix."""
    m = letterbox_matrix((rgb.shape[1], rgb.shape[0]), n)
    out = cv2.warpAffine(rgb, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return out, m


def normalize(rgb: np.ndarray) -> np.ndarray:
    """``(n, n, 3) uint8`` RGB → ``(1, 3, n, n) float32`` BGR, ``(x / 255 − mean) / std``."""
    bgr = rgb[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None])


def upsample_align_corners(logits: np.ndarray, n: int) -> np.ndarray:
    """``(C, m, m)`` → ``(n, n, C) float32``, bilinear with ``align_corners=True`` (corner pixel centres kept)."""
    c, mh, mw = logits.shape
    sx, sy = (n - 1) / max(mw - 1, 1), (n - 1) / max(mh - 1, 1)
    hwc = np.ascontiguousarray(logits.transpose(1, 2, 0), dtype=np.float32)
    m = np.array([[sx, 0.0, 0.0], [0.0, sy, 0.0]])
    out = cv2.warpAffine(hwc, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(n, n, c)


def logits_to_photo(logits_nn: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Letterbox-space logits ``(n, n, C)`` → ``(H, W) uint8`` labels of the photo: inverse affine, bilinear, argmax.

    A photo pixel whose four letterbox neighbours share one argmax takes that label without interpolating: a
    convex combination of logit vectors that all peak at label ``k`` peaks at ``k`` too. Only the pixels between
    letterbox cells of different labels are interpolated (OpenCV's ``remap``, as ``warpAffine`` would), so the
    cost follows the label boundaries, not the photo's size. (Photos no larger than the letterbox are warped whole.)
The labels equal a whole warp's except where the two best logits are within ~0.02 at a pixel whose letterbox
position rounds differently at 1/32 pixel.

    Args:
        logits_nn: the upsampled logits.
        matrix: the photo → letterbox matrix (``letterbox_matrix``; scale and translation only).
        size: the photo's ``(width, height)``.
    """
    w, h = size
    n, c = logits_nn.shape[0], logits_nn.shape[2]
    m = np.asarray(matrix, dtype=np.float64)
    if m[0, 1] != 0 or m[1, 0] != 0 or logits_nn.shape[1] != n or w * h <= n * n:
        return _logits_to_photo_warp(logits_nn, m, size)  # rotated, or a photo no larger than the letterbox
    src = np.ascontiguousarray(logits_nn, dtype=np.float32)
    labels = src.argmax(-1).astype(np.uint8)  # (n, n)
    nxt = np.minimum(np.arange(n) + 1, n - 1)
    agree = (labels == labels[:, nxt]) & (labels == labels[nxt, :]) & (labels == labels[nxt][:, nxt])
    settled = np.where(agree, labels, np.uint8(255))  # 255: the 2 x 2 block holds different labels
    # the letterbox position of each photo column / row, at OpenCV's 1/32-pixel resolution
    sx = np.clip(np.rint((m[0, 0] * np.arange(w) + m[0, 2]) * 32) / 32, 0, n - 1)
    sy = np.clip(np.rint((m[1, 1] * np.arange(h) + m[1, 2]) * 32) / 32, 0, n - 1)
    x0, y0 = np.floor(sx).astype(np.intp), np.floor(sy).astype(np.intp)
    out = settled[y0[:, None], x0[None, :]]  # (H, W)
    ys, xs = np.nonzero(out == 255)
    step = max(1, _BAND_PIXELS // max(c, 1))  # bounded memory: (step, C) interpolated logits at a time
    for i in range(0, len(ys), step):
        yy, xx = ys[i : i + step], xs[i : i + step]
        cols = 1024
        rows = -(-len(yy) // cols)
        mx = np.zeros(rows * cols, np.float32)
        my = np.zeros(rows * cols, np.float32)
        mx[: len(xx)], my[: len(yy)] = sx[xx], sy[yy]
        part = cv2.remap(src, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)  # (rows, cols, C)
        out[yy, xx] = part.reshape(rows * cols, c)[: len(yy)].argmax(-1)
    return out


def _logits_to_photo_warp(logits_nn: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``logits_to_photo`` by warping every pixel's logits (any affine map), in bands of rows."""
    w, h = size
    c = logits_nn.shape[2]
    src = np.ascontiguousarray(logits_nn, dtype=np.float32)
    out = np.empty((h, w), dtype=np.uint8)
    rows = max(1, _BAND_PIXELS // max(w, 1))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        band = np.array(matrix, dtype=np.float64)
        band[:, 2] += band[:, 1] * y0  # photo row y0 is the band's row 0
        part = cv2.warpAffine(src, band, (w, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        out[y0:y1] = part.reshape(y1 - y0, w, c).argmax(-1)
    return out


def _static_dims(shape) -> list[int | None]:
    return [d if isinstance(d, int) else None for d in shape]


class HumanParser:
    """Photo → ``Parsing`` with an SCHP ONNX model.

    Args:
        model_path: the ONNX file.
        label_set: ``LIP`` or ``ATR`` (its length must equal the model's number of labels).
        threads: onnxruntime intra-op threads (default ``default_threads()``: ``$VTON_THREADS`` or the CPUs).

    Raises:
        WeightsError: the file is not an ONNX model with SCHP's signature (one ``[1, 3, n, n]`` float input, at
            least two outputs ``[1, labels, m, m]``).
    """

    def __init__(self, model_path: str | Path, label_set: LabelSet = LIP, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.label_set = label_set
        self.session, self._lock = _session(self.model_path, threads)
        self.input_name, self.input_size = self._check_signature()

    def _check_signature(self) -> tuple[str, int]:
        where = f"the human-parsing model {self.model_path}"
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise WeightsError(f"{where} has {len(inputs)} inputs; SCHP has one image input [1, 3, n, n]")
        inp = inputs[0]
        dims = _static_dims(inp.shape)
        if inp.type != "tensor(float)" or len(dims) != 4 or dims[1] != 3 or dims[2] is None or dims[2] != dims[3]:
            raise WeightsError(
                f"{where} takes {inp.type} {inp.shape} as {inp.name!r}; an SCHP parser takes float32 [1, 3, n, n]"
            )
        if len(outputs) < 2:
            raise WeightsError(
                f"{where} has {len(outputs)} output(s); SCHP gives parsing, fusion and edge logits and vton reads the "
                "second (fusion)"
            )
        fusion = _static_dims(outputs[1].shape)
        n_labels = len(self.label_set)
        if len(fusion) != 4 or fusion[1] not in (None, n_labels):
            raise WeightsError(
                f"{where} gives fusion logits of shape {outputs[1].shape}; {self.label_set.name} needs "
                f"[1, {n_labels}, m, m] ({n_labels} labels)"
            )
        return inp.name, int(dims[2])

    @classmethod
    def from_weights(cls, dataset: str = "lip", weights_dir: str | Path | None = None) -> HumanParser:
        """The parser of ``dataset`` (``"lip"`` or ``"atr"``), its file resolved and verified by ``vton.weights``."""
        from .. import weights

        if dataset not in DATASETS:
            raise ValueError(f"unknown parsing dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
        key, label_set, _ = DATASETS[dataset]
        return cls(weights.resolve_file(key, weights_dir=weights_dir), label_set)

    def logits(self, image: ImageSource) -> tuple[np.ndarray, np.ndarray]:
        """Fusion logits upsampled to the letterbox, ``(n, n, labels) float32``, and the photo → letterbox matrix."""
        return self._logits(load_image(image, "person photo"))

    def _logits(self, img) -> tuple[np.ndarray, np.ndarray]:
        check_photo_shape(img.size)
        rgb = np.asarray(img)
        n = self.input_size
        boxed, matrix = letterbox(rgb, n)
        with self._lock:
            outs = self.session.run(None, {self.input_name: normalize(boxed)})
        fusion = np.asarray(outs[1])
        if fusion.ndim != 4 or fusion.shape[0] != 1 or fusion.shape[1] != len(self.label_set):
            raise WeightsError(
                f"the human-parsing model {self.model_path} returned fusion logits of shape {fusion.shape}; "
                f"expected [1, {len(self.label_set)}, m, m]"
            )
        return upsample_align_corners(fusion[0], n), matrix

    def __call__(self, image: ImageSource) -> Parsing:
        """The photo's label map at its own size.

        Raises:
            InputError: the photo is more elongated than 4:1.
        """
        img = load_image(image, "person photo")
        logits_nn, matrix = self._logits(img)
        return Parsing(logits_to_photo(logits_nn, matrix, img.size), self.label_set)


_CACHE: dict[tuple[str, str | None], HumanParser] = {}
_CACHE_LOCK = threading.Lock()


def parse_human(image: ImageSource, dataset: str = "lip", weights_dir: str | Path | None = None) -> Parsing:
    """``HumanParser.from_weights(dataset, weights_dir)(image)`` with the parser built once per (dataset, folder)."""
    key = (dataset, None if weights_dir is None else str(Path(weights_dir).resolve()))
    with _CACHE_LOCK:
        parser = _CACHE.get(key)
        if parser is None:
            parser = _CACHE[key] = HumanParser.from_weights(dataset, weights_dir)
    return parser(image)
