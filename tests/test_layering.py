"""The run's ground layer stays at the bottom (issue 19): the run's vocabulary (``vton.run``) imports nothing of vton,
the preprocessing (runner, sides, cache) and the output checks import nothing above them, and ``methods/base.py``
does not reach up into the pipeline or the result record. Function-level (lazy) imports count too: a lazy import is
still an arrow."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VTON = ROOT / "vton"

# modules above the floors checked here (the pipeline's floor and everything that builds on it)
ABOVE_PREPROCESS = ("vton.methods", "vton.pipeline", "vton.result", "vton.datasets", "vton.evaluate", "vton.study",
                    "vton.tools", "vton.web", "vton.cli", "vton.study_ui")


def _imports(path: Path) -> set[str]:
    """Every vton module ``path`` imports (absolute names), at module level or inside functions."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in found if m == "vton" or m.startswith("vton.")}


def _names(mods: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == p or m.startswith(p + ".") or m.startswith(p + "_") for p in prefixes))


def test_the_run_vocabulary_imports_nothing_of_vton():
    assert _imports(VTON / "run.py") == set()


@pytest.mark.parametrize("name", ["runner.py", "sides.py", "cache.py", "framing.py", "cloth_mask.py"])
def test_the_preprocessing_imports_nothing_above_it(name):
    assert _names(_imports(VTON / "preprocess" / name), ABOVE_PREPROCESS) == []


def test_the_output_checks_import_nothing_above_them():
    assert _names(_imports(VTON / "outputs.py"), ABOVE_PREPROCESS) == []


def test_the_method_interface_does_not_reach_up_into_the_pipeline():
    assert _names(_imports(VTON / "methods" / "base.py"), ("vton.pipeline", "vton.result", "vton.datasets")) == []
    assert _names(_imports(VTON / "pipeline.py"), ("vton.datasets",)) == []


@pytest.mark.parametrize("first", ["vton.methods", "vton.methods.base", "vton.preprocess.runner", "vton.result"])
def test_each_layer_imports_on_its_own(first):
    """No import circle: each module imports first in a fresh interpreter (a circle fails for one of them)."""
    out = subprocess.run([sys.executable, "-c", f"import {first}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
