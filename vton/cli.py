"""Command line: ``python -m vton tryon|preprocess|dataset|methods|convert|publish|random-weights|prepare``.

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

    p = sub.add_parser("methods", help="list the methods, their licences and where their weights are")
    p.add_argument("--weights-dir", help="local weights folder")
    p.add_argument("--json", action="store_true", help="print the cards as JSON (id, title, licence, needs, "
                   "weights with status, stage keys)")
    p.set_defaults(func=_cmd_methods)

    p = sub.add_parser("prepare", help="convert the pose model's .pth to a verified safetensors copy ahead of time")
    p.add_argument("--weights-dir", help="local weights folder")
    p.add_argument("--no-download", action="store_true", help="use only local or cached files")
    p.set_defaults(func=_cmd_prepare)

    from .convert import add_convert_parser, add_random_weights_parser
    from .publish import add_publish_parser

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
    return "\n".join(parts)


def _out_folder(path: str) -> Path:
    from .errors import InputError

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {path!r} is a file; give a folder (it is created if missing)")
    return out


def _cmd_tryon(args: argparse.Namespace) -> int:
    from .pipeline import TryOnPipeline

    out = _out_folder(args.out)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device, seed=args.seed,
                         compile_networks=args.compile)
    result = pipe(Path(args.person), Path(args.cloth), progress=_Progress(), **_annotations(args))
    paths = result.save(out)
    print(f"{result.card.title}: {len(paths)} files written to {out} ({sum(result.timings.values()):.2f} s); "
          "sources: " + ", ".join(f"{k} {v}" for k, v in result.sources.items()))
    warning = _weights_warning(result)
    if warning:
        print(warning, file=sys.stderr)
    return 0


def _cmd_preprocess(args: argparse.Namespace) -> int:
    from .pipeline import TryOnPipeline, save_stages

    out = _out_folder(args.out)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device)
    pre = pipe.preprocess(Path(args.person), Path(args.cloth), progress=_Progress(), **_annotations(args))
    save_stages(pre.stages(), out)
    (out / "keypoints.json").write_text(json.dumps(pre.keypoint_table(), indent=2))
    if pre.pose is not None and pre.parsing is not None:
        (out / "dataset.zip").write_bytes(pre.dataset_zip())
        print(f"preprocessing written to {out} (dataset layout in {out / 'dataset.zip'})")
    else:
        print(f"preprocessing written to {out} ({args.method} needs no pose/parsing, so no dataset zip)")
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .weights import prepare_converted

    done = prepare_converted(args.weights_dir, download=not args.no_download)
    for p in done:
        print(f"ready: {p}")
    if not done:
        print("nothing to convert (no .pth weights found locally or on the Hub)")
    return 0


def _cmd_dataset(args: argparse.Namespace) -> int:
    from .datasets import VitonFolder
    from .pipeline import TryOnPipeline

    folder = VitonFolder(args.root, args.pairs, split=args.split)
    pipe = TryOnPipeline(args.method, weights_dir=args.weights_dir, device=args.device, seed=args.seed,
                         compile_networks=args.compile)
    out = _out_folder(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = len(folder) if args.limit is None else min(args.limit, len(folder))
    rows = []
    for i in range(n):
        item = folder[i]
        result = pipe(item.person, item.cloth, pose=item.pose, parsing=item.parsing, cloth_mask=item.cloth_mask,
                      body_mask=item.body_mask)
        stem = f"{Path(item.person_name).stem}__{Path(item.cloth_name).stem}"
        result.tryon_image.save(out / f"{stem}.png")
        if args.all_stages:
            result.save(out / stem)
        rows.append({"person": item.person_name, "cloth": item.cloth_name, "tryon": f"{stem}.png",
                     "seconds": round(sum(result.timings.values()), 6)})
        print(f"  [{i + 1}/{n}] {item.person_name} + {item.cloth_name}", file=sys.stderr)
    (out / "results.json").write_text(json.dumps({"method": args.method, "pairs": rows}, indent=2))
    print(f"{n} try-ons written to {out}")
    return 0


def _cmd_methods(args: argparse.Namespace) -> int:
    from . import methods

    rows = [methods.describe(c.id, args.weights_dir) for c in methods.cards()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        state = "ready" if r["ready"] else "NOT READY"
        if r["random"]:
            state += " (RANDOM test weights: output is noise)"
        if r["unverified"]:
            state += f" (UNVERIFIED: {', '.join(r['unverified'])})"
        weights = ", ".join(f"{k}: {v['status']}" for k, v in r["weights"].items()) or "none (training-free)"
        print(f"{r['id']:10s} {r['title']} — {r['licence']} — {state}\n{'':11s}{r['paper']}\n"
              f"{'':11s}needs: {', '.join(r['needs'])}; weights: {weights}")
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
