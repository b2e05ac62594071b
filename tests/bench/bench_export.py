"""Exporting a 1,000,000-step history: time and extra peak memory of each export, side by side.

Run from the repository root::

    python tests/bench/bench_export.py               # 1,000,000 steps (about a minute)
    python tests/bench/bench_export.py --steps 100000

Builds a K = 3 session whose history has N steps of full-precision values, then, in a fresh process
per case (so that one case's memory does not hide another's):

* ``export csv``: :func:`engine.export.export_session` to ``.csv`` (text made a chunk of rows at a
  time by C-level maps, streamed into an atomic write);
* ``csv module``: the usual way, ``csv.writer(...).writerow`` once per step into an open file (not
  atomic); its file must be byte-identical to the export's, which checks the export's text;
* ``in memory``: the export's text joined whole first, then one atomic write (what streaming avoids);
* ``export npz``: the same history as arrays (plus x, A, B, C and the gradients).

Each reports the time (the best of ``--repeats``; the machine is shared), the peak of Python's own
allocations (tracemalloc, a second run) and the growth of the process's resident high-water mark
(VmHWM, Linux). Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine, run_child

from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.export import CSV_HEADER, export_session, history_csv
from backprop_lab.engine.session import HISTORY_COLUMNS, History, Session

CASES = ("export csv", "csv module", "in memory", "export npz")


def session_with_history(n: int) -> Session:
    # Whole columns (no StepRecords): building the history leaves no high-water mark above it.
    r = random.Random(1).random
    columns = {name: array("d", (40 * r() for _ in range(n))) for name in HISTORY_COLUMNS}
    session = Session.random(3, 0)
    session.history = History.from_columns(columns, array("q", (i // 100 + 1 for i in range(n))))
    return session


def _csv_module(session: Session, path: str) -> None:
    h = session.history
    columns = [h.column(name) for name in ("epoch", *HISTORY_COLUMNS)]
    with open(path, "w", newline="", encoding="ascii") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for i, row in enumerate(zip(*columns, strict=True), start=1):
            writer.writerow((i, *row))


def _case(how: str, session: Session, folder: str) -> str:
    path = os.path.join(folder, "npz.npz" if how == "export npz" else how.replace(" ", "_") + ".csv")
    if how in ("export csv", "export npz"):
        export_session(session, path)
    elif how == "csv module":
        _csv_module(session, path)
    else:
        atomic_write_bytes(path, b"".join(history_csv(session.history)))
    return path


def _high_water_mark() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:")) * 1024
    except OSError:
        return None


def child(steps: int, how: str, folder: str, repeats: int) -> None:
    """In a fresh process: one case's time and extra peak memory (printed as one JSON line)."""
    import tracemalloc

    session = session_with_history(steps)
    gc.collect()
    hwm_before = _high_water_mark()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        path = _case(how, session, folder)
        times.append(time.perf_counter() - t)
    hwm_after = _high_water_mark()
    gc.collect()
    tracemalloc.start()
    _case(how, session, folder)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    growth = None if hwm_before is None or hwm_after is None else hwm_after - hwm_before
    size = os.path.getsize(path)
    print(json.dumps({"time": min(times), "traced_peak": traced_peak, "hwm_growth": growth, "size": size}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("STEPS", "HOW", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        steps, how, folder = args.child
        child(int(steps), how, folder, args.repeats)
        return 0
    n = args.steps
    print(f"Machine: {machine()}")
    print(f"History: {n:,} steps, K = 3 (the history's arrays: {48 * n / 2**20:.0f} MiB)\n")
    root = Path(__file__).resolve().parents[2]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for how in CASES:
            child_args = [str(n), how, folder]
            env = dict(os.environ)
            results[how] = run_child(__file__, [*child_args, "--repeats", str(args.repeats)], root, env, how)
        same = Path(folder, "export_csv.csv").read_bytes() == Path(folder, "csv_module.csv").read_bytes()
        assert same, "the export's CSV differs from the csv module's"
        assert Path(folder, "in_memory.csv").read_bytes() == Path(folder, "export_csv.csv").read_bytes()
    base = results["csv module"]["time"]
    print(
        f"{'case':<12}{'file size':>12}{'time':>9}{'vs csv module':>15}{'Python peak':>14}{'RSS growth':>13}"
    )
    for how, r in results.items():
        growth = r["hwm_growth"]
        print(
            f"{how:<12}{r['size'] / 2**20:>8.1f} MiB{r['time']:>8.2f}s{r['time'] / base:>14.2f}×"
            f"{r['traced_peak'] / 2**20:>10.1f} MiB"
            + (f"{growth / 2**20:>9.1f} MiB" if growth is not None else f"{'?':>13}")
        )
    print(f"\n(best of {args.repeats}; the export's CSV checked byte-identical to the csv module's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
