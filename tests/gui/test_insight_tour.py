"""The feature-tour pictures of issue #6: every view renders, offscreen, with real content.

Set ``BACKPROP_LAB_TOUR_DIR`` to write the pictures there (docs/images/tour-*.png, in the user guide)::

    BACKPROP_LAB_TOUR_DIR=resources /tmp/venv/bin/python -m pytest tests/gui/test_insight_tour.py
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QTableView

WAIT = 120_000


def _settle() -> None:
    # Let pending layout requests run before a grab (not a wait: nothing here is timed).
    for _ in range(5):
        QApplication.processEvents()


def _check_and_save(image: QImage, name: str) -> None:
    assert not image.isNull() and image.width() > 600 and image.height() > 400
    # Real content: many distinct colours, not a blank or single-colour frame.
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 50, name
    out = os.environ.get("BACKPROP_LAB_TOUR_DIR")
    if out:
        assert image.save(str(Path(out) / f"tour-{name}.png"))


def test_tour_pictures(qtbot, window):
    i = window.verify
    window.resize(1500, 1000)

    # Verification, with PyTorch when it is installed (the dock closed for room).
    i.dock.hide()
    i.show_verification()
    panel = i.verification
    try:
        import torch  # noqa: F401

        with qtbot.waitSignal(panel.checkFinished, timeout=WAIT):
            panel.torch_box.setChecked(True)
    except ImportError:
        pass
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    panel.table.selectRow(1)
    _settle()
    _check_and_save(window.grab().toImage(), "verification")

    # The chain rule of ∂L/∂A[0][1], in a taller window.
    window.tabs.setCurrentIndex(0)
    window.resize(1500, 1250)
    grad = window.findChild(QTableView, "gradA")
    grad.setCurrentIndex(grad.model().index(0, 1))
    assert i.dock.isVisible()
    window.resizeDocks([i.dock], [560], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: i.dock.height() > 300, timeout=WAIT)
    _settle()
    _check_and_save(window.grab().toImage(), "chain-rule")

    # Loss along the gradient, six learning rates wide so that the valley shows.
    i.dock.hide()
    window.resize(1500, 1000)
    i.show_line_search()
    i.line_search.span.setValue(6.0)
    i.line_search.refresh()
    _settle()
    _check_and_save(window.grab().toImage(), "line-search")

    # The step taken apart, at its Update phase.
    dialog = i.step_through()
    dialog.resize(1000, 660)
    for _ in range(3):
        dialog.next()
    _settle()
    _check_and_save(dialog.grab().toImage(), "step-through")
    dialog.reject()
