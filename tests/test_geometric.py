"""The training-free geometric try-on (after VITON's shape-context TPS step), measured on drawn people and garments
whose old garment region, pose and parse are known exactly (vton.synthetic)."""

from __future__ import annotations

import dataclasses
from functools import cache

import cv2
import numpy as np
import pytest

from vton.annotations import Parsing, Pose
from vton.errors import InputError
from vton.labels import COCO18, LIP
from vton.methods.geometric import family as family_module
from vton.methods.geometric.draw import (
    draw_composition,
    draw_garment_outline,
    draw_matches,
    draw_target_outline,
    draw_tps_grid,
)
from vton.methods.geometric.family import BOUNDS, draw_case, family, run_case, score
from vton.methods.geometric.fit import fold_fraction
from vton.methods.geometric.landmarks import garment_contour
from vton.methods.geometric.matching import chi2_cost, match_outlines, shape_context
from vton.methods.geometric.outline import LANDMARKS, sample_outlines, target_region
from vton.methods.geometric.warp import GeometricConfig, GeometricResult, geometric_tryon
from vton.synthetic import GarmentSpec, PersonSpec, draw_garment, draw_person

PEOPLE = {
    "short": PersonSpec(),
    "long": PersonSpec(sleeves="long", arm_spread=6, shoulder_half_width=27, waist_half_width=22, hem_y=152,
                       shirt=(180, 180, 60)),
    "coat": PersonSpec(shoulder_half_width=21, waist_half_width=16, hem_y=138, centre_x=90, arm_spread=3,
                       top_label="coat", shirt=(90, 90, 200)),
}
GARMENTS = {
    "tshirt_stripes": GarmentSpec(),
    "longsleeve_logo": GarmentSpec(kind="longsleeve", pattern="logo", colour=(40, 80, 170), accent=(250, 220, 40)),
    "wide_tshirt_stripes": GarmentSpec(width=1.2, length=0.85, stripes=4, colour=(30, 30, 30), accent=(230, 230, 230)),
    "longsleeve_stripes": GarmentSpec(kind="longsleeve", width=0.9, length=1.05, stripes=6, colour=(150, 30, 120),
                                      accent=(250, 250, 250)),
}
SMALL = (192, 256)
LARGE = (576, 768)
CASES = [("short", "tshirt_stripes", SMALL), ("long", "longsleeve_logo", SMALL), ("coat", "wide_tshirt_stripes", SMALL),
         ("short", "longsleeve_stripes", SMALL), ("long", "tshirt_stripes", SMALL), ("coat", "longsleeve_logo", LARGE)]


@cache
def _run(person: str, garment: str, size: tuple[int, int]):
    p = draw_person(size, PEOPLE[person])
    g = draw_garment(size, GARMENTS[garment])
    return p, g, geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask)


def _grown(mask: np.ndarray, fraction: float) -> np.ndarray:
    k = max(1, round(fraction * mask.shape[0]))
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)) > 0


def _runs(on: np.ndarray) -> int:
    return int(on[0]) + int((np.diff(on.astype(np.int8)) == 1).sum())


@pytest.mark.parametrize("person,garment,size", CASES)
def test_new_garment_covers_the_old_region_and_stays_inside_it(person, garment, size):
    p, _, r = _run(person, garment, size)
    old = p.garment_region
    grown = _grown(old, 0.03)
    for new in (r.warped_mask, r.composition_mask >= 0.5):
        assert (new & old).sum() / old.sum() >= 0.90
        assert (new & ~grown).sum() / new.sum() <= 0.05


@pytest.mark.parametrize("person,garment,size", CASES)
def test_pattern_survives(person, garment, size):
    p, g, r = _run(person, garment, size)
    spec = g.spec
    near_accent = (np.abs(r.tryon.astype(np.int32) - spec.accent).sum(-1)
                   < np.abs(r.tryon.astype(np.int32) - spec.colour).sum(-1))
    on = near_accent & (r.composition_mask > 0.5)
    if spec.pattern == "stripes":
        x = int(p.pose.point("neck")[0])
        assert _runs(on[:, x]) == spec.stripes
        col = g.mask.shape[1] // 2
        assert _runs(g.mask[:, col] & near_accent_of(g.image, spec)[:, col]) == spec.stripes  # as drawn
    else:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8))
        assert n - 1 == 1  # one blob (label 0 is the rest)
        assert stats[1, cv2.CC_STAT_AREA] >= 0.2 * g.logo.sum() * (r.target_region.sum() / g.mask.sum())


def near_accent_of(image: np.ndarray, spec: GarmentSpec) -> np.ndarray:
    return (np.abs(image.astype(np.int32) - spec.accent).sum(-1) < np.abs(image.astype(np.int32) - spec.colour).sum(-1))


@pytest.mark.parametrize("person,garment,size", CASES)
def test_face_hair_legs_and_background_are_unchanged_away_from_the_garment(person, garment, size):
    p, _, r = _run(person, garment, size)
    away = ~_grown(p.garment_region, 0.03)
    diff = np.abs(r.tryon.astype(np.float32) - p.image.astype(np.float32)).mean(-1)
    for names in (("face",), ("hair",), ("pants", "left_shoe", "right_shoe"), ("background",)):
        part = p.parsing.mask(*names) & away
        assert part.sum() > 0
        assert diff[part].mean() < 3.0, names


@pytest.mark.parametrize("person,garment,size", CASES)
def test_no_old_garment_colour_is_left(person, garment, size):
    p, _, r = _run(person, garment, size)
    shirt = np.asarray(p.spec.shirt, np.int32)
    near_old = np.abs(r.tryon.astype(np.int32) - shirt).max(-1) <= 12
    assert near_old.sum() <= 0.002 * p.garment_region.sum()
    uncovered = p.garment_region & (r.composition_mask < 0.5)
    assert not (near_old & uncovered).any()


def test_arms_in_front_of_the_torso_stay_in_front():
    p = draw_person(SMALL, PEOPLE["short"])
    labels, image = p.parsing.labels.copy(), p.image.copy()
    band = p.garment_region & (np.arange(256)[:, None] >= 110) & (np.arange(256)[:, None] < 118)  # forearm across
    labels[band] = LIP.id("left_arm")
    image[band] = p.spec.skin
    g = draw_garment(SMALL, GARMENTS["tshirt_stripes"])
    r = geometric_tryon(image, Parsing(labels), p.pose, g.image, g.mask)
    assert np.array_equal(r.tryon[band], image[band])
    assert (r.composition_mask[band] == 0).all()
    assert r.warped_mask[band].mean() > 0.9  # the garment runs on behind the arm


def test_result_holds_every_stage_with_its_shape():
    p, g, r = _run("short", "tshirt_stripes", SMALL)
    h, w = 256, 192
    assert isinstance(r, GeometricResult) and dataclasses.is_dataclass(r)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.tryon = None  # type: ignore[misc]
    assert tuple(r.grid.shape) == (1, h, w, 2) and str(r.grid.dtype) == "torch.float32"
    assert r.tryon.shape == (h, w, 3) and r.tryon.dtype == np.uint8
    assert r.warped_cloth.shape == (h, w, 3) and r.warped_mask.dtype == bool
    assert r.composition_mask.dtype == np.float32 and 0 <= r.composition_mask.min() <= r.composition_mask.max() <= 1
    m = r.matching
    assert m.garment.landmark_names == m.target.landmark_names == LANDMARKS
    assert m.garment.points.shape == m.target.points.shape == (100, 2)
    assert m.target_pairs.shape == m.garment_pairs.shape == (int(m.kept.sum()) + len(LANDMARKS), 2)
    assert np.array_equal(np.sort(m.assignment), np.arange(100))  # a bijection
    # the grid carries each target landmark (nearly) to its garment landmark; an armpit (which slides along the
    # torso's side) to the garment side's point at its relative height between shoulder and hem corner, so the
    # torso's lines stay level where the person's armpit sits lower or higher than the garment's
    for name, tp, gp in zip(m.target.landmark_names, m.target.landmarks, m.garment.landmarks, strict=True):
        x, y = (int(round(v)) for v in tp)
        got = (r.grid[0, y, x].numpy() + 1) / 2 * (np.array([w, h]) - 1)
        if name.startswith("armpit_"):
            side = name.split("_")[1]
            (ty0, ty1), (gy0, gy1) = (o.landmarks[[o.landmark_names.index(f"{k}_{side}") for k in ("shoulder", "hem")],
                                                  1] for o in (m.target, m.garment))
            gp = np.array([gp[0], gy0 + (tp[1] - ty0) / (ty1 - ty0) * (gy1 - gy0)])
        assert np.hypot(*(got - gp)) < 0.06 * h, name


@pytest.mark.parametrize("person,garment,size", CASES)
def test_warp_does_not_fold(person, garment, size):
    _, _, r = _run(person, garment, size)
    assert r.fit.folded == 0.0
    for p in np.unique(r.fit.target_labels):  # each piece's own spline, away from the seams between pieces
        part = cv2.erode(((r.fit.target_labels == p) & r.target_region).astype(np.uint8), np.ones((5, 5))) > 0
        assert fold_fraction(r.grid, part) == 0.0


def test_landmarks_run_in_outline_order_on_both_sides():
    p, g, r = _run("long", "longsleeve_logo", SMALL)
    for outline, cx in ((r.matching.garment, 96), (r.matching.target, p.pose.point("neck")[0])):
        assert np.all(np.diff(outline.landmark_arc) > 0) and outline.landmark_arc[0] == 0
        lm = dict(zip(outline.landmark_names, outline.landmarks, strict=True))
        for name in LANDMARKS:
            if name.endswith("_right"):
                assert lm[name][0] > cx and lm[name.replace("_right", "_left")][0] < cx, name
        assert lm["hem_left"][1] > lm["armpit_left"][1] > lm["shoulder_left"][1]


def test_self_match_is_the_identity_assignment():
    g = draw_garment(SMALL, GARMENTS["tshirt_stripes"])
    c = garment_contour(g.mask)
    a, b = sample_outlines(c, c, 100)
    m = match_outlines(a, b)
    assert np.array_equal(m.assignment, np.arange(100))
    assert m.kept.all()


def test_shape_context_histograms_and_chi2():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 100, (40, 2))
    sc = shape_context(pts)
    assert sc.shape == (40, 60)
    np.testing.assert_allclose(sc.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(shape_context(pts * 3 + 7), sc, atol=1e-12)  # scale and translation invariant
    cost = chi2_cost(sc, sc)
    np.testing.assert_allclose(np.diag(cost), 0.0, atol=1e-12)
    assert (cost >= 0).all() and (cost <= 1 + 1e-12).all()


def test_target_region_takes_the_top_of_a_dress_only():
    labels = np.zeros((100, 60), np.uint8)
    labels[20:90, 10:50] = LIP.id("dress")
    kp = np.zeros((len(COCO18), 2), np.float32)
    kp[COCO18.index("right_hip")] = (20.5, 50.5)
    kp[COCO18.index("left_hip")] = (40.5, 50.5)
    pose = Pose(kp, (kp[:, 0] > 0).astype(np.float32), (60, 100))
    region = target_region(Parsing(labels), pose)
    rows = np.flatnonzero(region.any(1))
    assert rows[0] == 20 and rows[-1] == 50


def _bad_inputs():
    p = draw_person(SMALL, PEOPLE["short"])
    g = draw_garment(SMALL, GARMENTS["tshirt_stripes"])
    return p, g


def test_empty_target_region_is_a_clear_input_error():
    p, g = _bad_inputs()
    labels = p.parsing.labels.copy()
    labels[p.garment_region] = LIP.id("background")
    with pytest.raises(InputError, match="garment region is empty"):
        geometric_tryon(p.image, Parsing(labels), p.pose, g.image, g.mask)


@pytest.mark.parametrize("what", ["empty", "dot"])
def test_garment_mask_without_outline_is_a_clear_input_error(what):
    p, g = _bad_inputs()
    mask = np.zeros_like(g.mask)
    if what == "dot":
        mask[100:102, 90:92] = True
    with pytest.raises(InputError, match="garment mask (is empty|has no usable outline)"):
        geometric_tryon(p.image, p.parsing, p.pose, g.image, mask)


@pytest.mark.parametrize("missing", ["neck", "right_shoulder", "left_shoulder"])
def test_pose_without_neck_or_shoulders_is_a_clear_input_error(missing):
    p, g = _bad_inputs()
    kp, sc = p.pose.keypoints.copy(), p.pose.scores.copy()
    kp[COCO18.index(missing)], sc[COCO18.index(missing)] = 0, 0
    with pytest.raises(InputError, match=f"pose has no {missing.replace('_', ' ')}"):
        geometric_tryon(p.image, p.parsing, Pose(kp, sc, p.pose.size), g.image, g.mask)


def test_mismatched_sizes_are_clear_input_errors():
    p, g = _bad_inputs()
    with pytest.raises(InputError, match="parse map"):
        geometric_tryon(p.image[:128], p.parsing, p.pose, g.image, g.mask)
    with pytest.raises(InputError, match="garment mask"):
        geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask[:100])
    with pytest.raises(InputError, match="uint8"):
        geometric_tryon(p.image.astype(np.float32), p.parsing, p.pose, g.image, g.mask)


def test_a_garment_that_is_not_upright_is_refused_not_twisted():
    p, g = _bad_inputs()
    with pytest.raises(InputError, match="not upright|fold"):
        geometric_tryon(p.image, p.parsing, p.pose, np.ascontiguousarray(g.image[::-1]),
                        np.ascontiguousarray(g.mask[::-1]))


def test_stage_drawings_are_rgb_pictures():
    p, g, r = _run("short", "tshirt_stripes", SMALL)
    for img in (draw_garment_outline(g.image, r), draw_target_outline(p.image, r), draw_tps_grid(r, SMALL),
                draw_composition(r)):
        assert img.shape == (256, 192, 3) and img.dtype == np.uint8
    pairs = draw_matches(g.image, p.image, r.matching)
    assert pairs.shape == (256, 384, 3) and pairs.dtype == np.uint8
    assert not np.array_equal(draw_garment_outline(g.image, r), g.image)


def test_config_is_a_frozen_dataclass():
    cfg = GeometricConfig(n_points=80, regularization=0.1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_points = 10  # type: ignore[misc]
    p, g = _bad_inputs()
    r = geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask, config=cfg)
    assert r.matching.target.points.shape == (80, 2)


@pytest.mark.slow
def test_works_at_1024x768():
    p, g, r = _run("short", "tshirt_stripes", (768, 1024))
    assert r.tryon.shape == (1024, 768, 3)
    old = p.garment_region
    assert (r.warped_mask & old).sum() / old.sum() >= 0.90
    assert _runs((near_accent_of(r.tryon, g.spec) & (r.composition_mask > 0.5))[:, int(p.pose.point("neck")[0])]) == 5


def test_shipped_example_pair_gives_a_try_on():
    from pathlib import Path

    from PIL import Image

    from vton.formats import read_mask_png, read_openpose_json, read_parse_png

    ex = Path(__file__).resolve().parents[1] / "examples"
    person = np.asarray(Image.open(ex / "geometric_person.png").convert("RGB"))
    cloth = np.asarray(Image.open(ex / "geometric_cloth.png").convert("RGB"))
    parsing = read_parse_png(ex / "geometric_person_parse.png")
    pose = read_openpose_json(ex / "geometric_person_keypoints.json", size=(192, 256))
    mask = read_mask_png(ex / "geometric_cloth_mask.png")
    r = geometric_tryon(person, parsing, pose, cloth, mask)
    old = parsing.mask("upper_clothes")
    assert (r.warped_mask & old).sum() / old.sum() >= 0.9
    assert r.tryon.shape == (256, 192, 3)


# ----------------------------------------------------------------------------------------------------------------
# people the method was not tuned on: a generated family (vton.methods.geometric.family), every bound on every case

TEST_FAMILY = family(15, seed=2026)  # the bench runs a larger family with another seed


@pytest.mark.parametrize("case", TEST_FAMILY, ids=[c.name for c in TEST_FAMILY])
def test_generated_people_meet_every_bound(case):
    s, r = run_case(case)
    assert s.refused is None, s.refused
    assert s.coverage >= BOUNDS["coverage"] and s.spill <= BOUNDS["spill"] and s.keep <= BOUNDS["keep"], s
    assert s.stripes_ok, s
    if case.garment.pattern == "stripes":
        assert s.straightness <= BOUNDS["straightness"], s
    if case.symmetric:
        assert s.asymmetry <= BOUNDS["asymmetry"], s
    assert s.passed and r.fit.folded == 0.0


def test_the_family_spans_what_the_issue_asks_for():
    cases = family(15, seed=2026)
    angles = [a for c in cases for a in c.person.arm_angles]
    assert min(angles) < 0 and max(angles) > 45
    scale = [c.canvas[1] / 256 for c in cases]
    assert min(scale) <= 0.75 and max(scale) >= 2.5
    assert {c.garment.pattern for c in cases} == {"stripes", "vstripes", "logo"}
    assert {c.garment.kind for c in cases} == {"tshirt", "longsleeve"} and {c.person.sleeves for c in cases} == {
        "short", "long"}
    assert any(c.symmetric for c in cases) and any(c.origin[0] > 0 for c in cases)


# around a sleeve hanging against the body (the parse merges it with the torso): cases of family.arm_family. Both
# arms hanging, one out and one raised must meet every bound with any pattern; so must vertical stripes and logos
# under an arm missing from the pose. Horizontal stripes under an arm missing from the pose do not yet all keep
# straight (nor, in the bench, every arm raised beyond 115°), so those are not asserted here.
ARM_FAMILY = [c for c in family_module.arm_family(16, seed=2026)
              if c.garment.pattern != "stripes" or not c.name.startswith("one-arm-")]


@pytest.mark.parametrize("case", ARM_FAMILY, ids=[c.name for c in ARM_FAMILY])
def test_hanging_arms_meet_every_bound(case):
    s, r = run_case(case)
    assert s.refused is None, s.refused
    assert s.passed and r.fit.folded == 0.0, s


def test_the_arm_family_spans_hanging_raised_and_missing_arms():
    cases = family_module.arm_family(16, seed=2026)
    kinds = {k for c in cases for k in family_module.ARM_KINDS if c.name.startswith(f"{k}-")}
    assert kinds == set(family_module.ARM_KINDS)
    hanging = [min(c.person.arm_angles, key=abs) for c in cases]
    assert all(-10 <= a <= 10 for a in hanging) and max(max(c.person.arm_angles) for c in cases) > 100
    assert all(len(c.absent) == 2 and c.absent[0].endswith("_elbow") for c in cases if "one-arm" in c.name)
    p, _ = draw_case(next(c for c in cases if c.absent))
    assert all(p.pose.point(k) is None for k in next(c for c in cases if c.absent).absent)


def test_a_sleeve_hanging_against_the_body_is_parted_from_the_torso_along_the_arm():
    """The bench's failing case of issue 20: one long-sleeved arm hanging (5°) so close to the body that the parse
    merges the sleeve with the torso (the closed outline has no armpit there), the other out at 45°; a garment
    with four vertical stripes. The sleeve must be mapped along the arm, not folded into the torso: four stripes
    across the torso."""
    person = PersonSpec(sleeves="long", shoulder_half_width=24.0, waist_half_width=19.0, hem_y=146.0,
                        centre_x=100.0, arm_angles=(5.0, 45.0))
    garment = GarmentSpec(kind="longsleeve", pattern="vstripes", stripes=4, colour=(30, 60, 150),
                          accent=(235, 235, 235))
    case = family_module.Case("hanging-5", person, garment, (274, 365), (274, 365), (0, 0), (192, 256), False)
    s, r = run_case(case)
    assert s.passed and s.stripes_seen == 4, s
    t = r.matching.target
    assert {"sleeve_right", "armpit_right", "sleeve_left", "armpit_left"} <= set(t.landmark_names)
    p, _ = draw_case(case)
    shoulder, wrist = (np.asarray(p.pose.point(f"right_{k}")) - 0.5 for k in ("shoulder", "wrist"))
    # the hanging arm (the person's right, the image's left): its armpit is high on the arm, its cuff near the wrist
    assert t.landmark("armpit_left")[1] < shoulder[1] + 0.4 * (wrist[1] - shoulder[1])
    assert np.hypot(*(t.landmark("sleeve_left") - wrist)) < 0.25 * np.hypot(*(wrist - shoulder))


def test_both_sleeves_hanging_against_a_symmetric_body_get_mirror_landmarks_and_straight_stripes():
    """Both long-sleeved arms hanging at −2° against a symmetric body (the hanging-arm family's case 36, seed 5):
    each sleeve is parted along its arm; the second parting must not move the first sleeve's cuff (it once went to
    the elbow's bulge: asymmetric landmarks, stripes bowed by two stripe heights)."""
    case = family_module.arm_family(37, seed=5)[36]
    assert case.symmetric and case.garment.pattern == "stripes" and max(map(abs, case.person.arm_angles)) <= 10
    s, r = run_case(case)
    assert s.passed, s
    t = r.matching.target
    neck = np.asarray(draw_case(case)[0].pose.point("neck")) - 0.5
    for name in ("sleeve", "armpit", "hem", "shoulder"):
        a, b = t.landmark(f"{name}_right"), t.landmark(f"{name}_left")
        assert abs((a[0] - neck[0]) + (b[0] - neck[0])) <= 2 and abs(a[1] - b[1]) <= 2, name


def test_a_raised_arm_does_not_lift_its_shoulder_landmark():
    """Above a raised arm's shoulder the shape's top is the sleeve: the shoulder landmark must stay at the other
    shoulder's height (the person's shoulders are level), not on the sleeve, or the torso's stripes tilt."""
    case = next(c for c in family_module.arm_family(16, seed=2026)
                if c.name.startswith("raised-") and max(c.person.arm_angles) > 135)
    s, r = run_case(case)
    t = r.matching.target
    length = t.landmark("hem_right")[1] - t.landmark("collar")[1]
    # the landmark is the outline point nearest that height, where the neckline meets the raised sleeve (it was 12 %
    # of the torso's length higher when taken on the sleeve)
    assert abs(t.landmark("shoulder_right")[1] - t.landmark("shoulder_left")[1]) <= 0.05 * length
    assert s.passed, s


def test_straightness_measures_a_tilt_in_stripe_heights():
    spec = GarmentSpec(colour=(200, 50, 50), accent=(240, 200, 60))
    h, w, period = 200, 60, 20.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    tilt = 5.0  # the boundaries drop 5 px across the 60 columns: half a 10 px stripe
    phase = (yy + 0.5 - tilt * xx / (w - 1) - 20) / period
    on = (phase >= 0) & (phase < 5) & (phase % 1 < 0.5)
    img = np.where(on[..., None], np.array(spec.accent, np.uint8), np.array(spec.colour, np.uint8))
    t = family_module._accent_amount(img, spec)
    b, height = family_module._boundaries(t, np.ones((h, w), bool), np.arange(w), 5)
    assert height == pytest.approx(period / 2, abs=0.1)
    assert family_module._straightness(b, height) == pytest.approx(tilt / height, abs=0.1)
    flat = np.where((((yy - 20) / period) % 1 < 0.5)[..., None], np.array(spec.accent, np.uint8),
                    np.array(spec.colour, np.uint8))
    b, height = family_module._boundaries(family_module._accent_amount(flat, spec), (yy >= 15) & (yy < 115),
                                          np.arange(w), 5)
    assert family_module._straightness(b, height) == pytest.approx(0.0, abs=1e-9)


def test_straightness_leaves_out_a_boundary_that_lies_on_the_edge_but_not_a_tilt():
    spec = GarmentSpec(colour=(200, 50, 50), accent=(240, 200, 60))
    h, w, period = 120, 60, 20.0
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for tilt in (0.0, 5.0):  # five stripes; the last runs into the bottom of the region: its lower edge is not seen
        phase = (yy + 0.5 - tilt * xx / (w - 1) - 10) / period
        on = (phase >= 0) & ((phase % 1 < 0.5) | (phase >= 4))
        img = np.where(on[..., None], np.array(spec.accent, np.uint8), np.array(spec.colour, np.uint8))
        inside = (yy >= 5) & (yy < 110)
        b, height = family_module._boundaries(family_module._accent_amount(img, spec), inside, np.arange(w), 5)
        assert np.isnan(b[:, -1]).all() and np.isfinite(b[:, :-1]).all()
        assert family_module._straightness(b, height) == float("inf")  # every boundary asked for: not seen
        visible = np.r_[np.ones(9, bool), False]
        assert family_module._straightness(b, height, visible) == pytest.approx(tilt / height, abs=0.1)


def test_a_stripe_on_the_garments_hem_is_not_a_boundary_but_a_bowed_result_still_fails():
    """The hanging-arm family's case 0 (seed 1): the garment's last stripe ends a pixel above its own hem, so on the
    person its lower edge lies within the hem's blended pixel. It is left out of straightness; the rest is straight.
    The same result with its stripes bowed down by up to 3 px in the middle still fails straightness."""
    case = family_module.arm_family(1, seed=1)[0]
    s, r = run_case(case)
    person, garment = draw_case(case)
    visible = family_module._visible_boundaries(garment, 5.0)
    assert visible[:-1].all() and not visible[-1]
    assert s.passed and s.straightness <= BOUNDS["straightness"], s
    neck = person.pose.point("neck")[0] - 0.5
    half = person.spec.waist_half_width * (person.pose.point("left_shoulder")[0] - person.pose.point(
        "right_shoulder")[0]) / (2 * person.spec.shoulder_half_width)
    img = r.tryon.copy()
    for x in range(img.shape[1]):
        u = (x - neck) / half
        if abs(u) < 1:  # shift the garment's own pixels down within it (nothing comes in from outside)
            k, ins = int(round(3 * (1 - u * u))), r.composition_mask[:, x] > 0.99
            src = np.roll(ins, k, 0) & ins
            img[src, x] = np.roll(r.tryon[:, x], k, 0)[src]
    bowed = score(person, garment, dataclasses.replace(r, tryon=img), symmetric=case.symmetric)
    assert "straightness" in bowed.failed and np.isfinite(bowed.straightness), bowed


def test_straightness_leaves_out_columns_behind_an_arm():
    p = draw_person(SMALL, dataclasses.replace(PEOPLE["short"], arm_angles=(-8.0, -8.0)))
    cols = np.arange(SMALL[0])
    crossed = family_module._crossed_by_arms(p, cols)
    wrist = np.asarray(p.pose.point("right_wrist")) - 0.5  # the forearm lies over the shirt's side here
    neck = np.asarray(p.pose.point("neck")) - 0.5
    assert crossed[int(round(wrist[0]))] and not crossed[int(round(neck[0]))]
    hem = np.flatnonzero(p.garment_region.any(1))[-1]
    below_top = np.cumsum(p.garment_region, 0) > 0
    arms = p.parsing.mask("left_arm", "right_arm") | (family_module._sleeves(p) & p.garment_region)
    arms_over_shirt = arms & below_top & (np.arange(SMALL[1]) <= hem)[:, None]
    assert np.array_equal(crossed, arms_over_shirt.any(0))


def test_straightness_leaves_out_columns_behind_a_sleeve():
    """A long sleeve hanging in front of the body hides the body's stripes as a bare arm does: the sleeve's columns
    are left out; its pixels are garment in the parse, and the sleeve drawn from the pose covers them."""
    p = draw_person(SMALL, dataclasses.replace(PEOPLE["short"], sleeves="long", arm_angles=(-4.0, -4.0)))
    sleeves = family_module._sleeves(p)
    assert (sleeves & p.garment_region).sum() >= 0.9 * sleeves.sum()  # drawn where the sleeves are
    assert (sleeves & p.parsing.mask("left_arm", "right_arm")).sum() <= 0.02 * sleeves.sum()  # long: no skin under
    cols = np.arange(SMALL[0])
    crossed = family_module._crossed_by_arms(p, cols)
    wrist = np.asarray(p.pose.point("right_wrist")) - 0.5
    neck = np.asarray(p.pose.point("neck")) - 0.5
    assert crossed[int(round(wrist[0]))] and not crossed[int(round(neck[0]))]


def test_a_poor_warp_fails_the_scores():
    case = TEST_FAMILY[0]
    person, garment = draw_case(case)
    r = geometric_tryon(person.image, person.parsing, person.pose, garment.image, garment.mask,
                        config=GeometricConfig(regularization=1e4))  # nearly affine everywhere: edges off
    shifted = dataclasses.replace(r, warped_mask=np.roll(r.warped_mask, r.warped_mask.shape[0] // 8, 0),
                                  composition_mask=np.roll(r.composition_mask, r.composition_mask.shape[0] // 8, 0))
    s = score(person, garment, shifted, symmetric=case.symmetric)
    assert "coverage" in s.failed and "spill" in s.failed


# ----------------------------------------------------------------------------------------------------------------
# landmarks, sleeves, the warp's choice


@pytest.mark.parametrize("name", ["geometric_cloth_mask.png", "cloth_tshirt_mask.png", "cloth_longsleeve_mask.png"])
def test_landmarks_of_a_symmetric_example_garment_are_mirror_images(name):
    from pathlib import Path

    from vton.formats import read_mask_png

    mask = read_mask_png(Path(__file__).resolve().parents[1] / "examples" / name)
    xs = np.flatnonzero(mask.any(0))
    mirror = mask[:, ::-1]
    shift = (xs[0] + xs[-1]) - (mask.shape[1] - 1)  # mirror about the mask's own centre line
    mirrored = np.roll(mirror, shift, 1)
    if (mirrored != mask).sum() > 0.01 * mask.sum():
        pytest.fail(f"{name} is not a symmetric garment; the test needs one")
    c = garment_contour(mask)
    cx = (xs[0] + xs[-1]) / 2
    for right, left in (("hem_right", "hem_left"), ("armpit_right", "armpit_left"), ("sleeve_right", "sleeve_left"),
                        ("shoulder_right", "shoulder_left")):
        (xr, yr), (xl, yl) = c.c[c.found[right]], c.c[c.found[left]]
        assert abs(yr - yl) <= 0.01 * mask.shape[0] + 1, (right, yr, yl)
        assert abs((xr - cx) - (cx - xl)) <= 0.01 * mask.shape[1] + 1, (right, xr, xl)
    bottom = np.flatnonzero(mask[:, int(cx)])[-1]
    assert c.c[c.found["hem_right"]][1] >= bottom - 1 and c.c[c.found["hem_left"]][1] >= bottom - 1  # on the corner


def test_long_sleeves_are_cut_to_a_short_sleeved_person():
    p = draw_person(SMALL, PEOPLE["short"])
    g = draw_garment(SMALL, GARMENTS["longsleeve_stripes"])
    r = geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask)
    assert r.garment_mask.sum() < 0.85 * g.mask.sum() and not (r.garment_mask & ~g.mask).any()
    m = r.matching
    def length(o, side):
        root = (o.landmark(f"shoulder_{side}") + o.landmark(f"armpit_{side}")) / 2
        return float(np.hypot(*(o.landmark(f"sleeve_{side}") - root)))

    k = np.hypot(*(m.target.landmark("shoulder_right") - m.target.landmark("shoulder_left"))) / np.hypot(
        *(m.garment.landmark("shoulder_right") - m.garment.landmark("shoulder_left")))
    for side in ("right", "left"):  # the cut sleeve is about as long as the person's, at the shoulders' scale
        assert length(m.garment, side) * k == pytest.approx(length(m.target, side), rel=0.3)
    assert r.fit.folded == 0.0


def test_the_warp_is_affine_when_the_shapes_allow_it():
    g = draw_garment(SMALL, GARMENTS["tshirt_stripes"])
    # the person is the garment itself, scaled and moved: an affine map fits every pair
    parse = np.zeros((256, 192), np.uint8)
    small = cv2.resize(g.mask.astype(np.uint8), (144, 192), interpolation=cv2.INTER_NEAREST) > 0
    parse[40:232, 30:174][small] = LIP.id("upper_clothes")
    c = garment_contour(g.mask)
    kp = np.zeros((len(COCO18), 2), np.float32)
    sc = np.zeros(len(COCO18), np.float32)
    for name, key in (("neck", "collar"), ("right_shoulder", "shoulder_left"), ("left_shoulder", "shoulder_right")):
        x, y = c.c[c.found[key]]
        kp[COCO18.index(name)] = (30 + 0.75 * x + 0.5, 40 + 0.75 * y + 2.5)
        sc[COCO18.index(name)] = 1.0
    person = np.full((256, 192, 3), 230, np.uint8)
    r = geometric_tryon(person, Parsing(parse), Pose(kp, sc, (192, 256)), g.image, g.mask)
    assert all(np.isinf(lx) and np.isinf(ly) for lx, ly in r.fit.regularization.values()), r.fit.regularization


# ----------------------------------------------------------------------------------------------------------------
# a photo the project did not draw: scikit-image's astronaut (NASA, public domain) with a hand-made parse, no hips


def _astronaut():
    from skimage import data

    image = np.ascontiguousarray(data.astronaut())  # (512, 512, 3) uint8
    labels = np.zeros(image.shape[:2], np.uint8)

    def poly(name, pts):
        cv2.fillPoly(labels, [np.asarray(pts, np.int32)], int(LIP.id(name)))

    # the orange suit down to the picture's edge, cut by the helmet held in front (left as background)
    poly("upper_clothes", [(125, 168), (108, 206), (60, 238), (34, 290), (20, 360), (20, 511), (284, 511),
                           (279, 425), (298, 372), (348, 346), (366, 330), (362, 288), (338, 243), (302, 214),
                           (300, 176), (268, 158), (180, 158)])
    poly("hair", [(152, 100), (160, 48), (190, 20), (240, 14), (282, 32), (300, 70), (298, 112), (282, 112),
                  (270, 70), (240, 56), (190, 62), (168, 112)])
    cv2.ellipse(labels, (224, 118), (50, 62), 0, 0, 360, int(LIP.id("face")), -1)
    poly("left_arm", [(150, 470), (200, 462), (205, 511), (148, 511)])  # the glove at the bottom
    kp = np.zeros((len(COCO18), 2), np.float32)
    sc = np.zeros(len(COCO18), np.float32)
    for name, (x, y) in {"nose": (222, 128), "neck": (224, 205), "right_shoulder": (95, 252),
                         "left_shoulder": (340, 258), "right_eye": (200, 102), "left_eye": (246, 102),
                         "right_elbow": (44, 420)}.items():  # no hips, knees or ankles: they are out of the picture
        kp[COCO18.index(name)] = (x + 0.5, y + 0.5)
        sc[COCO18.index(name)] = 0.9
    return image, Parsing(labels), Pose(kp, sc, (512, 512))


@pytest.mark.parametrize("garment", ["tshirt_stripes", "longsleeve_logo", "wide_tshirt_stripes"])
def test_the_astronaut_with_a_hand_made_parse_gets_a_try_on(garment):
    image, parsing, pose = _astronaut()
    assert pose.point("right_hip") is None and pose.point("left_hip") is None
    g = draw_garment((384, 512), GARMENTS[garment])
    r = geometric_tryon(image, parsing, pose, g.image, g.mask)
    old = parsing.mask("upper_clothes")
    assert (r.warped_mask & old).sum() / old.sum() >= BOUNDS["coverage"]
    assert (r.composition_mask >= 0.5).sum() / old.sum() >= BOUNDS["coverage"]
    grown = _grown(old, 0.03)
    assert ((r.composition_mask >= 0.5) & ~grown).sum() / (r.composition_mask >= 0.5).sum() <= BOUNDS["spill"]
    assert r.fit.folded == 0.0
    face = parsing.mask("face", "hair") & ~grown
    assert np.abs(r.tryon[face].astype(np.int32) - image[face]).mean() <= BOUNDS["keep"]


@pytest.mark.parametrize("name", ["cloth_tshirt", "cloth_longsleeve", "geometric_cloth"])
def test_the_astronaut_takes_each_example_garment_with_every_stage(name):
    """The three example garments (examples/, drawn by the project, CC0) on the astronaut with the hand-made parse
    above: the suit's region holds each of them, so none is refused; the try-on meets the bounds and the pipeline
    shows every stage."""
    from pathlib import Path

    from PIL import Image

    from vton.formats import read_mask_png
    from vton.pipeline import TryOnPipeline

    ex = Path(__file__).resolve().parents[1] / "examples"
    image, parsing, pose = _astronaut()
    cloth = np.asarray(Image.open(ex / f"{name}.png").convert("RGB"))
    mask = read_mask_png(ex / f"{name}_mask.png")
    r = geometric_tryon(image, parsing, pose, cloth, mask)
    old = parsing.mask("upper_clothes")
    comp = r.composition_mask >= 0.5
    assert (r.warped_mask & old).sum() / old.sum() >= BOUNDS["coverage"]
    assert (comp & old).sum() / old.sum() >= BOUNDS["coverage"]
    grown = _grown(old, 0.03)
    assert (comp & ~grown).sum() / comp.sum() <= BOUNDS["spill"]
    assert r.fit.folded == 0.0
    away = parsing.mask("face", "hair", "background") & ~grown
    assert np.abs(r.tryon[away].astype(np.float32) - image[away].astype(np.float32)).mean() <= BOUNDS["keep"]
    result = TryOnPipeline("geometric")(image, cloth, pose=pose, parsing=parsing, cloth_mask=mask)
    keys = {s.key for s in result.stage_list}
    assert {"garment_outline", "target_outline", "matches", "tps_grid", "warped_cloth", "tryon"} <= keys
    tryon, framed = result.stage("tryon").image, result.stage("person").image  # in the pipeline's frame
    assert tryon.shape == framed.shape and (np.abs(tryon.astype(np.int32) - framed).max(-1) > 30).mean() > 0.1


# ----------------------------------------------------------------------------------------------------------------
# a refusal still shows its stages


def test_a_refusal_after_matching_keeps_the_outlines_and_matches_in_the_error(monkeypatch):
    from vton.methods.geometric import warp
    from vton.pipeline import TryOnPipeline

    def refuse(*args, **kwargs):
        raise InputError("refused on purpose")

    monkeypatch.setattr(warp, "fit_warp", refuse)
    p, g = _bad_inputs()
    with pytest.raises(InputError, match="refused on purpose") as e:
        TryOnPipeline("geometric")(p.image, g.image, pose=p.pose, parsing=p.parsing, cloth_mask=g.mask)
    keys = [s.key for s in e.value.stages]
    assert {"person", "pose", "parsing", "cloth", "garment_outline", "target_outline", "matches"} <= set(keys)
    assert "tryon" not in keys and "tps_grid" not in keys
    outline = next(s for s in e.value.stages if s.key == "garment_outline").image
    assert outline.ndim == 3 and outline.dtype == np.uint8 and (outline != 255).any()


def test_the_cli_writes_the_stages_of_a_refused_run(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    root = Path(__file__).resolve().parents[1]
    ex = root / "examples"
    cloth = np.asarray(Image.open(ex / "geometric_cloth.png").convert("RGB"))[::-1]  # upside down: refused
    Image.fromarray(np.ascontiguousarray(cloth)).save(tmp_path / "cloth.png")
    mask = np.asarray(Image.open(ex / "geometric_cloth_mask.png"))[::-1]
    Image.fromarray(np.ascontiguousarray(mask)).save(tmp_path / "mask.png")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "vton", "tryon", "--person", str(ex / "geometric_person.png"),
                        "--cloth", str(tmp_path / "cloth.png"), "--cloth-mask", str(tmp_path / "mask.png"),
                        "--pose", str(ex / "geometric_person_keypoints.json"),
                        "--parse", str(ex / "geometric_person_parse.png"), "--method", "geometric", "--out", str(out)],
                       capture_output=True, text=True, cwd=root, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2 and "Traceback" not in r.stderr and "not upright" in r.stderr.replace("\n       ", " ")
    names = sorted(p.name for p in out.glob("*.png"))
    assert any(n.endswith("_target_outline.png") for n in names) and any(n.endswith("_parsing.png") for n in names)
    assert not any(n.endswith("_tryon.png") for n in names)
    assert f"{len(names)} stage files computed before the error written to" in r.stderr


# ----------------------------------------------------------------------------------------------------------------
# a keypoint given score 0 is absent everywhere


def test_a_keypoint_with_score_zero_is_absent_in_the_drawing_the_table_and_the_method():
    from vton.pipeline import TryOnPipeline
    from vton.visualize import draw_pose

    p, g = _bad_inputs()
    kp, sc = p.pose.keypoints.copy(), p.pose.scores.copy()
    i = COCO18.index("right_wrist")
    sc[i] = 0.0  # coordinates kept, score 0
    pose = Pose(kp, sc, p.pose.size)
    assert not pose.present[i] and pose.point("right_wrist") is None
    kp_without = kp.copy()
    kp_without[i] = 0
    without = Pose(kp_without, sc, p.pose.size)
    assert np.array_equal(draw_pose(p.image, pose), draw_pose(p.image, without))
    result = TryOnPipeline("geometric")(p.image, g.image, pose=pose, parsing=p.parsing, cloth_mask=g.mask)
    row = next(r for r in result.keypoint_table() if r["name"] == "right_wrist")
    assert row["present"] is False
    other = TryOnPipeline("geometric")(p.image, g.image, pose=without, parsing=p.parsing, cloth_mask=g.mask)
    assert np.array_equal(result.stage("pose").image, other.stage("pose").image)
