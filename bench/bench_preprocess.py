"""CPU timings of the preprocessing stages on generated RANDOM weights (no Hub, no real checkpoints).

    python bench/bench_preprocess.py [--repeat 3] [--threads N] [--parsing-size real|tiny] [--skip-ort-variants]

What is real-size here:
- pose: the full OpenPose body network (52 M parameters) with random weights: the network's cost is real. Its
  maps are noise-like, with dozens of peak candidates per part, so the post-processing timings are a worst case
  (a trained network on a photo of one person gives a few candidates per part).
- parsing: with ``--parsing-size real`` (default) a stand-in of SCHP's size and cost (ResNet-101 + context,
  decoder, edge and fusion heads, 66.7 M parameters, ~76 G multiply-adds at 473 px; see
  ``vton.preprocess.standins``) with random weights: the forward pass costs what SCHP's does; the labels are noise.
  With ``tiny`` only the letterbox, normalisation, upsampling and mapping back are representative.
- cloth mask and framing: our own code, real.

"before" rows are the previous code paths kept for comparison: the pose post-processing at the photo's
resolution (≤ 768 px, as controlnet-aux's ``Body``), and onnxruntime with default ``SessionOptions()``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), min(runs)


def _row(name: str, med: float, best: float, unit: str = "s") -> None:
    if unit == "ms":
        print(f"{name:58s} {med * 1e3:8.1f} ms ({best * 1e3:.1f})")
    else:
        print(f"{name:58s} {med:8.3f} s  ({best:.3f})")


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


def _photo_resolution_postprocess(paf, heat, hw, size):
    """The previous post-processing: maps resized to the photo at <= 768 px, σ = 3 px there, integer peaks."""
    from vton.preprocess import pose as P
    from vton.preprocess import pose_assembly as A

    w, h = size
    s = min(1.0, P.WORK_MAX_SIDE / max(w, h))
    work = (max(1, round(w * s)), max(1, round(h * s)))
    return A.extract_people(P.maps_to_image(heat, hw, work), P.maps_to_image(paf, hw, work))


def bench_pose(root: str, repeat: int) -> None:
    import torch

    from vton.preprocess import pose as P
    from vton.preprocess import pose_assembly as A

    t0 = time.perf_counter()
    est = P.PoseEstimator.from_weights(root)
    print(f"{'pose: load network (random weights, real size)':58s} {time.perf_counter() - t0:8.2f} s")
    for size in [(192, 256), (768, 1024), (3000, 4000)]:
        photo = _person_photo(size)
        tag = f"{size[0]}x{size[1]}"
        med, best = _time(lambda p=photo: est.forward(p), repeat)
        _row(f"pose {tag}: photo → network output (real-size network)", med, best)
        paf, heat, hw = est.forward(photo)
        n_cand = sum(len(c) for c in A.find_peaks(P.maps_at_network(heat, hw),
                                                  sigma=P.network_sigma(photo.size, hw), subpixel=True))
        med, best = _time(lambda a=paf, b=heat, c=hw, s=photo.size: P.postprocess(a, b, c, s), repeat)
        _row(f"pose {tag}: post-processing at 184 rows (after; {n_cand} cand.)", med, best, "ms")
        med, best = _time(lambda a=paf, b=heat, c=hw, s=photo.size: _photo_resolution_postprocess(a, b, c, s),
                          repeat)
        _row(f"pose {tag}: post-processing at the photo ≤768 px (before)", med, best, "ms")

        def _whole(p=photo):
            try:
                est(p)
            except Exception:  # noqa: BLE001 - random weights may find nobody; the timing still counts
                pass

        med, best = _time(_whole, repeat)
        _row(f"pose {tag}: whole estimator", med, best)
    print(f"  (torch {torch.__version__}, {torch.get_num_threads()} threads)")


def bench_parsing(root: str, repeat: int, size: str, variants: bool) -> None:
    import onnxruntime as ort

    from vton.labels import ATR, LIP
    from vton.preprocess import parsing as PR

    what = "real-size SCHP stand-in" if size == "real" else "tiny stand-in graph: network cost NOT representative"
    threads = PR.default_threads()
    lip_path, atr_path = Path(root) / "schp" / "parsing_lip.onnx", Path(root) / "schp" / "parsing_atr.onnx"
    x = PR.normalize(PR.letterbox(np.asarray(_person_photo((768, 1024))), 473)[0])

    def _session_time(opts) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        s = ort.InferenceSession(str(lip_path), opts, providers=["CPUExecutionProvider"])
        load = time.perf_counter() - t0
        med, best = _time(lambda: s.run(None, {"input.1": x}), repeat)
        return load, med, best

    if variants:
        print(f"parsing LIP network alone ({what}), onnxruntime {ort.__version__}, {os.cpu_count()} CPUs:")
        default = ort.SessionOptions()
        default.log_severity_level = 3
        configs = [("ORT defaults: SessionOptions() (before)", default),
                   (f"vton session_options(): {threads} threads (after)", PR.session_options())]
        if threads != 1:
            configs.append(("vton session_options(threads=1)", PR.session_options(1)))
        basic = PR.session_options()
        basic.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        off = PR.session_options()
        off.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        par = PR.session_options()
        par.execution_mode, par.inter_op_num_threads = ort.ExecutionMode.ORT_PARALLEL, 2
        nopat = PR.session_options()
        nopat.enable_mem_pattern = False
        configs += [("  … with graph optimisation BASIC", basic), ("  … with graph optimisation DISABLED", off),
                    ("  … with ORT_PARALLEL, 2 inter-op threads", par), ("  … without memory pattern", nopat)]
        for name, opts in configs:
            load, med, best = _session_time(opts)
            _row(f"  {name}", med, best)
            print(f"{'':60s} session load {load:.2f} s")

    for dataset, path, label_set in (("LIP", lip_path, LIP), ("ATR", atr_path, ATR)):
        parser = PR.HumanParser(path, label_set)
        n = parser.input_size
        for psize in [(192, 256), (768, 1024), (3000, 4000)]:
            photo = _person_photo(psize)
            rgb = np.asarray(photo)
            tag = f"parsing {dataset} {psize[0]}x{psize[1]}"
            med, best = _time(lambda r=rgb, k=n: PR.normalize(PR.letterbox(r, k)[0]), repeat)
            _row(f"{tag}: letterbox + normalise", med, best, "ms")
            boxed, matrix = PR.letterbox(rgb, n)
            feed = {parser.input_name: PR.normalize(boxed)}
            med, best = _time(lambda f=feed, s=parser.session: s.run(None, f), repeat)
            _row(f"{tag}: network ({what})", med, best)
            fusion = parser.session.run(None, feed)[1][0]
            med, best = _time(lambda f=fusion, k=n: PR.upsample_align_corners(f, k), repeat)
            _row(f"{tag}: upsample logits to {n}²", med, best, "ms")
            up = PR.upsample_align_corners(fusion, n)
            med, best = _time(lambda u=up, m=matrix, s=psize: PR.logits_to_photo(u, m, s), repeat)
            _row(f"{tag}: back to the photo + argmax", med, best, "ms")
            med, best = _time(lambda p=photo, f=parser: f(p), repeat)
            _row(f"{tag}: whole parser", med, best)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads and VTON_THREADS for onnxruntime (0: the defaults)")
    ap.add_argument("--parsing-size", choices=("real", "tiny"), default="real",
                    help="the SCHP stand-in: real size and cost (default) or tiny")
    ap.add_argument("--skip-ort-variants", action="store_true", help="skip the onnxruntime options comparison")
    ap.add_argument("--only", choices=("pose", "parsing", "other"), help="run one group only")
    args = ap.parse_args()

    import torch

    from vton.preprocess.cloth_mask import compute_cloth_mask
    from vton.preprocess.framing import frame_person
    from vton.preprocess.standins import write_random_estimators

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["VTON_THREADS"] = str(args.threads)
    print(f"median (min) of {args.repeat} runs after one warm-up; RANDOM weights throughout (outputs are noise)")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "pose", "parsing"):
            t0 = time.perf_counter()
            write_random_estimators(tmp, size=args.parsing_size)
            print(f"{'generate stand-ins (pose real, parsing ' + args.parsing_size + ')':58s} "
                  f"{time.perf_counter() - t0:8.2f} s")
        if args.only in (None, "pose"):
            bench_pose(tmp, args.repeat)
        if args.only in (None, "parsing"):
            bench_parsing(tmp, args.repeat, args.parsing_size, not args.skip_ort_variants)
    if args.only in (None, "other"):
        for size in [(192, 256), (768, 1024), (3000, 4000)]:
            garment = _garment_photo(size)
            med, best = _time(lambda g=garment: compute_cloth_mask(g), args.repeat)
            _row(f"cloth mask {size[0]}x{size[1]}", med, best)
        for size in [(768, 1024), (3000, 4000)]:
            photo = _person_photo(size)
            med, best = _time(lambda p=photo: frame_person(p), args.repeat)
            _row(f"frame {size[0]}x{size[1]}", med, best)


if __name__ == "__main__":
    main()
