"""Forward time, GFLOP and parameter count of the PF-AFN networks (AFWM, ResUnetGenerator), batch 1.

    python bench/bench_pfafn.py [--runs 2] [--threads N] [--device cpu|cuda]

PF-AFN: Ge et al., CVPR 2021, geyuying/PF-AFN@e2bb71e2. Randomly initialised weights: timing only. GFLOP are
what ``torch.utils.flop_counter.FlopCounterMode`` counts (convolutions and matrix products, 2 per multiply-add);
the elementwise 7×7 correlation is not in it, so it is estimated separately. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _time(fn, runs: int, device: str) -> list[float]:
    import torch

    times = []
    for _ in range(runs):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def _correlation_gflop(cfg, h: int, w: int) -> float:
    """Multiply-adds of the local correlation over all pyramid levels (2 FLOP each)."""
    k2 = cfg.correlation_channels
    total = sum((h >> (i + 1)) * (w >> (i + 1)) for i in range(len(cfg.num_filters)))
    return 2 * k2 * cfg.fpn_dim * total / 1e9


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2, help="timed forward passes per network (median printed)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = ap.parse_args(argv)

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from vton.methods.pfafn.assembly import prepare_cloth
    from vton.methods.pfafn.networks import PFAFNConfig, build_pfafn_network

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = PFAFNConfig()
    h, w, dev = cfg.fine_height, cfg.fine_width, args.device
    person = torch.rand(1, 3, h, w, device=dev) * 2 - 1
    clothes, _ = prepare_cloth(torch.rand(1, 3, h, w, device=dev) * 2 - 1, torch.rand(1, 1, h, w, device=dev))
    gen_in = torch.rand(1, cfg.gen_in_channels, h, w, device=dev) * 2 - 1

    print(f"PF-AFN networks, {h}x{w}, batch 1, device {dev}, threads {torch.get_num_threads()}, runs {args.runs}")
    print(f"{'network':<10} {'params (M)':>10} {'GFLOP':>8} {'median (ms)':>12} {'min (ms)':>9}")
    for name, inputs in (("warp", (person, clothes)), ("gen", (gen_in,))):
        net = build_pfafn_network(name, cfg).to(dev)
        params = sum(p.numel() for p in net.parameters()) / 1e6
        with torch.inference_mode():
            counter = FlopCounterMode(display=False)
            with counter:
                net(*inputs)  # also the warm-up
            gflop = counter.get_total_flops() / 1e9
            times = _time(lambda net=net, inputs=inputs: net(*inputs), args.runs, dev)
        label = "AFWM" if name == "warp" else "generator"
        med, best = statistics.median(times) * 1e3, min(times) * 1e3
        print(f"{label:<10} {params:>10.2f} {gflop:>8.2f} {med:>12.1f} {best:>9.1f}")
    print(f"(AFWM correlation, not counted above: {_correlation_gflop(cfg, h, w):.2f} GFLOP)")


if __name__ == "__main__":
    main()
