"""The import contracts in pyproject.toml name every module of the window, so none escapes them.

The contracts list the window's modules by name (import-linter has no "all but these"): a module
added to gui/ without being placed in a layer would be checked by nothing. This test fails then.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The composition root (and the package, which re-exports it lazily).
TOP = {"__init__", "main_window"}


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _names(modules: object) -> set[str]:
    assert isinstance(modules, list)
    return {str(m).removeprefix("backprop_lab.gui.") for m in modules}


def test_every_window_module_is_placed_in_the_layers():
    contracts = _contracts()
    below_window = _names(
        contracts[next(n for n in contracts if n.startswith("Only the launcher"))]["source_modules"]
    )
    on_disk = {p.stem for p in (ROOT / "gui").glob("*.py")}
    assert on_disk - TOP == below_window, "place each gui module in the contracts of pyproject.toml"


def test_controllers_sit_above_the_panels():
    contracts = _contracts()
    panels = contracts["Panels and support modules never import the controllers"]
    below = _names(panels["source_modules"])
    controllers = _names(panels["forbidden_modules"])
    assert controllers and not below & controllers
    assert all(name.endswith(("_controller", "_keeper")) for name in controllers)


_CYCLES = """
import sys
import grimp

graph = grimp.build_graph("backprop_lab")
modules = sorted(graph.modules)
edges = {m: sorted(set(graph.find_modules_directly_imported_by(m)) & set(modules)) for m in modules}
# Tarjan's strongly connected components; a component of more than one module is a cycle.
index, low, stack, on_stack, cycles = {}, {}, [], set(), []
def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in edges[v]:
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
        if len(component) > 1:
            cycles.append(sorted(component))
sys.setrecursionlimit(10_000)
for m in modules:
    if m not in index:
        visit(m)
print(len(modules), cycles)
"""


def test_the_import_graph_has_no_cycle(tmp_path):
    """Every import counts, a lazy one inside a function and a TYPE_CHECKING one included."""
    pytest.importorskip("grimp")
    package = tmp_path / "backprop_lab"  # laid out as installed: the mapping grimp cannot follow
    shutil.copytree(ROOT / "backprop_lab", package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("engine", "gui"):
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run(
        [sys.executable, "-c", _CYCLES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    count, cycles = result.stdout.split(" ", 1)
    assert int(count) > 40  # the whole package was read
    assert cycles.strip() == "[]"
