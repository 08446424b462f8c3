"""Per-stage time of the whole try-on pipeline (supplied annotations, random network weights), median of N runs.

    python bench/bench_pipeline.py [--method cp-vton+] [--runs 5] [--device cpu|cuda]

Prints figures; asserts nothing. Random weights cost the same time as real ones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from vton import methods
from vton.pipeline import TryOnPipeline
from vton.preprocess.runner import Preprocessor
from vton.tools.random_weights import write_random_weights

EX = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="cp-vton+", choices=methods.ids())
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--photo", action="store_true", help="use the 768 × 1024 photo-like example (framing, paste-back)")
    args = ap.parse_args()
    person, pose, parse = (("person_photo.jpg", "person_photo_keypoints.json", "person_photo_parse.png") if args.photo
                           else ("person.png", "person_keypoints.json", "person_parse.png"))
    with tempfile.TemporaryDirectory() as d:
        if methods.card(args.method).weights:
            write_random_weights(d, methods=(args.method,))
        # the content cache off: every run does the whole chain
        pipe = TryOnPipeline(args.method, weights_dir=d, device=args.device,
                             preprocessor=Preprocessor(d, args.device, cache_size=0))
        runs, walls = [], []
        for i in range(args.runs + 1):  # the first run loads the networks and warms up; not counted
            t0 = time.perf_counter()
            r = pipe(EX / person, EX / "cloth_tshirt.png", pose=EX / pose, parsing=EX / parse)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if i:
                runs.append(r.timings)
                walls.append(time.perf_counter() - t0)
    print(f"{args.method} on {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.runs} runs, person {person}")
    for key in runs[0]:
        vals = [t[key] for t in runs]
        print(f"  {key:16s} median {statistics.median(vals) * 1000:9.2f} ms   min {min(vals) * 1000:9.2f} ms")
    print(f"  {'wall (call)':16s} median {statistics.median(walls) * 1000:9.2f} ms")
    # stage drawings are made on demand (result.stages()); time them too
    t0 = time.perf_counter()
    r.stages()
    print(f"  {'stage drawings':16s} {(time.perf_counter() - t0) * 1000:9.2f} ms")


if __name__ == "__main__":
    main()
