"""The fast path (``Method.compile``: torch.compile, Inductor, frozen weights) against eager fp32: one-off compile
time, per-call medians and PSNR, for the networks of the chosen methods at 256 × 192 (random weights).

    python bench/bench_fastpath.py [--methods cp-vton+ pf-afn] [--runs 5]

Prints figures; asserts nothing. The accuracy check on the golden inputs is tests/test_fastpath.py.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from vton import methods

INPUTS = {  # network input shapes (batch 1, 256 × 192)
    ("cp-vton", "gmm"): [(1, 22, 256, 192), (1, 3, 256, 192)], ("cp-vton", "tom"): [(1, 25, 256, 192)],
    ("cp-vton+", "gmm"): [(1, 22, 256, 192), (1, 1, 256, 192)], ("cp-vton+", "tom"): [(1, 26, 256, 192)],
    ("pf-afn", "warp"): [(1, 3, 256, 192), (1, 3, 256, 192)], ("pf-afn", "gen"): [(1, 7, 256, 192)],
}


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["cp-vton+"])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU, {args.runs} runs")
    for mid in args.methods:
        m = methods.create(mid)
        for name, _ in m.card.weights:
            shapes = INPUTS.get((mid, name))
            if shapes is None:
                print(f"{mid}/{name}: no input shapes listed here; skipped")
                continue
            net = m.build_network(name)
            xs = [torch.randn(s) for s in shapes]
            with torch.inference_mode():
                ref = _first(net(*xs))
                eager = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    net(*xs)
                    eager.append(time.perf_counter() - t0)
                m.nets = {name: net}
                m.compile()
                fast_net = m.nets[name]
                t0 = time.perf_counter()
                out = _first(fast_net(*xs))
                compile_s = time.perf_counter() - t0
                fast = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    fast_net(*xs)
                    fast.append(time.perf_counter() - t0)
            mse = float(((out - ref) ** 2).mean())
            peak = float(ref.max() - ref.min())
            psnr = math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)
            e, f = statistics.median(eager), statistics.median(fast)
            print(f"{mid}/{name}: eager {e * 1000:8.1f} ms  compiled {f * 1000:8.1f} ms  ({f / e:.2f}×)  "
                  f"one-off compile {compile_s:6.1f} s  PSNR {psnr:.1f} dB")


if __name__ == "__main__":
    main()
