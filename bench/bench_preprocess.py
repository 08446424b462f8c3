"""CPU timings of the preprocessing stages with generated weights (no Hub, no real checkpoints).

    python bench/bench_preprocess.py [--repeat 3] [--threads N]

Pose runs the full-size OpenPose body network with random weights, so its timing is the real network's cost.
The parsers are tiny stand-in ONNX graphs with SCHP's signature: their timings cover the letterbox, the
normalisation, the upsampling and the mapping back to the photo, not SCHP's own forward pass.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), min(runs)


def _person_photo(size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (size[1] // 16 + 1, size[0] // 16 + 1, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def _garment_photo(size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, (246, 244, 240))
    pts = [(0.31, 0.16), (0.42, 0.16), (0.5, 0.24), (0.58, 0.16), (0.69, 0.16), (0.89, 0.27), (0.82, 0.39),
           (0.73, 0.34), (0.73, 0.88), (0.27, 0.88), (0.27, 0.34), (0.18, 0.39), (0.11, 0.27)]
    ImageDraw.Draw(img).polygon([(x * w, y * h) for x, y in pts], fill=(40, 80, 160))
    return img


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()

    import torch
    from helpers_weights import make_preprocess_weights

    from vton.preprocess.cloth_mask import compute_cloth_mask
    from vton.preprocess.framing import frame_person
    from vton.preprocess.parsing import HumanParser
    from vton.preprocess.pose import PoseEstimator

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median (min) of {args.repeat} runs")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        make_preprocess_weights(tmp)
        print(f"{'generate weights':38s} {time.perf_counter() - t0:7.2f} s")
        t0 = time.perf_counter()
        pose = PoseEstimator.from_weights(tmp)
        print(f"{'load pose network (convert once)':38s} {time.perf_counter() - t0:7.2f} s")
        lip, atr = HumanParser.from_weights("lip", tmp), HumanParser.from_weights("atr", tmp)

        def _pose(photo):
            try:
                pose(photo)
            except Exception:  # noqa: BLE001 - random weights may find nobody; the timing still counts
                pass

        for size in [(192, 256), (768, 1024), (3000, 4000)]:
            photo = _person_photo(size)
            med, best = _time(lambda p=photo: _pose(p), args.repeat)
            print(f"{'pose ' + f'{size[0]}x{size[1]}':38s} {med:7.3f} s ({best:.3f})")
        for name, parser in (("parsing LIP (stand-in graph)", lip), ("parsing ATR (stand-in graph)", atr)):
            for size in [(192, 256), (768, 1024), (3000, 4000)]:
                photo = _person_photo(size)
                med, best = _time(lambda p=photo, f=parser: f(p), args.repeat)
                print(f"{name + f' {size[0]}x{size[1]}':38s} {med:7.3f} s ({best:.3f})")
        for size in [(192, 256), (768, 1024), (3000, 4000)]:
            garment = _garment_photo(size)
            med, best = _time(lambda g=garment: compute_cloth_mask(g), args.repeat)
            print(f"{'cloth mask ' + f'{size[0]}x{size[1]}':38s} {med:7.3f} s ({best:.3f})")
        for size in [(768, 1024), (3000, 4000)]:
            photo = _person_photo(size)
            med, best = _time(lambda p=photo: frame_person(p), args.repeat)
            print(f"{'frame ' + f'{size[0]}x{size[1]}':38s} {med:7.3f} s ({best:.3f})")


if __name__ == "__main__":
    main()
