"""Backprop Lab's desktop window: PySide6 + pyqtgraph over the Qt-free engine.

Importing this package does not import Qt; ``backprop_lab.gui.MainWindow`` loads it on first use, so the
command line's non-GUI commands stay fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MainWindow"]


def __getattr__(name: str) -> Any:
    if name == "MainWindow":
        from backprop_lab.gui.main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'backprop_lab.gui' has no attribute {name!r}")
