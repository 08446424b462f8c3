"""PF-AFN before/after, interleaved in one process: the networks of a git revision (``--against``, default the
branch point of the speed work) against the working tree's, same random weights, same inputs.

    python bench/bench_pfafn_ab.py [--against REV] [--rounds 6] [--threads N]

Prints, per variant, the median and minimum wall time and process CPU time of the AFWM and generator forwards and
of a whole PF-AFN try-on through the pipeline (the 768 × 1024 example, person cache off, as ``bench_costs.py``),
the two variants alternating each round, with the load average before and after. On a shared machine the CPU
time with ``--threads 1`` is the figure least disturbed by the other processes. PF-AFN: Ge et al., CVPR 2021,
geyuying/PF-AFN@e2bb71e2. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BRANCH_POINT = "2acabbc"  # main before issue 23's second speed round (PF-AFN 1,246 ms quiet)


def _old_networks(rev: str, folder: Path):
    """The ``networks`` module of PF-AFN as it was at ``rev``, imported under another name."""
    src = subprocess.run(["git", "show", f"{rev}:vton/methods/pfafn/networks.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    path = folder / "pfafn_networks_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("pfafn_networks_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def _row(name: str, samples: list[tuple[float, float]]) -> str:
    wall, cpu = [s[0] * 1e3 for s in samples], [s[1] * 1e3 for s in samples]
    return (f"  {name:<16} wall median {statistics.median(wall):7.0f} min {min(wall):7.0f} ms | "
            f"cpu median {statistics.median(cpu):7.0f} min {min(cpu):7.0f} ms")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", default=BRANCH_POINT, help="git revision whose PF-AFN networks are 'before'")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)

    import bench_costs as bc
    import torch

    from vton import methods
    from vton.methods.pfafn.assembly import prepare_cloth
    from vton.pipeline import TryOnPipeline
    from vton.preprocess.runner import Preprocessor
    from vton.tools.random_weights import write_random_weights

    if args.threads:
        torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp())
    before = _old_networks(args.against, folder)
    write_random_weights(folder, methods=["pf-afn"])
    given = {k: v for k, v in bc.GIVEN.items() if k in methods.card("pf-afn").needs}
    pipes = {}
    for tag in ("before", "after"):
        pipe = TryOnPipeline("pf-afn", weights_dir=folder, device="cpu", preprocessor=Preprocessor(folder, "cpu", 0))
        pipe(bc.PHOTO, bc.EX / "cloth_tshirt.png", **given)  # loads the networks (and warms up)
        if tag == "before":
            for name in ("warp", "gen"):
                net = before.build_pfafn_network(name, before.PFAFNConfig())
                net.load_state_dict(pipe.method.nets[name].state_dict())
                pipe.method.nets[name] = net
        pipes[tag] = pipe

    torch.manual_seed(0)
    cfg = before.PFAFNConfig()
    h, w = cfg.fine_height, cfg.fine_width
    person = torch.rand(1, 3, h, w) * 2 - 1
    clothes, _ = prepare_cloth(torch.rand(1, 3, h, w) * 2 - 1, (torch.rand(1, 1, h, w) > 0.3).float())
    gen_in = torch.rand(1, cfg.gen_in_channels, h, w) * 2 - 1
    jobs = {
        "AFWM": lambda p: p.method.nets["warp"](person, clothes),
        "generator": lambda p: p.method.nets["gen"](gen_in),
        "try-on": lambda p: p(bc.PHOTO, bc.EX / "cloth_tshirt.png", **given),
    }
    with torch.inference_mode():
        a, b = (jobs["AFWM"](pipes[t]) for t in ("before", "after"))
        flow_gap = (a.flow - b.flow).abs().max().item()
        gen_gap = (jobs["generator"](pipes["before"]) - jobs["generator"](pipes["after"])).abs().max().item()
    print(f"PF-AFN before ({args.against}) vs after (working tree), {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds; load {_load()} at start")
    print(f"  max |flow before - after| {flow_gap:.1e}, max |generator output before - after| {gen_gap:.1e}")
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in range(args.rounds):
        for job, fn in jobs.items():
            for tag in ("before", "after") if r % 2 else ("after", "before"):
                with torch.inference_mode():
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn(pipes[tag])
                    times.setdefault((job, tag), []).append((time.perf_counter() - t0, time.process_time() - c0))
    print(f"load {_load()} at the end")
    for job in jobs:
        for tag in ("before", "after"):
            print(_row(f"{job} {tag}", times[(job, tag)]))


if __name__ == "__main__":
    main()
