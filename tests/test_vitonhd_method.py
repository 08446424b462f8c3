"""VITON-HD as a method: our documented input conversions (LIP → VITON-HD labels, COCO-18 → BODY_25), the refusal of
poses the agnostic image cannot use, and noise that is drawn from the run's seed and can be injected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vton import methods
from vton.annotations import Pose
from vton.errors import InputError
from vton.labels import COCO18, LIP
from vton.methods.vitonhd.assembly import BODY25, body25_from_pose, img_agnostic
from vton.methods.vitonhd.labels import VITONHD_PARSE, lip_to_vitonhd
from vton.pipeline import TryOnPipeline

EX = Path(__file__).resolve().parents[1] / "examples"
CARD = methods.card("viton-hd")


def _pose() -> Pose:
    kp = np.array([[40 + 3 * i, 30 + 5 * i] for i in range(len(COCO18))], np.float32)
    return Pose(kp, np.ones(len(COCO18), np.float32), (200, 300))


def test_lip_labels_keep_their_names_and_jumpsuits_become_a_dress():
    lip = np.arange(len(LIP), dtype=np.uint8)[None]
    got = lip_to_vitonhd(lip)[0]
    for i, name in enumerate(LIP.names):
        assert VITONHD_PARSE.names[got[i]] == ("dress" if name == "jumpsuits" else name)
    assert VITONHD_PARSE.id("neck") not in got
    with pytest.raises(ValueError, match="outside"):
        lip_to_vitonhd(np.array([[len(LIP)]]))


def test_coco18_to_body25_keeps_each_named_point_and_adds_the_mid_hip():
    pose = _pose()
    body = body25_from_pose(pose)
    for i, name in enumerate(COCO18):
        np.testing.assert_array_equal(body[BODY25.index(name)], pose.keypoints[i])
    hips = pose.keypoints[[COCO18.index("right_hip"), COCO18.index("left_hip")]].astype(np.float64)
    np.testing.assert_allclose(body[BODY25.index("mid_hip")], hips.mean(0))
    assert (body[BODY25.index("left_big_toe"):] == 0).all()  # the feet are not in COCO-18


def test_agnostic_image_refuses_a_pose_without_hips():
    pose = _pose()
    kp = pose.keypoints.copy()
    kp[COCO18.index("left_hip")] = 0
    body = body25_from_pose(Pose(kp, pose.scores, pose.size))
    with pytest.raises(ValueError, match="left hip"):
        img_agnostic(Image.new("RGB", pose.size), np.zeros(pose.size[::-1], np.uint8), body)


def test_the_card_requires_the_points_the_agnostic_image_reads():
    assert {"neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip"} <= set(CARD.required_keypoints)
    assert CARD.frame != methods.card("cp-vton").frame  # its own frame, not the datasets' 192 × 256


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    from vton.tools.random_weights import write_random_weights

    return write_random_weights(tmp_path_factory.mktemp("vhd"), methods=[CARD.id], seed=3, **CARD.test_overrides)


def _run(weights: Path, seed: int, **noise):
    pipe = TryOnPipeline(CARD.id, weights_dir=weights, device="cpu", seed=seed,
                         network_overrides=dict(CARD.test_overrides))
    for k, v in noise.items():
        setattr(pipe.method, k, v)
    return pipe(EX / "geometric_person.png", EX / "geometric_cloth.png", pose=EX / "geometric_person_keypoints.json",
                parsing=EX / "geometric_person_parse.png", cloth_mask=EX / "geometric_cloth_mask.png")


@pytest.mark.slow
def test_noise_comes_from_the_seed_and_injected_noise_repeats_a_run(tiny):
    a = _run(tiny, 5)
    assert a.summary()["data"]["noise_seed"] == 5 and a.summary()["seed"] == 5
    n = a.output.tensors["seg_noise"]
    assert set(n.unique().tolist()) <= {0.0, 1.0} and 0.05 < n.mean() < 0.3  # ≈ 16 % ones
    b = _run(tiny, 6)
    assert not torch.equal(a.output.tensors["seg_noise"], b.output.tensors["seg_noise"])
    from vton.methods.vitonhd.networks import VITONHDConfig, draw_alias_noise

    cfg = VITONHDConfig(load_height=CARD.frame[1], load_width=CARD.frame[0], **CARD.test_overrides)
    c = _run(tiny, 6, seg_noise=n, alias_noise=draw_alias_noise(cfg, torch.Generator().manual_seed(5)))
    assert torch.equal(c.tryon, a.tryon)  # seed 5's draws injected into a run seeded 6: the same computation twice
    assert c.summary()["data"]["noise_injected"] == {"seg": True, "alias": True}
    assert c.summary()["data"]["noise_seed"] is None


def test_a_pose_without_hips_is_refused_before_the_networks_run(tiny, tmp_path):
    import json

    data = json.loads((EX / "geometric_person_keypoints.json").read_text())
    i = COCO18.index("right_hip")
    for key in ("pose_keypoints", "pose_keypoints_2d"):
        flat = data["people"][0].get(key)
        if flat:
            flat[3 * i: 3 * i + 3] = [0, 0, 0]
    (tmp_path / "pose.json").write_text(json.dumps(data))
    pipe = TryOnPipeline(CARD.id, weights_dir=tiny, device="cpu", network_overrides=dict(CARD.test_overrides))
    with pytest.raises(InputError, match="right_hip missing"):
        pipe(EX / "geometric_person.png", EX / "geometric_cloth.png", pose=tmp_path / "pose.json",
             parsing=EX / "geometric_person_parse.png", cloth_mask=EX / "geometric_cloth_mask.png")


def test_a_shared_preprocessor_frames_each_method_at_its_own_frame():
    from vton.preprocess.runner import Preprocessor

    shared = Preprocessor(None, "cpu")
    inputs = dict(pose=EX / "geometric_person_keypoints.json", parsing=EX / "geometric_person_parse.png",
                  cloth_mask=EX / "geometric_cloth_mask.png")
    other = next(c for c in methods.cards() if c.frame != CARD.frame and "pose" in c.needs)
    a = TryOnPipeline(other.id, preprocessor=shared, device="cpu").preprocess(
        EX / "geometric_person.png", EX / "geometric_cloth.png", **inputs)
    b = TryOnPipeline(CARD.id, preprocessor=shared, device="cpu").preprocess(
        EX / "geometric_person.png", EX / "geometric_cloth.png", **inputs)
    assert a.person.size == a.cloth.size == other.frame and a.transform.frame_size == other.frame
    assert b.person.size == b.cloth.size == CARD.frame and b.cloth_mask.shape == CARD.frame[::-1]
    assert b.parsing.size == b.pose.size == CARD.frame and not b.cached  # nothing of the other frame reused
    c = TryOnPipeline(CARD.id, preprocessor=shared, device="cpu").preprocess(
        EX / "geometric_person.png", EX / "geometric_cloth.png", **inputs)
    assert {"framing", "cloth_framing"} <= c.cached and c.person.size == CARD.frame


def test_mask_norm_with_an_empty_misalignment_is_plain_instance_norm():
    import torch.nn.functional as F

    from vton.methods.vitonhd.networks import mask_norm

    x = torch.randn(2, 5, 8, 6, generator=torch.Generator().manual_seed(0))
    # closed form; float32 sums of 48 terms: a few ulp
    torch.testing.assert_close(mask_norm(x, torch.zeros(2, 1, 8, 6)), F.instance_norm(x), atol=1e-5, rtol=1e-5)
    half = torch.zeros(2, 1, 8, 6)
    half[..., :3] = 1  # two regions, each normalised on its own (sqrt(n / hw) undoes the mean-filled dilution);
    # the only difference is InstanceNorm's ε, which acts as ε · hw / n on a region: 1e-5 relative at most
    out = mask_norm(x, half)
    torch.testing.assert_close(out[..., :3], F.instance_norm(x[..., :3]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[..., 3:], F.instance_norm(x[..., 3:]), atol=1e-4, rtol=1e-4)


def test_preprocessing_at_its_own_frame_has_no_cp_vton_dataset_zip():
    """The CP-VTON dataset layout holds only its own frame: a VITON-HD run offers no dataset zip (the page and the
    CLI leave it out) instead of failing the run."""
    from vton.result import dataset_zip
    from vton.run import FRAME

    args = (EX / "geometric_person.png", EX / "geometric_cloth.png")
    kw = dict(pose=EX / "geometric_person_keypoints.json", parsing=EX / "geometric_person_parse.png",
              cloth_mask=EX / "geometric_cloth_mask.png")
    pre = TryOnPipeline(CARD.id, device="cpu").preprocess(*args, **kw)  # preprocessing reads no network weights
    assert tuple(pre.person.size) == tuple(CARD.frame) != tuple(FRAME)
    assert pre.pose is not None and pre.parsing is not None and not pre.has_dataset_layout
    own = TryOnPipeline("cp-vton", device="cpu").preprocess(*args, **kw)
    assert own.has_dataset_layout and dataset_zip(own)[:2] == b"PK"
