"""Behaviour of the CP-VTON / CP-VTON+ person representation (vton.methods.cpvton.representation, vton.encodings)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vton.annotations import Parsing, Pose
from vton.encodings import body_shape, cloth_tensors, pose_map, worn_cloth
from vton.errors import InputError
from vton.labels import LIP
from vton.methods.cpvton.representation import HEAD_LABELS, build_representation, head_labels

H, W = 256, 192


def _pose(points: dict[int, tuple[float, float]], size=(W, H)) -> Pose:
    kp = np.zeros((18, 2), np.float32)
    sc = np.zeros(18, np.float32)
    for i, (x, y) in points.items():
        kp[i] = (x, y)
        sc[i] = 1.0
    return Pose(kp, sc, size)


def _person() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))


def _parsing() -> Parsing:
    lab = np.zeros((H, W), np.uint8)
    lab[10:40, 80:110] = LIP.id("hair")
    lab[40:70, 80:110] = LIP.id("face")
    lab[70:150, 60:130] = LIP.id("upper_clothes")
    lab[150:220, 60:130] = LIP.id("pants")
    lab[220:250, 60:90] = LIP.id("left_leg")
    return Parsing(lab)


def _square(x: float, y: float, r: int = 5) -> np.ndarray:
    out = np.full((H, W), -1.0, np.float32)
    x0, x1, y0, y1 = int(x - r), int(x + r), int(y - r), int(y + r)
    out[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = 1.0
    return out


def test_pose_map_draws_11_pixel_squares_at_integer_points():
    m = pose_map(_pose({0: (50.0, 60.0)}))
    assert m.shape == (1, 18, H, W) and m.dtype == torch.float32
    on = m[0, 0] > 0
    ys, xs = torch.nonzero(on, as_tuple=True)
    assert (int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())) == (45, 55, 55, 65)
    assert int(on.sum()) == 11 * 11
    assert set(m[0, 1:].unique().tolist()) == {-1.0}


def test_pose_map_truncates_fractional_coordinates_like_pil():
    m = pose_map(_pose({3: (50.7, 60.3)}))
    np.testing.assert_array_equal(m[0, 3].numpy(), _square(50.7, 60.3))


def test_pose_map_skips_points_with_x_or_y_at_most_1():
    m = pose_map(_pose({0: (1.0, 100.0), 1: (100.0, 0.5), 2: (1.01, 1.01)}))
    assert (m[0, 0] == -1).all() and (m[0, 1] == -1).all()
    assert int((m[0, 2] > 0).sum()) > 0


def test_pose_map_clips_squares_at_the_border():
    m = pose_map(_pose({5: (3.0, 252.0), 6: (190.5, 2.0)}))
    np.testing.assert_array_equal(m[0, 5].numpy(), _square(3.0, 252.0))
    np.testing.assert_array_equal(m[0, 6].numpy(), _square(190.5, 2.0))
    assert int((m[0, 5] > 0).sum()) == 9 * 9  # columns 0..8, rows 247..255


def test_pose_map_radius_sets_square_size():
    m = pose_map(_pose({0: (100.0, 100.0)}), radius=2)
    assert int((m[0, 0] > 0).sum()) == 5 * 5


def test_pose_map_rejects_a_pose_of_another_frame():
    with pytest.raises(InputError, match="frame"):
        pose_map(_pose({0: (50.0, 60.0)}, size=(384, 512)))


def test_head_labels_per_variant_and_stage_by_name():
    assert head_labels("original", "gmm") == ("hat", "hair", "sunglasses", "face")
    assert head_labels("original", "tom") == head_labels("original", "gmm")
    assert head_labels("plus", "gmm") == ("hat", "sunglasses", "face")
    assert set(head_labels("plus", "tom")) == {
        "hat", "hair", "sunglasses", "pants", "skirt", "face", "left_leg", "right_leg",
    }
    assert [LIP.ids(*names) for names in HEAD_LABELS.values()]  # every name is a LIP label
    with pytest.raises(InputError, match="variant"):
        head_labels("acgpn", "gmm")
    with pytest.raises(InputError, match="stage"):
        head_labels("plus", "warp")


def test_head_is_photo_on_head_labels_and_minus_one_elsewhere():
    person, parsing = _person(), _parsing()
    rep = build_representation(person, parsing, _pose({}), "original", "gmm")
    photo = (np.asarray(person, np.float32) / 255.0 - 0.5) / 0.5
    head = rep.head[0].permute(1, 2, 0).numpy()
    inside = parsing.mask("hat", "hair", "sunglasses", "face")
    np.testing.assert_allclose(head[inside], photo[inside], atol=1e-6)
    assert (head[~inside] == -1).all()


def test_plus_gmm_drops_hair_and_plus_tom_keeps_pants_and_legs():
    person, parsing = _person(), _parsing()
    gmm = build_representation(person, parsing, _pose({}), "plus", "gmm").head[0, 0]
    tom = build_representation(person, parsing, _pose({}), "plus", "tom").head[0, 0]
    orig = build_representation(person, parsing, _pose({}), "original", "tom").head[0, 0]
    hair = torch.from_numpy(parsing.mask("hair"))
    legs = torch.from_numpy(parsing.mask("pants", "left_leg"))
    assert (gmm[hair] == -1).all() and not (tom[hair] == -1).all()
    assert not (tom[legs] == -1).all() and (orig[legs] == -1).all()


def test_shape_is_blurred_body_in_minus_one_to_one():
    s = body_shape(np.zeros((H, W), bool))
    assert s.shape == (1, 1, H, W) and (s == -1).all()
    assert (body_shape(np.ones((H, W), bool)) == 1).all()
    m = np.zeros((H, W), bool)
    m[64:192, 48:144] = True
    blurred, sharp = body_shape(m), body_shape(m, blur=False)
    assert set(sharp.unique().tolist()) == {-1.0, 1.0}
    assert float(blurred.min()) >= -1 and float(blurred.max()) <= 1
    soft = (blurred > -1) & (blurred < 1)
    assert int(soft.sum()) > 0  # the edges are soft
    assert float(blurred[0, 0, 128, 96]) == 1.0 and float(blurred[0, 0, 5, 5]) == -1.0


def test_original_shape_comes_from_parse_and_plus_from_body_mask():
    person, parsing = _person(), _parsing()
    body = np.zeros((H, W), bool)
    body[:, :96] = True
    orig = build_representation(person, parsing, _pose({}), "original", "gmm", body_mask=body)
    plus = build_representation(person, parsing, _pose({}), "plus", "gmm", body_mask=body)
    plus_fallback = build_representation(person, parsing, _pose({}), "plus", "gmm")
    # exact: the same function on the same mask (deterministic)
    torch.testing.assert_close(orig.shape, body_shape(parsing.labels > 0), rtol=0, atol=0)
    torch.testing.assert_close(plus.shape, body_shape(body), rtol=0, atol=0)
    torch.testing.assert_close(plus_fallback.shape, orig.shape, rtol=0, atol=0)


def test_tensor_concatenates_shape_head_pose():
    rep = build_representation(_person(), _parsing(), _pose({0: (50.0, 60.0)}), "original", "tom")
    t = rep.tensor()
    assert t.shape == (1, 22, H, W)
    # a concatenation copies: exact
    assert torch.equal(t[:, :1], rep.shape) and torch.equal(t[:, 1:4], rep.head) and torch.equal(t[:, 4:], rep.pose)


def test_person_may_be_a_uint8_array():
    person = _person()
    a = build_representation(person, _parsing(), _pose({}), "plus", "tom")
    b = build_representation(np.asarray(person), _parsing(), _pose({}), "plus", "tom")
    assert torch.equal(a.head, b.head)  # the same pixels, the same computation: exact


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"person": Image.new("RGB", (W, W))}, "person photo"),
        ({"person": np.zeros((H, W), np.uint8)}, "person photo"),
        ({"parsing": Parsing(np.zeros((H, H), np.uint8))}, "parse map"),
        ({"body_mask": np.zeros((H, H), bool), "variant": "plus"}, "body mask"),
        ({"pose": _pose({}, size=(W * 2, H * 2))}, "frame"),
        ({"variant": "cp-vton"}, "variant"),
        ({"stage": "warp"}, "stage"),
    ],
)
def test_build_representation_validates_inputs(kwargs, match):
    args = {"person": _person(), "parsing": _parsing(), "pose": _pose({}), "variant": "original", "stage": "gmm"}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        build_representation(**args)


def test_cloth_tensors_keep_the_cloth_unmasked_and_threshold_at_128():
    cloth = Image.new("RGB", (W, H), (255, 0, 0))
    mask = np.zeros((H, W), np.uint8)
    mask[:, :100] = 127
    mask[:, 100:] = 128
    c, m = cloth_tensors(cloth, mask)
    assert c.shape == (1, 3, H, W) and m.shape == (1, 1, H, W)
    assert (c[0, 0] == 1).all() and (c[0, 1] == -1).all()  # not multiplied by the mask
    assert (m[0, 0, :, :100] == 0).all() and (m[0, 0, :, 100:] == 1).all()
    _, m01 = cloth_tensors(cloth, (mask >= 128).astype(np.uint8))
    _, mb = cloth_tensors(cloth, mask >= 128)
    assert torch.equal(m01, m) and torch.equal(mb, m)


def test_cloth_tensors_validate_sizes():
    with pytest.raises(InputError, match="garment photo"):
        cloth_tensors(Image.new("RGB", (W, W)), np.zeros((H, W), bool))
    with pytest.raises(InputError, match="cloth mask"):
        cloth_tensors(Image.new("RGB", (W, H)), np.zeros((W, W), bool))


def test_worn_cloth_is_photo_on_clothes_and_white_elsewhere():
    person, parsing = _person(), _parsing()
    img, m = worn_cloth(person, parsing)
    clothes = torch.from_numpy(parsing.mask("upper_clothes", "dress", "coat"))
    assert torch.equal(m[0, 0].bool(), clothes)
    assert (img[0][:, ~clothes] == 1).all()
