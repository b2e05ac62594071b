"""Benchmark of runs side by side on the live plot (issue 17): what a live redraw costs with other runs
shown, and what showing them costs once.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_runs_plot.py [--steps N] [--repeats R]
    QT_QPA_PLATFORM=offscreen python tests/bench/bench_runs_plot.py --compare-with OLD_CHECKOUT [--rounds 5]

A plot panel (800×500) holds a history of N steps and takes batches of 1,000 more, as during a run;
each case times the batch's intake plus a redraw and its paint (the cost the paced redraw limits),
median of R batches:

- *All curves*: the plot as before issue 17 (five curves of this session);
- *one curve, 3 compared runs*: loss at x of this session and of three compared runs of N steps;
- *… and a live segment*: the same with the session's last run (a segment still training) ticked.

And once: adding the three compared runs (their curves computed) and switching x to samples seen.

``--compare-with`` times the first case only (the plot as it was), in child processes taking turns
between an older checkout (e.g. ``git worktree add /tmp/old <commit>``) and this one: what the runs
cost a live plot that shows none.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _history(n: int, seed: float):
    from backprop_lab.engine.session_history import History

    steps = range(1, n + 1)
    loss = [1.0 / (s * seed) + 1e-4 for s in steps]
    columns = {"loss": loss, "loss_at_x": loss, "grad_norm_A": loss, "grad_norm_B": loss, "grad_norm_C": loss}
    return History.from_columns(columns, [(s - 1) // 100 + 1 for s in steps])


def _compare(old: str, rounds: int) -> int:
    import json
    import subprocess
    from pathlib import Path

    here = Path(__file__).resolve()
    roots = {"old": old, "this": str(here.parents[2])}
    found: dict[str, list[float]] = {name: [] for name in roots}
    for _ in range(rounds):
        for name, root in roots.items():
            env = {**os.environ, "PYTHONPATH": root}
            sizes = [
                a
                for i, a in enumerate(sys.argv)
                if "--steps" in sys.argv[i - 1 : i + 1] or "--repeats" in sys.argv[i - 1 : i + 1]
            ]
            args = [sys.executable, str(here), "--child-all-curves", *sizes]  # never --compare-with again
            out = subprocess.run(args, cwd=here.parent, env=env, capture_output=True, text=True, check=True)
            found[name].append(json.loads(out.stdout.strip().splitlines()[-1])["ms"])
    for name, values in found.items():
        print(f"{name}: median {statistics.median(values):.1f} ms, each {[round(v, 1) for v in values]}")
    ratio = statistics.median(found["this"]) / statistics.median(found["old"])
    print(f"this / old: {ratio:.2f}")
    return 0


def main() -> int:
    from PySide6.QtWidgets import QApplication

    if "--compare-with" in sys.argv and "--child-all-curves" not in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
        return _compare(sys.argv[sys.argv.index("--compare-with") + 1], rounds)

    steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 200_000
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 15
    app = QApplication.instance() or QApplication([sys.argv[0]])
    from benchlib import machine

    from backprop_lab.engine.runs import Run
    from backprop_lab.engine.session import Session
    from backprop_lab.engine.training import StepRecord, TrainingSettings
    from backprop_lab.gui.document import Document
    from backprop_lab.gui.plot_panel import PlotPanel

    session = Session.random(3, 0)
    session.make_trainer(TrainingSettings())  # marks the run's segment
    session.history.extend_from(_history(steps, 1.0))
    doc = Document(session)
    doc.set_training_state("running")
    panel = PlotPanel(doc)
    panel.resize(800, 500)
    panel.show()
    panel.refresh()
    app.processEvents()
    next_step = [steps + 1]

    def batch_ms() -> float:
        start = next_step[0]
        steps = range(start, start + 1000)
        records = [StepRecord(s, (s - 1) // 100 + 1, 1e-3, 1e-3, 1.0, 1.0, 1.0) for s in steps]
        next_step[0] += 1000
        t0 = time.perf_counter()
        doc.append_history(records)
        panel.refresh()
        panel.plot.repaint()
        return (time.perf_counter() - t0) * 1000

    def case() -> float:
        batch_ms()  # warm: the first after a change draws everything
        return statistics.median(batch_ms() for _ in range(repeats))

    if "--child-all-curves" in sys.argv:
        import json

        print(json.dumps({"ms": case()}))
        panel.close()
        return 0
    print(f"Machine: {machine(os.environ['QT_QPA_PLATFORM'])}\n")
    print(f"History of {steps:,} steps, batches of 1,000, median of {repeats}\n")
    print("| case | batch intake + redraw + paint |")
    print("|---|---|")
    print(f"| All curves (as before) | {case():.1f} ms |")
    settings = TrainingSettings()
    runs = [Run(f"run {i}", _history(steps, 1.0 + i), settings, "file", f"/r/{i}.bpl.json") for i in range(3)]
    t0 = time.perf_counter()
    panel.runs.add_runs(runs)  # switches to loss at x, computes the three curves
    added_ms = (time.perf_counter() - t0) * 1000
    print(f"| loss at x, 3 compared runs | {case():.1f} ms |")
    doc.set_training_state("idle")
    doc.set_training_settings(TrainingSettings(learning_rate=0.02))
    session.make_trainer(session.training)  # a second run: its segment grows with the batches
    doc.set_training_state("running")
    batch_ms()
    panel.runs.set_visible(len(panel.runs.entries) - len(runs) - 1, True)
    print(f"| … and the live segment ticked | {case():.1f} ms |")
    t0 = time.perf_counter()
    panel.set_x_mode("samples")
    switch_ms = (time.perf_counter() - t0) * 1000
    print(f"\nAdding the 3 compared runs: {added_ms:.0f} ms; x to samples seen: {switch_ms:.0f} ms")
    doc.set_training_state("idle")
    panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
