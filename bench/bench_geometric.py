"""The training-free geometric try-on (after VITON's shape-context TPS step, xthan/VITON@0370ca3) on drawn people
and garments (vton.synthetic): the share of a generated family it was not tuned on that meets every quality bound
(vton.methods.geometric.family) and of a family around sleeves hanging against the body (raised arms, one arm
missing from the pose), each failing case with its scores, the worst case of each score, and CPU timing per stage.

    python bench/bench_geometric.py [--family 96] [--arms 48] [--seed 1] [--repeat 5] [--threads N] [--no-timing]

Printed, not asserted (the tests assert the bounds on a smaller family; timings depend on the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from vton.methods.geometric import family, landmarks, matching, outline, person, warp  # noqa: E402
from vton.synthetic import GarmentSpec, PersonSpec, draw_garment, draw_person  # noqa: E402


def _median(fn, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--family", type=int, default=96, help="cases in the generated family (0: none)")
    ap.add_argument("--arms", type=int, default=48, help="cases in the family around hanging arms (0: none)")
    ap.add_argument("--seed", type=int, default=1, help="the families' seed (the tests use 2026)")
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    if args.family:
        results += _bench_family("generated family", family.family(args.family, args.seed), args.seed)
    if args.arms:
        results += _bench_family("family around hanging arms", family.arm_family(args.arms, args.seed), args.seed)
    if args.family and args.arms:
        passed = sum(s.passed for s in results)
        print(f"both families: {passed}/{len(results)} = {passed / len(results):.1%} pass every bound")
    if not args.no_timing:
        for size in ((192, 256), (576, 768), (768, 1024)):
            _bench_size(size, args.repeat)


def _bench_family(title: str, cases: list[family.Case], seed: int) -> list[family.Score]:
    n = len(cases)
    scores = []
    for case in cases:
        s, _ = family.run_case(case)
        scores.append((case, s))
        if not s.passed:
            print(f"  FAIL {case.name}: {', '.join(s.failed)} ({_fmt(s)})")
    passed = sum(s.passed for _, s in scores)
    print(f"{title} (n = {n}, seed {seed}): {passed}/{n} = {passed / n:.1%} pass every bound "
          f"{family.BOUNDS}; refused: {sum(s.refused is not None for _, s in scores)}")
    done = [s for _, s in scores if s.refused is None]
    if done:
        straight = [s.straightness for s in done if s.straightness is not None]
        asym = [s.asymmetry for s in done if s.asymmetry is not None]
        print(f"  worst: coverage {min(s.coverage for s in done):.3f}, spill {max(s.spill for s in done):.3f}, "
              f"keep {max(s.keep for s in done):.2f}, stripes wrong {sum(not s.stripes_ok for s in done)}, "
              f"straightness {max(straight, default=0):.2f} (median {statistics.median(straight or [0]):.2f}), "
              f"asymmetry {max(asym, default=0):.2f}")
    for bound in ("coverage", "spill", "keep", "stripes", "straightness", "asymmetry", "refused"):
        k = sum(bound in s.failed for _, s in scores)
        if k:
            print(f"  failing {bound}: {k}")
    return [s for _, s in scores]


def _fmt(s: family.Score) -> str:
    if s.refused:
        return s.refused
    extra = f", straightness {s.straightness:.2f}" if s.straightness is not None else ""
    extra += f", asymmetry {s.asymmetry:.2f}" if s.asymmetry is not None else ""
    return (f"coverage {s.coverage:.3f}, spill {s.spill:.3f}, keep {s.keep:.2f}, stripes seen {s.stripes_seen}"
            + extra)


def _bench_size(size: tuple[int, int], repeat: int) -> None:
    cfg = warp.GeometricConfig()
    p = draw_person(size, PersonSpec())
    g = draw_garment(size, GarmentSpec(kind="longsleeve"))
    region = outline.target_region(p.parsing, p.pose)
    occ = p.parsing.mask(*warp.OCCLUDER_LABELS)
    gc, tc = landmarks.garment_contour(g.mask), person.person_contour(region, p.pose, occ)
    go, to = outline.sample_outlines(gc, tc, cfg.n_points)
    m = matching.match_outlines(go, to)
    grid = warp.fit_grid(m, size, size)
    warped, alpha = warp.warp_garment(g.image, g.mask, grid)
    stages = {
        "outlines + landmarks": lambda: (landmarks.garment_contour(g.mask),
                                         person.person_contour(region, p.pose, occ)),
        "shape context + assignment": lambda: matching.match_outlines(go, to),
        "TPS fit (per piece, λ chosen)": lambda: warp.fit_grid(m, size, size),
        "warp garment": lambda: warp.warp_garment(g.image, g.mask, grid),
        "inpaint + compose": lambda: warp.compose(p.image, p.parsing, region, warped, alpha),
        "total (geometric_tryon)": lambda: warp.geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask),
    }
    print(f"{size[0]}x{size[1]} (W x H), median of {repeat}:")
    for name, fn in stages.items():
        print(f"  {name:28s} {1000 * _median(fn, repeat):8.1f} ms")

if __name__ == "__main__":
    main()
