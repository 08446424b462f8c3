"""Command line: ``python -m vton tryon|preprocess|dataset|evaluate|methods|convert|publish|random-weights|prepare``.

Method choices, their help and the stages written come from the registry (:mod:`vton.methods`).

Errors vton raises on purpose are printed as one readable paragraph with a non-zero exit status; ``--debug``
shows the traceback of unexpected ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from .errors import VtonError

__all__ = ["main", "build_parser"]


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--person", required=True, help="person photo (any size; PNG, JPEG, …)")
    p.add_argument("--cloth", required=True, help="garment photo (on a light background, or RGBA with alpha)")
    p.add_argument("--pose", help="OpenPose JSON (COCO-18) for the person photo; estimated when omitted")
    p.add_argument("--parse", help="LIP parse PNG (P or L mode) of the person photo; estimated when omitted")
    p.add_argument("--cloth-mask", help="garment mask PNG (≥128 = garment); computed when omitted")
    p.add_argument("--body-mask", help="body mask PNG (CP-VTON+ shape channel); from the parse when omitted")
    p.add_argument("--weights-dir", help="local weights folder (default: $VTON_WEIGHTS_DIR, then the Hub)")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")


def _method_help() -> str:
    from . import methods

    return "; ".join(f"{c.id}: {c.title}, {c.licence}" for c in methods.cards())


def _add_method(p: argparse.ArgumentParser) -> None:
    from . import methods

    ids = methods.ids()
    p.add_argument("--method", default=ids[0], choices=ids, help=f"default {ids[0]}. {_method_help()}")
    p.add_argument("--seed", type=int, default=0, help="seed of any randomness a method draws (recorded)")
    p.add_argument("--compile", action="store_true", help="fast path: torch.compile the networks (the first pair "
                   "pays tens of seconds of compile time; pays off only over many pairs, see bench/bench_fastpath.py)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vton", description="vton: classic virtual try-on, every stage.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tryon", help="run a method on a person photo and a garment photo, write every stage")
    _add_inputs(p)
    _add_method(p)
    p.add_argument("--out", default="outputs/tryon", help="folder for the stage PNGs (NN_<key>.png) and result.json")
    p.set_defaults(func=_cmd_tryon)

    p = sub.add_parser("preprocess", help="the preprocessing a method needs (default: all), stages + dataset zip")
    _add_inputs(p)
    _add_method(p)
    p.add_argument("--out", default="outputs/preprocess", help="output folder")
    p.set_defaults(func=_cmd_preprocess)

    p = sub.add_parser("dataset", help="run a method over a CP-VTON / VITON-style test folder with its annotations")
    p.add_argument("--root", required=True, help="dataset root, its split folder, or a dataset zip")
    p.add_argument("--pairs", default="test_pairs.txt", help="pairs list ('person.jpg cloth.jpg' per line)")
    p.add_argument("--split", default="test", help="split folder name (default: test)")
    _add_method(p)
    p.add_argument("--out", default="outputs/dataset", help="folder for try-on PNGs and results.json")
    p.add_argument("--limit", type=int, help="stop after this many pairs")
    p.add_argument("--all-stages", action="store_true", help="also write every stage of each pair")
    p.add_argument("--weights-dir", help="local weights folder (default: $VTON_WEIGHTS_DIR, then the Hub)")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.set_defaults(func=_cmd_dataset)

    _add_evaluate_parser(sub)

    p = sub.add_parser("methods", help="list the methods, their licences and where their weights are")
    p.add_argument("--weights-dir", help="local weights folder")
    p.add_argument("--json", action="store_true", help="print the cards as JSON (id, title, licence, needs, "
                   "weights with status, stage keys)")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("prepare", help="convert the pose model's .pth to a verified safetensors copy ahead of time")
    p.add_argument("--weights-dir", help="local weights folder")
    p.add_argument("--no-download", action="store_true", help="use only local or cached files")
    p.set_defaults(func=_cmd_prepare)

    from .tools.cli import add_convert_parser, add_publish_parser, add_random_weights_parser

    add_convert_parser(sub)
    add_publish_parser(sub)
    add_random_weights_parser(sub)
    return parser


def _annotations(args: argparse.Namespace) -> dict:
    given = {"pose": args.pose, "parsing": args.parse, "cloth_mask": args.cloth_mask, "body_mask": args.body_mask}
    return {k: Path(v) if v else None for k, v in given.items()}


class _Progress:
    """Prints each step once, when it has finished (the pipeline reports a step when it starts and when it ends)."""

    def __init__(self) -> None:
        self.done = 0

    def __call__(self, key: str, done: int, total: int) -> None:
        if done > self.done:
            self.done = done
            print(f"  [{done:2d}/{total}] {key}", file=sys.stderr)


def _weights_warning(result) -> str:
    prov = result.provenance
    parts = []
    if prov.get("random_weights"):
        parts.append("WARNING: RANDOM test weights were used: the try-on is noise")
    if prov.get("unverified_weights"):
        parts.append("WARNING: unverified weights (no sha256 declared in any manifest) for "
                     + ", ".join(prov["unverified_weights"]))
    parts += [f"WARNING: {w}" for w in prov.get("warnings", ())]
    return "\n".join(parts)


def _weights_sources(result) -> str:
    """One line per network: where its weights came from and their licence."""
    return "\n".join(f"weights {name}: {n['source']}; licence: {n['licence']}"
                     for name, n in result.provenance.get("networks", {}).items() if n.get("source"))


def _out_folder(path: str) -> Path:
    from .errors import InputError

    if not path.strip():
        raise InputError("--out is empty; give the folder to write into (it is created if missing), e.g. "
                         "--out outputs/run1")
    out = Path(path)
    try:
        is_file = out.exists() and not out.is_dir()
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        reason = e.strerror if isinstance(e, OSError) and e.strerror else type(e).__name__
        raise InputError(f"--out {path[:200]!r} cannot be used as a folder name ({reason})") from None
    if is_file:
        raise InputError(f"--out {path[:200]!r} is a file; give a folder (it is created if missing)")
    return out


def _compile_note(args: argparse.Namespace) -> None:
    """Say before it starts when ``--compile`` costs minutes for this method (the card's ``compile_note``)."""
    from . import methods

    note = methods.card(args.method).compile_note if getattr(args, "compile", False) else ""
    if note:
        print(f"note: --compile: {note}", file=sys.stderr)


def _cmd_tryon(args: argparse.Namespace) -> int:
    from .pipeline import TryOnPipeline

    out = _out_folder(args.out)
    _compile_note(args)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device, seed=args.seed,
                         compile_networks=args.compile)
    try:
        result = pipe(Path(args.person), Path(args.cloth), progress=_Progress(), **_annotations(args))
    except VtonError as e:  # a refusal still writes the stages computed before it, so the user sees why
        if e.stages:
            from .result import save_stages

            paths = save_stages(list(e.stages), out)
            print(f"{len(paths)} stage files computed before the error written to {out}", file=sys.stderr)
        raise
    paths = result.save(out)
    print(f"{result.card.title}: {len(paths)} files written to {out} ({sum(result.timings.values()):.2f} s); "
          "sources: " + ", ".join(f"{k} {v}" for k, v in result.sources.items()))
    for text in (_weights_sources(result), _weights_warning(result)):
        if text:
            print(text, file=sys.stderr)
    return 0


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .pipeline import TryOnPipeline
    from .result import dataset_zip, save_stages

    out = _out_folder(args.out)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device)
    pre = pipe.preprocess(Path(args.person), Path(args.cloth), progress=_Progress(), **_annotations(args))
    save_stages(pre.stages(pipe.card.preprocess_stages), out)
    for w in pre.warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    (out / "keypoints.json").write_text(json.dumps(pre.keypoint_table(), indent=2))
    if pre.has_dataset_layout:
        (out / "dataset.zip").write_bytes(dataset_zip(pre))
        print(f"preprocessing written to {out} (dataset layout in {out / 'dataset.zip'})")
    elif pre.pose is None or pre.parsing is None:
        print(f"preprocessing written to {out} ({args.method} needs no pose/parsing, so no dataset zip)")
    else:
        w, h = pre.person.size
        print(f"preprocessing written to {out} ({args.method}'s frame is {w} × {h}, which the CP-VTON dataset "
              "layout does not hold, so no dataset zip)")
    return 0


def _weights_folder(path: str | None) -> None:
    """Refuse a ``--weights-dir`` that is a file or does not exist (it would silently mean "no local weights")."""
    from .errors import InputError

    if path is None:
        return
    p = Path(path)
    if not path.strip() or p.is_file() or not p.is_dir():
        what = "is empty" if not path.strip() else ("is a file" if p.is_file() else "does not exist")
        raise InputError(f"--weights-dir {path[:200]!r} {what}; give the folder that holds the weights "
                         "(<dir>/<method folder>/<file>, see weights/README.md), or leave it out to use the Hub")


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .tools.prepare import prepare_converted
    from .weights import manifest

    _weights_folder(args.weights_dir)
    done = prepare_converted(args.weights_dir, download=not args.no_download, strict=True)
    for p in done:
        print(f"ready: {p}")
    if not done:
        wanted = ", ".join(f"{e.folder}/{e.filename}" for e in manifest().values() if e.format == "pth")
        where = f"in {args.weights_dir}" if args.weights_dir else "in $VTON_WEIGHTS_DIR or the cache"
        hub = " (--no-download: the Hub was not asked)" if args.no_download else " nor on the Hub"
        print(f"error: nothing to convert: no {wanted} {where}{hub}", file=sys.stderr)
        return 1
    return 0


def _cmd_dataset(args: argparse.Namespace) -> int:
    from .datasets import VitonFolder
    from .errors import InputError
    from .pipeline import TryOnPipeline

    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1 (the number of pairs to run), got {args.limit}")
    folder = VitonFolder(args.root, args.pairs, split=args.split)
    _compile_note(args)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device, seed=args.seed,
                         compile_networks=args.compile)
    out = _out_folder(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(folder) if args.limit is None else min(args.limit, len(folder))
    rows = []
    provenance: dict = {}
    for i in range(n):
        item = folder[i]
        result = pipe(item.person, item.cloth, pose=item.pose, parsing=item.parsing, cloth_mask=item.cloth_mask,
                      body_mask=item.body_mask)
        if not provenance:  # the networks are loaded once: the first pair's record holds for every pair
            provenance = _run_provenance(result)
            for text in (_weights_sources(result), _weights_warning(result)):
                if text:
                    print(text, file=sys.stderr)
        stem = f"{Path(item.person_name).stem}__{Path(item.cloth_name).stem}"
        result.tryon_image.save(out / f"{stem}.png")
        if args.all_stages:
            result.save(out / stem)
        rows.append({"person": item.person_name, "cloth": item.cloth_name, "tryon": f"{stem}.png",
                     "seconds": round(sum(result.timings.values()), 6), "warnings": list(result.pre.warnings)})
        print(f"  [{i + 1}/{n}] {item.person_name} + {item.cloth_name}", file=sys.stderr)
        for w in result.pre.warnings:
            print(f"  WARNING: {w}", file=sys.stderr)
    (out / "results.json").write_text(json.dumps({"method": args.method, **provenance, "pairs": rows}, indent=2))
    print(f"{n} try-ons written to {out}")
    return 0


def _run_provenance(result) -> dict:
    """What ``results.json`` records once for a dataset run: version, licence, per-network weights provenance."""
    prov = result.provenance
    keys = ("vton_version", "method_title", "licence", "device", "seed", "compiled", "networks", "random_weights",
            "unverified_weights")
    return {k: prov[k] for k in keys if k in prov}


def _add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    from . import methods
    from .evaluate.backbones import RESIZE_MODES
    from .evaluate.runner import METRICS

    p = sub.add_parser("evaluate", help="score methods on a test set (SSIM, LPIPS paired; FID, KID unpaired) or "
                       "score existing images; report beside the papers' numbers",
                       description="Run methods over a VITON/CP-VTON test folder in paired mode (each photo with its "
                       "own garment, scored against the photo) and unpaired mode (the pairs list, scored against the "
                       "test photos), or score --pred images against --gt images paired by file name. Writes "
                       "metrics.json, metrics.md and metrics.png into --out.")
    p.add_argument("--root", help="dataset root, its split folder, or a dataset zip (with --method)")
    p.add_argument("--pairs", default="test_pairs.txt", help="the unpaired pairs list (default test_pairs.txt)")
    p.add_argument("--split", default="test", help="split folder name (default: test)")
    p.add_argument("--method", action="append", choices=methods.ids(), metavar="METHOD",
                   help="a method to run (repeat for several): " + ", ".join(methods.ids())
                   + "; with --pred it only labels the images (the paper's numbers are shown beside them)")
    p.add_argument("--pred", help="folder of existing try-on images to score (instead of running methods)")
    p.add_argument("--gt", help="folder of ground-truth images, paired with --pred by file name (without extension)")
    p.add_argument("--metrics", help=f"comma-separated, from {','.join(METRICS)} (default: every metric whose "
                   "weights are at hand; the others are listed as left out)")
    p.add_argument("--gray-ssim", action="store_true", help="SSIM on 8-bit luma instead of RGB (some papers' variant)")
    p.add_argument("--resize", default="clean", choices=RESIZE_MODES,
                   help="how images reach the Inception's 299 x 299 (default clean: clean-fid's; legacy_pytorch: "
                        "pytorch-fid's; legacy_tensorflow: the original TF FID's)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for SSIM/LPIPS intervals")
    p.add_argument("--set-bootstrap", type=int, default=20,
                   help="bootstrap resamples for FID/KID intervals (each recomputes the metric)")
    p.add_argument("--train-pairs", help="the train pairs list: warns about pairs, photos and garments it shares "
                   "with the test list")
    p.add_argument("--limit", type=int, help="at most this many pairs per mode")
    p.add_argument("--out", default="outputs/evaluate", help="report folder (and try-ons under tryons/)")
    p.add_argument("--weights-dir", help="local weights folder (methods and metric backbones)")
    p.add_argument("--no-download", action="store_true", help="never download a missing backbone file")
    p.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the methods and of the bootstrap")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .errors import InputError
    from .evaluate import report, runner

    if args.pred or args.gt:
        if not (args.pred and args.gt):
            raise InputError("--pred and --gt go together: the predictions and the ground truths, paired by file name")
        if args.root:
            raise InputError("give either --root with --method (run methods) or --pred with --gt (score images)")
        if args.method and len(args.method) > 1:
            raise InputError("with --pred, --method labels the images: give at most one")
    elif not (args.root and args.method):
        raise InputError("give --root DATA --method M (run methods on a test set) or --pred DIR --gt DIR (score "
                         "existing images)")
    if args.bootstrap < 1 or args.set_bootstrap < 1:
        raise InputError("--bootstrap and --set-bootstrap must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    device = args.device or ("cuda" if __import__("torch").cuda.is_available() else "cpu")
    settings = runner.EvalSettings(gray_ssim=args.gray_ssim, resize=args.resize, bootstrap=args.bootstrap,
                                   set_bootstrap=args.set_bootstrap, seed=args.seed, device=device,
                                   weights_dir=args.weights_dir, download=not args.no_download)
    wanted = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics is not None else None
    if args.pred:
        data = runner.evaluate_folders(args.pred, args.gt, settings=settings, metrics=wanted,
                                       label=(args.method or ["predictions"])[0],
                                       pairs=args.pairs if args.train_pairs else None, train_pairs=args.train_pairs)
    else:
        data = runner.evaluate_methods(args.root, args.pairs, args.method, args.out, settings=settings,
                                       metrics=wanted, split=args.split, limit=args.limit,
                                       train_pairs=args.train_pairs, pipeline_kwargs={"seed": args.seed})
    paths = report.write(data, args.out)
    for metric, why in data["left_out"].items():
        print(f"left out {metric}: {why}", file=sys.stderr)
    for r in data["results"]:
        scores = ", ".join(f"{m} {report.fmt(m, v['mean'])}" for m, v in r["metrics"].items())
        print(f"{r['method']} {r['mode']} (n={r['count']}): {scores}" + ("  [RANDOM weights]" if r["random"] else ""))
    if data["random"]:
        print("WARNING: " + report.RANDOM_TEXT, file=sys.stderr)
    print(f"report: {paths['json']}, {paths['md']}, {paths['png']}")
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from . import methods
    from .weights import readiness_text

    _weights_folder(args.weights_dir)
    rows = [methods.describe(c.id, args.weights_dir) for c in methods.cards()]
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "state"} for r in rows], indent=2))
        return 0
    for r in rows:
        state = readiness_text(r["state"])
        weights = ", ".join(f"{k}: {v['status']}" for k, v in r["weights"].items()) or "none (training-free)"
        print(f"{r['id']:10s} {r['title']} — {r['licence']} — {state}\n{'':11s}{r['paper']}\n"
              f"{'':11s}needs: {', '.join(r['needs'])}; weights: {weights}")
        for name, n in r["weights"].items():
            print(f"{'':11s}{name}: {n['source']}")
        if r["cost_text"]:
            print(f"{'':11s}cost: {r['cost_text']}")
        if r["how_to"]:
            print(f"{'':11s}how to get them: {r['how_to']}")
    return 0


def _report(e: VtonError) -> int:
    print("error: " + textwrap.fill(str(e), 100, subsequent_indent="       ", break_on_hyphens=False,
                                          break_long_words=False), file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    try:  # the parser reads the registry and the manifest (choices): a broken manifest is reported too
        parser = build_parser()
    except VtonError as e:
        return _report(e)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VtonError as e:
        return _report(e)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # an unexpected failure: one line, the traceback only on request
        if args.debug:
            raise
        print(f"internal error ({type(e).__name__}): {e}\nrerun with --debug for the traceback and please report it.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
