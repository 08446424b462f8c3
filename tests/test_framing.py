"""Framing: photo ↔ frame maps, the framed image, masks and labels, pose-driven centring, and paste-back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vton.annotations import Parsing, Pose
from vton.errors import InputError
from vton.labels import LIP
from vton.preprocess.framing import (
    NECK_Y_FRACTION,
    TORSO_FRACTION,
    frame_labels,
    frame_mask,
    frame_person,
    frame_transform,
    head_top,
    paste_back,
)
from vton.run import FRAME

SIZES = [(192, 256), (384, 512), (640, 480), (100, 300), (1000, 1000), (3000, 4000), (50, 40)]


def _centroid(gray: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(gray > 0)
    w = gray[ys, xs].astype(np.float64)
    return np.array([(xs * w).sum() / w.sum() + 0.5, (ys * w).sum() / w.sum() + 0.5])  # corner-origin


@pytest.mark.parametrize("size", SIZES)
def test_points_round_trip_photo_frame_photo(size):
    t = frame_transform(size)
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (50, 2)) * size
    np.testing.assert_allclose(t.to_photo(t.to_frame(pts)), pts, atol=1e-9)
    np.testing.assert_allclose(t.inverse.to_frame(t.to_frame(pts)), pts, atol=1e-9)
    back = t.inverse.inverse
    np.testing.assert_allclose([back.scale, back.offset_x, back.offset_y], [t.scale, t.offset_x, t.offset_y])
    assert (back.src_size, back.frame_size) == (t.src_size, t.frame_size)


@pytest.mark.parametrize("size", SIZES)
def test_letterbox_keeps_aspect_and_fits_the_photo_inside_the_frame(size):
    t = frame_transform(size)
    corners = t.to_frame([(0, 0), size])
    assert np.all(corners >= -1e-9) and np.all(corners <= np.array(FRAME) + 1e-9)
    span = corners[1] - corners[0]
    assert np.isclose(span[0], FRAME[0]) or np.isclose(span[1], FRAME[1])
    np.testing.assert_allclose(corners.mean(0), np.array(FRAME) / 2)


@pytest.mark.parametrize("size", [(192, 256), (640, 480), (100, 300), (3000, 4000)])
def test_a_dot_lands_where_the_transform_says_within_a_pixel(size):
    w, h = size
    block = max(2, round(4 / frame_transform(size).scale))  # a few frame pixels wide
    arr = np.zeros((h, w, 3), np.uint8)
    x0, y0 = int(w * 0.3), int(h * 0.6)
    arr[y0 : y0 + block, x0 : x0 + block] = 255
    framed, t = frame_person(Image.fromarray(arr).convert("RGB"))
    assert framed.size == FRAME and framed.mode == "RGB"
    # the white letterbox would pull the centroid: measure only inside the photo's area
    x_lo, y_lo, x_hi, y_hi = np.round(np.concatenate(t.to_frame([(0, 0), size]))).astype(int)
    inner = np.zeros(framed.size[::-1], np.float64)
    inner[y_lo:y_hi, x_lo:x_hi] = np.asarray(framed, np.float64)[y_lo:y_hi, x_lo:x_hi, 0]
    got = _centroid(inner)
    expected = t.to_frame([x0 + block / 2, y0 + block / 2])
    assert np.abs(got - expected).max() <= 1.0, f"dot at {got}, expected {expected}"


def test_outside_the_photo_the_frame_is_white():
    framed, t = frame_person(Image.new("RGB", (400, 200), (0, 0, 0)))  # landscape: bands above and below
    arr = np.asarray(framed)
    assert t.offset_y > 50
    assert np.all(arr[:40] == 255) and np.all(arr[-40:] == 255)
    assert np.all(arr[128, 10:180] == 0)


def _pose(points: dict[str, tuple[float, float]], size) -> Pose:
    from vton.labels import COCO18

    kp = np.zeros((18, 2), np.float32)
    sc = np.zeros(18, np.float32)
    for name, p in points.items():
        kp[COCO18.index(name)] = p
        sc[COCO18.index(name)] = 0.9
    return Pose(kp, sc, size)


def _upper_body(cx, neck_y, torso, size):
    half = 0.35 * torso
    return _pose({
        "nose": (cx, neck_y - 0.25 * torso), "neck": (cx, neck_y),
        "right_shoulder": (cx - half, neck_y), "left_shoulder": (cx + half, neck_y),
        "right_elbow": (cx - half * 1.2, neck_y + 0.5 * torso), "left_elbow": (cx + half * 1.2, neck_y + 0.5 * torso),
        "right_hip": (cx - 0.5 * half, neck_y + torso), "left_hip": (cx + 0.5 * half, neck_y + torso),
    }, size)


def test_pose_centres_the_neck_and_scales_the_torso_like_viton():
    size = (1200, 900)  # landscape, person off-centre to the right
    pose = _upper_body(cx=800, neck_y=300, torso=400, size=size)
    t = frame_transform(size, pose)
    neck = t.to_frame(pose.point("neck"))
    hips = t.to_frame(np.mean([pose.point("right_hip"), pose.point("left_hip")], 0))
    np.testing.assert_allclose(neck, (FRAME[0] / 2, NECK_Y_FRACTION * FRAME[1]), atol=1e-6)
    assert np.hypot(*(hips - neck)) == pytest.approx(TORSO_FRACTION * FRAME[1])
    framed_pose = t.frame_pose(pose)
    assert framed_pose.size == FRAME
    assert framed_pose.present.sum() == pose.present.sum()


def test_full_body_is_scaled_down_so_nothing_is_cropped():
    size = (600, 1600)
    pts = {
        "nose": (300, 150), "neck": (300, 230), "right_shoulder": (240, 230), "left_shoulder": (360, 230),
        "right_hip": (270, 700), "left_hip": (330, 700), "right_knee": (270, 1100), "left_knee": (330, 1100),
        "right_ankle": (270, 1500), "left_ankle": (330, 1500),
    }
    pose = _pose(pts, size)
    t = frame_transform(size, pose)
    fp = t.frame_pose(pose)
    assert fp.present.sum() == len(pts), "a keypoint fell out of the frame"
    inside = t.to_frame(np.array(list(pts.values()), float))
    assert np.all(inside[:, 1] > 0) and np.all(inside[:, 1] < FRAME[1])
    torso = np.hypot(*(t.to_frame((300, 700)) - t.to_frame((300, 230))))
    assert torso < TORSO_FRACTION * FRAME[1]


def test_person_near_the_photo_edge_is_shifted_into_the_frame_not_cropped():
    size = (800, 600)
    pose = _upper_body(cx=60, neck_y=200, torso=250, size=size)
    t = frame_transform(size, pose)
    fp = t.frame_pose(pose)
    assert fp.present.sum() == pose.present.sum()


def test_pose_of_another_size_is_refused():
    pose = _upper_body(100, 80, 90, (200, 300))
    with pytest.raises(InputError, match="pose is for a 200 × 300"):
        frame_person(Image.new("RGB", (300, 200)), pose)


def test_frame_labels_keeps_only_existing_labels_and_fills_background():
    rng = np.random.default_rng(1)
    lab = np.repeat(np.repeat(rng.choice([0, 2, 5, 13, 14], (30, 20)), 10, 0), 10, 1).astype(np.uint8)  # 200×300
    t = frame_transform((200, 300))
    out = frame_labels(lab, t)
    assert out.shape == (256, 192) and out.dtype == np.uint8
    assert set(np.unique(out).tolist()) <= {0, 2, 5, 13, 14}
    parsing = frame_labels(Parsing(lab, LIP), t)
    assert isinstance(parsing, Parsing) and parsing.label_set is LIP
    np.testing.assert_array_equal(parsing.labels, out)
    # nearest: a frame pixel takes the label of the photo pixel under its centre
    cx, cy = t.to_photo((100.5, 130.5))
    assert out[130, 100] == lab[int(cy), int(cx)]


def test_frame_mask_is_boolean_and_false_outside_the_photo():
    m = np.ones((100, 400), bool)
    out = frame_mask(m, frame_transform((400, 100)))
    assert out.dtype == bool and out.shape == (256, 192)
    assert out[128].all() and not out[0].any() and not out[-1].any()


def test_mask_of_the_wrong_size_is_refused():
    with pytest.raises(InputError, match="frame transform is for 400 × 100"):
        frame_mask(np.ones((50, 50), bool), frame_transform((400, 100)))


@pytest.mark.parametrize("size", [(192, 256), (640, 480), (90, 300)])
def test_paste_back_of_the_frame_itself_gives_the_photo_back(size):
    rng = np.random.default_rng(2)
    small = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    photo = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)  # smooth content survives resampling
    framed, t = frame_person(photo)
    back = paste_back(framed, t, photo)
    assert back.size == photo.size
    diff = np.abs(np.asarray(back, float) - np.asarray(photo, float))
    margin = max(2, int(np.ceil(2 / t.scale)))
    assert diff[margin:-margin, margin:-margin].mean() < 6.0


def test_paste_back_puts_frame_content_where_it_came_from():
    size = (640, 480)
    photo = Image.new("RGB", size, (30, 30, 30))
    framed, t = frame_person(photo)
    result = np.asarray(framed).copy()
    result[100:120, 50:70] = (255, 0, 0)  # a red square in the frame
    back = np.asarray(paste_back(Image.fromarray(result), t, photo))
    red = (back[..., 0] > 128) & (back[..., 1] < 100)
    expected = t.to_photo([(50, 100), (70, 120)])
    ys, xs = np.nonzero(red)
    np.testing.assert_allclose([xs.min(), ys.min()], expected[0], atol=1.5)
    np.testing.assert_allclose([xs.max() + 1, ys.max() + 1], expected[1], atol=1.5)


def test_paste_back_with_a_mask_only_changes_the_masked_area():
    size = (300, 400)
    photo = Image.new("RGB", size, (0, 0, 255))
    framed, t = frame_person(photo)
    result = Image.new("RGB", FRAME, (0, 255, 0))
    mask = np.zeros((256, 192), bool)
    mask[64:192, 48:144] = True
    back = np.asarray(paste_back(result, t, photo, mask=mask, feather=2.0))
    centre = t.to_photo((96, 128)).astype(int)
    assert tuple(back[centre[1], centre[0]]) == (0, 255, 0)
    assert tuple(back[5, 5]) == (0, 0, 255)
    edge_x = int(t.to_photo((48, 128))[0])
    assert 0 < back[centre[1], edge_x, 1] < 255, "the mask edge is not feathered"


def test_head_top_is_above_the_face_or_above_the_neck_by_the_shoulders():
    size = (600, 800)
    pose = _upper_body(cx=300, neck_y=300, torso=300, size=size)  # nose 75 px above the neck
    assert head_top(pose) == pytest.approx(225 - 1.1 * 75)
    kp, sc = pose.keypoints.copy(), pose.scores.copy()
    kp[0], sc[0] = 0.0, 0.0  # no face: 1.1 shoulder widths (2 × 0.35 × 300) above the neck
    assert head_top(Pose(kp, sc, size)) == pytest.approx(300 - 1.1 * 210)
    kp[1], sc[1] = 0.0, 0.0
    assert head_top(Pose(kp, sc, size)) is None


@pytest.mark.parametrize("size", [(1000, 200), (50, 400), (10, 10)])
def test_photos_no_frame_can_hold_are_refused(size):
    with pytest.raises(InputError, match="MAX_ASPECT|MIN_SIDE"):
        frame_transform(size)


def _paste_whole_photo(result, t, photo, mask, feather):
    """Paste-back computed over the whole photo (resample, feather and blend every pixel): the reference."""
    from PIL import ImageFilter

    s, (ox, oy) = t.scale, t.offset
    data = (s, 0.0, ox, 0.0, s, oy)
    up = result.transform(photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BICUBIC)
    cover = Image.new("L", result.size, 255).transform(photo.size, Image.Transform.AFFINE, data,
                                                       resample=Image.Resampling.BILINEAR, fillcolor=0)
    alpha = np.asarray(cover, np.float32) / 255.0
    if mask is not None:
        m = np.clip(np.asarray(mask, np.float32), 0, 1)
        if m.shape == (FRAME[1], FRAME[0]):
            m_photo = Image.fromarray(m * 255.0).convert("L").transform(
                photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR, fillcolor=0)
        else:
            m_photo = Image.fromarray((m * 255.0 + 0.5).astype(np.uint8))
        if feather > 0:
            m_photo = m_photo.filter(ImageFilter.GaussianBlur(feather / s))
        alpha = alpha * (np.asarray(m_photo, np.float32) / 255.0)
    out = np.asarray(photo, np.float32) * (1 - alpha[..., None]) + np.asarray(up, np.float32) * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _paste_mask(kind: str, photo_size, rng):
    m = np.zeros((256, 192), np.float32)
    if kind == "none":
        return None
    if kind == "blob":
        m[80:170, 50:140] = 1
    elif kind == "edges":
        m[:20, :] = 1
        m[200:, 180:] = 1
    elif kind == "soft specks":
        m[:] = rng.random((256, 192)) * (rng.random((256, 192)) > 0.97)
    elif kind == "photo-sized":
        m = np.zeros((photo_size[1], photo_size[0]), np.float32)
        m[photo_size[1] // 3 : photo_size[1] // 2, photo_size[0] // 4 : photo_size[0] // 2] = 0.7
    return m


@pytest.mark.parametrize("size", [(768, 1024), (150, 200), (1000, 700), (192, 256)])
@pytest.mark.parametrize("kind", ["none", "blob", "edges", "soft specks", "photo-sized", "empty"])
@pytest.mark.parametrize("feather", [0.0, 1.5, 4.0])
def test_paste_back_of_the_changed_region_equals_pasting_over_the_whole_photo(size, kind, feather):
    rng = np.random.default_rng(7)
    photo = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    _, t = frame_person(photo)
    result = Image.fromarray(rng.integers(0, 256, (256, 192, 3), dtype=np.uint8))
    mask = _paste_mask(kind, size, rng)
    got = np.asarray(paste_back(result, t, photo, mask=mask, feather=feather))
    np.testing.assert_array_equal(got, _paste_whole_photo(result, t, photo, mask, feather))
