"""``python -m vton prepare``: every ``pth`` entry and every mirror-only network made ready ahead of time (the
Space runs it at start, so no request waits for a download), each mirror's original converted with its method's
converter (:func:`vton.tools.networks.converter`).
"""

from __future__ import annotations

import os
from pathlib import Path

from vton import weights

from .networks import converter

__all__ = ["prepare_converted"]


def prepare_converted(weights_dir: str | os.PathLike | None = None, *, download: bool = True,
                      strict: bool = False) -> list[Path]:
    """``vton.weights.prepare_files`` with each network's converter; the files made ready.

    An entry that cannot be had is logged and skipped; with ``strict`` a local file that is present but refused
    raises its ``WeightsError`` instead (the CLI's exit status).
    """
    todo = [key for key, e in weights.manifest().items() if e.mirrors]
    return weights.prepare_files(weights_dir, download=download, strict=strict,
                                 converters={key: converter(key) for key in todo})
