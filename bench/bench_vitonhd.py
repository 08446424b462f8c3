"""VITON-HD at 1024 × 768 on a CPU: GFLOP, parameters, forward time and peak memory of each network, and the time of
every step and the peak memory of a whole try-on.

VITON-HD: Choi et al., CVPR 2021, shadow2496/VITON-HD@02afa4b5.

    python bench/bench_vitonhd.py [--runs 1] [--threads N] [--weights-dir W]

Each part runs in a fresh process so that its peak resident memory (``ru_maxrss``, which includes Python, torch and
the weights) is its own. The networks get random weights (timing only); the try-on writes full-size random weights
with ``write_random_weights`` unless ``--weights-dir`` holds the real ones, and runs on ``examples/person_photo.jpg``
with its supplied pose and parse (no estimator is timed). Printed, never asserted. FLOPs from
``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2 FLOP; convolutions and matrix products only).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METHOD = "viton-hd"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _network(name: str, runs: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vton.methods.vitonhd.networks import VITONHDConfig, build_vitonhd_network, draw_alias_noise

    cfg = VITONHDConfig()
    g = torch.Generator().manual_seed(0)
    h, w = cfg.load_height, cfg.load_width
    lh, lw = cfg.low_res
    base = _peak_mib()
    net = build_vitonhd_network(name, cfg)
    if name == "seg":
        args = (torch.rand(1, cfg.seg_in_channels, lh, lw, generator=g),)
    elif name == "gmm":
        args = (torch.rand(1, cfg.gmm_person_channels, lh, lw, generator=g), torch.rand(1, 3, lh, lw, generator=g))
    else:
        labels = torch.randint(0, cfg.alias_classes, (1, 1, h, w), generator=g)
        seg = torch.zeros(1, cfg.alias_classes, h, w).scatter_(1, labels, 1.0)
        mis = (torch.rand(1, 1, h, w, generator=g) > 0.8).float()
        args = (torch.rand(1, cfg.alias_in_channels, h, w, generator=g) * 2 - 1, seg, torch.cat([seg, mis], 1), mis,
                draw_alias_noise(cfg, g))
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            net(*args)  # also the warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            net(*args)
            times.append(time.perf_counter() - t0)
    return {"part": name, "params_m": sum(p.numel() for p in net.parameters()) / 1e6,
            "gflop": counter.get_total_flops() / 1e9, "median_s": statistics.median(times),
            "peak_mib": _peak_mib(), "before_mib": base}


def _tryon(weights_dir: str | None) -> dict:
    from vton.convert import write_random_weights
    from vton.pipeline import TryOnPipeline

    ex = ROOT / "examples"
    with tempfile.TemporaryDirectory() as tmp:
        wd = weights_dir or str(write_random_weights(tmp, methods=[METHOD], seed=0))
        pipe = TryOnPipeline(METHOD, weights_dir=wd, device="cpu")
        t0 = time.perf_counter()
        r = pipe(ex / "person_photo.jpg", ex / "cloth_tshirt.png", pose=ex / "person_photo_keypoints.json",
                 parsing=ex / "person_photo_parse.png", cloth_mask=ex / "cloth_tshirt_mask.png")
        total = time.perf_counter() - t0
    return {"part": "try-on", "total_s": total, "timings": r.timings, "peak_mib": _peak_mib(),
            "photo": list(r.pasted_image.size), "random": r.provenance["random_weights"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="timed forwards per network (after one warm-up)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    ap.add_argument("--weights-dir", default=None, help="real weights for the try-on (default: random, written)")
    ap.add_argument("--only", default=None, help=argparse.SUPPRESS)  # one part, in this process (JSON out)
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.only:
        out = _tryon(args.weights_dir) if args.only == "try-on" else _network(args.only, args.runs)
        print(json.dumps(out))
        return
    print(f"VITON-HD, batch 1, 1024x768 (seg and GMM inputs at 256x192), CPU, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.runs} run(s); peak = the part's process, Python and torch included")
    rows = []
    for part in ("seg", "gmm", "alias", "try-on"):
        cmd = [sys.executable, __file__, "--only", part, "--runs", str(args.runs)]
        cmd += ["--threads", str(args.threads)] if args.threads else []
        cmd += ["--weights-dir", args.weights_dir] if args.weights_dir else []
        rows.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]))
    print(f"{'net':<6} {'params (M)':>11} {'GFLOP':>8} {'median (s)':>11} {'peak (MiB)':>11}")
    for r in rows[:3]:
        print(f"{r['part']:<6} {r['params_m']:>11.2f} {r['gflop']:>8.1f} {r['median_s']:>11.2f} {r['peak_mib']:>11.0f}")
    t = rows[3]
    print(f"\ntry-on of a {t['photo'][0]}x{t['photo'][1]} photo ({'random' if t['random'] else 'real'} weights, "
          f"supplied pose and parse): {t['total_s']:.1f} s, peak {t['peak_mib']:.0f} MiB")
    for step, s in t["timings"].items():
        print(f"  {step:<14} {s:>8.2f} s")


if __name__ == "__main__":
    main()
