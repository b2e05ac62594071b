"""How the window keeps up during Training ▸ Sweep…: the longest stall of its event loop.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_sweep_window.py [--steps-per-run N] [--runs R]

The runs train in other processes; the window's process writes each run's file and reads it back
for the runs list on the sweep's worker thread (gui.sweep_runner), and the JSON encoder and decoder
hold the interpreter lock while they work. A 10 ms QTimer on the GUI thread measures the gaps
between its ticks from Start to the end; the longest and the 99th percentile are printed, with
the sweep's seconds, against the same timer with nothing running.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def gaps_while(app, busy) -> list[float]:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEventLoop, QTimer

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    while busy():
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    timer.stop()
    return [(b - a) * 1000 for a, b in itertools.pairwise(ticks)]


def report(name: str, gaps: list[float]) -> None:
    q = statistics.quantiles(gaps, n=100, method="inclusive")[98] if len(gaps) > 2 else max(gaps, default=0)
    print(f"{name:<24} ticks {len(gaps):>5}  p99 {q:7.1f} ms  longest {max(gaps, default=0):7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-per-run", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    idle_until = time.perf_counter() + 2.0
    report("idle window", gaps_while(app, lambda: time.perf_counter() < idle_until))
    window.actions["sweep"].trigger()
    dialog = window.sweeps.dialog
    rates = ", ".join(repr(0.001 * (i + 1)) for i in range(args.runs))
    dialog.fields["learning_rate"].setText(rates)
    dialog.fields["batch_size"].setText("1")
    dialog.fields["epochs"].setText(str(max(1, args.steps_per_run // 1000)))
    dialog.folder.setText(tempfile.mkdtemp())
    ended: list[object] = []
    window.sweeps.runner.sweepEnded.connect(lambda results, problem: ended.append(results))
    started = time.perf_counter()
    dialog.start_button.click()
    gaps = gaps_while(app, lambda: not ended)
    seconds = time.perf_counter() - started
    report(f"sweep of {args.runs} runs", gaps)
    jobs = dialog.jobs.value()
    print(f"{args.runs} runs of {args.steps_per_run:,} steps in {seconds:.2f} s, {jobs} processes")
    window.document.mark_clean()
    dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
