"""What each method costs on this machine, written to ``vton/methods/costs.json`` (shown by the page and ``methods``),
and the speed figures of issue 23: PF-AFN end to end, the garment swap on a cached person, paste-back, and the
local correlation.

    python bench/bench_costs.py [--methods pf-afn geometric ...] [--runs 3] [--device cpu] [--no-write]

Each method runs on real-size networks with random weights (the cost is the real one; the pictures are noise) on
the 768 × 1024 example photo with its shipped pose and parse (the estimators' own cost is in
``bench/bench_preprocess.py``). ``tryon_s``: median wall time of a whole run with the person cache off;
``swap_s``: a new garment on the same person with the cache on (person side, person features and drawings
reused). Paste-back: the changed-region paste against the whole-photo paste it replaced (same pixels). Correlation:
the tiled batched product against the 49 shifted products, per PF-AFN pyramid level. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vton import methods  # noqa: E402
from vton.pipeline import TryOnPipeline  # noqa: E402
from vton.preprocess.runner import Preprocessor  # noqa: E402
from vton.tools.random_weights import write_random_weights  # noqa: E402

EX = Path(__file__).resolve().parents[1] / "examples"
PHOTO = EX / "person_photo.jpg"
GIVEN = {"pose": EX / "person_photo_keypoints.json", "parsing": EX / "person_photo_parse.png"}


def _median_ms(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _garment(folder: Path, k: int) -> Path:
    """A garment not seen before (its side is not cached): the long-sleeve example, its pattern shifted by k."""
    path = folder / f"garment_{k}.png"
    arr = np.asarray(Image.open(EX / "cloth_longsleeve.png").convert("RGB")).copy()
    arr[arr.sum(2) < 700] = np.roll(arr[arr.sum(2) < 700], k + 1, axis=1)
    Image.fromarray(arr).save(path)
    return path


def bench_method(m: str, folder: Path, runs: int, device: str) -> dict[str, float]:
    card = methods.card(m)
    given = {k: v for k, v in GIVEN.items() if k in card.needs}
    cold = TryOnPipeline(m, weights_dir=folder, device=device, preprocessor=Preprocessor(folder, device, 0))
    steps = []

    def run_cold():
        steps.append(cold(PHOTO, EX / "cloth_tshirt.png", **given).timings)

    tryon = _median_ms(run_cold, runs)
    swap_pipe = TryOnPipeline(m, weights_dir=folder, device=device, preprocessor=Preprocessor(folder, device))
    swap_pipe(PHOTO, EX / "cloth_tshirt.png", **given)
    garments = iter([_garment(folder, k) for k in range(runs + 1)])
    swap_steps = []

    def run_swap():
        swap_steps.append(swap_pipe(PHOTO, next(garments), **given).timings)

    swap = _median_ms(run_swap, runs)
    per_step = {k: statistics.median(t.get(k, 0.0) for t in steps[1:]) * 1e3 for k in steps[-1]}
    per_swap = {k: statistics.median(t.get(k, 0.0) for t in swap_steps[1:]) * 1e3 for k in swap_steps[-1]}
    print(f"\n{card.title} ({m}) on {device}: try-on {tryon:.0f} ms, garment swap {swap:.0f} ms")
    print("  try-on steps: " + ", ".join(f"{k} {v:.0f}" for k, v in per_step.items() if v >= 0.5))
    print("  swap steps:   " + ", ".join(f"{k} {v:.0f}" for k, v in per_swap.items() if v >= 0.5))
    return {"tryon_s": round(tryon / 1e3, 3), "swap_s": round(swap / 1e3, 3),
            "paste_back_s": round(per_step.get("paste_back", 0.0) / 1e3, 3)}


def _paste_whole_photo(result, t, photo, mask, feather):
    """The paste-back as it was: resample, feather and blend every pixel of the photo (the reference)."""
    s, (ox, oy) = t.scale, t.offset
    data = (s, 0.0, ox, 0.0, s, oy)
    up = result.transform(photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BICUBIC)
    cover = Image.new("L", result.size, 255).transform(photo.size, Image.Transform.AFFINE, data,
                                                       resample=Image.Resampling.BILINEAR, fillcolor=0)
    m = Image.fromarray(np.clip(mask, 0, 1) * 255.0).convert("L").transform(
        photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR, fillcolor=0)
    m = m.filter(ImageFilter.GaussianBlur(feather / s))
    a = (np.asarray(cover, np.float32) / 255.0 * np.asarray(m, np.float32) / 255.0)[..., None]
    out = np.asarray(photo, np.float32) * (1 - a) + np.asarray(up, np.float32) * a
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def bench_paste_back(runs: int) -> None:
    from vton.preprocess.framing import frame_person, paste_back

    photo = Image.open(PHOTO).convert("RGB")
    _, t = frame_person(photo)
    result = Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 192, 3), dtype=np.uint8))
    print(f"\npaste-back into the {photo.size[0]} × {photo.size[1]} photo (feather 1.5):")
    for name, box in (("garment-sized region", (50, 60, 140, 170)), ("whole person", (20, 10, 172, 250))):
        mask = np.zeros((256, 192), np.float32)
        mask[box[1] : box[3], box[0] : box[2]] = 1
        new = _median_ms(lambda mask=mask: paste_back(result, t, photo, mask=mask, feather=1.5), runs)
        old = _median_ms(lambda mask=mask: _paste_whole_photo(result, t, photo, mask, 1.5), runs)
        same = np.array_equal(np.asarray(paste_back(result, t, photo, mask=mask, feather=1.5)),
                              np.asarray(_paste_whole_photo(result, t, photo, mask, 1.5)))
        print(f"  {name:22s} changed region only {new:6.1f} ms, whole photo {old:6.1f} ms, same pixels: {same}")


def _shifted_correlation(a: torch.Tensor, b: torch.Tensor, d: int = 3) -> torch.Tensor:
    h, w = a.shape[2:]
    k = 2 * d + 1
    padded = F.pad(b, (d, d, d, d))
    return torch.stack([(a * padded[:, :, i : i + h, j : j + w]).sum(1) for i in range(k) for j in range(k)], 1)


def bench_correlation(runs: int) -> None:
    from vton.methods.pfafn.flow import local_correlation
    from vton.methods.pfafn.networks import PFAFNConfig

    cfg = PFAFNConfig()
    print("\nPF-AFN local correlation (256 channels, 7 × 7), per pyramid level:")
    total_new = total_old = 0.0
    for i in range(len(cfg.num_filters)):
        h, w = cfg.fine_height >> (i + 1), cfg.fine_width >> (i + 1)
        a, b = torch.randn(2, 1, cfg.fpn_dim, h, w).unbind(0)
        with torch.inference_mode():
            new = _median_ms(lambda a=a, b=b: local_correlation(a, b, 3), runs)
            old = _median_ms(lambda a=a, b=b: _shifted_correlation(a, b), runs)
        total_new, total_old = total_new + new, total_old + old
        print(f"  {h:3d} × {w:3d}: one batched product {new:6.1f} ms, 49 shifted products {old:6.1f} ms")
    print(f"  all levels (one AFWM forward): {total_new:.1f} ms vs {total_old:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=list(methods.ids()), choices=methods.ids())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-write", action="store_true", help="print only; leave vton/methods/costs.json as it is")
    args = ap.parse_args()
    import os

    cpu = platform.processor() or platform.machine()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = f"{cpu} CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
    print(f"{machine}, load {load:.1f} at start; real-size networks, random weights; {args.runs} runs (+1 warm-up) "
          "each")
    bench_correlation(args.runs)
    bench_paste_back(args.runs)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        learned = [m for m in args.methods if methods.card(m).weights]
        if learned:
            write_random_weights(folder, methods=learned)
        for m in args.methods:
            load_now = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            rows[m] = {**bench_method(m, folder, args.runs, args.device), "load_at_start": round(load_now, 1)}
    if args.no_write:
        return
    path = methods.COSTS_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.update({"measured": date.today().isoformat(), "machine": machine,
                 "note": "written by bench/bench_costs.py; seconds, median; tryon_s with the person's annotations "
                         "supplied and the cache off, swap_s a new garment on a cached person; load_at_start: the "
                         "machine's load average when the method's runs began (other work inflates the times)"})
    table = data.setdefault("methods", {})
    device = "GPU" if args.device.startswith("cuda") else "CPU"
    for m, row in rows.items():
        table.setdefault(m, {}).setdefault("devices", {})[device] = row
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
