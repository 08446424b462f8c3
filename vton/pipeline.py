"""The try-on pipeline: two photos in, the try-on and every stage in between out, for any registered method.

It loads the method's networks (:mod:`vton.methods`), runs the preprocessing its card asks for
(:mod:`vton.preprocess.runner`: pose, parsing, masks, framing to ``MethodCard.frame``, cached by content), then the
method's own ``run``, and pastes the try-on back into the photo. Every intermediate is kept as data in the
:class:`~vton.result.TryOnResult`, whose ``result.json`` records the provenance of every input and weight file.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import methods
from .errors import InputError, VtonError
from .images import to_pil
from .methods.base import Method, MethodCard, MethodOutput
from .preprocess.runner import Preprocessor, check_weights_dir
from .preprocess.sides import Preprocessed
from .result import TryOnResult
from .run import NEEDS, Progress, Trace, preprocess_steps

__all__ = ["TryOnPipeline", "MAX_SEED"]

log = logging.getLogger(__name__)

MAX_SEED = 2**64 - 1  # torch.manual_seed's range (its generator is 64-bit)


def _pick_device(device: str | torch.device | None) -> torch.device:
    from .devices import pick_device

    return pick_device(device)


class TryOnPipeline:
    """Photos in, ``TryOnResult`` out, for one registered method.

    Args:
        method: a method id (``vton.methods.ids()``).
        weights_dir: local weights folder (else ``$VTON_WEIGHTS_DIR``, else the Hub).
        device: torch device; None picks CUDA when available.
        preprocessor: a shared ``Preprocessor`` (estimators and the content cache); a new one by default.
        seed: seed of any randomness a method draws (recorded in ``result.json``).
        network_overrides: network config changes (the card's ``test_overrides`` make tiny networks for tests).
        compile_networks: the fast path (``Method.compile``: ``torch.compile`` of every network; the first run
            pays the compile time).
    """

    def __init__(self, method: str, weights_dir: str | Path | None = None,
                 device: str | torch.device | None = None, preprocessor: Preprocessor | None = None,
                 seed: int = 0, network_overrides: dict[str, Any] | None = None,
                 compile_networks: bool = False) -> None:
        self.card = methods.card(method)
        check_weights_dir(weights_dir)
        self.method: Method = methods.create(method, network_overrides)
        self.weights_dir = weights_dir
        self.device = _pick_device(device)
        self.preprocessor = preprocessor or Preprocessor(weights_dir, self.device)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise InputError(f"the seed must be an integer, got {type(seed).__name__}")
        if not 0 <= seed <= MAX_SEED:
            shown = str(seed) if seed.bit_length() <= 100 else f"an integer of {seed.bit_length():,} bits"
            raise InputError(f"the seed must be an integer from 0 to 2**64 - 1 (torch's seed range), got {shown}")
        self.seed = seed
        self.compile_networks = bool(compile_networks)
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Build the method's networks and load their weights (strict); done once, before any preprocessing."""
        with self._load_lock:
            self.method.load(self.weights_dir, self.device)
            if self.compile_networks:
                if self.card.compile_note:
                    log.warning("--compile with %s: %s", self.card.title, self.card.compile_note)
                self.method.compile()

    def check_ready(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None,
                    networks: bool = True) -> None:
        """Fail early, inputs first: the two photos must be images (a text file is "not an image", whatever else is
        missing), then every weight file the run needs and cannot get now is named in one ``WeightsError`` (the
        method's networks unless ``networks`` is False, and the estimators of what is not supplied).

        Raises:
            InputError: a photo is not a readable image. WeightsError: weights missing (all of them, at once).
        """
        from .images import open_image
        from .weights import missing_weights_error

        for src, what in ((person, "person photo"), (cloth, "garment photo")):
            if isinstance(src, (str, os.PathLike, bytes)):
                img, _ = open_image(src, what)
                img.close()
        supplied = {k for k, v in (("pose", pose), ("parsing", parsing)) if v is not None}
        keys = [key for _, key in self.card.weights] if networks and not self.method.loaded else []
        estimators = self.preprocessor.estimator_weights(self.card.needs, supplied)
        avoid = {n.estimator: n.supply for n in NEEDS.values() if n.estimator in estimators}
        error = missing_weights_error([*keys, *estimators], self.card.title, self.weights_dir, avoid)
        if error is not None:
            raise error

    def preprocess(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                   body_mask: Any = None, progress: Progress | None = None) -> Preprocessed:
        """The method's preprocessing alone (see ``__call__`` for the arguments)."""
        self.check_ready(person, cloth, pose=pose, parsing=parsing, networks=False)
        trace = Trace(progress, len(preprocess_steps(self.card.needs)))
        return self.preprocessor(person, cloth, trace, needs=self.card.needs, pose=pose, parsing=parsing,
                                 cloth_mask=cloth_mask, body_mask=body_mask, card=self.card)

    def plan(self) -> tuple[str, ...]:
        """Every step a run reports, in order (progress totals come from this)."""
        loads = tuple(f"load_{name}" for name, _ in self.card.weights)
        return (*loads, *preprocess_steps(self.card.needs), *(s.key for s in self.card.steps), "paste_back")

    @torch.inference_mode()
    def __call__(self, person: Any, cloth: Any, *, pose: Any = None, parsing: Any = None, cloth_mask: Any = None,
                 body_mask: Any = None, progress: Progress | None = None) -> TryOnResult:
        """Run the whole chain.

        Args:
            person, cloth: photos (path, bytes, PIL image or ``(H, W, 3)`` uint8 array).
            pose: OpenPose JSON (path, bytes, text, dict) or a ``Pose`` in the photo's pixels; estimated when None
                (only if the method needs a pose).
            parsing: LIP parse PNG (path, bytes, array) or ``Parsing`` of the photo; estimated when None.
            cloth_mask: garment mask (path, bytes, array); computed when None.
            body_mask: body mask (path, bytes, array); from the parsing when None.
            progress: ``progress(step, done, total)``.
        """
        self.check_ready(person, cloth, pose=pose, parsing=parsing)
        trace = Trace(progress, len(self.plan()), self.card.stages)
        for name, _ in self.card.weights:  # a missing-weights error comes before minutes of preprocessing
            trace.step(f"load_{name}", self.load)
        pre = self.preprocessor(person, cloth, trace, needs=self.card.needs, pose=pose, parsing=parsing,
                                cloth_mask=cloth_mask, body_mask=body_mask, card=self.card)
        pre.record_stages(trace, self.card.preprocess_stages)
        torch.manual_seed(self.seed)
        self.method.seed = self.seed
        try:
            out = self.method.run(pre, trace)
        except VtonError as e:  # a refusal keeps the stages computed so far, so the user sees why
            e.stages = tuple(trace.stages(self.card.preprocess_stages + self.card.stages))
            raise
        self.preprocessor.account(pre)  # person features the method kept now count in the cache's byte bound
        _check_output(self.card, out)
        pasted = trace.step("paste_back", lambda: _paste(out, pre))
        trace.record("pasted", lambda: np.asarray(pasted.convert("RGB")))
        missing = [s.key for s in self.card.stages if s.key not in trace.recorded]
        if missing:
            raise RuntimeError(f"method {self.card.id} did not record the stages {missing} its card declares")
        stages = tuple(trace.stages(self.card.preprocess_stages + self.card.stages))
        supplied = {k for k, v in (("pose", pose), ("parsing", parsing)) if v is not None}
        provenance = _provenance(self, pre, supplied)
        return TryOnResult(self.card, pre, out, pasted, stages, dict(trace.timings), provenance)


def _check_output(card: MethodCard, out: MethodOutput) -> None:
    w, h = card.frame
    if not isinstance(out, MethodOutput) or tuple(out.tryon.shape) != (1, 3, h, w):
        got = tuple(out.tryon.shape) if isinstance(out, MethodOutput) else type(out).__name__
        raise RuntimeError(f"method {card.id} returned {got}; a try-on is (1, 3, {h}, {w})")
    if np.asarray(out.region).shape != (h, w):
        raise RuntimeError(f"method {card.id} returned a region of shape {np.asarray(out.region).shape}")


def _paste(out: MethodOutput, pre: Preprocessed) -> Image.Image:
    from .preprocess.framing import paste_back

    region = np.clip(np.asarray(out.region, np.float32), 0.0, 1.0)
    return paste_back(to_pil(out.tryon.detach().float().cpu()), pre.transform, pre.photo, mask=region, feather=1.5)


def _provenance(pipe: TryOnPipeline, pre: Preprocessed, supplied: set[str]) -> dict[str, Any]:
    from . import __version__
    from .weights import availability

    card = pipe.card
    status = availability(pipe.weights_dir)
    estimators = {key: status.get(key, "unknown") for key in pipe.preprocessor.estimator_weights(card.needs, supplied)}
    nets = {name: info.as_dict() for name, info in pipe.method.loaded.items()}
    return {
        "vton_version": __version__,
        "method": card.id,
        "method_title": card.title,
        "licence": card.licence,
        "device": _device_used(pipe),
        "device_requested": str(pipe.device),
        "seed": pipe.seed,
        "compiled": pipe.compile_networks,
        **({"compile_note": card.compile_note} if pipe.compile_networks and card.compile_note else {}),
        "networks": nets,
        "random_weights": any(n["random"] for n in nets.values()),
        "unverified_weights": [k for k, n in nets.items() if not n["verified"]],
        "estimators": estimators,
        "inputs_sha256": dict(pre.input_sha256),
        "sources": dict(pre.sources),
        "cached_steps": sorted(pre.cached),
        "warnings": list(pre.warnings),
        "photo_size": list(pre.photo.size),
    }


def _device_used(pipe: TryOnPipeline) -> str:
    """The device the method's networks ran on; a method without networks computes on the CPU."""
    from .devices import device_used

    nets = getattr(pipe.method, "nets", {}) or {}
    params = (next(iter(net.parameters()), None) for net in nets.values())
    return device_used(p.device for p in params if p is not None)
