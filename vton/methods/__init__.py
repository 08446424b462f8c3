"""The try-on methods: one package per method behind one registry.

Each sub-package of ``vton/methods/`` that has a ``card.py`` defining ``CARDS`` (a tuple of
:class:`~vton.methods.base.MethodCard`) is a method package. :func:`cards` imports only those light modules (no
torch network is built); :func:`create` imports the card's ``factory`` on demand. Nothing outside a method's
package names its id: the pipeline, the app, the CLI and the API iterate over :func:`cards`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import lru_cache
from pathlib import Path
from typing import Any

from vton.errors import InputError
from vton.methods.base import Method, MethodCard
from vton.run import NEEDS

__all__ = ["cards", "card", "ids", "create", "build_network", "describe", "MethodCard", "Method"]


@lru_cache(maxsize=1)
def _registry() -> dict[str, MethodCard]:
    found: dict[str, MethodCard] = {}
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        try:
            mod = importlib.import_module(f"{__name__}.{info.name}.card")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{info.name}.card":
                continue  # a helper package without a card
            raise
        for c in getattr(mod, "CARDS", ()):
            if c.id in found:
                raise RuntimeError(f"method id {c.id!r} is declared twice ({info.name})")
            found[c.id] = c
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def cards() -> tuple[MethodCard, ...]:
    """Every registered card, in display order. Builds no network."""
    return tuple(_registry().values())


def ids() -> tuple[str, ...]:
    return tuple(_registry())


def card(method_id: Any) -> MethodCard:
    """The card of ``method_id``; a clear ``InputError`` listing the ids otherwise."""
    reg = _registry()
    if not isinstance(method_id, str):
        raise InputError(f"a method is named by its id (a string), got {type(method_id).__name__}; "
                         f"vton has: {', '.join(reg)}")
    if method_id not in reg:
        shown = repr(method_id) if len(method_id) <= 60 else f"{method_id[:60]!r}… ({len(method_id):,} characters)"
        raise InputError(f"unknown method {shown}; vton has: {', '.join(reg)}")
    return reg[method_id]


def create(method_id: Any, network_overrides: dict[str, Any] | None = None) -> Method:
    """A new ``Method`` for ``method_id`` (its networks are built and loaded by ``Method.load``, with
    ``network_overrides`` applied to their configs: tiny networks for plumbing tests)."""
    c = card(method_id)
    module, _, cls = c.factory.partition(":")
    return getattr(importlib.import_module(module), cls)(c, network_overrides)


def build_network(method_id: str, name: str, **overrides: Any):
    """A freshly initialised network ``name`` of ``method_id`` in eval mode (``create(method_id).build_network``)."""
    return create(method_id).build_network(name, **overrides)


COSTS_FILE = Path(__file__).with_name("costs.json")  # written by bench/bench_costs.py, read here only


def cost(method_id: str) -> dict[str, Any] | None:
    """What a run of ``method_id`` cost when ``bench/bench_costs.py`` last measured it (``costs.json``): seconds for
    a try-on with the person's annotations supplied (``tryon_s``) and for a garment swap on a cached person
    (``swap_s``), per device, with the machine they were measured on; None when never measured."""
    try:
        data = json.loads(COSTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    row = data.get("methods", {}).get(method_id) if isinstance(data, dict) else None
    if not isinstance(row, dict):
        return None
    return {**row, "machine": data.get("machine", ""), "measured": data.get("measured", "")}


def cost_text(method_id: str) -> str:
    """``cost`` as one line ("~0.9 s a try-on, ~0.3 s a garment swap (CPU, 2 threads, …)"), or ''."""
    c = cost(method_id)
    if not c:
        return ""
    parts = []
    for device, row in sorted((c.get("devices") or {}).items()):
        parts.append(f"~{row['tryon_s']:.2g} s a try-on, ~{row['swap_s']:.2g} s a garment swap on {device}")
    return "; ".join(parts) + (f" (measured on {c['machine']})" if c.get("machine") else "")


def describe(method_id: str, weights_dir: Any = None) -> dict[str, Any]:
    """The card as JSON plus, per network, where its weights are and whether the method is ready to run.

    ``weights`` maps each network to ``{"key", "status", "verified", "random", "source", "download_bytes",
    "licence"}``: status ``local`` / ``cached`` (on this machine), ``hub`` (vton's file, downloadable at a pinned
    revision), ``mirror`` (a pinned third-party copy of the authors' original, downloaded and converted on first
    use) or ``unpublished``; ``source`` says where the weights come from in words; ``verified`` is False for a
    local file with no declared sha256; ``state`` is the typed ``vton.weights.Readiness`` these fields come from and
    ``readiness`` its phrase (``vton.weights.readiness_text``: "ready (downloads 293 MB on first use)"); ``how_to``
    is the one-line fix when something is missing (offline: which mirror it needs); ``estimator_licences`` the
    licences of the estimators this method runs when no annotation is supplied (a method that needs no pose runs no
    OpenPose, so its licence does not apply).
    """
    from vton import weights as w

    c = card(method_id)
    state = w.readiness(c.weights, weights_dir)
    how_to = "" if state.ready else w.how_to_get(c.weight_keys, weights_dir)
    estimators = {n.estimator: w.entry(n.estimator).licence for n in NEEDS.values() if n.estimator and n.key in c.needs}
    return {**c.as_dict(), **state.as_dict(), "state": state, "estimator_licences": estimators, "how_to": how_to,
            "cost": cost(method_id), "cost_text": cost_text(method_id)}
