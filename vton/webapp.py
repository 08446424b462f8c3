"""The web app's glue: uploads and overrides to pipeline calls, the method table, messages and downloads.

``app.py`` builds the Gradio page from these pieces; nothing here draws or touches tensors. The stage layout follows
the figures of CP-VTON (Wang et al., ECCV 2018, sergeywong/cp-vton): preprocessing, the person representation,
the geometric matching module (GMM) and the try-on module (TOM).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, VtonError

__all__ = [
    "SECTIONS", "STAGE_KEYS", "PREPROCESS_KEYS", "STAGE_TITLES", "FRAME_STAGE_KEYS", "Uploads", "upload_path",
    "pipeline", "method_table", "method_choices", "default_method", "weights_notice", "stage_label",
    "stage_summaries", "step_name", "user_message", "DownloadFolder", "run_tryon", "run_preprocess", "gpu",
    "server_host", "EXAMPLES_DIR", "example_rows",
]

log = logging.getLogger(__name__)

# (section title, what the reader sees there, stage keys in display order)
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Inputs & preprocessing",
     "The photo and the garment framed to 256 × 192, the OpenPose skeleton, the LIP parse map and the garment mask.",
     ("person", "pose", "parsing", "cloth", "cloth_mask")),
    ("Person representation",
     "What the networks see of the person (22 channels): a blurred body shape, the head, 18 pose heat-maps.",
     ("representation_shape", "representation_head", "representation_pose")),
    ("Geometric matching (GMM)",
     "The GMM regresses a 5 × 5 thin-plate-spline warp that fits the garment to the body.",
     ("tps_control_points", "tps_grid", "warped_cloth", "warped_mask")),
    ("Try-on module (TOM)",
     "The TOM renders the person and a composition mask that blends in the warped garment.",
     ("rendered", "composition_mask", "tryon", "pasted")),
)
STAGE_KEYS: tuple[str, ...] = tuple(k for _, _, keys in SECTIONS for k in keys)
PREPROCESS_KEYS: tuple[str, ...] = SECTIONS[0][2]
# stages drawn at the networks' frame size (192 × 256); the parse map carries a legend, the paste-back is photo-sized
FRAME_STAGE_KEYS: tuple[str, ...] = tuple(k for k in STAGE_KEYS if k not in ("parsing", "pasted"))

# Titles shown before the first run; after a run each image is labelled with its Stage.title, caption and time.
STAGE_TITLES: dict[str, str] = {
    "person": "Person (framed 256 × 192)", "pose": "Pose keypoints (COCO-18)", "parsing": "Human parsing (LIP-20)",
    "cloth": "Garment (framed 256 × 192)", "cloth_mask": "Garment mask",
    "representation_shape": "Representation: body shape", "representation_head": "Representation: head",
    "representation_pose": "Representation: pose map", "tps_control_points": "TPS control points on the garment",
    "tps_grid": "Deformed grid over the warped garment", "warped_cloth": "Warped garment",
    "warped_mask": "Warped garment mask", "rendered": "Rendered person", "composition_mask": "Composition mask",
    "tryon": "Try-on (256 × 192)", "pasted": "Try-on in the photo",
}

_STEP_NAMES = {
    "load_gmm": "loading the GMM weights", "load_tom": "loading the TOM weights", "pose": "pose",
    "framing": "framing the person", "parsing": "human parsing", "cloth_mask": "garment mask",
    "cloth_framing": "framing the garment", "representation": "person representation", "gmm": "GMM (TPS warp)",
    "warp": "warping the garment", "tom": "TOM (rendering)", "composition": "composition",
    "paste_back": "pasting back into the photo",
}

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def step_name(key: str) -> str:
    """A pipeline progress key as words for the progress bar."""
    return _STEP_NAMES.get(key, key.replace("_", " "))


# ---------------------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class Uploads:
    """The files of one request, as server paths (None when not given)."""

    person: Path | None
    cloth: Path | None
    pose: Path | None = None
    parsing: Path | None = None
    cloth_mask: Path | None = None

    def require_photos(self) -> None:
        missing = [what for what, p in (("person photo", self.person), ("garment photo", self.cloth)) if p is None]
        if missing:
            raise InputError(f"Upload a {' and a '.join(missing)} first (or click one of the examples).")

    def annotations(self) -> dict[str, Path | None]:
        """Keyword arguments for the pipeline: the supplied annotations (None → estimated or computed)."""
        return {"pose": self.pose, "parsing": self.parsing, "cloth_mask": self.cloth_mask}


def upload_path(value: Any) -> Path | None:
    """The server path of an upload as Gradio hands it over without preprocessing.

    Args:
        value: ``None``, a path string, or a Gradio ``FileData``/``ImageData`` dict (``{"path": ..., ...}``).
    """
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        value = value.get("path")
        if not value:
            return None
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    raise InputError(f"unexpected upload value of type {type(value).__name__}")


# ---------------------------------------------------------------------------------------------------------------
# pipelines, built lazily and kept per (method, weights folder)

_pipelines: dict[tuple[str, str | None], Any] = {}
_pipelines_lock = threading.Lock()


def pipeline(method: str, weights_dir: str | Path | None):
    """The ``TryOnPipeline`` for ``method`` and ``weights_dir``, built on first use and kept."""
    from .pipeline import METHODS, TryOnPipeline

    if method not in METHODS:
        raise InputError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    key = (method, str(weights_dir) if weights_dir else None)
    with _pipelines_lock:
        if key not in _pipelines:
            _pipelines[key] = TryOnPipeline(method, weights_dir=weights_dir, device=None)
        return _pipelines[key]


# ---------------------------------------------------------------------------------------------------------------
# the method table


def _how_to_add(weights_dir: str | Path | None) -> str:
    folder = str(weights_dir) if weights_dir else "WEIGHTS_DIR"
    return (
        f"Put the converted safetensors files in a local folder laid out as `{folder}/cp-vton/…`, "
        f"`{folder}/cp-vton-plus/…`, `{folder}/openpose/…`, `{folder}/schp/…` (convert the authors' checkpoints with "
        "`python -m vton convert …`), then start the app with `python app.py --weights-dir DIR` or set "
        "`VTON_WEIGHTS_DIR=DIR`. Online, published weights are downloaded from the Hub at their pinned revision. "
        "For testing the plumbing only, `python -m vton random-weights DIR` writes random weights "
        "(the output is noise)."
    )


def method_table(weights_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per method: id, title, licence, paper, repo, weights per network, ready, synthetic, missing,
    annotators (where the pose / parsing weights are, needed only when no annotation is supplied), message, how_to.

    ``ready`` means every network's weights are on this machine (local folder or Hub cache), or downloadable
    from the Hub when the Hub is reachable.
    """
    from .pipeline import METHODS, method_info
    from .weights import availability, hub_offline, method_availability

    offline = hub_offline()
    status = availability(weights_dir)
    def where(key: str) -> str:
        s = status.get(key, "unknown")
        return f"{s} (offline: cannot download)" if s == "hub" and offline else s

    annotators = {"pose (OpenPose body)": where("openpose/body"), "parsing (SCHP LIP)": where("schp/lip")}
    rows = []
    for mid in METHODS:
        info = method_info(mid, weights_dir)
        avail = method_availability(mid, weights_dir)
        runnable = all(s in ("local", "cached") or (s == "hub" and not offline) for s in info["weights"].values())
        missing = [net for net, s in info["weights"].items() if s not in ("local", "cached")]
        rows.append({
            "id": mid, "title": info["title"], "licence": info["licence"], "paper": info["paper"],
            "repo": info["repo"], "weights": dict(info["weights"]), "ready": runnable,
            "synthetic": bool(avail.synthetic), "missing": missing, "annotators": annotators,
            "message": avail.message + (" The Hub is offline (HF_HUB_OFFLINE)." if offline and missing else ""),
            "how_to": "" if runnable else _how_to_add(weights_dir),
        })
    return rows


def method_choices(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Dropdown choices ``(label, id)``: the title, the licence and whether the weights are there."""
    out = []
    for r in rows:
        state = "weights ready" if r["ready"] else "weights missing: " + ", ".join(r["missing"])
        if r["synthetic"]:
            state += " (RANDOM test weights)"
        out.append((f"{r['title']} · {r['licence']} · {state}", r["id"]))
    return out


def default_method(rows: list[dict[str, Any]]) -> str:
    """The first method whose weights are ready, else CP-VTON+."""
    return next((r["id"] for r in rows if r["ready"]), "cp-vton+")


def weights_notice(rows: list[dict[str, Any]], weights_dir: str | Path | None) -> str:
    """Markdown: the weights folder in use and, per method, which weights are there and how to add the rest."""
    from .weights import hub_offline

    folder = f"`{weights_dir}`" if weights_dir else "none (set `--weights-dir` or `VTON_WEIGHTS_DIR`)"
    lines = [f"**Local weights folder:** {folder} · **Hub:** {'offline' if hub_offline() else 'online'}", "",
             "| method | licence | weights | status |", "|---|---|---|---|"]
    for r in rows:
        nets = ", ".join(f"{n}: {s}" for n, s in r["weights"].items())
        status = "ready" if r["ready"] else "**missing**"
        if r["synthetic"]:
            status += " (RANDOM test weights: output is noise)"
        lines.append(f"| {r['title']} | {r['licence']} | {nets} | {status} |")
    todo = next((r["how_to"] for r in rows if r["how_to"]), "")
    if todo:
        lines += ["", "**How to add weights.** " + todo]
    if rows:
        ann = ", ".join(f"{k}: {v}" for k, v in rows[0]["annotators"].items())
        lines += ["", f"**Pose and parsing weights** ({ann}) are needed only when no pose JSON / parse PNG is "
                  "supplied; the examples ship both."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# running, messages, downloads


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def stage_label(stage: Any) -> str:
    """The label under which a stage image is shown: title, caption and time."""
    return f"{stage.title} — {stage.caption} ({_seconds(stage.seconds)})"


def stage_summaries(stages: list[Any]) -> list[dict[str, Any]]:
    """JSON rows for the API: key, title, caption, seconds (the image travels separately)."""
    return [{"key": s.key, "title": s.title, "caption": s.caption, "seconds": round(float(s.seconds), 6),
             "size": [int(s.image.shape[1]), int(s.image.shape[0])]} for s in stages]


def user_message(exc: BaseException) -> str:
    """The message shown in the page: a ``VtonError`` as written; anything else short (the traceback is logged)."""
    if isinstance(exc, VtonError):
        return str(exc)
    log.error("unexpected error in the app", exc_info=exc)
    return (f"Something went wrong inside vton ({type(exc).__name__}). The server log has the details; "
            "please report it with the inputs that caused it.")


class DownloadFolder:
    """Per-process folder for download files; files older than ``max_age_s`` are removed on each write."""

    def __init__(self, max_age_s: float = 3600.0) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="vton-app-"))
        self.max_age_s = max_age_s

    def write(self, name: str, data: bytes) -> Path:
        now = time.time()
        for old in self.root.glob("*/*"):
            try:
                if now - old.stat().st_mtime > self.max_age_s:
                    old.unlink()
                    old.parent.rmdir()
            except OSError:
                pass
        folder = Path(tempfile.mkdtemp(dir=self.root))
        path = folder / name
        path.write_bytes(data)
        return path


Progress = Callable[[str, int, int], None]


def run_tryon(method: str, uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None):
    """Run the whole chain on the uploads; returns the ``TryOnResult``."""
    uploads.require_photos()
    return pipeline(method, weights_dir)(uploads.person, uploads.cloth, progress=progress, **uploads.annotations())


def run_preprocess(uploads: Uploads, weights_dir: str | Path | None, progress: Progress | None = None,
                   method: str = "cp-vton+"):
    """Preprocessing only (pose, parsing, garment mask, framing); returns the ``Preprocessed``."""
    uploads.require_photos()
    return pipeline(method, weights_dir).preprocess(uploads.person, uploads.cloth, progress=progress,
                                                    **uploads.annotations())


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face Spaces


def gpu(duration: int = 120) -> Callable[[Callable], Callable]:
    """``spaces.GPU(duration=...)`` when the ``spaces`` package is importable (ZeroGPU Spaces), else a no-op."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


CONTROLNET_AUX = "controlnet-aux==0.0.10"


def ensure_space_dependencies() -> bool:
    """On a Hugging Face Space, install controlnet-aux without its dependencies when it is missing.

    A Space installs ``requirements.txt`` only, and controlnet-aux's own dependencies (torchvision, timm, …) must not
    be pulled; ``scripts/install.sh`` does the same step locally. Returns True when something was installed.
    """
    import importlib.util
    import subprocess
    import sys

    if not os.environ.get("SPACE_ID") or importlib.util.find_spec("controlnet_aux") is not None:
        return False
    log.info("installing %s --no-deps for the OpenPose body estimator", CONTROLNET_AUX)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", CONTROLNET_AUX], check=True)
    return True


def server_host(host: str | None) -> str:
    """The address to bind: as given, else 0.0.0.0 on a Space (``SPACE_ID`` set), else 127.0.0.1."""
    if host:
        return host
    return "0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1"


def example_rows(method: str) -> list[list[Any]]:
    """Rows for ``gr.Examples``: person, garment, method, pose JSON, parse PNG, garment mask (all shipped)."""
    d = EXAMPLES_DIR
    rows = [
        ("person.png", "cloth_tshirt.png", "person_keypoints.json", "person_parse.png", "cloth_tshirt_mask.png"),
        ("person.png", "cloth_longsleeve.png", "person_keypoints.json", "person_parse.png",
         "cloth_longsleeve_mask.png"),
        ("person_photo.jpg", "cloth_longsleeve.png", "person_photo_keypoints.json", "person_photo_parse.png",
         "cloth_longsleeve_mask.png"),
        ("person_photo.jpg", "cloth_tshirt.png", "person_photo_keypoints.json", "person_photo_parse.png",
         "cloth_tshirt_mask.png"),
    ]
    return [[str(d / p), str(d / c), method, str(d / k), str(d / s), str(d / m)] for p, c, k, s, m in rows
            if (d / p).is_file()]
