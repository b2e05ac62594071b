"""Session files with a 1,000,000-step history: memory, file size, save and load time.

Run from the repository root::

    python tests/bench/bench_session.py             # 1,000,000 steps (about half a minute)
    python tests/bench/bench_session.py --steps 100000

Builds a K = 3 session whose history has N steps of full-precision values (random losses and norms,
as many significant digits as real training gives), then measures:

* memory of the in-memory History per step (the arrays' allocated buffers), and the
  rate of ``History.append`` for StepRecords as the trainer yields them;
* for each history encoding (``json`` arrays and ``base64`` columns; ``auto`` picks base64 past
  INLINE_HISTORY_STEPS): the file size, the time of ``save_session`` (text + atomic write with fsync)
  and of ``load_session`` (read + parse + full validation), and that the loaded session is
  bit-identical;
* the extra peak memory of a save, in a fresh process per case: ``save_session`` (which streams the
  text to the file a piece at a time) against making the whole text in memory first, as the
  version 1 writer did (``dumps_session(s).encode()``, then one write). Two measures: the peak of
  Python's own allocations (tracemalloc) and the growth of the process's resident high-water mark
  (VmHWM, Linux).

Each time is the best of ``--repeats`` runs (the machine is shared; the best is the least disturbed).
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.session import HISTORY_COLUMNS, History, Session, load_session, save_session
from backprop_lab.engine.training import StepRecord


def records(n: int, seed: int = 1):
    r = random.Random(seed).random
    per_epoch = 100
    for i in range(n):
        yield StepRecord(i + 1, i // per_epoch + 1, 40 * r(), 20 * r(), r(), 5 * r(), 3 * r())


_PEAK = """
import sys
from backprop_lab.engine.session import load_session


def high_water_mark():
    # VmHWM belongs to this process's own address space; ru_maxrss would include the parent's
    # resident size from before exec on Linux.
    with open("/proc/self/status") as fh:
        return next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:")) * 1024


before = high_water_mark()
session = load_session(sys.argv[1])
print(high_water_mark() - before)
"""


def peak_load_memory(path: Path) -> int | None:
    """Extra peak resident memory (bytes) of a fresh process loading ``path``; None if unknown (not Linux)."""
    if not os.path.exists("/proc/self/status"):
        return None
    root = str(Path(__file__).resolve().parents[2])
    run = [sys.executable, "-c", _PEAK, str(path)]
    return int(subprocess.run(run, capture_output=True, text=True, check=True, cwd=root).stdout)


def _session_with_history(n: int) -> Session:
    # Whole columns (no StepRecords): building the history leaves no high-water mark above it.
    r = random.Random(1).random
    columns = {name: array("d", (40 * r() for _ in range(n))) for name in HISTORY_COLUMNS}
    history = History.from_columns(columns, array("q", (i // 100 + 1 for i in range(n))))
    session = Session.report_example()
    session.history = history
    return session


def _high_water_mark() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            return next(int(ln.split()[1]) for ln in fh if ln.startswith("VmHWM:")) * 1024
    except OSError:
        return None


def save_memory_child(steps: int, encoding: str, how: str, path: str) -> None:
    """In a fresh process: the extra peak memory of one save (printed as one JSON line)."""
    import json
    import tracemalloc

    from backprop_lab.engine.atomic import atomic_write_bytes
    from backprop_lab.engine.session import dumps_session

    session = _session_with_history(steps)

    def save() -> None:
        if how == "streamed":
            save_session(session, path, history_encoding=encoding)
        else:  # the version 1 writer: the whole text, then its bytes, then one write
            atomic_write_bytes(path, dumps_session(session, encoding).encode("utf-8"))

    # First untraced (the time, and the resident high-water mark), then traced (Python's own peak).
    gc.collect()
    hwm_before = _high_water_mark()
    t = time.perf_counter()
    save()
    elapsed = time.perf_counter() - t
    hwm_after = _high_water_mark()
    gc.collect()
    tracemalloc.start()
    save()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = None if hwm_before is None or hwm_after is None else hwm_after - hwm_before
    print(
        json.dumps(
            {"traced_peak": traced_peak, "hwm_growth": rss, "size": os.path.getsize(path), "time": elapsed}
        )
    )


def save_memory(steps: int) -> list[tuple[str, str, dict[str, int]]]:
    from benchlib import run_child

    root = Path(__file__).resolve().parents[2]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for encoding in ("base64", "json"):
            for how in ("streamed", "in memory"):
                args = [str(steps), encoding, how, str(Path(folder) / "s.json")]
                result = run_child(__file__, args, root, dict(os.environ), f"save {encoding} {how}")
                rows.append((encoding, how, result))
    return rows


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--child", nargs=4, metavar=("STEPS", "ENCODING", "HOW", "PATH"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        steps, encoding, how, path = args.child
        save_memory_child(int(steps), encoding, how, path)
        return
    n = args.steps

    print(f"Machine: {machine()}")
    print(f"History: {n:,} steps, K = 3\n")

    history = History()
    t = time.perf_counter()
    history.extend(records(n))
    append_time = time.perf_counter() - t
    # sys.getsizeof of an array counts its allocated buffer, over-allocation from growing included.
    held = sum(sys.getsizeof(history.column(c)) for c in (*HISTORY_COLUMNS, "epoch"))
    print(f"History.append: {n / append_time:,.0f} records/s (including making the StepRecords)")
    print(
        f"Memory: {held / n:.1f} bytes/step allocated ({held / 2**20:.1f} MiB), "
        f"{history.nbytes / n:.0f} bytes/step of values; "
        f"lists of Python floats would take ~{(8 + 24) * (len(HISTORY_COLUMNS) + 1)} bytes/step\n"
    )
    assert all(isinstance(history.column(c), array) for c in HISTORY_COLUMNS)

    session = Session.report_example()
    session.history = history
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for encoding in ("json", "base64"):
            path = Path(folder) / f"{encoding}.json"
            save = best(lambda p=path, e=encoding: save_session(session, p, history_encoding=e), args.repeats)
            size = path.stat().st_size
            loaded: dict[str, Session] = {}
            load = best(lambda p=path, into=loaded: into.update(last=load_session(p)), args.repeats)
            assert loaded["last"].history == history, "round trip is not bit-identical"
            del loaded
            rows.append((encoding, size, save, load, peak_load_memory(path)))

    print(f"{'encoding':<10}{'file size':>12}{'bytes/step':>12}{'save':>10}{'load':>10}{'load peak':>12}")
    for encoding, size, save, load, peak in rows:
        print(
            f"{encoding:<10}{size / 1e6:>9.1f} MB{size / n:>12.1f}{save:>9.2f}s{load:>9.2f}s"
            + (f"{peak / 2**20:>8.0f} MiB" if peak is not None else f"{'?':>12}")
        )
    print("\n(save = text + atomic write with fsync; load = read + parse + full validation; best of", end=" ")
    print(f"{args.repeats}; load peak = extra peak memory of a fresh process loading the file;", end=" ")
    print("both round trips checked bit-identical)")

    print(f"\nSaving {n:,} steps: extra peak memory of one save, in a fresh process each")
    print(f"{'writer':<12}{'encoding':<10}{'file size':>12}{'save':>9}{'Python peak':>14}{'RSS growth':>14}")
    for encoding, how, r in save_memory(n):
        growth = r["hwm_growth"]
        print(
            f"{how:<12}{encoding:<10}{r['size'] / 2**20:>8.1f} MiB{r['time']:>8.2f}s"
            f"{r['traced_peak'] / 2**20:>10.1f} MiB"
            + (f"{growth / 2**20:>10.1f} MiB" if growth is not None else f"{'?':>14}")
        )
    print("(streamed = save_session; in memory = the whole text built first, as the version 1 writer did)")


if __name__ == "__main__":
    main()
