"""CPU timing of the training-free geometric try-on (after VITON's shape-context TPS step, xthan/VITON@0370ca3)
on drawn people and garments (vton.synthetic), per stage and in total.

    python bench/bench_geometric.py [--repeat 5] [--threads N]

Printed, not asserted (the machine may be shared).
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

from vton.methods.geometric import matching, warp  # noqa: E402
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
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for size in ((192, 256), (576, 768), (768, 1024)):
        _bench_size(size, args.repeat)


def _bench_size(size: tuple[int, int], repeat: int) -> None:
    cfg = warp.GeometricConfig()
    p = draw_person(size, PersonSpec())
    g = draw_garment(size, GarmentSpec(kind="longsleeve"))
    region = matching.target_region(p.parsing, p.pose)
    occ = p.parsing.mask(*warp.OCCLUDER_LABELS)
    gc, tc = matching.garment_contour(g.mask), matching.person_contour(region, p.pose, occ)
    go, to = matching.sample_outlines(gc, tc, cfg.n_points)
    m = matching.match_outlines(go, to)
    grid = warp.fit_grid(m, size, size)
    warped, alpha = warp.warp_garment(g.image, g.mask, grid)
    stages = {
        "outlines + landmarks": lambda: (matching.garment_contour(g.mask),
                                         matching.person_contour(region, p.pose, occ)),
        "shape context + assignment": lambda: matching.match_outlines(go, to),
        "TPS grid": lambda: warp.fit_grid(m, size, size),
        "warp garment": lambda: warp.warp_garment(g.image, g.mask, grid),
        "inpaint + compose": lambda: warp.compose(p.image, p.parsing, region, warped, alpha),
        "total (geometric_tryon)": lambda: warp.geometric_tryon(p.image, p.parsing, p.pose, g.image, g.mask),
    }
    print(f"{size[0]}x{size[1]} (W x H), median of {repeat}:")
    for name, fn in stages.items():
        print(f"  {name:28s} {1000 * _median(fn, repeat):8.1f} ms")

if __name__ == "__main__":
    main()
