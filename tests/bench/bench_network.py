"""Benchmark of the network view (issue #15): what one redraw and one new picture cost the GUI thread.

Measured side by side in one run at K = 3, 16 and 32, the view at 900 × 600 pixels:

- *repaint*: ``view.repaint()`` of the picture the view has (what a highlight, a step-through
  phase, a pan or a zoom costs), fitted (no numbers at K ≥ 16) and zoomed ×4 (numbers shown);
- *new picture*: ``network_picture`` from a model and its evaluation (made beforehand);
- *new model*: ``Document.set_model`` (the engine's evaluation, the signal, the view's new picture)
  and the repaint, with its edges sorted into pens anew: what a live update of a run costs.

Each figure is "wall / CPU (max wall)": the medians of ``ROUNDS`` repetitions of the wall-clock
time and of the GUI thread's CPU time, and the largest wall-clock time.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_network.py
    xvfb-run -a -s "-screen 0 1400x900x24" python tests/bench/bench_network.py --screenshots DIR

Prints Markdown. ``--screenshots DIR`` instead saves the view at K = 3, 16 and 32, light and dark,
forward and backward, fitted and zoomed, for looking at.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchlib import machine
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

ROUNDS = 40
SIZES = (3, 16, 32)


def make_view(k: int, seed: int = 1):
    from backprop_lab.engine.session import Session
    from backprop_lab.gui.document import Document
    from backprop_lab.gui.network_view import NetworkView

    doc = Document(Session.random(k, seed)) if k != 3 else Document()
    view = NetworkView(doc)
    view.resize(900, 600)
    view.show()
    QApplication.processEvents()
    return doc, view


def ms(samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = samples
    return f"{statistics.median(wall):.1f} / {statistics.median(cpu):.1f} (max {max(wall):.1f})"


def timed(fn, rounds: int = ROUNDS) -> tuple[list[float], list[float]]:
    """Milliseconds per call: wall clock, and this thread's CPU time (the work itself, which the
    other processes of a shared machine do not inflate)."""
    wall, cpu = [], []
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return wall, cpu


def bench() -> None:
    from backprop_lab.engine.evaluation import evaluate
    from backprop_lab.engine.model import Model
    from backprop_lab.gui.network_layout import network_picture

    rng = random.Random(7)
    print(f"Machine: {machine(QApplication.platformName())}, load average {os.getloadavg()[0]:.1f}\n")
    print(
        "| K | edges | repaint, fitted (ms) | repaint, zoomed ×4 (ms) | new picture (ms) "
        "| new model: evaluation + picture + repaint (ms) |"
    )
    print("|---|---|---|---|---|---|")
    for k in SIZES:
        _doc, view = make_view(k)
        fitted = timed(view.repaint)
        view.zoom_at(QPointF(450, 300), 4.0)
        zoomed = timed(view.repaint)

        def block(rows: int, k: int = k) -> list[list[float]]:
            return [[rng.uniform(-1, 1) for _ in range(k)] for _ in range(rows)]

        models = [Model(block(1)[0], block(k), block(k), block(k)) for _ in range(ROUNDS)]
        pairs = [(m, evaluate(m)) for m in models]
        it = iter(pairs)

        def build(it=it) -> None:
            m, ev = next(it)
            network_picture(m, ev, "forward")

        built = timed(build)
        view.fit()
        models = iter([Model(block(1)[0], block(k), block(k), block(k)) for _ in range(ROUNDS)])

        def update(doc=_doc, view=view, models=models) -> None:
            doc.set_model(next(models))  # evaluation, signal, new picture
            view.repaint()

        live = timed(update)
        print(f"| {k} | {3 * k * k} | {ms(fitted)} | {ms(zoomed)} | {ms(built)} | {ms(live)} |")
        view.close()
        view.deleteLater()
        QApplication.processEvents()


def screenshots(folder: Path) -> None:
    from backprop_lab.gui.theme import dark_palette

    folder.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    light = app.palette()
    for theme, palette in (("light", light), ("dark", dark_palette())):
        app.setPalette(palette)
        for k in SIZES:
            _doc, view = make_view(k)
            view.setPalette(palette)
            view.grab().save(str(folder / f"network-k{k}-{theme}-forward.png"))
            view.set_mode("backward")
            view.set_highlight(("A", 0, 1))
            view.grab().save(str(folder / f"network-k{k}-{theme}-backward-A01.png"))
            view.zoom_at(QPointF(300, 250), 4.0 if k > 3 else 1.6)
            view.grab().save(str(folder / f"network-k{k}-{theme}-zoomed.png"))
            view.fit()
            view.set_mode("forward")
            view.set_highlight(None)
            view.set_lit(frozenset({"x", "a", "y"}))
            view.set_edge_deltas({("A", i, j): (i - j) * 0.01 for i in range(k) for j in range(k)})
            view.grab().save(str(folder / f"network-k{k}-{theme}-step.png"))
            view.close()
            view.deleteLater()
            QApplication.processEvents()
    print(f"saved in {folder}")


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv)  # noqa: F841 - kept alive for the run
    if "--screenshots" in sys.argv:
        screenshots(Path(sys.argv[sys.argv.index("--screenshots") + 1]))
    else:
        bench()


if __name__ == "__main__":
    main()
