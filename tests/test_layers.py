"""The import contracts in pyproject.toml name every module of the window, so none escapes them.

The contracts list the window's modules by name (import-linter has no "all but these"): a module
added to gui/ without being placed in a layer would be checked by nothing. This test fails then.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

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
