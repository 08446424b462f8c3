"""The shape of the house (issue 19), read from the source with ``ast``: floors, no import circles, sizes.

Every module under ``vton/`` (and ``app.py``) is parsed; its imports of vton modules are collected, the ones at
module level (what runs on import, ``if TYPE_CHECKING:`` blocks included: a type named across floors is still a
dependency) and the ones inside functions (a lazy import is still an arrow).

- **Floors** (``FLOORS`` below, the one map of them; ``docs/CONTRACTS.md`` and ``docs/registry.md`` point here): a
  module may import from its own floor or a lower one, never from a higher one, at module level or in a function.
- **No circles**: the module-level import graph among vton modules has no cycle (a strongly connected component of
  more than one module, or a module importing itself).
- **Sizes**: a module holds at most ``MAX_MODULE_LINES`` = 500 lines and a function (a method, a nested function,
  each counted on its own and inside its parent) at most ``MAX_FUNCTION_LINES`` = 100 lines, counted from the
  ``def`` line to its last line, docstring and comments included. These are the issue's "one job per module" and
  "a function does one thing" as numbers we can hold: the issue asks for about 450 and about 80, and the test
  allows that much again in slack so that a docstring or a guard more does not break it, while a file doing two
  jobs (every one the issue measured was 600 or more) or a function with several seams (``build_demo`` was 320)
  still fails.

There is no list of accepted violations: while issue 19's moves were in flight one was kept (each entry had to
still be violated), and it emptied as they landed. A new violation is fixed, not listed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 100

# The floors, lowest first (issue 19). A key is a module or a package (which covers its submodules); the longest
# key that covers a module gives its floor. A module no key covers fails the test: give it a floor here.
FLOORS: dict[str, int] = {
    # 0 — the ground: errors, labels, annotations, encodings, images, formats, geometry, devices, the run's types
    "vton": 0,  # the package itself (its __init__ imports nothing)
    "vton.errors": 0,
    "vton.labels": 0,
    "vton.encodings": 0,
    "vton.images": 0,
    "vton.decoding": 0,
    "vton.outputs": 0,  # checking output files and folders before anything is computed
    "vton.unzip": 0,
    "vton.formats": 0,
    "vton.geometry": 0,
    "vton.devices": 0,
    "vton.run": 0,  # the run's types (Section, StepSpec, StageSpec, Stage, Trace, Progress, needs, frames)
    "vton.annotations": 0,  # Pose and Parsing, on floor 1 in issue 19's plan; formats and encodings read them
    "vton.testing": 0,  # reading golden fixtures (tests only)
    # 1 — weights, preprocessing, consistency checks, pictures
    "vton.weights": 1,
    "vton.preprocess": 1,
    "vton.consistency": 1,
    "vton.visualize": 1,
    "vton.synthetic": 1,  # drawn test people and garments with their annotations
    # 2 — the methods: base and registry, one package per method
    "vton.methods": 2,
    # 3 — the pipeline and what runs it over many pairs
    "vton.pipeline": 3,
    "vton.result": 3,  # the result record and its serialisation
    "vton.datasets": 3,
    "vton.evaluate": 3,
    "vton.study": 3,
    # 4 — the front doors: tools, the page, the command line
    "vton.tools": 4,
    "vton.web": 4,
    "vton.cli": 4,
    "vton.__main__": 4,
    "app": 4,
}



@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported vton module
    line: int
    in_function: bool


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module under vton/ and app.py, by dotted name."""
    paths = sorted((ROOT / "vton").rglob("*.py")) + [ROOT / "app.py"]
    return {_module_name(p): p for p in paths}


@cache
def _tree(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _targets(name: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The vton modules one import statement names (``from pkg import sub`` names ``pkg.sub`` when it is a module)."""
    known = modules()
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name == "vton" or a.name.startswith("vton.")]
    if node.level:
        package = name.split(".") if modules()[name].name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base != "vton" and not base.startswith("vton."):
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def _imports_under(name: str, node: ast.AST, in_function: bool) -> list[Import]:
    found: list[Import] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.extend(Import(name, t, child.lineno, in_function) for t in _targets(name, child))
        inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        found.extend(_imports_under(name, child, inside))
    return found


@cache
def imports() -> tuple[Import, ...]:
    """Every import of a vton module by a vton module (or app.py), module-level and in functions."""
    return tuple(i for name in modules() for i in _imports_under(name, _tree(name), False))


def floor_of(name: str) -> int:
    covering = [k for k in FLOORS if name == k or name.startswith(k + ".")]
    assert covering, f"{name} has no floor: add it (or its package) to FLOORS in tests/test_layers.py"
    return FLOORS[max(covering, key=len)]


def _cycles() -> set[tuple[str, ...]]:
    """The strongly connected components of the module-level import graph that are circles (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for i in imports():
        if not i.in_function and i.target in graph:
            graph[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules (about 100)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.add(("cycle", *sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _upward() -> set[tuple[str, ...]]:
    return {("upward", i.source, i.target) for i in imports()
            if i.target in modules() and floor_of(i.target) > floor_of(i.source)}


def _long_modules() -> set[tuple[str, ...]]:
    return {("module-lines", name) for name, path in modules().items()
            if len(path.read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES}


def _function_lengths(node: ast.AST, prefix: str) -> list[tuple[str, int]]:
    """``(qualified name, lines)`` of every function under ``node``, nested ones and methods included."""
    found: list[tuple[str, int]] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qual = f"{prefix}{child.name}"
            if not isinstance(child, ast.ClassDef):
                assert child.end_lineno is not None
                found.append((qual, child.end_lineno - child.lineno + 1))
            found.extend(_function_lengths(child, qual + "."))
        else:
            found.extend(_function_lengths(child, prefix))
    return found


def _long_functions() -> set[tuple[str, ...]]:
    return {("function-lines", f"{name}:{qual}") for name in modules()
            for qual, lines in _function_lengths(_tree(name), "") if lines > MAX_FUNCTION_LINES}


def _check(kind: str, violations: set[tuple[str, ...]]) -> None:
    assert not violations, f"{kind} violations (split or move the code; see this module's docstring): " \
                           f"{sorted(violations)}"


def test_the_parser_sees_the_imports_it_should():
    """The graph is not empty by mistake: a few arrows every version of the tree has."""
    arrows = {(i.source, i.target) for i in imports()}
    assert ("vton.images", "vton.errors") in arrows
    assert len(modules()) > 50 and len(arrows) > 200
    assert all(i.source in modules() for i in imports())
    assert any(i.in_function for i in imports()) and any(not i.in_function for i in imports())


def test_every_module_has_a_floor():
    missing = sorted(m for m in modules() if not any(m == k or m.startswith(k + ".") for k in FLOORS))
    assert not missing, f"give these a floor in FLOORS (tests/test_layers.py): {missing}"


def test_no_import_cycles():
    _check("cycle", _cycles())


def test_no_module_imports_from_a_higher_floor():
    _check("upward", _upward())


def test_the_run_vocabulary_imports_nothing_of_vton():
    """``vton.run`` is the bottom of the run: stricter than its floor, it imports no other vton module at all."""
    assert [i.target for i in imports() if i.source == "vton.run"] == []


def test_the_pipeline_does_not_reach_into_the_datasets():
    """Same floor, still the wrong way: the output checks the pipeline needs live in ``vton.outputs``."""
    assert [i.target for i in imports() if i.source == "vton.pipeline" and i.target.startswith("vton.datasets")] == []


@pytest.mark.parametrize("first", ["vton.methods", "vton.methods.base", "vton.preprocess.runner", "vton.result"])
def test_each_layer_imports_on_its_own(first):
    """No import circle at run time either: each module imports first in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", f"import {first}"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def test_modules_stay_under_the_line_limit():
    _check("module-lines", _long_modules())


def test_functions_stay_under_the_line_limit():
    _check("function-lines", _long_functions())
