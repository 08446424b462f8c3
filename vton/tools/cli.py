"""The tools' sub-commands of ``python -m vton`` (wired in by :mod:`vton.cli`): ``convert``, ``publish`` and
``random-weights``, each an ``add_*_parser`` that registers it and a ``run_*`` handler.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from vton import weights
from vton.errors import InputError

from .convert import convert_checkpoint
from .folder import target_name
from .networks import methods_with_weights, network_flags
from .publish import publish, upload_folder
from .random_weights import write_random_estimators, write_random_weights

__all__ = ["add_convert_parser", "run_convert", "add_publish_parser", "run_publish", "add_random_weights_parser",
           "run_random_weights"]


def _add_network_flags(p: argparse.ArgumentParser) -> None:
    """One ``--<network> PATH`` option per network name of the registered cards (stored as ``net_<network>``)."""
    for name, owners in network_flags().items():
        p.add_argument(f"--{name}", type=Path, metavar="PATH", dest=f"net_{name}",
                       help=f"the authors' {name} checkpoint ({', '.join(owners)})")


def _given_networks(args: argparse.Namespace) -> dict[str, Path]:
    """``{network: path}`` of the ``--<network> PATH`` options given."""
    return {k[len("net_"):]: v for k, v in vars(args).items() if k.startswith("net_") and v is not None}


# ----------------------------------------------------------------------------------------------------------------
# convert


def add_convert_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``convert``; the handler is ``run_convert`` (also set as ``func`` default)."""
    p = subparsers.add_parser(
        "convert", help="convert the authors' .pth checkpoints to a local safetensors weights folder",
        description="Convert the authors' checkpoints (torch.load with weights_only=True) into "
                    "OUT/<folder>/*.safetensors with a manifest.json (sha256) and a model card. Either --method "
                    "with one --<network> PATH per network, or --key with --checkpoint.")
    p.add_argument("--method", choices=methods_with_weights(), help="the method whose checkpoints these are")
    _add_network_flags(p)
    p.add_argument("--key", choices=tuple(weights.manifest()), help="a manifest key, for a single checkpoint")
    p.add_argument("--checkpoint", type=Path, metavar="PATH", help="the checkpoint for --key")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help=f"local weights folder to write (default ${weights.WEIGHTS_DIR_ENV})")
    p.add_argument("--upload", metavar="REPO_ID", help="also publish the written folder(s) to this Hub repo")
    p.set_defaults(func=run_convert)
    return p


def _convert_jobs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    from vton import methods

    given = _given_networks(args)
    if args.method and args.key:
        raise InputError("Give either --method with its --<network> PATH options, or --key with --checkpoint, "
                         "not both.")
    if args.method:
        c = methods.card(args.method)
        names = [n for n, _ in c.weights]
        foreign = sorted(set(given) - set(names))
        if foreign:
            raise InputError(f"--method {args.method} has the networks {', '.join(names)}; "
                             f"{', '.join('--' + f for f in foreign)} belong(s) to another method.")
        jobs = [(key, given[name]) for name, key in c.weights if name in given]
        if not jobs:
            raise InputError(f"--method {args.method} needs " + " and/or ".join(f"--{n} PATH" for n in names) + ".")
        if args.checkpoint is not None:
            raise InputError(f"--checkpoint goes with --key; with --method use {', '.join('--' + n for n in names)}.")
        return jobs
    if given:
        raise InputError(f"{', '.join('--' + g for g in given)} need(s) --method.")
    if args.key:
        if args.checkpoint is None:
            raise InputError(f"--key {args.key} needs --checkpoint PATH.")
        return [(args.key, args.checkpoint)]
    raise InputError("Nothing to convert: give --method METHOD with its --<network> PATH options, or --key with "
                     "--checkpoint.")


def run_convert(args: argparse.Namespace) -> int:
    """Handler of ``vton convert``: converts, prints what was written, optionally uploads. Returns 0."""
    jobs = _convert_jobs(args)
    out_dir = weights.weights_dir_from_env(args.out)
    if out_dir is None:
        raise InputError(f"Where to write? Pass --out DIR (or set {weights.WEIGHTS_DIR_ENV}).")
    folders = []
    for key, pth in jobs:
        flag = f"--{weights.entry(key).network}" if args.method else "--checkpoint"
        head = f"--method {args.method}" if args.method else f"--key {key}"
        cmd = f"python -m vton convert {head} {flag} {shlex.quote(Path(pth).name)} --out OUT_DIR"
        notes: list[str] = []
        path = convert_checkpoint(pth, key, out_dir, command=cmd, notes=notes)
        for n in notes:
            print(f"{key}: {n}")
        info = json.loads((path.parent / weights.LOCAL_MANIFEST).read_text(encoding="utf-8"))["entries"][key]
        print(f"{key}: {pth} -> {path} ({info['bytes']} bytes, sha256 {info['sha256']})")
        if path.parent not in folders:
            folders.append(path.parent)
    for folder in folders:
        print(f"wrote {folder / weights.LOCAL_MANIFEST} and {folder / 'README.md'}")
    print(f"use it with --weights-dir {out_dir} (or {weights.WEIGHTS_DIR_ENV}={out_dir})")
    if args.upload:
        for folder in folders:
            upload_folder(folder, args.upload)
    return 0


# ----------------------------------------------------------------------------------------------------------------
# publish


def add_publish_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``publish``; the handler is ``run_publish``."""
    p = subparsers.add_parser(
        "publish", help="maintainers: convert a method's original checkpoints, upload them to the Hub and pin them",
        description="Convert the authors' checkpoints of --method (recognised by sha256), upload them with their "
                    "model card to a Hub model repo in one commit, and write the commit and the files' sha256 into "
                    "the manifest (--manifest, default weights/manifest.json), so the Space fetches pinned, "
                    "verified weights. Needs network and a write token (`hf auth login`); offline it does nothing.")
    p.add_argument("--method", required=True, choices=methods_with_weights())
    _add_network_flags(p)
    p.add_argument("--checkpoint", action="append", default=[], metavar="NETWORK=PATH",
                   help="another way to give a network's checkpoint (repeatable)")
    p.add_argument("--repo", metavar="OWNER/NAME", help="Hub model repo (default: the manifest's, after "
                   f"${weights.HUB_OWNER_ENV})")
    p.add_argument("--manifest", type=Path, metavar="PATH", help="the manifest to pin in (default: "
                   "weights/manifest.json or $VTON_MANIFEST)")
    p.add_argument("--out", type=Path, metavar="DIR", help="keep the converted folder here (default: a temporary one)")
    p.add_argument("--private", action="store_true", help="create the repo as private (the Space then needs a token)")
    p.add_argument("--allow-unknown", action="store_true",
                   help="publish files whose sha256 is not the authors' known release")
    p.set_defaults(func=run_publish)
    return p


def _checkpoints(args: argparse.Namespace) -> dict[str, Path]:
    given = _given_networks(args)
    for item in args.checkpoint:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--checkpoint {item!r} is not NETWORK=PATH.")
        if name in given:
            raise InputError(f"The {name} checkpoint is given twice.")
        given[name] = Path(path)
    return given


def run_publish(args: argparse.Namespace) -> int:
    """Handler of ``vton publish``. Returns 0."""
    publish(args.method, _checkpoints(args), args.repo, manifest=args.manifest, out_dir=args.out,
            private=args.private, allow_unknown=args.allow_unknown)
    return 0


# ----------------------------------------------------------------------------------------------------------------
# random-weights


def add_random_weights_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``random-weights DIR``; the handler is ``run_random_weights``."""
    choices = methods_with_weights()
    p = subparsers.add_parser(
        "random-weights", help="write RANDOM weights for every method (testing only: the output is noise)",
        description="Write deterministic RANDOM weights into a local weights folder, to test loading and the "
                    "pipeline without the real checkpoints (and, with --estimators, the pose and parsing "
                    "estimators: the whole chain from raw photos runs without the Hub). The try-on output is noise.")
    p.add_argument("dir", type=Path, metavar="DIR", help="local weights folder to write")
    p.add_argument("--methods", nargs="*", default=list(choices), choices=choices,
                   help="the methods to write (default: all; give none with --estimators to write only those)")
    p.add_argument("--estimators", action="store_true",
                   help="also write RANDOM OpenPose body weights and SCHP-shaped LIP/ATR ONNX parsers")
    p.add_argument("--eval-backbones", action="store_true",
                   help="also write RANDOM stand-ins of the evaluate metric backbones (LPIPS AlexNet, FID Inception)")
    p.add_argument("--estimator-size", choices=("tiny", "real"), default="tiny",
                   help="the parsers' size: tiny (fast, default) or real (SCHP's size and cost, ~267 MB each)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run_random_weights)
    return p


def run_random_weights(args: argparse.Namespace) -> int:
    """Handler of ``vton random-weights``: writes the folder and prints where. Returns 0."""
    from vton import methods

    todo = tuple(args.methods)
    estimators = bool(getattr(args, "estimators", False))
    backbones = bool(getattr(args, "eval_backbones", False))
    if not todo and not estimators and not backbones:
        raise InputError("Nothing to write: give --methods METHOD ..., --estimators and/or --eval-backbones.")
    if estimators:
        from vton.preprocess.standins import require_onnx

        require_onnx()  # before anything is written (not even the folder): a failure leaves nothing behind
    from vton.outputs import check_output_dir

    out = check_output_dir(args.dir, "weights folder")  # a file, /proc or an overlong name: refused before writing
    if todo:
        write_random_weights(out, methods=todo, seed=args.seed)
    for method in todo:
        for _, key in methods.card(method).weights:
            e = weights.entry(key)
            print(f"{e.key}: {out / e.folder / target_name(e)} (RANDOM, seed {args.seed})")
    if estimators:
        size = getattr(args, "estimator_size", "tiny")
        for key, path in write_random_estimators(out, size=size, seed=args.seed).items():
            print(f"{key}: {path} (RANDOM estimator stand-in, {size}, seed {args.seed})")
    if backbones:
        from vton.evaluate.backbones import write_random_backbones

        for key, path in write_random_backbones(out, seed=args.seed).items():
            print(f"{key}: {path} (RANDOM metric backbone stand-in, seed {args.seed})")
    print(f"RANDOM weights for testing only (output is noise). Use with --weights-dir {out}", file=sys.stderr)
    return 0
