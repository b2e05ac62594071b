"""Benchmark of long runs and big models in the window (issue #7, "Long runs"):

* throughput of the engine alone at K = 3, batch size 1 (what a 1,000,000-step run costs);
* a 1,000,000-step run in the window (offscreen): wall time, memory per step (resident size),
  and how fluid the window stays (gaps of a 5 ms timer, the plot's redraws);
* saving that session and opening it again (file size, seconds each way);
* K = 64: one edited cell to updated gradients on screen (milliseconds);
* Start/Stop 100 times: threads, timers and resident size before and after.

    QT_QPA_PLATFORM=offscreen /tmp/venv/bin/python tests/bench/bench_long_runs.py [--quick]

``--quick`` runs 100,000 steps instead of 1,000,000. Prints Markdown (the figures quoted in
docs/performance.md and docs/reliability.md). Not collected by pytest (the suite runs scaled-down versions:
tests/gui/test_hardening_window.py).
"""

from __future__ import annotations

import faulthandler
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import GapProbe, machine, settle
from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QSettings,
    Qt,
    QThread,
    QTimer,
)
from PySide6.QtWidgets import QApplication, QMessageBox, QTableView

QUICK = "--quick" in sys.argv
STEPS = 100_000 if QUICK else 1_000_000


def rss_mb() -> float:
    """Resident set size of this process, from /proc/self/statm (Linux)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def no_modal_dialogs() -> None:
    """A benchmark has no one to click: unsaved-changes questions discard, messages are printed."""
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
    for kind in ("warning", "critical", "information"):
        setattr(QMessageBox, kind, staticmethod(lambda _p, title, text, *a, **k: print(f"[{title}] {text}")))


def close(app: QApplication, window) -> None:
    window.document.mark_clean()
    window.close()
    window.deleteLater()
    app.processEvents()


def run_to_end(window) -> float:
    """Start the window's run and wait in a real event loop until it ends; seconds."""
    loop = QEventLoop()
    window.controller.runEnded.connect(lambda *_: loop.quit())
    t0 = time.perf_counter()
    window.controller.start()
    loop.exec()
    return time.perf_counter() - t0


def settings(steps: int):
    from backprop_lab.engine.training import TrainingSettings

    # Batch size 1 over 1,000 inputs: one step per input, steps / 1,000 epochs.
    return TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=1000, epochs=steps // 1000, seed=0)


def engine_throughput(steps: int = 200_000) -> float:
    from backprop_lab.engine.session import Session

    s = Session.report_example()
    trainer = s.make_trainer(settings(steps))
    append = s.history.append
    t0 = time.perf_counter()
    for record in trainer.steps():
        append(record)
    return steps / (time.perf_counter() - t0)


def long_run(app: QApplication, folder: Path) -> dict[str, float]:
    from backprop_lab.engine.session import load_session
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.document.set_training_settings(settings(STEPS))
    window.repaint()
    settle(200)
    gc.collect()
    rss_before = rss_mb()

    probe = GapProbe()
    redraws = [0]
    panel = window.plot_panel
    original_redraw = panel._redraw

    def counted_redraw() -> None:
        redraws[0] += 1
        original_redraw()

    panel._redraw = counted_redraw  # count the plot's redraws (an instance attribute wins)
    probe.start()
    elapsed = run_to_end(window)
    # The plot redraws from its own paced timer: wait until it shows the last step.
    t0 = time.perf_counter()
    while panel.point_count < STEPS and time.perf_counter() - t0 < 60:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
    catch_up = time.perf_counter() - t0
    probe.stop()
    gc.collect()
    rss_after = rss_mb()
    doc = window.document
    n = len(doc.history)
    assert n == STEPS, (n, STEPS)
    assert panel.point_count == STEPS, panel.point_count

    path = folder / "long.bpl.json"
    t0 = time.perf_counter()
    doc.save(path)
    save_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    session = load_session(path)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    doc.replace_session(session, path)
    panel.refresh()
    panel.plot.repaint()
    app.processEvents()
    show_s = time.perf_counter() - t0
    size_mb = path.stat().st_size / 1e6
    close(app, window)
    gaps = probe.gaps[1:]
    return {
        "steps": n,
        "elapsed": elapsed,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "per_step": (rss_after - rss_before) * 1e6 / n,
        "gap_p50": statistics.median(gaps),
        "gap_p99": sorted(gaps)[int(len(gaps) * 0.99)],
        "gap_max": max(gaps),
        "ticks": len(gaps),
        "redraws": redraws[0],
        "catch_up": catch_up,
        "save_s": save_s,
        "load_s": load_s,
        "show_s": show_s,
        "size_mb": size_mb,
    }


def k64_edits(app: QApplication, edits: int = 40) -> dict[str, float]:
    from backprop_lab.engine.session import Session
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.document.replace_session(Session.random(64, 0))
    app.processEvents()
    editor = window.findChild(QTableView, "matrixA")
    grad = window.findChild(QTableView, "gradC")
    model, gmodel = editor.model(), grad.model()
    assert model.rowCount() == 64 and gmodel.rowCount() == 64
    times = []
    for n in range(edits):
        i, j = (7 * n) % 64, (13 * n) % 64
        before = gmodel.data(gmodel.index(63, 63), Qt.ItemDataRole.DisplayRole)
        t0 = time.perf_counter()
        # As a user commits a typed value: the editor's model parses it and makes one undoable edit.
        assert model.setData(model.index(i, j), f"{0.5 + n / 100:.3f}")
        app.processEvents()  # the views update from the document's modelChanged
        grad.viewport().repaint()  # and the gradient table is painted with the new values
        times.append((time.perf_counter() - t0) * 1000)
        after = gmodel.data(gmodel.index(63, 63), Qt.ItemDataRole.DisplayRole)
        assert after != before or n == 0, "the gradients did not change"
    close(app, window)
    return {"median": statistics.median(times), "max": max(times), "edits": edits}


def start_stop(app: QApplication, cycles: int = 100) -> dict[str, float]:
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    window.document.set_training_settings(settings(1_000_000))
    app.processEvents()
    ctl = window.controller
    doc = window.document

    def cycle() -> None:
        loop = QEventLoop()
        ctl.runEnded.connect(loop.quit)
        ctl.start()
        ctl.stop()
        loop.exec()
        ctl.runEnded.disconnect(loop.quit)
        doc.reset_to_initial()  # keep the history from growing: only leaks remain

    for _ in range(5):  # warm-up: first-use allocations are not leaks
        cycle()
    gc.collect()
    app.processEvents()
    threads0, qthreads0 = threading.active_count(), len(window.findChildren(QThread))
    timers0, rss0 = len(window.findChildren(QTimer)), rss_mb()
    t0 = time.perf_counter()
    for _ in range(cycles):
        cycle()
    elapsed = time.perf_counter() - t0
    settle(50)
    gc.collect()
    result = {
        "cycles": cycles,
        "elapsed": elapsed,
        "threads": threading.active_count() - threads0,
        "qthreads": len(window.findChildren(QThread)) - qthreads0,
        "timers": len(window.findChildren(QTimer)) - timers0,
        "rss_growth": rss_mb() - rss0,
    }
    close(app, window)
    return result


def main() -> int:
    faulthandler.dump_traceback_later(1800, exit=True)
    QCoreApplication.setOrganizationName("BackpropLab")
    QCoreApplication.setApplicationName("Backprop Lab")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tempfile.mkdtemp())
    from backprop_lab.gui import recovery

    recovery.set_recovery_directory(tempfile.mkdtemp())  # never the user's recovery folder
    app = QApplication([sys.argv[0]])
    no_modal_dialogs()
    folder = Path(tempfile.mkdtemp())

    rate = engine_throughput()
    run = long_run(app, folder)
    k64 = k64_edits(app)
    ss = start_stop(app)

    print(f"Machine: {machine('offscreen')}\n")
    print("| Measure | Result |")
    print("|---|---|")
    print(
        f"| engine alone, K = 3, batch size 1 | {rate:,.0f} steps/s "
        f"(a {STEPS:,}-step run: ~{STEPS / rate:.0f} s of pure computation) |"
    )
    print(f"| {run['steps']:,}-step run in the window (offscreen) | {run['elapsed']:.1f} s |")
    print(
        "| resident memory, before → after the run | "
        f"{run['rss_before']:.0f} MB → {run['rss_after']:.0f} MB: "
        f"**{run['per_step']:.0f} bytes per step** |"
    )
    print(
        f"| event-loop gaps during the run ({run['ticks']:,} ticks of a 5 ms timer) | "
        f"median {run['gap_p50']:.1f} ms, p99 {run['gap_p99']:.1f} ms, max {run['gap_max']:.1f} ms; "
        f"{run['redraws']:,} plot redraws ({run['redraws'] / run['elapsed']:.1f}/s); the plot showed the "
        f"last step {run['catch_up']:.2f} s after the run ended |"
    )
    print(
        f"| save the {run['steps']:,}-step session / load it / show it in the window | "
        f"{run['save_s']:.2f} s / {run['load_s']:.2f} s / {run['show_s']:.2f} s "
        f"({run['size_mb']:.0f} MB file) |"
    )
    print(
        f"| K = 64: edit a cell of A → gradients repainted ({k64['edits']} edits) | "
        f"median {k64['median']:.1f} ms, max {k64['max']:.1f} ms |"
    )
    print(
        f"| Start/Stop {ss['cycles']} times ({ss['elapsed']:.1f} s) | threads {ss['threads']:+d}, QThreads "
        f"{ss['qthreads']:+d}, QTimers {ss['timers']:+d}, resident size {ss['rss_growth']:+.1f} MB |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
