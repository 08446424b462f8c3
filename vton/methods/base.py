"""What every try-on method declares (its card) and implements (the ``Method`` interface).

The registry (:mod:`vton.methods`) reads cards without building a network; the pipeline, the app, the CLI and the
API are written against these types and the run's vocabulary (:mod:`vton.run`: steps, stages, the trace, the
needs and the frame, re-exported here for method packages), so adding a method is one new package under
``vton/methods/`` (a ``card.py`` with its ``CARDS`` and a module with its ``Method`` subclass) plus its rows in the
weights manifest.
The pattern follows timm's ``@register_model`` + ``PretrainedCfg`` (licence, paper and origin beside the
architecture) and diffusers' one folder per pipeline with lazy imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from vton.errors import InputError, WeightsError
from vton.run import (
    FRAME,
    NEEDS,
    PASTED_STAGE,
    PREPROCESS_STAGES,
    SECTIONS,
    TRYON_STAGE,
    Progress,
    Section,
    Stage,
    StageSpec,
    StepSpec,
    Trace,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from vton.preprocess.sides import Preprocessed

__all__ = [
    "NEEDS", "SECTIONS", "Section", "StepSpec", "StageSpec", "MethodCard", "MethodOutput", "Stage", "Trace",
    "Method", "LoadedNetwork", "TRYON_STAGE", "PASTED_STAGE", "Progress", "PointTable", "PublishedScore",
    "OverlaySpec",
]

_SECTION_IDS = tuple(s.id for s in SECTIONS)


@dataclass(frozen=True)
class PointTable:
    """A table of points the page shows beside a method's warp: one row per item of the run's ``data[key]`` (a list
    of dicts with the same keys, or of ``[x, y]`` pairs); ``title`` heads it."""

    key: str
    title: str


@dataclass(frozen=True)
class OverlaySpec:
    """The picture the page shows beside its before/after slider: the warped garment over the person.

    ``stage`` is that picture when ``over`` is empty; otherwise ``stage`` is the warped garment on white, laid over
    the stage ``over`` (the framed person) where the garment is.
    """

    stage: str
    over: str = ""


@dataclass(frozen=True)
class PublishedScore:
    """A score a paper printed for a method, shown beside vton's own (``python -m vton evaluate``).

    ``metric`` is ``ssim``, ``lpips``, ``fid`` or ``kid``; ``mode`` ``paired`` or ``unpaired``; ``split`` names the
    test set (e.g. "VITON test, original split"); ``source`` the paper and table; ``note`` a caveat such as "to be
    checked against the paper".
    """

    metric: str
    value: float
    mode: str
    split: str
    source: str
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": self.value, "mode": self.mode, "split": self.split,
                "source": self.source, "note": self.note}


@dataclass(frozen=True)
class MethodCard:
    """Everything a user, the app and the CLI know of a method before any network is built.

    Attributes:
        id: registry id (``--method``).
        title: display name.
        summary: one line: what the method does.
        paper: citation.
        repo: the authors' repository (URL, with the commit the facts were read at).
        licence: licence of the method's code and released weights.
        needs: keys of :data:`NEEDS` the method reads; the pipeline computes only these.
        weights: ``(network name, manifest key)`` pairs; empty for a training-free method.
        steps: the method's timed steps, in order (``load_*`` steps are added by the pipeline).
        stages: the stages it shows, in order, ``tryon`` and ``pasted`` among them.
        section_notes: per section id, what the reader sees there for this method.
        frame: ``(W, H)`` of the method's person frame.
        min_pose_points: fewest present keypoints a pose must have (when ``pose`` is needed).
        required_keypoints: COCO-18 names that must be present (when ``pose`` is needed).
        factory: ``"module:Class"`` of the :class:`Method` subclass, imported only when the method is created.
        order: position in lists (lower first).
        point_table: the points the page lists under the warp (θ's control points, matched pairs), or None.
        overlay: the warped garment over the person, as the page shows it beside the try-on, or None.
        test_overrides: network config overrides that make the networks tiny, for plumbing tests with random
            weights (``write_random_weights(..., **test_overrides)`` and ``TryOnPipeline(network_overrides=...)``).
        compile_note: what ``--compile`` costs for this method when that is notable (minutes of compile time);
            said before compiling starts (CLI, log) and recorded in ``result.json``.
        published: the scores the papers printed for this method (shown beside ``vton evaluate``'s own).
        body_mask_threshold: the grey level from which a pixel of a supplied body mask counts as body (when
            ``body_mask`` is needed); 128 is the mask files' convention (``vton.formats``).
        preprocess_captions: per preprocessing stage key, the caption this method gives it (what the stage is to
            this method, e.g. which of its inputs it becomes); the shared caption otherwise.
    """

    id: str
    title: str
    summary: str
    paper: str
    repo: str
    licence: str
    needs: frozenset[str]
    weights: tuple[tuple[str, str], ...]
    steps: tuple[StepSpec, ...]
    stages: tuple[StageSpec, ...]
    factory: str
    section_notes: Mapping[str, str] = field(default_factory=dict)
    frame: tuple[int, int] = FRAME
    min_pose_points: int = 0
    required_keypoints: tuple[str, ...] = ()
    order: int = 100
    test_overrides: Mapping[str, Any] = field(default_factory=dict)
    point_table: PointTable | None = None
    overlay: OverlaySpec | None = None
    compile_note: str = ""
    published: tuple[PublishedScore, ...] = ()
    body_mask_threshold: int = 128
    preprocess_captions: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = set(self.needs) - set(NEEDS)
        if bad:
            raise ValueError(f"card {self.id!r}: unknown needs {sorted(bad)}; known: {sorted(NEEDS)}")
        steps = [s.key for s in self.steps]
        if len(set(steps)) != len(steps):
            raise ValueError(f"card {self.id!r}: duplicate step keys")
        keys = [s.key for s in self.stages]
        if len(set(keys)) != len(keys):
            raise ValueError(f"card {self.id!r}: duplicate stage keys")
        for s in self.stages:
            if s.section not in _SECTION_IDS:
                raise ValueError(f"card {self.id!r}: stage {s.key!r} has unknown section {s.section!r}")
            if s.step not in steps and s.step != "paste_back":
                raise ValueError(f"card {self.id!r}: stage {s.key!r} names undeclared step {s.step!r}")
        if self.overlay is not None and self.overlay.stage not in keys:
            raise ValueError(f"card {self.id!r}: the overlay names stage {self.overlay.stage!r}, not on the card")
        for must in ("tryon", "pasted"):
            if must not in keys:
                raise ValueError(f"card {self.id!r}: every method shows a {must!r} stage")
        bad = set(self.preprocess_captions) - {s.key for s in PREPROCESS_STAGES}
        if bad:
            raise ValueError(f"card {self.id!r}: captions for unknown preprocessing stages {sorted(bad)}")

    @property
    def preprocess_stages(self) -> tuple[StageSpec, ...]:
        """The preprocessing stages as this method shows them (its ``preprocess_captions`` applied)."""
        return tuple(replace(s, caption=self.preprocess_captions[s.key]) if s.key in self.preprocess_captions else s
                     for s in PREPROCESS_STAGES)

    @property
    def stage_keys(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.stages)

    @property
    def weight_keys(self) -> tuple[str, ...]:
        return tuple(k for _, k in self.weights)

    def stage(self, key: str) -> StageSpec:
        for s in self.stages:
            if s.key == key:
                return s
        raise KeyError(key)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready card (no weight status; see ``vton.methods.describe``)."""
        return {
            "id": self.id, "title": self.title, "summary": self.summary, "paper": self.paper, "repo": self.repo,
            "licence": self.licence, "needs": sorted(self.needs), "weights": dict(self.weights),
            "frame": list(self.frame),
            "stages": [{"key": s.key, "title": s.title, "caption": s.caption, "section": s.section, "step": s.step}
                       for s in self.stages],
        }


@dataclass(frozen=True)
class MethodOutput:
    """What ``Method.run`` returns.

    Attributes:
        tryon: ``(1, 3, H, W) float32`` in [-1, 1], the try-on in the frame.
        region: ``(H, W) float32`` in [0, 1]: where the method changed the person; paste-back puts the try-on
            into the photo only there (feathered), so the photo's background stays the photo's.
        data: small named results for ``result.json`` and the API (θ, control points, noise seeds...).
        tensors: the intermediate tensors (CPU), for tests and tools; not serialised.
    """

    tryon: torch.Tensor
    region: np.ndarray
    data: Mapping[str, Any] = field(default_factory=dict)
    tensors: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedNetwork:
    """Where a network's weights came from (for ``result.json`` and the app)."""

    network: str
    key: str
    path: str
    sha256: str
    origin: str
    revision: str | None
    verified: bool
    random: bool
    source: str = ""
    licence: str = ""
    original: Mapping[str, Any] | None = None  # the pinned mirror of the authors' file (origin "mirror")

    def as_dict(self) -> dict[str, Any]:
        return {"network": self.network, "manifest_key": self.key, "file": self.path, "sha256": self.sha256,
                "origin": self.origin, "revision": self.revision, "verified": self.verified, "random": self.random,
                "source": self.source, "licence": self.licence, "original": dict(self.original or {}) or None}


class Method:
    """A try-on method: networks (if any) built and loaded by ``load``, then ``run`` on preprocessed inputs.

    Subclasses set nothing at class level; the registry passes the card. Override ``build_network`` (and
    ``adapt_state_dict`` when the authors' checkpoints need it) for methods with weights, and ``run``.
    """

    def __init__(self, card: MethodCard, network_overrides: Mapping[str, Any] | None = None) -> None:
        self.card = card
        self.network_overrides = dict(network_overrides or {})
        self.nets: dict[str, nn.Module] = {}
        self.loaded: dict[str, LoadedNetwork] = {}
        self.device: Any = "cpu"

    # -- networks --------------------------------------------------------------------------------------------------
    def build_network(self, name: str, **overrides: Any) -> nn.Module:
        """A freshly initialised network ``name`` in eval mode (weights are loaded next, strictly)."""
        raise InputError(f"method {self.card.id!r} has no network {name!r}")

    def adapt_state_dict(self, name: str, sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
        """The authors' checkpoint tensors → this implementation's keys (the one place a rename lives); notes."""
        return sd, []

    def converter(self, name: str) -> Callable[..., dict[str, torch.Tensor]]:
        """How the authors' original checkpoint of network ``name`` becomes this implementation's state dict:
        ``read_checkpoint`` (``torch.load(weights_only=True)``), ``adapt_state_dict``, and every key and shape checked
        against ``build_network(name)``. ``vton.weights`` converts a pinned mirror's verified original with it, once.
        """
        from vton.weights import check_state_dict, read_checkpoint

        def convert(original: Any, notes: list[str] | None = None) -> dict[str, torch.Tensor]:
            notes = [] if notes is None else notes
            sd, more = self.adapt_state_dict(name, read_checkpoint(original, notes=notes))
            notes.extend(more)
            expected = {k: tuple(v.shape) for k, v in self.build_network(name).state_dict().items()}
            diff = check_state_dict(expected, sd)
            if diff:
                raise WeightsError(f"{original} does not fit {self.card.title} {name}: {diff}.")
            return {k: v.contiguous() for k, v in sd.items()}  # a recomputed tensor may be a view: safetensors refuses

        return convert

    def load(self, weights_dir: Any = None, device: Any = "cpu") -> dict[str, LoadedNetwork]:
        """Build every network and load its weights strictly (before any preprocessing runs)."""
        from vton.weights import load_into, source_text

        self.device = device
        for name, key in self.card.weights:
            if name in self.nets:
                continue
            net = self.build_network(name, **self.network_overrides)
            info = load_into(net, key, weights_dir, convert=self.converter(name))
            self.nets[name] = net.to(device).eval()
            revision = {"hub": info.entry.revision, "mirror": info.mirror and info.mirror.revision}.get(info.origin)
            self.loaded[name] = LoadedNetwork(name, key, str(info.path), info.sha256, info.origin, revision,
                                              info.verified, info.entry.synthetic, source_text(info),
                                              info.entry.licence, info.mirror.as_dict() if info.mirror else None)
        return dict(self.loaded)

    def person_cached(self, pre: Any, key: tuple[Any, ...], fn: Callable[[], Any]) -> Any:
        """``fn()`` computed once per person: garment-independent values (person features, their drawings) are
        kept with the cached person side (``pre.person_cache``), so a garment swap on the same person reuses them.

        ``key`` must name everything besides the person that the value depends on (the network's weights digest).
        """
        store = getattr(pre, "person_cache", None)
        if store is None:
            return fn()
        k = (self.card.id, *key)
        if k not in store:
            store[k] = fn()
        return store[k]

    def compile(self) -> None:
        """The fast path: every loaded network wrapped by ``torch.compile`` (Inductor, weights frozen as constants).

        Compilation happens on the first call of each network, so the first run pays a one-off cost (tens of
        seconds on a CPU) that shows in its network steps' times. Off by default: on the 2-core CPU this project is
        measured on it did not pay off (``bench/bench_fastpath.py`` prints both); numbers equal eager fp32 to
        PSNR ≥ 60 dB on the golden inputs (``tests/test_fastpath.py``).
        """
        import torch
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
        for name, net in self.nets.items():
            if not hasattr(net, "_orig_mod"):
                self.nets[name] = torch.compile(net)

    # -- running ---------------------------------------------------------------------------------------------------
    def run(self, pre: Preprocessed, trace: Trace) -> MethodOutput:
        """Preprocessed inputs (frame-sized) → the try-on; records the card's stages on ``trace``."""
        raise NotImplementedError
