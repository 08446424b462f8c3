"""Forward time, parameter count and peak memory of the CP-VTON / CP-VTON+ networks (GMM, TOM), batch 1.

    python bench/bench_networks.py [--runs 5] [--threads N] [--device cpu|cuda]

Each network runs in its own process so its peak resident memory (``ru_maxrss``) is its own; the table also shows
the peak of a process that only imported torch and built nothing. Randomly initialised weights: timing only.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024


def _measure(method: str | None, network: str | None, runs: int, threads: int | None, device: str, queue) -> None:
    import torch

    from vton.methods import build_network

    if threads:
        torch.set_num_threads(threads)
    if method is None:
        queue.put({"peak_rss_mib": _peak_rss_mib()})
        return
    net = build_network(method, network).to(device)
    cfg = net.cfg
    h, w = cfg.fine_height, cfg.fine_width
    g = torch.Generator().manual_seed(0)
    if network == "gmm":
        inputs = (torch.randn(1, cfg.agnostic_channels, h, w, generator=g), torch.randn(1, cfg.cloth_channels, h, w))
    else:
        inputs = (torch.randn(1, cfg.tom_in_channels, h, w, generator=g),)
    inputs = tuple(x.to(device) for x in inputs)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.inference_mode():
        net(*inputs)  # warm-up
        for _ in range(runs):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            net(*inputs)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    result = {
        "params": sum(p.numel() for p in net.parameters()),
        "median_ms": 1000 * statistics.median(times),
        "min_ms": 1000 * min(times),
        "peak_rss_mib": _peak_rss_mib(),
    }
    if device == "cuda":
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    queue.put(result)


def _run_in_child(ctx, *args) -> dict:
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed forward passes per network (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)

    ctx = mp.get_context("spawn")
    base = _run_in_child(ctx, None, None, args.runs, args.threads, args.device)
    print(f"device={args.device} threads={args.threads or 'default'} runs={args.runs}, batch 1, 256x192")
    print(f"baseline process peak RSS (torch imported): {base['peak_rss_mib']:.0f} MiB")
    header = f"{'method':<9} {'net':<4} {'params':>12} {'median ms':>10} {'min ms':>9} {'peak RSS MiB':>13}"
    if args.device == "cuda":
        header += f" {'peak CUDA MiB':>14}"
    print(header)
    for method in ("cp-vton", "cp-vton+"):
        for network in ("gmm", "tom"):
            r = _run_in_child(ctx, method, network, args.runs, args.threads, args.device)
            line = (
                f"{method:<9} {network:<4} {r['params']:>12,} {r['median_ms']:>10.1f} {r['min_ms']:>9.1f} "
                f"{r['peak_rss_mib']:>13.0f}"
            )
            if "peak_cuda_mib" in r:
                line += f" {r['peak_cuda_mib']:>14.0f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
