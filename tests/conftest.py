"""Shared test fixtures: the golden-fixture folder and the fixture loader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The tests never reach the Hub: weights are generated into local folders. Set before huggingface_hub is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def golden_dir() -> Path:
    return Path(os.environ.get("VTON_GOLDEN_DIR", str(ROOT.parent / "shared" / "golden" / "public"))).resolve()


@pytest.fixture(scope="session")
def golden():
    """``golden(name) -> (tensors, metadata)`` for ``<VTON_GOLDEN_DIR>/<name>.safetensors``.

    Fails (never skips) when the folder or the file is missing: the golden checks are the proof of equivalence.
    """
    from vton.testing import load_fixture

    root = golden_dir()
    if not root.is_dir():
        pytest.fail(f"golden fixture folder {root} is missing (set VTON_GOLDEN_DIR)")

    def _load(name: str):
        path = root / f"{name}.safetensors"
        if not path.is_file():
            pytest.fail(f"golden fixture {path} is missing")
        return load_fixture(path)

    return _load


@pytest.fixture(scope="session")
def golden_root() -> Path:
    root = golden_dir()
    if not root.is_dir():
        pytest.fail(f"golden fixture folder {root} is missing (set VTON_GOLDEN_DIR)")
    return root


@pytest.fixture(scope="session")
def layouts_dir(golden_root) -> Path:
    """``layouts/`` beside the fixture folder (``<golden>/../layouts``)."""
    d = golden_root.parent / "layouts"
    if not d.is_dir():
        pytest.fail(f"golden layouts folder {d} is missing")
    return d


@pytest.fixture(scope="session")
def make_weights(golden_root):
    """The fixtures' own weight generator (``make_weights.py`` beside the fixture folder), imported once."""
    import importlib.util

    path = Path(golden_root).parent / "make_weights.py"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the golden weights cannot be regenerated")
    spec = importlib.util.spec_from_file_location("golden_make_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_hub_check_per_test(monkeypatch):
    """``vton.weights.hub.hub_mode`` decides once per process (and may switch huggingface_hub to offline); each test
    starts undecided, and whatever a test decided is undone after it."""
    import huggingface_hub.constants

    from vton import weights

    monkeypatch.setattr(weights.hub, "_hub_mode", {"mode": None})
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", huggingface_hub.constants.HF_HUB_OFFLINE)


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """Offline Hub, an empty Hugging Face cache, no weights folder from the environment, a private vton cache."""
    import huggingface_hub
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("VTON_WEIGHTS_DIR", raising=False)
    monkeypatch.delenv("VTON_MANIFEST", raising=False)
    monkeypatch.setenv("VTON_CACHE", str(tmp_path / "vton-cache"))
    return tmp_path


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never ``playwright install``). Fails, never skips, when it is
    missing: ``bash scripts/install.sh --test`` installs it, and a browser test that did not run must not pass."""
    from helpers_app import CHROMIUM, CHROMIUM_ARGS
    from playwright import sync_api

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is not installed (bash scripts/install.sh --test installs it)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
