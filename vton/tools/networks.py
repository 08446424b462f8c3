"""What the method registry says about networks, for the tools: which method owns a manifest key, which methods
have networks, which methods have a network of a given name (the ``--<network> PATH`` flags), and each network's
converter.

Nothing here names a method: everything is read from the cards (:mod:`vton.methods`).
"""

from __future__ import annotations

__all__ = ["method_network", "methods_with_weights", "network_flags", "converter"]


def method_network(key: str):
    """``(Method, network name)`` of the registered method whose card lists manifest ``key``; None if none does."""
    from vton import methods

    for c in methods.cards():
        for name, k in c.weights:
            if k == key:
                return methods.create(c.id), name
    return None


def methods_with_weights() -> tuple[str, ...]:
    """Ids of the registered methods that have networks (the training-free ones have nothing to write)."""
    from vton import methods

    return tuple(c.id for c in methods.cards() if c.weights)


def network_flags() -> dict[str, list[str]]:
    """Every network name of the registered cards → the method ids that have it (for ``--<network> PATH``)."""
    from vton import methods

    flags: dict[str, list[str]] = {}
    for c in methods.cards():
        for name, _ in c.weights:
            flags.setdefault(name, []).append(c.id)
    return flags



def converter(key: str):
    """The converter of manifest ``key``'s authors' original: ``Method.converter`` of the registered method whose card
    lists it (its key renames and shape checks), else ``read_checkpoint`` (a network no method lists)."""
    from vton.weights import read_checkpoint

    found = method_network(key)
    if found is None:
        return read_checkpoint
    method, name = found
    return method.converter(name)
