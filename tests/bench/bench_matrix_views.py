"""Benchmark of the matrix views (issue #13): what one model update costs the GUI thread.

A running training updates the model up to ten times a second; each update repaints the editors
and the gradient tables. Measured side by side in one run: K = 32 as heat maps (what the window
shows), K = 32 zoomed in to numbers (every table scrolling, as before issue #13) and K = 3 numbers.
Each figure is the median of ``ROUNDS`` updates: set a new model, then repaint both panels at once.

    QT_QPA_PLATFORM=offscreen /tmp/venv/bin/python tests/bench/bench_matrix_views.py

Prints Markdown.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchlib import machine, settle
from PySide6.QtCore import QCoreApplication, QSettings
from PySide6.QtWidgets import QApplication

ROUNDS = 60


def update_ms(window, k: int, rng: random.Random) -> tuple[float, float]:
    """Median milliseconds for one new model: the document's update (the engine's evaluation and
    the models' signals), then both panels repainted."""
    from backprop_lab.engine.model import Model

    def block(rows: int) -> list[list[float]]:
        return [[rng.uniform(-1, 1) for _ in range(k)] for _ in range(rows)]

    models = [Model(block(1)[0], block(k), block(k), block(k)) for _ in range(ROUNDS)]
    update, paint = [], []
    for model in models:
        t0 = time.perf_counter()
        window.document.set_model(model)
        t1 = time.perf_counter()
        window.model_panel.repaint()
        window.gradients_panel.repaint()
        t2 = time.perf_counter()
        update.append((t1 - t0) * 1000)
        paint.append((t2 - t1) * 1000)
        QApplication.processEvents()
    return statistics.median(update), statistics.median(paint)


def main() -> int:
    QCoreApplication.setOrganizationName("BackpropLabBench")
    QCoreApplication.setApplicationName("bench_matrix_views")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    app = QApplication(sys.argv[:1])
    from backprop_lab.gui.main_window import MainWindow
    from backprop_lab.gui.matrix_editor import MatrixTable

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    settle(300)
    rng = random.Random(0)
    tables = window.findChildren(MatrixTable)
    rows = []
    window.model_panel.k_spin.setValue(32)
    settle(300)
    rows.append(("K = 32, heat maps", update_ms(window, 32, rng)))
    for t in tables:
        t.zoom_in()
    settle(300)
    rows.append(("K = 32, zoomed in to numbers (scrolling)", update_ms(window, 32, rng)))
    for t in tables:
        t.zoom_out()
    window.model_panel.k_spin.setValue(3)
    settle(300)
    rows.append(("K = 3, numbers", update_ms(window, 3, rng)))
    window.document.mark_clean()
    window.close()
    print(f"Machine: {machine(app.platformName())}\n")
    print("| view | document update (median ms) | repaint of both panels (median ms) |")
    print("|---|---|---|")
    for name, (update, paint) in rows:
        print(f"| {name} | {update:.1f} | {paint:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
