"""Hugging Face Space helpers: the ZeroGPU decorator, the address to bind, and the one start-up install.

Serves the app of this project (``app.py``); a Space installs ``requirements.txt`` only, so what it cannot express
(controlnet-aux without its dependencies) is installed here once at start-up, as ``scripts/install.sh`` does locally.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

__all__ = ["gpu", "CONTROLNET_AUX", "ensure_space_dependencies", "server_host"]

log = logging.getLogger(__name__)


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

