"""Forward time, GFLOP and parameter count of the four ACGPN networks (G1, G2, G, U), batch 1, 256 × 192, CPU.

ACGPN: Yang et al., CVPR 2020, switchablenorms/DeepFashion_Try_On@f5f5598f.

    python bench/bench_acgpn.py [--runs 3] [--threads N]

Randomly initialised weights: timing only. Printed, never asserted. Expected parameters: G1 34.54 M, G2 34.53 M,
G 34.53 M (U 36.47 M). FLOPs from ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add = 2 FLOP; it
counts convolutions and matrix products, not norms or activations).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from vton.methods.acgpn.networks import ACGPNConfig, build_acgpn_network  # noqa: E402


def _inputs(network: str, cfg: ACGPNConfig) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    h, w = cfg.fine_height, cfg.fine_width

    def rnd(c: int) -> torch.Tensor:
        return torch.rand(1, c, h, w, generator=g) * 2 - 1

    if network == "U":
        mask = torch.zeros(1, 1, h, w)
        mask[..., h // 8 : 7 * h // 8, w // 6 : 5 * w // 6] = 1
        return rnd(3) * mask, mask, mask, rnd(3)
    channels = {"G1": cfg.g1_channels, "G2": cfg.g2_channels, "G": cfg.g_channels}[network][0]
    return (rnd(channels),)


def measure(network: str, runs: int) -> dict[str, float]:
    cfg = ACGPNConfig()
    net = build_acgpn_network(network, cfg)
    x = _inputs(network, cfg)
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            net(*x)  # also the warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            net(*x)
            times.append(time.perf_counter() - t0)
    return {"params_m": sum(p.numel() for p in net.parameters()) / 1e6, "gflop": counter.get_total_flops() / 1e9,
            "median_s": statistics.median(times), "min_s": min(times)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="timed forwards per network (after one warm-up)")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"ACGPN networks, batch 1, 256x192, CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"{args.runs} runs")
    print(f"{'net':<4} {'params (M)':>11} {'GFLOP':>8} {'median (s)':>11} {'min (s)':>9}")
    for network in ("G1", "G2", "G", "U"):
        r = measure(network, args.runs)
        print(f"{network:<4} {r['params_m']:>11.2f} {r['gflop']:>8.1f} {r['median_s']:>11.3f} {r['min_s']:>9.3f}")


if __name__ == "__main__":
    main()
