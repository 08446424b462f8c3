"""The record of one try-on and how it is written: ``TryOnResult``, the stage files ``NN_<key>.png``, ``result.json``,
the stages zip and the preprocessing in the CP-VTON / VITON dataset layout.

A stage's picture is drawn when it is first written or shown (``vton.run.Stage``), so a run whose stages are never
looked at spends no time drawing them; what is written is the same either way.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .errors import InputError
from .images import to_pil
from .methods.base import MethodCard, MethodOutput
from .outputs import check_output_dir
from .preprocess.sides import Preprocessed
from .run import Stage

__all__ = ["TryOnResult", "save_stages", "dataset_zip"]


def save_stages(stages: list[Stage], folder: str | Path) -> list[Path]:
    """Write each stage's image as ``NN_<key>.png`` (NN = its position) into ``folder``; the paths written."""
    folder = check_output_dir(folder)
    paths = []
    for i, stage in enumerate(stages):
        p = folder / f"{i:02d}_{stage.key}.png"
        Image.fromarray(stage.image).save(p)
        paths.append(p)
    return paths


def dataset_zip(pre: Preprocessed, name: str = "vton_000001") -> bytes:
    """The preprocessing in the CP-VTON / VITON dataset layout, as zip bytes (needs pose and parsing)."""
    from .datasets import export_dataset_zip

    if pre.pose is None or pre.parsing is None:
        raise InputError("the dataset layout holds a pose and a parse map; this method's preprocessing computed "
                         "neither (it does not need them)")
    buf = io.BytesIO()
    export_dataset_zip(buf, name, pre.person, pre.cloth, pre.cloth_mask, pre.parsing, pre.pose,
                       body_mask=pre.body_mask)
    return buf.getvalue()


@dataclass(frozen=True)
class TryOnResult:
    """One try-on: the preprocessing, the method's output, every stage and the provenance.

    Attributes:
        card: the method's card.
        pre: the preprocessing (``Preprocessed``).
        output: the method's ``MethodOutput`` (try-on tensor, region, raw data).
        pasted_image: the try-on pasted back into the photo at the photo's resolution.
        stage_list: every stage in display order (preprocessing, then the method's).
        timings: seconds per step.
        provenance: what ``result.json`` records besides the stages (version, weights, inputs, sources).
    """

    card: MethodCard
    pre: Preprocessed
    output: MethodOutput
    pasted_image: Image.Image
    stage_list: tuple[Stage, ...]
    timings: dict[str, float]
    provenance: dict[str, Any]

    @property
    def method(self) -> str:
        return self.card.id

    @property
    def sources(self) -> dict[str, str]:
        return self.pre.sources

    @property
    def tryon(self) -> torch.Tensor:
        return self.output.tryon

    @property
    def tryon_image(self) -> Image.Image:
        return to_pil(self.output.tryon)

    def keypoint_table(self) -> list[dict[str, Any]]:
        return self.pre.keypoint_table()

    def stages(self) -> list[Stage]:
        return list(self.stage_list)

    def stage(self, key: str) -> Stage:
        for s in self.stage_list:
            if s.key == key:
                return s
        raise KeyError(key)

    def summary(self, files: dict[str, str] | None = None) -> dict[str, Any]:
        """JSON-ready facts of the run (``result.json``): provenance, timings, stages, keypoints, method data."""
        stages = []
        for i, s in enumerate(self.stage_list):
            row = s.summary()
            row["file"] = (files or {}).get(s.key, f"{i:02d}_{s.key}.png")
            stages.append(row)
        return {
            **self.provenance,
            "timings_s": {k: round(v, 6) for k, v in self.timings.items()},
            "total_s": round(sum(self.timings.values()), 6),
            "stages": stages,
            "keypoints": self.keypoint_table(),
            "data": _jsonable(self.output.data),
        }

    def save(self, folder: str | Path) -> list[Path]:
        """Write every stage as ``NN_<key>.png`` plus ``result.json``; the paths written."""
        paths = save_stages(self.stages(), folder)
        p = Path(folder) / "result.json"
        p.write_text(json.dumps(self.summary(), indent=2))
        return [*paths, p]

    def stages_zip(self) -> bytes:
        """Every stage PNG plus result.json, as zip bytes."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, stage in enumerate(self.stage_list):
                png = io.BytesIO()
                Image.fromarray(stage.image).save(png, format="PNG")
                zf.writestr(f"{i:02d}_{stage.key}.png", png.getvalue())
            zf.writestr("result.json", json.dumps(self.summary(), indent=2))
        return buf.getvalue()

    def dataset_zip(self, name: str = "vton_000001") -> bytes:
        return dataset_zip(self.pre, name)


def _jsonable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        return np.round(x.astype(np.float64), 7).tolist() if x.dtype.kind == "f" else x.tolist()
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return round(float(x), 7)
    if isinstance(x, np.integer):
        return int(x)
    return x
