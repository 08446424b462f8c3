"""The try-on networks by method id, and one place that builds them."""

from __future__ import annotations

from torch import nn

from vton.errors import InputError
from vton.models.cpvton import GMM, TOM, CPVTONConfig

__all__ = ["NETWORKS", "METHOD_VARIANT", "build_network", "CPVTONConfig", "GMM", "TOM"]

NETWORKS: dict[str, tuple[str, ...]] = {"cp-vton": ("gmm", "tom"), "cp-vton+": ("gmm", "tom")}
METHOD_VARIANT: dict[str, str] = {"cp-vton": "original", "cp-vton+": "plus"}

_BUILDERS = {"gmm": GMM, "tom": TOM}


def build_network(method: str, network: str, **overrides) -> nn.Module:
    """A freshly initialised network of ``method`` in eval mode (load weights with ``strict=True`` next).

    Args:
        method: a method id, e.g. ``"cp-vton"`` or ``"cp-vton+"``.
        network: one of ``NETWORKS[method]``, e.g. ``"gmm"``.
        **overrides: :class:`CPVTONConfig` fields to change (e.g. ``ngf=8`` for tests).

    Raises:
        InputError: unknown method, network or config field.
    """
    if method not in NETWORKS:
        raise InputError(f"unknown method {method!r}; valid methods: {', '.join(sorted(NETWORKS))}")
    if network not in NETWORKS[method]:
        raise InputError(f"method {method!r} has no network {network!r}; valid networks: {', '.join(NETWORKS[method])}")
    if "variant" in overrides:
        raise InputError(f"the variant is set by the method ({method!r} -> {METHOD_VARIANT[method]!r})")
    try:
        cfg = CPVTONConfig(variant=METHOD_VARIANT[method], **overrides)  # type: ignore[arg-type]
    except TypeError as e:
        raise InputError(f"bad network option for {method}/{network}: {e}") from e
    return _BUILDERS[network](cfg).eval()
