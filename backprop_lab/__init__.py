"""Backprop Lab: learn, teach and write up backpropagation.

One import namespace: ``backprop_lab.engine`` (the pure-Python model, gradients, checks, training
and session files), ``backprop_lab.gui`` (the window) and ``backprop_lab.resources`` (icons, the
desktop entry, the built-in examples). This package itself holds the version and the command line.

The repository keeps those three as top-level folders (``engine/``, ``gui/``, ``resources/``);
an installed copy has them inside this package (setuptools' ``package-dir`` mapping). So that a
source checkout runs the same way, uninstalled or under ``python -m pytest`` from its root, the
checkout's root joins this package's search path when, and only when, this file sits in a
checkout beside those folders.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.2.0"

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "engine" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))

__all__ = ["__version__"]
