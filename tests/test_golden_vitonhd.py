"""VITON-HD against the authors' code: golden fixtures made by running it (see the golden README, VITON-HD section).

Weights come from the fixtures' own generator (``make_weights.py``) with the seed, layout and digest in their
metadata, loaded with ``strict=True``. The chain is compared stage by stage, each step fed the stored inputs of that
stage: it contains an argmax and a threshold (``misalign < 0``), and the fixture rounds ``warped_c`` and
``misalign_mask`` to fp16 before ALIAS, so an end-to-end tolerance would be meaningless.

Tolerances (``tests/tolerances.py``): every golden float comparison uses the fixture's own ``suggested_atol`` for
that output and ``suggested_rtol`` (``atol_of`` / ``rtol_of``), which the golden README derives from measured
|float32 − float64| and 1- vs 2-thread differences of the authors' forward; a stage without its own entry fails
loudly (:func:`_atol`) instead of borrowing one. The bilinear seg-input downsampling, measured exact by the fixture
makers, is compared with ``tolerances.REDUCTION`` (a two-term mean whose last bit may depend on the CPU). Label maps,
masks, noise and the dataset's drawings are compared exactly; the argmax exactly except at the fixture's
``argmax_near_ties``; other exact float comparisons say why they are bit-identical by construction. Sizes, seeds,
label names and groupings are read from the fixtures, never written here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tolerances import REDUCTION, atol_of, rtol_of

from vton.images import to_tensor
from vton.methods.vitonhd.assembly import (
    PARSE_TO_SEG_TABLE,
    SEG_TO_ALIAS_TABLE,
    VITONHDInputs,
    alias_input,
    gmm_inputs,
    group_labels,
    img_agnostic,
    misalign_mask,
    one_hot,
    parse_agnostic,
    parse_div,
    render_pose,
    run_vitonhd,
    seg_inputs,
    seg_noise,
    segmentation,
    warp,
)
from vton.methods.vitonhd.labels import ALIAS_LABELS, SEG_LABELS, VITONHD_PARSE
from vton.methods.vitonhd.networks import VITONHDConfig, alias_noise_shapes, build_vitonhd_network

pytestmark = pytest.mark.golden

NETWORKS = ("seg", "gmm", "alias")


def _atol(meta: dict, key: str) -> float:
    """The fixture's atol for ``key``; a stage without its own entry fails loudly rather than guessing."""
    value = atol_of(meta, key, float("nan"))
    assert value == value, f"the fixture gives no suggested_atol for {key!r}"
    return value


def _rtol(meta: dict) -> float:
    assert "suggested_rtol" in meta, "the fixture gives no suggested_rtol"
    return rtol_of(meta)


def _layout(layouts_dir: Path, meta: dict) -> dict:
    with open(Path(layouts_dir) / Path(meta["layout"]).name) as f:
        return json.load(f)


def _config(layout: dict) -> VITONHDConfig:
    """The network config the layout's options describe (the defaults are checked against them separately)."""
    o = layout["options"]
    return VITONHDConfig(load_height=o["load_height"], load_width=o["load_width"])


def _loaded(name: str, golden, layouts_dir, make_weights):
    t, meta = golden(f"vitonhd_{name}")
    layout = _layout(layouts_dir, meta)
    sd = make_weights.make_state_dict(layout, int(meta["weight_seed"]))
    assert make_weights.digest(sd) == meta["state_dict_sha256"], "the weight generator gives another RNG stream"
    net = build_vitonhd_network(name, _config(layout))
    net.load_state_dict(sd, strict=True)
    return net, t, meta


def _concat(t: dict, meta: dict) -> torch.Tensor:
    return torch.cat([t[f"in.{k}"] for k in json.loads(meta["input_concat"])], 1)


def _raw(golden_root: Path, meta: dict, name: str) -> Path:
    """A raw loader input, found through the dataset metadata's ``raw_files`` (dataset path → fixture file)."""
    raw = json.loads(meta["raw_files"])
    matches = [v for k, v in raw.items() if f"/{name}/" in k or k.endswith(name)]
    assert len(matches) == 1, f"no single raw file for {name!r} in {raw}"
    return golden_root / matches[0]


def _keypoints(path: Path) -> np.ndarray:
    data = json.loads(path.read_text())
    return np.asarray(data["people"][0]["pose_keypoints_2d"], dtype=np.float64).reshape(-1, 3)[:, :2]


# --------------------------------------------------------------------------------------------- networks & layouts


@pytest.mark.parametrize("name", NETWORKS)
def test_state_dict_keys_and_shapes_equal_the_released_layout(name, golden, layouts_dir):
    _, meta = golden(f"vitonhd_{name}")
    layout = _layout(layouts_dir, meta)
    got = {k: list(v.shape) for k, v in build_vitonhd_network(name, _config(layout)).state_dict().items()}
    assert got == {k: list(shape) for k, shape, _ in layout["params"]}
    assert len(got) == layout["num_state_dict_entries"]


@pytest.mark.parametrize("name", NETWORKS)
def test_manifest_size_is_the_converted_layout(name, golden, layouts_dir):
    """The manifest's ``bytes`` = 8-byte length + JSON header + the layout's tensors (float32, int64 counters)."""
    from vton import methods, weights

    _, meta = golden(f"vitonhd_{name}")
    layout = _layout(layouts_dir, meta)
    size = {"float32": 4, "int64": 8}
    data = sum(int(np.prod(shape)) * size[dtype] for _, shape, dtype in layout["params"])
    key = dict(methods.card("viton-hd").weights)[name]
    header = weights.entry(key).bytes - 8 - data
    assert 0 < header < 200 * len(layout["params"])  # one short JSON record per tensor


def test_default_config_is_the_released_options(golden, layouts_dir):
    cfg = VITONHDConfig()
    for name in NETWORKS:
        o = _layout(layouts_dir, golden(f"vitonhd_{name}")[1])["options"]
        assert (cfg.load_height, cfg.load_width, cfg.grid_size, cfg.ngf) == (
            o["load_height"], o["load_width"], o["grid_size"], o["ngf"])
    seg = _layout(layouts_dir, golden("vitonhd_seg")[1])["options"]
    alias = _layout(layouts_dir, golden("vitonhd_alias")[1])["options"]
    assert (cfg.seg_in_channels, cfg.seg_classes) == (seg["input_nc"], seg["output_nc"])
    assert (cfg.alias_in_channels, cfg.alias_classes) == (alias["input_nc"], alias["semantic_nc"])
    assert list(cfg.latent_size) == alias["latent_size (sh, sw)"]


def test_seg_generator_matches(golden, layouts_dir, make_weights):
    net, t, meta = _loaded("seg", golden, layouts_dir, make_weights)
    with torch.no_grad():
        out = net(_concat(t, meta))
    torch.testing.assert_close(out, t["out.output"], atol=_atol(meta, "output"), rtol=_rtol(meta))


def test_gmm_matches_theta_and_full_size_grid(golden, layouts_dir, make_weights):
    net, t, meta = _loaded("gmm", golden, layouts_dir, make_weights)
    with torch.no_grad():
        theta, grid = net(_concat(t, meta), t["in.c_gmm"])
    torch.testing.assert_close(theta, t["out.theta"], atol=_atol(meta, "theta"), rtol=_rtol(meta))
    assert grid.shape == t["out.warped_grid"].shape
    torch.testing.assert_close(grid, t["out.warped_grid"], atol=_atol(meta, "warped_grid"), rtol=_rtol(meta))


def test_alias_noise_shapes_follow_the_authors_call_order(golden):
    t, meta = golden("vitonhd_alias")
    order = re.search(r"Call order: ([^(]+)\(", meta["noise"]).group(1)
    names = [n.strip() for n in order.split(",")]
    h, w = t["in.img_agnostic"].shape[2:]
    shapes = alias_noise_shapes(VITONHDConfig(load_height=h, load_width=w))
    assert list(shapes) == names
    assert {k: tuple(t[f"in.noise.{k}"].shape) for k in names} == shapes


@pytest.mark.slow
def test_alias_generator_matches_pre_tanh(golden, layouts_dir, make_weights):
    net, t, meta = _loaded("alias", golden, layouts_dir, make_weights)
    classes = len(json.loads(golden("vitonhd_pipeline")[1]["labels_7"]))
    seg = one_hot(t["in.parse"], classes)
    misalign = t["in.misalign_mask"]
    noise = {k[len("in.noise."):]: v for k, v in t.items() if k.startswith("in.noise.")}
    with torch.no_grad():
        pre = net(alias_input(t["in.img_agnostic"], t["in.pose"], t["in.warped_c"]), seg, parse_div(seg, misalign),
                  misalign, noise)
    torch.testing.assert_close(pre, t["out.pre_tanh"], atol=_atol(meta, "pre_tanh"), rtol=_rtol(meta))


# ------------------------------------------------------------------------------------------------ label sets


def test_label_sets_and_groupings_equal_the_authors(golden):
    _, dmeta = golden("vitonhd_dataset")
    _, pmeta = golden("vitonhd_pipeline")
    assert len(VITONHD_PARSE) == len(json.loads(dmeta["labels_20"]))
    assert list(SEG_LABELS.names) == json.loads(pmeta["labels_13"])
    assert list(ALIAS_LABELS.names) == json.loads(pmeta["labels_7"])
    grouping = {SEG_LABELS.id(name): ids for name, ids in json.loads(dmeta["grouping_20_to_13"]).items()}
    assert {i: PARSE_TO_SEG_TABLE[i] for ids in grouping.values() for i in ids} == {
        i: k for k, ids in grouping.items() for i in ids}
    assert sorted(i for ids in grouping.values() for i in ids) == list(range(len(VITONHD_PARSE)))
    to7 = {int(k): v for k, v in json.loads(pmeta["label_map_13_to_7"]).items()}
    assert {i: int(SEG_TO_ALIAS_TABLE[i]) for i in range(len(SEG_LABELS))} == to7


# ------------------------------------------------------------------------------------------------ dataset code


@pytest.fixture(scope="module")
def raw(golden, golden_root):
    _, meta = golden("vitonhd_dataset")

    def f(name):
        return _raw(golden_root, meta, name)

    return {
        "person": Image.open(f("image")).convert("RGB"),
        "parse": np.asarray(Image.open(f("image-parse"))),
        "keypoints": _keypoints(f("openpose-json")),
        "pose_png": Image.open(f("openpose-img")),
        "cloth": Image.open(f("cloth")).convert("RGB"),
        "cloth_mask": np.asarray(Image.open(f("cloth-mask"))),
        "derived": {k: golden_root / k for k in json.loads(meta["derived_files"])},
    }


def test_parse_agnostic_equals_the_loader(golden, raw):
    t, _ = golden("vitonhd_dataset")
    got = parse_agnostic(raw["parse"], raw["keypoints"])
    assert np.array_equal(got, t["out.parse_agnostic_lip"][0].numpy().astype(np.uint8))
    png = next(p for k, p in raw["derived"].items() if "parse_agnostic" in k)
    assert np.array_equal(got, np.asarray(Image.open(png)))
    grouped = group_labels(got, PARSE_TO_SEG_TABLE)
    tp, _ = golden("vitonhd_pipeline")
    assert np.array_equal(grouped, tp["in.parse_agnostic"][0, 0].numpy().astype(np.int64))


def test_agnostic_image_equals_the_loader(golden, raw):
    got = img_agnostic(raw["person"], raw["parse"], raw["keypoints"])
    png = next(p for k, p in raw["derived"].items() if k.endswith("agnostic.png") and "parse" not in k)
    assert np.array_equal(np.asarray(got), np.asarray(Image.open(png).convert("RGB")))
    ta, _ = golden("vitonhd_alias")
    _, dmeta = golden("vitonhd_dataset")
    torch.testing.assert_close(to_tensor(got), ta["in.img_agnostic"], atol=_atol(dmeta, "img_agnostic"), rtol=0)


def test_pose_cloth_and_mask_tensors_equal_the_loader(golden, raw):
    ta, _ = golden("vitonhd_alias")
    tp, _ = golden("vitonhd_pipeline")
    _, dmeta = golden("vitonhd_dataset")
    atol = _atol(dmeta, "pose")
    torch.testing.assert_close(to_tensor(raw["pose_png"]), ta["in.pose"], atol=atol, rtol=0)
    torch.testing.assert_close(to_tensor(raw["cloth"]), tp["in.cloth"], atol=atol, rtol=0)
    mask = torch.from_numpy((raw["cloth_mask"] >= 128).astype(np.float32))[None, None]
    assert torch.equal(mask, tp["in.cloth_mask"])


def test_our_pose_render_draws_the_fixture_openpose_image_pixel_for_pixel(raw):
    # the fixture's openpose-img is itself a drawing with OpenPose's BODY_25 colours, limb order and 60 % limbs
    w, h = raw["pose_png"].size
    got = render_pose(raw["keypoints"], (w, h))
    assert np.array_equal(np.asarray(got), np.asarray(raw["pose_png"].convert("RGB")))


# ------------------------------------------------------------------------------------------------ test.py steps


def test_segmentation_noise_is_the_recorded_draw(golden):
    t, meta = golden("vitonhd_seg")
    seed = int(re.search(r"setRNGSeed\((\d+)\)", meta["noise"]).group(1))
    assert torch.equal(seg_noise(tuple(t["in.noise"].shape), seed), t["in.noise"])


def test_segmentation_inputs_are_the_exact_downsampled_maps(golden):
    ts, _ = golden("vitonhd_seg")
    tp, pmeta = golden("vitonhd_pipeline")
    ta, _ = golden("vitonhd_alias")
    classes = len(json.loads(pmeta["labels_13"]))
    low = tuple(ts["in.noise"].shape[2:])
    got = seg_inputs(one_hot(tp["in.parse_agnostic"], classes), ta["in.pose"], tp["in.cloth"], tp["in.cloth_mask"],
                     low)
    for k, v in got.items():
        torch.testing.assert_close(v, ts[f"in.{k}"], atol=REDUCTION, rtol=0, msg=k)


def test_blur_and_argmax_give_the_segmentation_except_at_near_ties(golden):
    ts, _ = golden("vitonhd_seg")
    tp, meta = golden("vitonhd_pipeline")
    size = tuple(tp["out.parse_pred"].shape[2:])
    blurred, labels = segmentation(ts["out.output"], size)
    stored = tp["out.parse_pred_blurred.s4"]
    step = size[0] // stored.shape[2]
    torch.testing.assert_close(blurred[:, :, ::step, ::step], stored, atol=_atol(meta, "parse_pred_blurred.s4"),
                               rtol=_rtol(meta))
    ties = json.loads(meta["argmax_near_ties"])
    tie_mask = torch.zeros(size, dtype=torch.bool)
    for y, x in ties["pixels_yx"]:
        tie_mask[y, x] = True
    differ = labels[0, 0] != tp["out.parse_pred"][0, 0].long()
    assert not (differ & ~tie_mask).any()
    top2 = blurred[0].topk(2, dim=0).values  # a pixel that differs must be a near tie in our numbers too
    assert ((top2[0] - top2[1])[differ] < 2 * ties["threshold"]).all()


def test_seg_classes_group_into_the_alias_classes(golden):
    tp, _ = golden("vitonhd_pipeline")
    ta, _ = golden("vitonhd_alias")
    assert torch.equal(group_labels(tp["out.parse_pred"].long(), SEG_TO_ALIAS_TABLE), ta["in.parse"].long())


def test_gmm_inputs_are_the_exact_nearest_downsampled_maps(golden):
    tg, meta = golden("vitonhd_gmm")
    ta, _ = golden("vitonhd_alias")
    tp, pmeta = golden("vitonhd_pipeline")
    parse = one_hot(ta["in.parse"], len(json.loads(pmeta["labels_7"])))
    low = tuple(tg["in.c_gmm"].shape[2:])
    got = gmm_inputs(parse, ta["in.pose"], ta["in.img_agnostic"], tp["in.cloth"], low)
    for k in json.loads(meta["input_concat"]) + ["c_gmm"]:
        assert torch.equal(got[k], tg[f"in.{k}"]), k  # nearest downsampling copies pixels: exact by construction
    assert torch.equal(got["person"], _concat(tg, meta))  # a concatenation of the copies above


def test_warp_and_misalignment_mask_from_the_stored_grid(golden):
    tg, _ = golden("vitonhd_gmm")
    ta, _ = golden("vitonhd_alias")
    tp, meta = golden("vitonhd_pipeline")
    wc, wm = warp(tp["in.cloth"], tp["in.cloth_mask"], tg["out.warped_grid"])
    torch.testing.assert_close(wc, ta["in.warped_c"], atol=_atol(meta, "warped_c"), rtol=_rtol(meta))
    torch.testing.assert_close(wm, tp["out.warped_cm"], atol=_atol(meta, "warped_cm"), rtol=_rtol(meta))
    parse = one_hot(ta["in.parse"], len(json.loads(meta["labels_7"])))
    mm = misalign_mask(parse, wm)
    torch.testing.assert_close(mm, ta["in.misalign_mask"], atol=_atol(meta, "misalign_mask"), rtol=_rtol(meta))
    assert mm.min() >= 0
    div = parse_div(parse, ta["in.misalign_mask"])
    upper = ALIAS_LABELS.id("upper")
    assert torch.equal(div[:, -1:], ta["in.misalign_mask"])  # a copy
    assert torch.equal(div[:, upper:upper + 1], parse[:, upper:upper + 1] - ta["in.misalign_mask"])  # same op


class _Recorder(torch.nn.Module):
    """Stands in for ALIAS in the chain test: keeps what it is given (its own numbers are checked above)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg, self.seen = cfg, {}

    def forward(self, x, seg, seg_div, misalign, noise):
        self.seen = {"x": x, "seg": seg, "seg_div": seg_div, "misalign": misalign, "noise": noise}
        return torch.zeros(x.shape[0], 3, *x.shape[2:])


def test_the_chain_wires_every_stage_as_test_py(golden, layouts_dir, make_weights):
    seg, ts, smeta = _loaded("seg", golden, layouts_dir, make_weights)
    gmm, tg, gmeta = _loaded("gmm", golden, layouts_dir, make_weights)
    ta, _ = golden("vitonhd_alias")
    tp, meta = golden("vitonhd_pipeline")
    h, w = ta["in.img_agnostic"].shape[2:]
    alias = _Recorder(VITONHDConfig(load_height=h, load_width=w))
    inputs = VITONHDInputs(ta["in.img_agnostic"], one_hot(tp["in.parse_agnostic"], len(json.loads(meta["labels_13"]))),
                           ta["in.pose"], tp["in.cloth"], tp["in.cloth_mask"])
    steps = []
    with torch.no_grad():
        s = run_vitonhd({"seg": seg, "gmm": gmm, "alias": alias}, inputs, ts["in.noise"], {"k": torch.zeros(1)},
                        step=lambda k, fn: (steps.append(k), fn())[1])
    assert steps == ["segmentation", "gmm", "warp", "misalign", "alias"]
    torch.testing.assert_close(s["parse_pred_down"], ts["out.output"], atol=_atol(smeta, "output"),
                               rtol=_rtol(smeta))
    differ = s["parse_pred"] != tp["out.parse_pred"].long()
    ties = {tuple(p) for p in json.loads(meta["argmax_near_ties"])["pixels_yx"]}
    assert {tuple(p) for p in differ[0, 0].nonzero().tolist()} <= ties
    torch.testing.assert_close(s["theta"], tg["out.theta"], atol=_atol(gmeta, "theta"), rtol=_rtol(gmeta))
    # the grid carries the GMM's tolerance; the warp of the stored grid is checked above, so here the wiring only
    torch.testing.assert_close(s["warped_grid"], tg["out.warped_grid"], atol=_atol(gmeta, "warped_grid"),
                               rtol=_rtol(gmeta))
    seen = alias.seen
    warped_c, warped_cm = warp(tp["in.cloth"], tp["in.cloth_mask"], s["warped_grid"])
    # the same computations on the same tensors in this process: bit-identical by construction
    assert torch.equal(seen["x"], alias_input(ta["in.img_agnostic"], ta["in.pose"], warped_c))
    assert torch.equal(seen["misalign"], misalign_mask(seen["seg"], warped_cm))
    assert torch.equal(seen["seg_div"], parse_div(seen["seg"], seen["misalign"]))
    seg = one_hot(group_labels(s["parse_pred"], SEG_TO_ALIAS_TABLE), len(json.loads(meta["labels_7"])))
    assert torch.equal(seen["seg"], seg)  # = the stored in.parse outside the near ties (checked above)
    assert torch.equal(s["output"], torch.zeros_like(s["output"]))  # tanh(0) = 0 exactly
