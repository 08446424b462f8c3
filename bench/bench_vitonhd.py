"""VITON-HD at 1024 × 768 on a CPU: GFLOP, parameters, forward time and peak memory of each network, and the time of
every step and the peak memory of a whole try-on.

VITON-HD: Choi et al., CVPR 2021, shadow2496/VITON-HD@02afa4b5.

    python bench/bench_vitonhd.py [--runs 1] [--threads N] [--weights-dir W]

Each part runs in a fresh process so that its peak resident memory (``ru_maxrss``, which includes Python, torch and
the weights) is its own. The networks get random weights (timing only); the try-on writes full-size random weights
with ``write_random_weights`` unless ``--weights-dir`` holds the real ones, and runs on ``examples/person_photo.jpg``
with its supplied pose and parse (no estimator is timed). Printed, never asserted. FLOPs from
``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2 FLOP; convolutions and matrix products only).

Measured with ``--threads 2`` on a 2-core CPU shared with other jobs (torch 2.13.0; times vary 2-4x with the load;
the quietest of three runs):

    net     params (M)    GFLOP  median (s)
    seg          34.53     99.8        2.5
    gmm          19.04      9.0        0.25
    alias       100.50   1636.5       34-62   (per block: up_4 at 1024x768 789 GFLOP, 18.9 s; up_3 379 GFLOP, 6.8 s)

    a whole try-on (768x1024 photo, supplied pose and parse): 42 s, of which ALIAS 34 s, segmentation 3.3 s (the
    13-channel blur at full size included), loading 3 s; peak resident memory 3298 MiB (< 4 GiB; 3254 MiB in a
    loaded run).

ALIAS is 94 % of the FLOPs and its two largest blocks (up_3, up_4) 71 %: each of their three ALIASNorms runs three
3 × 3 convolutions (128 hidden channels) at the block's size.
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


def _alias_blocks() -> list[dict]:
    """Where ALIAS's time goes: GFLOP and seconds of each block (one forward, timed with hooks)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vton.methods.vitonhd.networks import VITONHDConfig, build_vitonhd_network, draw_alias_noise

    cfg = VITONHDConfig()
    g = torch.Generator().manual_seed(0)
    h, w = cfg.load_height, cfg.load_width
    net = build_vitonhd_network("alias", cfg)
    labels = torch.randint(0, cfg.alias_classes, (1, 1, h, w), generator=g)
    seg = torch.zeros(1, cfg.alias_classes, h, w).scatter_(1, labels, 1.0)
    mis = (torch.rand(1, 1, h, w, generator=g) > 0.8).float()
    args = (torch.rand(1, cfg.alias_in_channels, h, w, generator=g) * 2 - 1, seg, torch.cat([seg, mis], 1), mis,
            draw_alias_noise(cfg, g))
    seconds: dict[str, float] = {}
    start: dict[str, float] = {}
    for name, block in net.blocks():
        block.register_forward_pre_hook(lambda m, a, n=name: start.__setitem__(n, time.perf_counter()))
        block.register_forward_hook(lambda m, a, o, n=name: seconds.__setitem__(n, time.perf_counter() - start[n]))
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            net(*args)
        net(*args)
    flops = counter.get_flop_counts()
    rows = []
    for name, _ in net.blocks():
        key = next(k for k in flops if k.endswith(f".{name}") or k == name)
        size = cfg.latent_size[0] * 2 ** len(rows), cfg.latent_size[1] * 2 ** len(rows)
        rows.append({"block": name, "size": list(size), "gflop": sum(flops[key].values()) / 1e9,
                     "seconds": seconds[name]})
    return rows


def _tryon(weights_dir: str) -> dict:
    from vton.pipeline import TryOnPipeline

    ex = ROOT / "examples"
    pipe = TryOnPipeline(METHOD, weights_dir=weights_dir, device="cpu")
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
        if args.only == "try-on":
            out = _tryon(args.weights_dir)
        elif args.only == "alias-blocks":
            out = _alias_blocks()
        else:
            out = _network(args.only, args.runs)
        print(json.dumps(out))
        return
    print(f"VITON-HD, batch 1, 1024x768 (seg and GMM inputs at 256x192), CPU, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, {args.runs} run(s); peak = the part's process, Python and torch included")
    with tempfile.TemporaryDirectory() as tmp:
        weights_dir = args.weights_dir
        if weights_dir is None:  # written here, so that the try-on's peak is the try-on's
            from vton.tools.random_weights import write_random_weights

            weights_dir = str(write_random_weights(tmp, methods=[METHOD], seed=0))
        rows = []
        for part in ("seg", "gmm", "alias", "alias-blocks", "try-on"):
            cmd = [sys.executable, __file__, "--only", part, "--runs", str(args.runs), "--weights-dir", weights_dir]
            cmd += ["--threads", str(args.threads)] if args.threads else []
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1]
            rows.append(json.loads(out))
    print(f"{'net':<6} {'params (M)':>11} {'GFLOP':>8} {'median (s)':>11} {'peak (MiB)':>11}")
    for r in rows[:3]:
        print(f"{r['part']:<6} {r['params_m']:>11.2f} {r['gflop']:>8.1f} {r['median_s']:>11.2f} {r['peak_mib']:>11.0f}")
    print("\nALIAS per block (one forward):")
    for b in rows[3]:
        print(f"  {b['block']:<11} {b['size'][0]:>5}x{b['size'][1]:<4} {b['gflop']:>8.1f} GFLOP {b['seconds']:>8.2f} s")
    t = rows[4]
    print(f"\ntry-on of a {t['photo'][0]}x{t['photo'][1]} photo ({'random' if t['random'] else 'real'} weights, "
          f"supplied pose and parse): {t['total_s']:.1f} s, peak {t['peak_mib']:.0f} MiB")
    for step, sec in t["timings"].items():
        print(f"  {step:<14} {sec:>8.2f} s")


if __name__ == "__main__":
    main()
