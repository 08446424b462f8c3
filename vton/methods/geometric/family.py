"""Generated families of drawn people and garments that the training-free geometric try-on (after VITON's
shape-context TPS step: Han et al., "VITON: An Image-based Virtual Try-on Network", CVPR 2018, xthan/VITON@0370ca3)
was not tuned on, and the scores a try-on on them must reach.

A case is drawn with :mod:`vton.synthetic` from a seeded random generator: arm angles in −10…+60° (the same on both
sides for a symmetric case), a torso of varying width and length, off-centre in its frame, pasted off-centre into a
canvas of 0.5–4 × the 192 × 256 frame; a T-shirt or a long-sleeved top with horizontal stripes, vertical stripes or
a logo. :func:`arm_family` draws cases around a sleeve hanging against the body, which the parse merges with the torso
(both arms hanging, one out, one raised, one missing from the pose). Because the drawings come with their exact
parse, the scores are measured against the truth:

- ``coverage``: the share of the old garment's pixels the new one covers (warped mask and composition ≥ 0.5);
- ``spill``: the share of the new garment outside the old region grown by 3 % of the figure's height;
- ``keep``: the largest mean change (0–255) of face, hair, legs and background away from that grown region;
- ``stripes_ok``: the number of stripes (or the logo as one blob) seen on the person equals the garment's;
- ``straightness``: for horizontal stripes, the largest vertical spread of one stripe boundary across the central
  80 % of the torso, in stripe heights (sub-pixel, from the colour's position between the two fabric colours);
  columns where an arm or its sleeve lies in front of the garment's body are left out (the stripes behind it are
  not seen; a sleeve's own stripes follow the sleeve), and fewer
  than a third of the columns left counts as not straight. A top or bottom boundary that the garment itself puts
  closer to its own edge than :data:`EDGE_GAP` pixels would lie on the result (its gap on the garment's centre
  column, scaled by the ratio of stripe heights) is not a visible boundary: even a perfect warp puts it within the
  blended edge pixel of the hem or collar, where no fabric pixel lies beyond it, so it is left out; every other
  boundary must be seen in half of the columns (a bowed warp still fails on them: see the tests);
- ``asymmetry``: for a symmetric person and garment, how far the result is from its mirror image about the body's
  centre line: the largest height difference of a stripe boundary between mirror columns, in stripe heights, or
  the logo's centre off the centre line, in logo radii.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ...annotations import Pose
from ...errors import InputError
from ...labels import COCO18
from ...run import FRAME
from ...synthetic import (
    GarmentSpec,
    PersonSpec,
    SyntheticGarment,
    SyntheticPerson,
    draw_garment,
    draw_person,
    place_person,
)
from .warp import GeometricConfig, GeometricResult, geometric_tryon

__all__ = ["ARM_KINDS", "BOUNDS", "Case", "Score", "family", "arm_family", "draw_case", "score", "run_case"]

# The bounds every case must meet (issue 20): coverage, spill, keep (mean change of 0-255 values), straightness in
# stripe heights, asymmetry in stripe heights (or logo radii).
BOUNDS = {"coverage": 0.90, "spill": 0.05, "keep": 3.0, "straightness": 0.25, "asymmetry": 0.25}
SPILL_MARGIN = 0.03  # of the figure's height: the old region is grown by this much before spill is counted
# a boundary is located from the fabric pixel beyond it, and the result's edge pixel is a blend: one the garment puts
# closer to its own edge than this (in result pixels) cannot be seen even on a perfect warp
EDGE_GAP = 2.0


@dataclass(frozen=True)
class Case:
    """One generated case: what to draw, at which size, and where on the canvas."""

    name: str
    person: PersonSpec
    garment: GarmentSpec
    figure: tuple[int, int]  # (W, H) the person is drawn at
    canvas: tuple[int, int]  # (W, H) of the photo it is pasted into
    origin: tuple[int, int]  # top-left corner of the figure in the canvas
    cloth_size: tuple[int, int]
    symmetric: bool
    absent: tuple[str, ...] = ()  # keypoints given score 0 in the pose (an arm the estimator missed)


@dataclass(frozen=True)
class Score:
    """A case's measured quality (see the module docstring); ``refused`` holds the message of a refusal."""

    coverage: float = 0.0
    spill: float = 1.0
    keep: float = 255.0
    stripes_ok: bool = False
    stripes_seen: int = -1
    straightness: float | None = None
    asymmetry: float | None = None
    refused: str | None = None
    failed: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.failed


def family(n: int, seed: int = 0) -> list[Case]:
    """``n`` cases drawn from a seeded generator; every third one is symmetric (person and garment)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        symmetric = i % 3 == 0
        a = float(rng.uniform(-10, 60))
        angles = (a, a) if symmetric else (a, float(rng.uniform(-10, 60)))
        pattern = ["stripes", "vstripes", "logo"][i % 3 if not symmetric else (i // 3) % 2 * 2]
        cases.append(_case(rng, i, symmetric, angles, pattern))
    return cases


ARM_KINDS = ("hanging", "out", "raised", "one-arm")


def arm_family(n: int, seed: int = 0) -> list[Case]:
    """``n`` cases around a sleeve hanging against the body (where the parse merges sleeve and torso), in turn:

    - ``hanging``: both arms hanging at the same angle in −10…+10° (symmetric person and garment);
    - ``out``: one arm hanging (−10…+10°), the other at −10…+60°;
    - ``raised``: one arm hanging, the other raised (100…160°);
    - ``one-arm``: one arm hanging, the other at −10…+60° but absent from the pose (its elbow and wrist with score
      0, as when an estimator misses it).

    The person wears long sleeves and the garment is a long-sleeved top in three of four cases (either otherwise);
    off-centre, canvas 0.5–4 × the frame, as in :func:`family`.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        kind = ARM_KINDS[i % len(ARM_KINDS)]
        hang = float(rng.uniform(-10, 10))
        other = float(rng.uniform(100, 160)) if kind == "raised" else float(rng.uniform(-10, 60))
        symmetric = kind == "hanging"
        angles = (hang, hang) if symmetric else ((hang, other) if rng.uniform() < 0.5 else (other, hang))
        pattern = ("stripes", "vstripes", "logo")[(i // len(ARM_KINDS)) % 3]
        if symmetric and pattern == "vstripes":
            pattern = "stripes"
        case = _case(rng, i, symmetric, angles, pattern, long=(i // len(ARM_KINDS)) % 4 != 3)
        if kind == "one-arm":  # the arm that is not hanging is missing from the pose (image-left: person's right)
            arm = "right" if angles[0] == other else "left"
            case = replace(case, absent=(f"{arm}_elbow", f"{arm}_wrist"), name=f"{case.name}-no-{arm}-arm")
        cases.append(replace(case, name=f"{kind}-{case.name}"))
    return cases


def _case(rng: np.random.Generator, i: int, symmetric: bool, angles: tuple[float, float], pattern: str,
          long: bool | None = None) -> Case:
    """The rest of a case from ``rng`` (``long``: force long sleeves on person and garment, or leave them to
    chance)."""
    sw = float(rng.uniform(21, 28))
    person = PersonSpec(
        sleeves=str(rng.choice(["short", "long"])), shoulder_half_width=sw,
        waist_half_width=float(sw - rng.uniform(2, 7)), hem_y=float(rng.uniform(136, 156)),
        centre_x=96.0 if symmetric else float(rng.uniform(84, 108)),
        top_label=str(rng.choice(["upper_clothes", "coat"])),
        shirt=tuple(int(v) for v in rng.integers(40, 200, 3)), arm_angles=angles)
    garment = GarmentSpec(
        kind=str(rng.choice(["tshirt", "longsleeve"])), width=float(rng.uniform(0.85, 1.2)),
        length=float(rng.uniform(0.85, 1.1)), colour=(200, 50, 50) if i % 2 else (30, 60, 150),
        pattern=pattern, stripes=int(rng.integers(4, 9)) if pattern == "stripes" else int(rng.integers(3, 6)),
        accent=(240, 200, 60) if i % 2 else (235, 235, 235))
    if long:
        person, garment = replace(person, sleeves="long"), replace(garment, kind="longsleeve")
    f = float(np.exp(rng.uniform(np.log(0.5), np.log(4.0))))  # canvas scale
    canvas = (max(96, round(FRAME[0] * f)), max(128, round(FRAME[1] * f)))
    s = min(canvas[0] / FRAME[0], canvas[1] / FRAME[1]) * (1.0 if f < 1 else float(rng.uniform(0.5, 1.0)))
    s = max(s, 0.5)
    figure = (round(FRAME[0] * s), round(FRAME[1] * s))
    if symmetric:  # centred on a whole pixel so the mirror image is a permutation of pixels
        figure = (figure[0] // 2 * 2, figure[1])
        origin = (0, int(rng.integers(0, canvas[1] - figure[1] + 1)))
        canvas = (figure[0] + 2 * int(rng.integers(0, (canvas[0] - figure[0]) // 2 + 1)), canvas[1])
        origin = ((canvas[0] - figure[0]) // 2, origin[1])
    else:
        origin = (int(rng.integers(0, canvas[0] - figure[0] + 1)), int(rng.integers(0, canvas[1] - figure[1] + 1)))
    g = float(rng.choice([0.75, 1.0, 2.0]))
    cloth = (round(FRAME[0] * g), round(FRAME[1] * g))
    name = (f"{i:02d}{'-sym' if symmetric else ''}-{person.sleeves}-{garment.kind}-{pattern}-"
            f"arms{angles[0]:.0f},{angles[1]:.0f}-{canvas[0]}x{canvas[1]}")
    return Case(name, person, garment, figure, canvas, origin, cloth, symmetric)


def draw_case(case: Case) -> tuple[SyntheticPerson, SyntheticGarment]:
    """The person (pasted into its canvas) and the garment of ``case``."""
    person = place_person(draw_person(case.figure, case.person), case.canvas, case.origin)
    if case.absent:
        scores = person.pose.scores.copy()
        scores[[COCO18.index(k) for k in case.absent]] = 0.0
        person = replace(person, pose=Pose(person.pose.keypoints, scores, person.pose.size))
    return person, draw_garment(case.cloth_size, case.garment)


def _grown(mask: np.ndarray, radius: int) -> np.ndarray:
    k = max(1, radius)
    return cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)) > 0


def _accent_amount(image: np.ndarray, spec: GarmentSpec) -> np.ndarray:
    """``(H, W) float`` in [0, 1]: where each pixel's colour lies between the fabric (0) and the accent (1)."""
    c, a = np.asarray(spec.colour, np.float64), np.asarray(spec.accent, np.float64)
    t = ((image.astype(np.float64) - c) @ (a - c)) / float((a - c) @ (a - c))
    return np.clip(t, 0.0, 1.0)


def _runs(on: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` of each run of True in a 1-D array."""
    d = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _boundaries(t: np.ndarray, inside: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, float]:
    """Sub-pixel y of every stripe boundary ``(len(cols), 2n)`` and the median stripe height.

    A column's row is NaN where it does not show exactly ``n`` stripes; a boundary is NaN where the stripe meets the
    edge of ``inside`` rather than the fabric (an arm in front, the garment's edge: no boundary is seen there).
    """
    out = np.full((len(cols), 2 * n), np.nan)
    for i, x in enumerate(cols):
        col, ins = t[:, x], inside[:, x]
        bands = _runs((col > 0.5) & ins)
        if len(bands) != n:
            continue
        for j, (s, e) in enumerate(bands):  # where the colour crosses halfway, between two fabric pixels
            if s >= 1 and ins[s - 1]:
                out[i, 2 * j] = s - 1 + (0.5 - col[s - 1]) / max(col[s] - col[s - 1], 1e-9)
            if e < len(col) and ins[e]:
                out[i, 2 * j + 1] = e - 1 + (col[e - 1] - 0.5) / max(col[e - 1] - col[e], 1e-9)
    height = float(np.nanmedian(out[:, 1::2] - out[:, ::2])) if np.isfinite(out).any() else float("nan")
    return out, height


def _sleeves(person: SyntheticPerson) -> np.ndarray:
    """``(H, W) bool``: the drawn person's sleeves (as :func:`vton.synthetic.draw_person` draws them: 15 frame units
    wide along the arm, the upper arm's first 55 % for short sleeves, down to near the wrist for long ones), from
    the pose's joints as drawn (whatever their scores)."""
    kp = person.pose.keypoints.astype(np.float64) - 0.5
    at = {n: kp[COCO18.index(n)] for n in COCO18}
    unit = (at["left_shoulder"][0] - at["right_shoulder"][0]) / (2 * person.spec.shoulder_half_width)
    h, w = person.garment_region.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.zeros((h, w), bool)
    for side in ("right", "left"):
        sh, el, wr = (at[f"{side}_{k}"] for k in ("shoulder", "elbow", "wrist"))
        pts = [sh, sh + 0.55 * (el - sh)] if person.spec.sleeves == "short" else [sh, el, wr - 0.12 * (wr - el)]
        for a, b in zip(pts[:-1], pts[1:], strict=True):  # square ends, round inner joints, as drawn
            d = b - a
            t = ((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / max(float(d @ d), 1e-9)
            out |= (t >= 0) & (t <= 1) & (np.hypot(xx - a[0] - t * d[0], yy - a[1] - t * d[1]) <= 7.5 * unit)
        for p in pts[1:-1]:
            out |= np.hypot(xx - p[0], yy - p[1]) <= 7.5 * unit
    return out


def _crossed_by_arms(person: SyntheticPerson, cols: np.ndarray) -> np.ndarray:
    """``(len(cols),) bool``: columns where an arm (skin, or its sleeve: :func:`_sleeves`) lies in front of the
    garment's body: below the garment's top in that column and above its hem (its lowest row over ``cols``)."""
    old = person.garment_region[:, cols]
    arms = (person.parsing.mask("left_arm", "right_arm") | (_sleeves(person) & person.garment_region))[:, cols]
    rows = np.arange(old.shape[0])[:, None]
    top = np.where(old.any(0), old.argmax(0), old.shape[0])
    hem = int(np.flatnonzero(old.any(1))[-1]) if old.any() else -1
    return (arms & (rows >= top) & (rows <= hem)).any(0)


def _straightness(b: np.ndarray, height: float, visible: np.ndarray | None = None) -> float:
    """Largest spread of one stripe boundary over the columns, in stripe heights; inf when a boundary is seen in
    fewer than half of the columns or fewer than 80 % of the columns show every stripe. ``visible``: ``(2n,) bool``
    the boundaries to measure (None: all; see :func:`_visible_boundaries`)."""
    shown = ~np.isnan(b).all(1) if len(b) else np.zeros(0, bool)
    if visible is not None:
        b = b[:, visible]
    seen = np.isfinite(b)
    if shown.sum() < 0.8 * len(b) or (seen.sum(0) < 0.5 * len(b)).any() or not b.shape[1]:
        return float("inf")
    return float(np.nanmax(np.nanmax(b, 0) - np.nanmin(b, 0)) / height)


def _visible_boundaries(garment: SyntheticGarment, height: float) -> np.ndarray:
    """``(2n,) bool``: the stripe boundaries a try-on with stripes ``height`` pixels high can show: all but a first or
    last one that the garment puts (on its centre column) closer to its own edge than :data:`EDGE_GAP` result
    pixels, scaled by the ratio of stripe heights (module docstring)."""
    n = garment.spec.stripes
    visible = np.ones(2 * n, bool)
    xs = np.flatnonzero(garment.mask.any(0))
    x = int(round((xs[0] + xs[-1]) / 2))
    col = garment.mask[:, x]
    b, g_height = _boundaries(_accent_amount(garment.image, garment.spec), garment.mask, np.array([x]), n)
    if not col.any() or not np.isfinite(g_height) or not np.isfinite(height):
        return visible
    rows = np.flatnonzero(col)
    scale = height / g_height
    top, bottom = b[0, 0], b[0, -1]
    visible[0] = bool(np.isfinite(top) and (top + 0.5 - rows[0]) * scale >= EDGE_GAP)
    visible[-1] = bool(np.isfinite(bottom) and (rows[-1] + 0.5 - bottom) * scale >= EDGE_GAP)
    return visible


def score(person: SyntheticPerson, garment: SyntheticGarment, result: GeometricResult | None,
          refused: str | None = None, *, symmetric: bool = False) -> Score:
    """Score a try-on of ``garment`` on ``person`` (or a refusal) against the case's truth; ``symmetric``: the
    person and garment are mirror-symmetric about the neck's x, so the result must be too."""
    if result is None:
        return Score(refused=refused, failed=("refused",))
    spec, old = garment.spec, person.garment_region
    fig_h = float(np.ptp(np.flatnonzero(person.parsing.labels.any(1)))) + 1
    grown = _grown(old, round(SPILL_MARGIN * fig_h))
    comp = result.composition_mask >= 0.5
    coverage = min(float((m & old).sum() / old.sum()) for m in (result.warped_mask, comp))
    spill = max(float((m & ~grown).sum() / max(m.sum(), 1)) for m in (result.warped_mask, comp))
    diff = np.abs(result.tryon.astype(np.float32) - person.image.astype(np.float32)).mean(-1)
    keeps = []
    for names in (("face",), ("hair",), ("pants", "left_shoe", "right_shoe"), ("background",)):
        part = person.parsing.mask(*names) & ~grown
        if part.any():
            keeps.append(float(diff[part].mean()))
    keep = max(keeps)
    t = _accent_amount(result.tryon, spec)
    on = (t > 0.5) & (result.composition_mask > 0.99)  # edge pixels are blends with what lies around
    neck = person.pose.point("neck")
    cx = int(round(neck[0] - 0.5))
    sy = person.pose.point("right_shoulder")[1]
    straight = None
    if spec.pattern == "stripes":
        seen = len(_runs(on[:, cx]))
        unit = (person.pose.point("left_shoulder")[0] - person.pose.point("right_shoulder")[0]) / (
            2 * person.spec.shoulder_half_width)
        half = 0.8 * person.spec.waist_half_width * unit
        span = np.arange(int(np.ceil(neck[0] - 0.5 - half)), int(np.floor(neck[0] - 0.5 + half)) + 1)
        cols = span[~_crossed_by_arms(person, span)]  # behind an arm no boundary is seen, straight or not
        bounds, height = _boundaries(t, comp & old, cols, spec.stripes)
        visible = _visible_boundaries(garment, height)
        straight = _straightness(bounds, height, visible) if len(cols) >= len(span) / 3 else float("inf")
    elif spec.pattern == "vstripes":
        hip = person.pose.point("right_hip")[1]
        y = int(round(sy + 0.7 * (hip - sy)))
        arms = person.parsing.mask("left_arm", "right_arm")
        body = _runs((old | arms)[y])
        span = next(((s, e) for s, e in body if s <= cx < e), (cx, cx + 1))
        tw = _accent_amount(result.warped_cloth, spec)[y, span[0]:span[1]]
        seen = len(_runs((tw > 0.5) & result.warped_mask[y, span[0]:span[1]]))
    else:
        n, _, stats, _ = cv2.connectedComponentsWithStats(on.astype(np.uint8))
        big = [a for a in stats[1:, cv2.CC_STAT_AREA] if a >= 0.2 * garment.logo.sum() * old.sum() / garment.mask.sum()]
        seen = len(big) if n - 1 == len(big) else -(n - 1)
    stripes_ok = seen == (1 if spec.pattern == "logo" else spec.stripes)
    asym = None
    if symmetric and spec.pattern == "stripes":  # a boundary's height against its mirror column's
        mirror = np.round(2 * (neck[0] - 0.5) - cols).astype(np.int64)
        mb, _ = _boundaries(t, comp & old, mirror, spec.stripes)
        diff = np.abs(bounds - mb)
        asym = float(np.nanmax(diff) / height) if np.isfinite(diff).sum() >= 0.5 * diff.size else float("inf")
    elif symmetric and spec.pattern == "logo":  # the logo's centre off the centre line, in logo radii
        xs = np.nonzero(on)[1]
        asym = float(abs(xs.mean() - (neck[0] - 0.5)) / np.sqrt(len(xs) / np.pi)) if len(xs) else float("inf")
    failed = []
    if coverage < BOUNDS["coverage"]:
        failed.append("coverage")
    if spill > BOUNDS["spill"]:
        failed.append("spill")
    if keep > BOUNDS["keep"]:
        failed.append("keep")
    if not stripes_ok:
        failed.append("stripes")
    if straight is not None and straight > BOUNDS["straightness"]:
        failed.append("straightness")
    if asym is not None and asym > BOUNDS["asymmetry"]:
        failed.append("asymmetry")
    return Score(coverage, spill, keep, stripes_ok, seen, straight, asym, None, tuple(failed))


def run_case(case: Case, config: GeometricConfig | None = None) -> tuple[Score, GeometricResult | None]:
    """Draw ``case``, try the garment on, and score it; a refusal (an ``InputError``) scores as failed."""
    person, garment = draw_case(case)
    try:
        result = geometric_tryon(person.image, person.parsing, person.pose, garment.image, garment.mask,
                                 config=config or GeometricConfig())
    except InputError as e:
        return score(person, garment, None, str(e)), None
    return score(person, garment, result, symmetric=case.symmetric), result
