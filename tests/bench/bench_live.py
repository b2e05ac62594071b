"""Benchmark of watching a run live (issue 13, item 2; the network graph of issue 15): what showing a
run's weights as it trains costs the run, how often they are shown, and the GUI-thread gaps, at
K = 3, 16 and 32.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_live.py [--repeats N]

Each case is a run of a few seconds (batches of 10) in a fresh 1400×900 window (the default
arrangement, the network graph in its row) in a child process, three ways side by side in the same
minutes: without live showings (gui.live_pace's interval set beyond the run), with them, and with
them but the Network dock closed. The child lets a 5 ms timer tick on the GUI thread and reports
the gaps between ticks. Prints Markdown: medians of the durations, the p99 and the worst gap.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
#: K and the run's epochs of 1,000 samples in batches of 10 (100 steps an epoch): a few seconds each.
RUNS = {3: 200, 16: 20, 32: 20}


def _child(k: int, live: bool, network: bool, workdir: Path) -> dict[str, object]:
    # One piece: the run and the probe around it, in the order they happen.
    from benchlib import GapProbe, settle
    from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("BackpropLabBenchLive")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    app = QApplication([sys.argv[0]])

    from backprop_lab.engine.session import Session
    from backprop_lab.engine.training import TrainingSettings
    from backprop_lab.gui import live_pace
    from backprop_lab.gui.main_window import MainWindow

    if not live:  # the first batch is still shown; none after it
        live_pace.LIVE_INTERVAL_S = live_pace.LIVE_MAX_INTERVAL_S = 1e9

    window = MainWindow()
    window.resize(1400, 900)
    window.layout_.arrange()  # the offscreen screen is smaller: the arrangement made for 1400×900
    if not network:
        window.docks["network"].close()
    window.show()
    doc = window.document
    doc.replace_session(Session.random(k, 1), None)
    doc.set_training_settings(
        TrainingSettings(learning_rate=0.001, batch_size=10, n_samples=1000, epochs=RUNS[k], seed=0)
    )
    settle(1000)
    shown: list[float] = []
    # Live showings only: not the end's weights (shown once the run is over).
    doc.modelChanged.connect(
        lambda: shown.append(time.perf_counter()) if doc.training_state == "running" else None
    )
    probe = GapProbe()
    gaps = probe.gaps
    probe.start()
    settle(100)
    loop = QEventLoop()
    window.controller.runEnded.connect(lambda *_: loop.quit())
    t0 = time.perf_counter()
    QTimer.singleShot(0, window.controller.start)
    loop.exec()
    elapsed = time.perf_counter() - t0
    probe.stop()
    intervals = [b - a for a, b in pairwise(shown)]
    result = {
        "elapsed_s": elapsed,
        "shows": len(shown),
        "interval_ms": statistics.median(intervals) * 1000 if intervals else None,
        "worst_gap_ms": max(gaps),
        "p99_gap_ms": sorted(gaps)[int(0.99 * (len(gaps) - 1))],
        "network_shown": window.network_view.isVisible(),
        "ok": len(doc.history) == 100 * RUNS[k] and window.network_view.isVisible() == network,
    }
    doc.mark_clean()
    window.close()
    app.processEvents()
    return result


def _run(k: int, live: bool, network: bool, workdir: Path) -> dict[str, object]:
    from benchlib import run_child

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(k), "1" if live else "0", "1" if network else "0", str(workdir)]
    return run_child(__file__, args, ROOT, env, f"K = {k} live={live} network={network}")


def _gaps(runs: list[dict[str, object]]) -> str:
    """The median run's p99 gap and the worst gap of all the runs."""
    p99 = statistics.median(float(r["p99_gap_ms"]) for r in runs)  # type: ignore[arg-type]
    worst = max(float(r["worst_gap_ms"]) for r in runs)  # type: ignore[arg-type]
    return f"{p99:.0f} / {worst:.0f} ms"


def main() -> int:
    if "--child" in sys.argv:
        k, live, network, workdir = sys.argv[sys.argv.index("--child") + 1 :][:4]
        print(json.dumps(_child(int(k), live == "1", network == "1", Path(workdir))))
        return 0
    from benchlib import machine

    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
    workdir = Path(tempfile.mkdtemp(prefix="bench-live-"))
    print(f"Machine: {machine(os.environ['QT_QPA_PLATFORM'])}\n")
    print(f"Runs in batches of 10, {repeats} of each, alternating; medians; gaps: median p99 / worst\n")
    print("| K | steps | run without live showings | with | slowdown | showings | median interval |", end="")
    print(" gaps without | gaps with | with, Network closed | its gaps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k in RUNS:
        off: list[dict[str, object]] = []
        on: list[dict[str, object]] = []
        closed: list[dict[str, object]] = []
        for _ in range(repeats):
            off.append(_run(k, False, True, workdir))
            on.append(_run(k, True, True, workdir))
            closed.append(_run(k, True, False, workdir))
        t_off, t_on, t_closed = (
            statistics.median(float(r["elapsed_s"]) for r in runs)  # type: ignore[arg-type]
            for runs in (off, on, closed)
        )
        shows = statistics.median(int(r["shows"]) for r in on)  # type: ignore[call-overload]
        interval = statistics.median(float(r["interval_ms"] or 0) for r in on)  # type: ignore[arg-type]
        ok = all(r["ok"] for r in off + on + closed)
        print(
            f"| {k} | {100 * RUNS[k]:,} | {t_off:.2f} s | {t_on:.2f} s | {t_on / t_off - 1:+.0%} | "
            f"{shows:.0f} | {interval:.0f} ms | {_gaps(off)} | {_gaps(on)} | {t_closed:.2f} s | "
            f"{_gaps(closed)}{'' if ok else ' FAILED'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
