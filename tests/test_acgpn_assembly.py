"""ACGPN labels, test-time assembly steps, noise, small networks and checkpoint adaptation: properties and values."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from vton.errors import WeightsError
from vton.labels import LIP
from vton.methods.acgpn.assembly import (
    NOISE_KEYS,
    ACGPNInputs,
    arm_fixup,
    changearm,
    cloth_mask_from_g2,
    dilate,
    fuse_cloth,
    gen_noise,
    gen_noise_maps,
    hole_image,
    layout_from_g1,
    one_hot,
    run_acgpn,
    skin_color,
)
from vton.methods.acgpn.labels import ACGPN_LABELS, lip_to_acgpn
from vton.methods.acgpn.networks import CONSTANT_KEYS, ACGPNConfig, adapt_state_dict, build_acgpn_network

H, W = 256, 192
A = ACGPN_LABELS


def _labels(*rows: tuple[str, slice, slice]) -> torch.Tensor:
    """A (1, 1, H, W) label map: background with named rectangles painted in order."""
    lab = torch.zeros(1, 1, H, W)
    for name, ys, xs in rows:
        lab[0, 0, ys, xs] = A.id(name)
    return lab


# ---------------------------------------------------------------------------------------------------- labels


def test_acgpn_label_ids_are_the_networks_ids():
    expected = {"background": 0, "hair": 1, "upper_clothes": 4, "left_shoe": 5, "right_shoe": 6, "noise": 7,
                "pants": 8, "left_leg": 9, "right_leg": 10, "left_arm": 11, "face": 12, "right_arm": 13}
    assert {n: A.id(n) for n in expected} == expected
    assert len(A) == 14 and A.names[2].startswith("unused") and A.names[3].startswith("unused")


def test_lip_to_acgpn_is_the_documented_mapping():
    lip = np.arange(len(LIP)).reshape(4, 5)
    got = lip_to_acgpn(lip)
    expected = {2: 1, 5: 4, 6: 4, 7: 4, 18: 5, 19: 6, 9: 8, 16: 9, 17: 10, 14: 11, 13: 12, 15: 13}  # methods.md
    assert got.dtype == lip.dtype and got.shape == lip.shape
    assert got.ravel().tolist() == [expected.get(i, 0) for i in range(len(LIP))]
    t = torch.tensor([[LIP.id("coat"), LIP.id("skirt")]], dtype=torch.float32)
    out = lip_to_acgpn(t)
    assert out.dtype == torch.float32 and out.tolist() == [[A.id("upper_clothes"), A.id("background")]]
    with pytest.raises(ValueError, match="outside"):
        lip_to_acgpn(np.array([20]))


def test_changearm_turns_arms_and_noise_into_upper_clothes():
    lab = _labels(("face", slice(0, 10), slice(None)), ("left_arm", slice(10, 20), slice(None)),
                  ("right_arm", slice(20, 30), slice(None)), ("noise", slice(30, 40), slice(None)),
                  ("pants", slice(40, 50), slice(None)))
    out = changearm(lab)
    assert out[0, 0, 5, 0] == A.id("face") and out[0, 0, 45, 0] == A.id("pants")
    assert (out[0, 0, 10:40] == A.id("upper_clothes")).all() and out[0, 0, 60, 0] == 0


def test_one_hot_scatters_ids_and_checks_shape():
    lab = _labels(("hair", slice(0, 2), slice(None)))
    oh = one_hot(lab)
    assert oh.shape == (1, 14, H, W) and torch.equal(oh.sum(1), torch.ones(1, H, W))
    assert oh[0, A.id("hair"), 0, 0] == 1 and oh[0, 0, 5, 0] == 1
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        one_hot(torch.zeros(1, H, W))


# ---------------------------------------------------------------------------------------------- morphology, noise


@pytest.mark.parametrize("iterations", [1, 10])
def test_dilate_equals_opencv_ellipse_dilation(iterations):
    g = torch.Generator().manual_seed(0)
    mask = (torch.rand(1, 1, 64, 48, generator=g) > 0.97).float()
    mask[0, 0, 0, 0] = mask[0, 0, -1, -1] = 1  # corners: the border adds nothing
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    ref = cv2.dilate((mask[0, 0].numpy() * 255).astype(np.uint8), kernel, iterations=iterations) / 255.0
    assert torch.equal(dilate(mask, iterations)[0, 0], torch.from_numpy(ref).float())


def test_gen_noise_is_binary_seeded_and_about_sixteen_percent_ones():
    a, b = gen_noise((1, 1, H, W), seed=7), gen_noise((1, 1, H, W), seed=7)
    c = gen_noise((1, 1, H, W), seed=8)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and set(a.unique().tolist()) == {0.0, 1.0}
    assert abs(float(a.mean()) - 0.1587) < 0.01  # P(N(0, 255) rounds to >= 255) = P(z >= 0.998)


def test_gen_noise_maps_are_three_successive_draws():
    maps = gen_noise_maps((1, 1, H, W), seed=3)
    assert list(maps) == list(NOISE_KEYS)
    assert torch.equal(maps["G1"], gen_noise((1, 1, H, W), seed=3))
    assert not torch.equal(maps["G1"], maps["G2"]) and not torch.equal(maps["G2"], maps["G"])


# --------------------------------------------------------------------------------------------------- the steps


def test_layout_is_the_argmax_of_the_sigmoid():
    logits = torch.full((1, 14, H, W), -5.0)
    logits[:, A.id("face"), :10] = 3.0
    prob, layout = layout_from_g1(logits)
    assert torch.allclose(prob, torch.sigmoid(logits))
    assert (layout[0, 0, :10] == A.id("face")).all() and (layout[0, 0, 10:] == 0).all()


def test_predicted_cloth_mask_is_dilated_then_loses_arms_and_background():
    logits = torch.full((1, 1, H, W), -4.0)
    logits[..., 100:120, 50:100] = 4.0
    layout = _labels(("left_arm", slice(100, 121), slice(50, 60)))
    person = _labels(("upper_clothes", slice(0, 200), slice(None)))
    prob, mask = cloth_mask_from_g2(logits, layout, person)
    assert torch.allclose(prob, torch.sigmoid(logits))
    assert mask[0, 0, 99, 70] == 1 and mask[0, 0, 120, 70] == 1  # dilated by one pixel (the cross)
    assert mask[0, 0, 99, 49] == 0  # not diagonally
    assert not mask[0, 0, 100:121, 50:60].any()  # predicted arm removed
    person_short = _labels(("upper_clothes", slice(0, 110), slice(None)))
    _, mask2 = cloth_mask_from_g2(logits, layout, person_short)
    assert not mask2[0, 0, 110:].any() and mask2[0, 0, 105, 70] == 1  # background removed


def test_arm_fixup_restores_arms_outside_old_clothes_and_occludes_inside():
    person = _labels(("upper_clothes", slice(50, 150), slice(40, 150)), ("left_arm", slice(50, 200), slice(10, 40)),
                     ("right_arm", slice(150, 200), slice(150, 180)))
    layout = _labels(("upper_clothes", slice(50, 150), slice(40, 150)), ("right_arm", slice(100, 140), slice(140, 150)),
                     ("left_arm", slice(60, 70), slice(0, 5)))
    cloth = torch.zeros(1, 1, H, W)
    cloth[..., 60:90, 60:120] = 1
    refined, occlusion = arm_fixup(layout, person, cloth)
    r = refined[0, 0]
    assert (r[50:200, 10:40] == A.id("left_arm")).all()  # the person's arm, outside the old clothes
    assert (r[150:200, 150:180] == A.id("right_arm")).all()
    assert (r[100:140, 140:150] == A.id("right_arm")).all()  # predicted arm inside the old clothes: kept
    assert (r[60:70, 0:5] == 0).all()  # predicted arm elsewhere: dropped
    assert (r[60:90, 60:120] == 0).all()  # cleared under the predicted cloth
    assert (r[55, 45] == A.id("upper_clothes"))
    occ = occlusion[0, 0]
    assert occ[100:140, 140:150].all() and occ[100, 130] == 1 and occ[100, 129] == 0  # 10 steps of the cross
    assert occ.sum() > 0 and occ[0:80].sum() == 0


def test_hole_image_blanks_clothes_occluded_body_and_predicted_cloth():
    person = _labels(("upper_clothes", slice(50, 150), slice(40, 150)), ("face", slice(0, 50), slice(40, 150)),
                     ("left_arm", slice(50, 150), slice(150, 170)))
    image = torch.full((1, 3, H, W), 0.5)
    occlusion = torch.zeros(1, 1, H, W)
    occlusion[..., 60:70, 155:160] = 1
    cloth = torch.zeros(1, 1, H, W)
    cloth[..., 40:50, 40:60] = 1
    hole = hole_image(image, person, occlusion, cloth)
    assert (hole[0, :, 100, 100] == 0).all()  # clothes
    assert (hole[0, :, 65, 156] == 0).all() and (hole[0, :, 80, 156] == 0.5).all()  # occluded arm vs arm
    assert (hole[0, :, 45, 45] == 0).all() and (hole[0, :, 45, 100] == 0.5).all()  # predicted cloth vs face
    assert (hole[0, :, 200, 0] == 0).all()  # background


def test_skin_color_is_the_arm_mean_or_zero_below_ten_pixels():
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(1)) * 2 - 1
    person = _labels(("left_arm", slice(0, 3), slice(0, 3)), ("right_arm", slice(10, 12), slice(0, 1)))
    color = skin_color(person, image)
    arms = torch.cat([image[0, :, 0:3, 0:3].reshape(3, -1), image[0, :, 10:12, 0:1].reshape(3, -1)], 1)  # (3, 11)
    assert color.shape == image.shape
    torch.testing.assert_close(color[0, :, 100, 50], arms.mean(1), atol=1e-6, rtol=0)
    assert (color.amax((2, 3)) == color.amin((2, 3))).all()  # one value broadcast over the map: exact
    few = _labels(("left_arm", slice(0, 3), slice(0, 3)))  # 9 pixels
    assert not skin_color(few, image).any()


def test_fused_cloth_takes_the_warped_cloth_where_the_mask_is_on():
    conv9 = torch.zeros(1, 4, H, W)
    conv9[:, :3] = 0.3
    conv9[:, 3] = 30.0  # sigmoid = 1
    warped = torch.full((1, 3, H, W), -0.7)
    pred = torch.zeros(1, 1, H, W)
    pred[..., :100, :] = 1
    fused, m = fuse_cloth(conv9, warped, pred)
    assert torch.equal(m, pred)  # sigmoid(30) rounds to 1.0 in float32, times a {0, 1} mask: exact
    assert torch.allclose(fused[..., :100, :], warped[..., :100, :])
    assert torch.allclose(fused[..., 100:, :], torch.tanh(torch.tensor(0.3)).expand(1, 3, H - 100, W))


# ------------------------------------------------------------------------------------ small networks, the chain


TINY = ACGPNConfig(ngf=4)


def test_untrained_stn_is_the_identity_warp_with_align_corners_true():
    u = build_acgpn_network("U", TINY)
    g = torch.Generator().manual_seed(2)
    cloth = torch.rand(1, 3, H, W, generator=g) * 2 - 1
    mask = torch.ones(1, 1, H, W)
    with torch.no_grad():
        out = u(cloth, mask, mask, cloth)
    torch.testing.assert_close(out.control_points[0], u.stn.target_control_points, atol=1e-6, rtol=0)
    xs = torch.linspace(-1, 1, W)
    torch.testing.assert_close(out.sampling_grid[0, 7, :, 0], xs, atol=1e-5, rtol=0)
    torch.testing.assert_close(out.warped_cloth, cloth, atol=1e-4, rtol=0)
    torch.testing.assert_close(out.warped_grid, cloth, atol=1e-4, rtol=0)
    assert out.conv9.shape == (1, 4, H, W)


def test_networks_refuse_inputs_of_the_wrong_shape():
    g1 = build_acgpn_network("G1", TINY)
    with pytest.raises(ValueError, match=r"\(B, 37, 256, 192\)"):
        g1(torch.zeros(1, 36, H, W))
    u = build_acgpn_network("U", TINY)
    with pytest.raises(ValueError, match="refer"):
        u(torch.zeros(1, 3, H, W), torch.zeros(1, 2, H, W), torch.zeros(1, 1, H, W))
    with pytest.raises(ValueError, match="unknown ACGPN network"):
        build_acgpn_network("D")


def _tiny_inputs() -> ACGPNInputs:
    g = torch.Generator().manual_seed(4)
    label = _labels(("face", slice(10, 40), slice(70, 120)), ("upper_clothes", slice(40, 150), slice(40, 150)),
                    ("left_arm", slice(40, 160), slice(20, 40)), ("right_arm", slice(40, 160), slice(150, 170)),
                    ("pants", slice(150, 250), slice(50, 140)))
    pose = -torch.ones(1, 18, H, W)
    pose[:, 0, 20:31, 90:101] = 1
    cloth_mask = torch.zeros(1, 1, H, W)
    cloth_mask[..., 30:220, 30:160] = 0.9
    return ACGPNInputs(label, torch.rand(1, 3, H, W, generator=g) * 2 - 1, cloth_mask,
                       torch.rand(1, 3, H, W, generator=g) * 2 - 1, pose)


def test_run_acgpn_returns_every_stage_and_repeats_bit_for_bit():
    torch.manual_seed(0)
    nets = {k: build_acgpn_network(k, TINY) for k in ("G1", "G2", "G", "U")}
    inputs = _tiny_inputs()
    noise = gen_noise_maps((1, 1, H, W), seed=5)
    with torch.no_grad():
        a = run_acgpn(nets, inputs, noise)
        b = run_acgpn(nets, inputs, noise)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the same computation twice in one process: deterministic
    shapes = {"layout": (1, 1, H, W), "refined_layout": (1, 1, H, W), "g1_logits": (1, 14, H, W),
              "predicted_cloth_mask": (1, 1, H, W), "control_points": (1, 25, 2), "sampling_grid": (1, H, W, 2),
              "u_output": (1, 4, H, W), "fused_cloth": (1, 3, H, W), "hole_image": (1, 3, H, W),
              "tryon": (1, 3, H, W), "diagnostic_loss": (1,)}
    assert {k: tuple(a[k].shape) for k in shapes} == shapes
    assert set(a["predicted_cloth_mask"].unique().tolist()) <= {0.0, 1.0}
    assert float(a["tryon"].abs().max()) <= 1
    assert set(a["cloth_mask"].unique().tolist()) == {0.0, 1.0}
    assert torch.equal(a["cloth"][..., 0, 0], torch.zeros(1, 3))  # masked out (× 0: exact)
    with pytest.raises(ValueError, match="missing G"):
        run_acgpn({k: v for k, v in nets.items() if k != "G"}, inputs, noise)


# -------------------------------------------------------------------------------------------- adapt_state_dict


def test_adapt_state_dict_strips_module_and_keeps_our_constants():
    u = build_acgpn_network("U", TINY)
    theirs = {f"module.{k}": v.clone() for k, v in u.state_dict().items()}
    theirs["module.stn.tps.inverse_kernel"] += 5e-5  # float32 inversion noise: accepted, replaced by ours
    sd, notes = adapt_state_dict("U", theirs, TINY)
    assert not any(k.startswith("module.") for k in sd) and any("module." in n for n in notes)
    for k in CONSTANT_KEYS:  # ours replace theirs: the very tensors, exact
        assert torch.equal(sd[k], u.state_dict()[k]) and any(n.startswith(k) for n in notes)
    fresh = build_acgpn_network("U", TINY)
    fresh.load_state_dict(sd, strict=True)
    del theirs["module.stn.tps.padding_matrix"]
    sd, notes = adapt_state_dict("U", theirs, TINY)
    assert "stn.tps.padding_matrix" in sd and "stn.tps.padding_matrix missing: computed" in notes


def test_adapt_state_dict_refuses_other_constants_naming_the_key():
    u = build_acgpn_network("U", TINY)
    sd = u.state_dict()
    sd["stn.tps.target_coordinate_repr"] = sd["stn.tps.target_coordinate_repr"] + 1e-3
    with pytest.raises(WeightsError, match="stn.tps.target_coordinate_repr"):
        adapt_state_dict("U", sd, TINY)
    sd = dict(u.state_dict())
    sd["stn.tps.inverse_kernel"] = torch.zeros(27, 27)
    with pytest.raises(WeightsError, match="inverse_kernel has shape"):
        adapt_state_dict("U", sd, TINY)


def test_adapt_state_dict_of_a_refine_net_only_strips_the_prefix():
    sd = {"conv1.0.weight": torch.zeros(1)}
    assert adapt_state_dict("G1", sd) == (sd, [])
    with pytest.raises(ValueError, match="unknown ACGPN network"):
        adapt_state_dict("GMM", sd)
