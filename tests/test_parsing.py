"""Human parsing: the letterbox maps, and the whole photo → labels path on tiny ONNX graphs with known logits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_weights import default_colors, make_bad_parsing_onnx, make_parsing_onnx, make_preprocess_weights
from PIL import Image
from scipy.ndimage import maximum_filter, minimum_filter

from vton.errors import WeightsError
from vton.labels import ATR, LIP
from vton.preprocess.parsing import (
    HumanParser,
    invert_affine,
    letterbox,
    letterbox_matrix,
    normalize,
    upsample_align_corners,
)

SIZES = {"portrait": (192, 256), "landscape": (300, 200), "square": (150, 150), "tiny": (17, 23), "large": (700, 1000)}


def _apply(m, pts):
    pts = np.asarray(pts, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_letterbox_matrix_fits_the_long_side_and_centres_the_short_one(size):
    w, h = size
    n = 473
    m = letterbox_matrix(size, n)
    corners = _apply(m, [(0, 0), (w - 1, h - 1)])
    long_axis = 0 if w >= h else 1
    np.testing.assert_allclose(corners[:, long_axis], [0, n - 1], atol=1e-9)
    short = corners[:, 1 - long_axis]
    np.testing.assert_allclose(short.mean(), (n - 1) / 2, atol=1e-9)
    np.testing.assert_allclose(m[0, 1], 0) and np.testing.assert_allclose(m[1, 0], 0)
    assert m[0, 0] == m[1, 1] == pytest.approx((n - 1) / (max(w, h) - 1))


def test_inverse_letterbox_matrix_round_trips_points():
    m = letterbox_matrix((300, 200), 473)
    pts = np.array([(0, 0), (299, 199), (12.5, 170.25)])
    np.testing.assert_allclose(_apply(invert_affine(m), _apply(m, pts)), pts, atol=1e-9)


def test_letterbox_has_a_black_border_and_keeps_the_photo_colour():
    photo = np.full((200, 100, 3), (10, 200, 90), np.uint8)
    boxed, _ = letterbox(photo, 473)
    assert boxed.shape == (473, 473, 3)
    np.testing.assert_array_equal(boxed[236, 236], (10, 200, 90))
    np.testing.assert_array_equal(boxed[236, 5], (0, 0, 0))


def test_normalize_is_bgr_with_schp_mean_and_std():
    x = normalize(np.array([[[255, 0, 0]]], np.uint8))  # pure red
    np.testing.assert_allclose(x[0, :, 0, 0], [-0.406 / 0.225, -0.456 / 0.224, (1 - 0.485) / 0.229], rtol=1e-6)


def test_upsampling_keeps_corner_values_as_align_corners_true():
    lg = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    up = upsample_align_corners(lg, 9)
    np.testing.assert_allclose(up[0, 0], lg[:, 0, 0])
    np.testing.assert_allclose(up[8, 8], lg[:, 2, 2])
    np.testing.assert_allclose(up[4, 4], lg[:, 1, 1], atol=1e-3)
    np.testing.assert_allclose(up[0, 2], 0.5 * (lg[:, 0, 0] + lg[:, 0, 1]), atol=0.05)


def _boundary(labels: np.ndarray, r: int) -> np.ndarray:
    size = 2 * r + 1
    return maximum_filter(labels, size=size, mode="nearest") != minimum_filter(labels, size=size, mode="nearest")


def _layout(m=119, n_labels=20):
    i, j = np.mgrid[0:m, 0:m]
    return ((i // 30) * 5 + (j // 24) * 3) % n_labels


@pytest.fixture(scope="module")
def layout_parser(tmp_path_factory):
    path = make_parsing_onnx(tmp_path_factory.mktemp("onnx") / "layout.onnx", layout=_layout())
    return HumanParser(path, LIP)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_known_letterbox_layout_comes_back_at_the_photo_size(layout_parser, size):
    w, h = size
    photo = Image.new("RGB", size, (255, 255, 255))
    parsing = layout_parser(photo)
    assert parsing.labels.shape == (h, w) and parsing.labels.dtype == np.uint8
    assert parsing.label_set is LIP
    m = letterbox_matrix(size, 473)
    ys, xs = np.mgrid[0:h, 0:w]
    q = _apply(m, np.stack([xs.ravel(), ys.ravel()], 1)) * (118 / 472)  # photo pixel → logit cell
    cells = np.clip(np.rint(q).astype(int), 0, 118)
    expected = _layout()[cells[:, 1], cells[:, 0]].reshape(h, w)
    r = max(1, int(np.ceil(2.0 / m[0, 0])))  # two letterbox pixels, at least one photo pixel
    ok = ~_boundary(expected, r)
    assert ok.mean() > 0.3
    wrong = (parsing.labels != expected) & ok
    assert wrong.sum() == 0, f"{wrong.sum()} of {ok.sum()} pixels away from boundaries got the wrong label"


def _painted_photo(size, labels=(5, 9, 13, 2)):
    """White photo with four rectangles in the LIP colours of ``labels``; returns (photo, expected labels)."""
    w, h = size
    colors = default_colors(20)
    arr = np.full((h, w, 3), 255, np.uint8)
    exp = np.zeros((h, w), np.uint8)
    boxes = [(0.1, 0.1, 0.45, 0.5), (0.55, 0.1, 0.9, 0.5), (0.1, 0.55, 0.45, 0.9), (0.55, 0.55, 0.9, 0.9)]
    for lab, (x0, y0, x1, y1) in zip(labels, boxes, strict=True):
        sl = np.s_[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
        arr[sl] = colors[lab]
        exp[sl] = lab
    return Image.fromarray(arr), exp


@pytest.mark.parametrize("size", [(192, 256), (300, 200), (120, 120), (640, 480)])
def test_colour_model_labels_a_painted_photo_so_colour_order_and_normalisation_are_right(tmp_path, size):
    parser = HumanParser(make_parsing_onnx(tmp_path / "colour.onnx"), LIP)
    photo, expected = _painted_photo(size)
    got = parser(photo).labels
    k = letterbox_matrix(size, 473)[0, 0]
    r = int(np.ceil(1.5 * 4 / k)) + 1  # one logit cell (4 letterbox px) of sampling each side
    ok = ~_boundary(expected, r)
    ok[:r], ok[-r:], ok[:, :r], ok[:, -r:] = False, False, False, False  # cells there also sample the black border
    wrong = (got != expected) & ok
    assert wrong.sum() == 0, f"{wrong.sum()} of {ok.sum()} pixels away from boundaries got the wrong label"
    assert set(np.unique(got[ok]).tolist()) == {0, 2, 5, 9, 13}


def test_weights_folder_gives_lip_and_atr_parsers_with_their_input_sizes(tmp_path):
    root = make_preprocess_weights(tmp_path, openpose=False)
    lip = HumanParser.from_weights("lip", root)
    atr = HumanParser.from_weights("atr", root)
    assert (lip.input_size, lip.label_set, lip.input_name) == (473, LIP, "input.1")
    assert (atr.input_size, atr.label_set) == (512, ATR)
    photo, expected = _painted_photo((192, 256), labels=(4, 6, 11, 2))  # ATR: upper-clothes, pants, face, hair
    got = atr(photo).labels
    ok = ~_boundary(expected, 5)
    assert np.array_equal(got[ok], expected[ok])
    assert got.max() < len(ATR)


def test_unknown_dataset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lip, atr"):
        HumanParser.from_weights("pascal", tmp_path)


@pytest.mark.parametrize(
    "input_shape, output_shapes, label_set, message",
    [
        ((1, 3, 473, 400), ((1, 20, 119, 100),) * 3, LIP, r"\[1, 3, n, n\]"),
        ((1, 1, 473, 473), ((1, 20, 119, 119),) * 3, LIP, r"\[1, 3, n, n\]"),
        ((1, 3, 473, 473), ((1, 20, 119, 119),), LIP, "second"),
        ((1, 3, 512, 512), ((1, 18, 128, 128),) * 3, LIP, "20 labels"),
        ((1, 3, 473, 473), ((1, 20, 119, 119),) * 3, ATR, "18 labels"),
    ],
    ids=["not-square", "one-channel", "one-output", "atr-model-as-lip", "lip-model-as-atr"],
)
def test_model_with_the_wrong_signature_is_a_clear_weights_error(tmp_path, input_shape, output_shapes, label_set,
                                                                  message):
    path = make_bad_parsing_onnx(tmp_path / "bad.onnx", input_shape, output_shapes)
    with pytest.raises(WeightsError, match=message):
        HumanParser(path, label_set)


def test_a_file_that_is_not_onnx_is_a_weights_error(tmp_path):
    path = tmp_path / "parsing_lip.onnx"
    path.write_bytes(b"not a model")
    with pytest.raises(WeightsError, match="onnxruntime"):
        HumanParser(path, LIP)


def test_parse_human_caches_the_parser_per_dataset_and_folder(tmp_path, monkeypatch):
    from vton.preprocess import parsing as module

    monkeypatch.setattr(module, "_CACHE", {})
    root = make_preprocess_weights(tmp_path, openpose=False)
    photo, _ = _painted_photo((120, 160))
    a = module.parse_human(photo, "lip", root)
    b = module.parse_human(photo, "lip", root)
    c = module.parse_human(photo, "atr", root)
    assert len(module._CACHE) == 2
    np.testing.assert_array_equal(a.labels, b.labels)
    assert (a.label_set, c.label_set) == (LIP, ATR)


def test_session_options_are_set_deliberately_and_threads_follow_vton_threads(monkeypatch):
    import onnxruntime as ort

    from vton.preprocess import parsing as module

    monkeypatch.setenv("VTON_THREADS", "3")
    opts = module.session_options()
    assert opts.intra_op_num_threads == 3 and opts.inter_op_num_threads == 1
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert opts.enable_mem_pattern and opts.enable_cpu_mem_arena
    assert module.session_options(threads=1).intra_op_num_threads == 1
    monkeypatch.delenv("VTON_THREADS")
    import os

    assert module.default_threads() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_vton_threads_is_a_clear_input_error(monkeypatch, value):
    from vton.errors import InputError
    from vton.preprocess.parsing import default_threads

    monkeypatch.setenv("VTON_THREADS", value)
    with pytest.raises(InputError, match="VTON_THREADS must be a positive integer"):
        default_threads()


def test_parsers_of_one_model_file_share_one_session(tmp_path):
    path = make_parsing_onnx(tmp_path / "shared.onnx")
    a, b = HumanParser(path, LIP), HumanParser(path, LIP)
    assert a.session is b.session and a._lock is b._lock
    assert HumanParser(path, LIP, threads=1).session is not a.session  # other options, other session
    other = HumanParser(make_parsing_onnx(tmp_path / "other.onnx"), LIP)
    assert other.session is not a.session


class _RecordingSession:
    """Wraps a session and records the shape of every input it is given."""

    def __init__(self, session):
        self.session, self.seen = session, []

    def run(self, names, feeds):
        self.seen += [x.shape for x in feeds.values()]
        return self.session.run(names, feeds)


EXTREME = [(16, 16), (16, 64), (64, 16), (65, 16), (16, 65), (3000, 750), (750, 3000), (4000, 1001), (10000, 16),
           (16, 10000), (2001, 500), (500, 2001), (17, 23)]


@pytest.mark.parametrize("size", EXTREME, ids=[f"{w}x{h}" for w, h in EXTREME])
def test_every_photo_shape_gives_an_n_by_n_input_or_an_input_error(layout_parser, size):
    from vton.errors import InputError

    rec = _RecordingSession(layout_parser.session)
    parser = object.__new__(HumanParser)
    parser.__dict__.update(layout_parser.__dict__, session=rec)
    photo = Image.new("RGB", size, (255, 255, 255))
    w, h = size
    if max(w, h) > 4 * min(w, h):
        with pytest.raises(InputError, match=r"at most 4 : 1"):
            parser(photo)
        assert rec.seen == []
        return
    assert parser(photo).labels.shape == (h, w)
    assert rec.seen == [(1, 3, 473, 473)]


@pytest.mark.parametrize("size", [(768, 1024), (1200, 900), (600, 2000)])
def test_back_mapping_by_settled_cells_equals_warping_every_pixel(size):
    """Only pixels between letterbox cells of different labels are interpolated; the others take the shared label.
    Against a warp of every pixel: equal except at near-ties (the two logits within 0.05; logits span about ±10)
    where OpenCV rounds the position to 1/32 px differently (measured: 19-31 of 786,432 pixels, gap <= 0.016)."""
    import cv2

    from vton.preprocess.parsing import _logits_to_photo_warp, logits_to_photo

    rng = np.random.default_rng(sum(size))
    coarse = rng.standard_normal((12, 12, 20)).astype(np.float32) * 3
    lg = cv2.resize(coarse, (119, 119), interpolation=cv2.INTER_CUBIC)  # smooth logits, many labels
    up = upsample_align_corners(np.ascontiguousarray(lg.transpose(2, 0, 1)), 473)
    m = letterbox_matrix(size, 473)
    fast, slow = logits_to_photo(up, m, size), _logits_to_photo_warp(up, m, size)
    assert fast.shape == slow.shape == (size[1], size[0]) and len(np.unique(slow)) >= 8
    ys, xs = np.nonzero(fast != slow)
    assert len(ys) <= 1e-4 * fast.size
    full = cv2.warpAffine(up, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    v = full[ys, xs]  # (k, 20)
    gap = v[np.arange(len(ys)), slow[ys, xs]] - v[np.arange(len(ys)), fast[ys, xs]]
    assert np.all(np.abs(gap) <= 0.05)
