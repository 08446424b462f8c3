"""The whole chain from two raw photos: per-stage medians with real-size estimators, and a garment swap.

    python bench/bench_e2e.py [--methods cp-vton+ geometric ...] [--runs 3] [--parsing real|tiny]

What is real-size here: the OpenPose body network (random weights of the real shapes: its cost is the real one;
random weights make its post-processing a worst case, with hundreds of peak candidates instead of a few), and the
try-on networks (random weights, real shapes). The SCHP parser is an ONNX graph with the real input/output
signature and a ResNet-101-sized body (``vton.preprocess.standins.write_schp_onnx(size="real")``, ~76 G
multiply-adds at 473 × 473, like the real SCHP) — a stand-in of realistic cost, not the real model. Everything
runs with the pipeline's content cache off, except the garment-swap line, which runs a second garment on the same
person with the cache on (pose, parsing and framing reused).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vton import methods
from vton.errors import InputError
from vton.pipeline import TryOnPipeline
from vton.preprocess.runner import Preprocessor
from vton.tools.random_weights import write_random_weights

EX = Path(__file__).resolve().parents[1] / "examples"


def _photo(d: Path) -> Path:
    """The 768 × 1024 photo-like example without its annotations (the estimators run)."""
    p = d / "photo.png"
    Image.open(EX / "person_photo.jpg").convert("RGB").save(p)
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["cp-vton+", "geometric"], choices=methods.ids())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parsing", choices=("real", "tiny"), default="real")
    args = ap.parse_args()
    from vton.preprocess.standins import write_random_estimators

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_random_estimators(d, size=args.parsing)
        learned = [m for m in args.methods if methods.card(m).weights]
        if learned:
            write_random_weights(d, methods=learned)
        photo = _photo(d)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; OpenPose real-size (random weights), "
              f"SCHP {'ResNet-101-sized stand-in' if args.parsing == 'real' else 'tiny stand-in'}, try-on networks "
              f"real-size (random weights); person {Image.open(photo).size}, {args.runs} runs (+1 warm-up)")
        for m in args.methods:
            card = methods.card(m)
            runs, walls = [], []
            pipe = TryOnPipeline(m, weights_dir=d, device="cpu", preprocessor=Preprocessor(d, "cpu", cache_size=0))
            given: dict = {}
            try:
                pipe(photo, EX / "cloth_tshirt.png")
            except InputError as e:  # random OpenPose weights rarely give a pose a garment can be fitted to
                given = {"pose": EX / "person_photo_keypoints.json", "parsing": EX / "person_photo_parse.png"}
                print(f"\n{m}: the random estimators' pose does not serve this method ({str(e)[:90]}…); timed with "
                      "the example's shipped pose and parse instead")
            for i in range(args.runs + 1):
                t0 = time.perf_counter()
                r = pipe(photo, EX / "cloth_tshirt.png", **given)
                if i:
                    runs.append(r.timings)
                    walls.append(time.perf_counter() - t0)
            print(f"\n{card.title} ({m}): end to end median {statistics.median(walls):.3f} s")
            for key in runs[0]:
                vals = [t.get(key, 0.0) for t in runs]
                print(f"  {key:16s} median {statistics.median(vals) * 1000:9.1f} ms")
            # a garment swap on the same person: the person side comes from the cache
            swap = TryOnPipeline(m, weights_dir=d, device="cpu", preprocessor=Preprocessor(d, "cpu"))
            swap(photo, EX / "cloth_tshirt.png", **given)
            times = []
            for k in range(args.runs):  # each swap a garment not seen before (its side is not cached)
                garment = d / f"garment_{m}_{k}.png"
                arr = np.asarray(Image.open(EX / "cloth_longsleeve.png").convert("RGB")).copy()
                arr[arr.sum(2) < 700] = np.roll(arr[arr.sum(2) < 700], k + 1, axis=1)
                Image.fromarray(arr).save(garment)
                t0 = time.perf_counter()
                r = swap(photo, garment, **given)
                times.append(time.perf_counter() - t0)
            print(f"  garment swap (person side cached: {', '.join(sorted(r.pre.cached))}): median "
                  f"{statistics.median(times):.3f} s")
        print(f"\n(numpy {np.__version__})")


if __name__ == "__main__":
    main()
