"""Benchmark of GUI-thread stalls (issue #11, item 8): the longest gap of a 5 ms timer on the
window's thread while the window exports a 1,000,000-step report, opens a K = 1024 session,
trains at K = 32, and exports an ordinary report.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_stalls.py [--before DIR] [--repeats N]
        [--case NAME] [--quick]

Each case runs in a fresh child process (as for a user who just started the window; modules are
imported once beforehand so their bytecode is cached, as in an installed application).
``--before DIR`` runs every case a second time on the code of another checkout (e.g.
``git archive 201d6ef`` unpacked into DIR) in the same run, so both columns come from the same
machine and the same minutes. Prints Markdown.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
STALL_MS = 100.0
CASES = {
    "export_1m": "Export report… of a 1,000,000-step session",
    "open_k1024": "File ▸ Open of a K = 1024 session (131 MB)",
    "train_k32": "K = 32 training run (2,000 steps), Live plot tab shown",
    "train_k32_line": "same run with the Loss along gradient tab shown",
    "export_small": "Export report… of the report example after 1,000 steps",
    "export_k32": "Export report… of a K = 32 session after 2,000 steps",
}


# --------------------------------------------------------------------------- the child


def _child(case: str, workdir: Path) -> dict[str, object]:
    """Run one case in this process and return the timer's gaps (ms) and what the case made."""
    from benchlib import GapProbe, settle
    from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    QCoreApplication.setOrganizationName("BackpropLabBench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(workdir / "settings"))
    app = QApplication([sys.argv[0]])
    # A prompt would block the benchmark: every question is answered "discard".
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)  # type: ignore[method-assign]

    from backprop_lab.engine.session import Session
    from backprop_lab.engine.training import TrainingSettings
    from backprop_lab.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    settle(300)
    # --before may run code from before the composition root (issue 12), where these lived in
    # window.sessions: the benchmark takes either.
    files = getattr(window, "files", None) or window.sessions
    reports = getattr(window, "reports", None) or window.sessions.reports
    reports.torch = False  # a PyTorch import is the same wait before and after: left out

    if case == "export_1m":
        window.document.replace_session(Session.report_example(), None)
        _fill_history(window.document, 1_000_000)
    elif case == "export_small":
        window.document.set_training_settings(
            TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=10, seed=0)
        )
        loop = QEventLoop()
        window.controller.runEnded.connect(lambda *_: loop.quit())
        window.controller.start()
        loop.exec()
    elif case == "export_k32":
        window.document.replace_session(Session.random(32, 1), None)
        _fill_history(window.document, 2000)
    elif case.startswith("train_k32"):
        window.document.replace_session(Session.random(32, 1), None)
        window.document.set_training_settings(
            TrainingSettings(learning_rate=0.001, batch_size=10, n_samples=1000, epochs=20, seed=0)
        )
        if case == "train_k32_line":
            window.tabs.setCurrentIndex(_tab(window, "gradient"))
    settle(1000)  # whatever the set-up scheduled (curves, checks) is done before the probe starts
    # As a user would: the window is on screen, fully painted, before the command is chosen
    # (the first paint of a million-step plot alone takes the GUI thread ~1 s).
    window.repaint()
    settle(200)

    probe = GapProbe()
    gaps = probe.gaps
    probe.start()
    settle(100)  # the timer is ticking before the operation starts
    t0 = time.perf_counter()
    result: dict[str, object] = {}
    if case.startswith("export"):
        loop = QEventLoop()
        done: list[object] = []
        reports.reportExported.connect(lambda files: (done.append(files), loop.quit()))
        # Started from the event loop, as a menu command is.
        QTimer.singleShot(0, lambda: reports.export_to(workdir / "report"))
        loop.exec()
        result["ok"] = bool(done and done[0] is not None)
    elif case == "open_k1024":
        path = workdir / "k1024.bpl.json"
        outcome: list[bool] = []
        loop = QEventLoop()
        QTimer.singleShot(0, lambda: (outcome.append(files.open_path(path)), loop.quit()))
        loop.exec()
        result["ok"] = bool(outcome and outcome[0]) and window.document.K == 1024
    else:
        loop = QEventLoop()
        window.controller.runEnded.connect(lambda *_: loop.quit())
        QTimer.singleShot(0, window.controller.start)
        loop.exec()
        result["ok"] = len(window.document.history) == 2000
    result["elapsed_s"] = time.perf_counter() - t0
    settle(200)
    probe.stop()
    result["gaps"] = gaps
    window.document.mark_clean()
    window.close()
    app.processEvents()
    return result


def _tab(window, word: str) -> int:
    for i in range(window.tabs.count()):
        if word in window.tabs.tabText(i).lower():
            return i
    raise LookupError(f"no tab named like {word!r}")


def _fill_history(document, n: int) -> None:
    """A history of ``n`` decaying, noisy steps (the shape of a long run), made in C-speed pieces."""
    import math
    import random
    from array import array

    from backprop_lab.engine.session import HISTORY_COLUMNS, History

    rng = random.Random(0)
    base = array("d", (40.0 / math.sqrt(i + 1) * math.exp(rng.gauss(0, 0.3)) for i in range(n)))
    cols = {name: array("d", (v * (k + 1) / 3 for v in base)) for k, name in enumerate(HISTORY_COLUMNS)}
    history = History.from_columns(cols, array("q", (i // 1000 + 1 for i in range(n))))
    session = document.session.copy()
    session.history = history
    document.replace_session(session, None)


# --------------------------------------------------------------------------- the parent


def _env(code: Path, workdir: Path) -> dict[str, str]:
    """The child's environment: ``code`` first on the path, and compiled modules cached (in the
    benchmark's own folder, never in a checkout) as for an installed application."""
    env = {**os.environ, "PYTHONPATH": str(code), "QT_QPA_PLATFORM": os.environ["QT_QPA_PLATFORM"]}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache" / code.name)
    return env


def _warm_up(code: Path, workdir: Path) -> None:
    """Import everything once, so the measured runs find compiled modules (a first import from
    source takes ~0.1 s of the GUI thread, which an installed application does not pay)."""
    modules = "backprop_lab.gui.main_window, backprop_lab.gui.report"  # in every version compared
    subprocess.run(
        [sys.executable, "-c", f"import {modules}"],
        cwd=code,
        env=_env(code, workdir),
        check=True,
        timeout=300,
    )
    # What those imports leave out (modules a report or a plot imports when first used, from here,
    # pyqtgraph, numpy, PySide6 or the standard library), compiled as an installer compiles them:
    # the cache prefix applies to every module, so else the first measured run compiles them on the
    # GUI thread. (A few files of those packages do not compile, by design: the exit status is 1.)
    import sysconfig

    import numpy
    import pyqtgraph
    import PySide6

    folders = [str(code / name) for name in ("backprop_lab", "engine", "gui") if (code / name).is_dir()]
    folders += [str(Path(m.__file__).parent) for m in (pyqtgraph, numpy, PySide6) if m.__file__]
    folders.append(sysconfig.get_paths()["stdlib"])
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "-x",
            r"[/\\](test|tests|idlelib|lib2to3)[/\\]",
            *folders,
        ],
        cwd=code,
        env=_env(code, workdir),
        check=False,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


def _run(case: str, code: Path, workdir: Path) -> dict[str, object]:
    from benchlib import run_child

    return run_child(__file__, [case, str(workdir)], code, _env(code, workdir), f"{case} on {code}")


def _summary(results: list[dict[str, object]]) -> str:
    worst = max(max(r["gaps"]) for r in results)  # type: ignore[type-var, arg-type]
    over = max(sum(g > STALL_MS for g in r["gaps"]) for r in results)  # type: ignore[union-attr]
    took = statistics.median(r["elapsed_s"] for r in results)  # type: ignore[misc]
    ok = all(r["ok"] for r in results)
    return f"**{worst:,.0f} ms** ({over} over {STALL_MS:.0f} ms; {took:.1f} s{'' if ok else '; FAILED'})"


def main() -> int:
    if "--child" in sys.argv:
        case, workdir = sys.argv[sys.argv.index("--child") + 1 :][:2]
        print(json.dumps(_child(case, Path(workdir))))
        return 0
    from benchlib import machine

    from backprop_lab.engine.session import Session, save_session

    before = Path(sys.argv[sys.argv.index("--before") + 1]) if "--before" in sys.argv else None
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 2
    cases = list(CASES)
    if "--quick" in sys.argv:
        cases, repeats = ["export_small", "train_k32"], 1
    if "--case" in sys.argv:
        cases = [sys.argv[sys.argv.index("--case") + 1]]
    workdir = Path(tempfile.mkdtemp(prefix="bench-stalls-"))
    if "open_k1024" in cases:
        save_session(Session.random(1024, 1), workdir / "k1024.bpl.json")
    for code in (ROOT, before):
        if code is not None:
            _warm_up(code, workdir)
    rows = []
    for case in cases:
        after = [_run(case, ROOT, workdir) for _ in range(repeats)]
        then = [_run(case, before, workdir) for _ in range(repeats)] if before else None
        rows.append((CASES[case], _summary(then) if then else "—", _summary(after)))
    print(f"Machine: {machine(os.environ['QT_QPA_PLATFORM'])}\n")
    print(f"Longest gap of a 5 ms timer on the GUI thread, worst of {repeats} runs each (stalls over")
    print(f"{STALL_MS:.0f} ms in the worst run; median duration of the operation)\n")
    print("| operation in the window | before | after |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
