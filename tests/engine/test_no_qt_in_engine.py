"""The engine is pure Python: it never imports Qt, pyqtgraph, numpy or the GUI, and PyTorch only lazily.

Two guards: a fresh interpreter imports every engine module and looks at ``sys.modules``
(catches indirect imports), and an AST walk over engine/*.py finds every import statement
and ``importlib.import_module``/``__import__`` call, at module level or inside functions
(catches imports on paths the first guard never runs). The import-linter contract in
pyproject.toml says the same for CI's ``lint-imports``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
FORBIDDEN = frozenset({"PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph", "numpy", "torch"})
#: Parts of Backprop Lab above the engine: the window and the command line.
FORBIDDEN_OWN = (
    "backprop_lab.gui",
    "backprop_lab.check",
    "backprop_lab.train",
    "backprop_lab.report",
    "backprop_lab.cli",
    "backprop_lab.variant_options",
)
#: The one place PyTorch may be imported: inside a function of engine/torch_check.py.
LAZY_TORCH = "torch_check.py"


def _engine_modules() -> list[str]:
    return sorted(
        f"backprop_lab.engine.{p.stem}" if p.stem != "__init__" else "backprop_lab.engine"
        for p in ENGINE.glob("*.py")
    )


def _is_forbidden(name: str) -> bool:
    return name.split(".")[0] in FORBIDDEN or any(
        name == own or name.startswith(own + ".") for own in FORBIDDEN_OWN
    )


def forbidden_imports(source: str, filename: str) -> list[str]:
    """``file:line: what`` for each forbidden import in ``source`` (module level or not)."""
    tree = ast.parse(source, filename)
    # Which nodes sit inside a function body (torch is allowed there, in torch_check.py only).
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(child) for child in ast.walk(node) if child is not node)
    problems = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from backprop_lab import check`` imports backprop_lab.check.
            module = node.module
            names = [module] if _is_forbidden(module) else [f"{module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if callee in {"import_module", "__import__"} and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names = [first.value]
        for name in names:
            top = name.split(".")[0]
            if not _is_forbidden(name):
                continue
            if top == "torch" and Path(filename).name == LAZY_TORCH and id(node) in in_function:
                continue
            problems.append(f"{Path(filename).name}:{node.lineno}: imports {name}")
    return problems


def test_importing_every_engine_module_pulls_in_no_qt_numpy_or_torch():
    modules = _engine_modules()
    assert {
        "backprop_lab.engine",
        "backprop_lab.engine.model",
        "backprop_lab.engine.gradcheck",
        "backprop_lab.engine.torch_check",
    } <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"own = {FORBIDDEN_OWN!r}\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}\n"
        "             or any(m == o or m.startswith(o + '.') for o in own))\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the engine imported {result.stdout.strip()}"


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda p: p.name)
def test_no_engine_file_contains_a_forbidden_import(path):
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


def test_torch_check_imports_torch_only_inside_a_function():
    source = (ENGINE / LAZY_TORCH).read_text(encoding="utf-8")
    tree = ast.parse(source)
    top_level = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("torch" in ast.unparse(n).split() for n in top_level)
    assert "import torch" in source  # it does import it, lazily


@pytest.mark.parametrize(
    ("source", "filename", "expected"),
    [
        ("import numpy as np\n", "model.py", ["model.py:1: imports numpy"]),
        (
            "def f():\n    from PySide6.QtCore import QObject\n",
            "cli.py",
            ["cli.py:2: imports PySide6.QtCore"],
        ),
        ("import importlib\nimportlib.import_module('pyqtgraph')\n", "x.py", ["x.py:2: imports pyqtgraph"]),
        ("from backprop_lab.gui import MainWindow\n", "x.py", ["x.py:1: imports backprop_lab.gui"]),
        ("from backprop_lab import check\n", "x.py", ["x.py:1: imports backprop_lab.check"]),
        ("import backprop_lab.check\n", "x.py", ["x.py:1: imports backprop_lab.check"]),
        ("import torch\n", "torch_check.py", ["torch_check.py:1: imports torch"]),
        ("def f():\n    import torch\n", "gradcheck.py", ["gradcheck.py:2: imports torch"]),
        ("def f():\n    import torch\n", "torch_check.py", []),
        ("from backprop_lab.engine.model import forward\nimport math\n", "x.py", []),
    ],
)
def test_the_guard_itself_finds_forbidden_imports(source, filename, expected):
    assert forbidden_imports(source, filename) == expected
