"""Benchmark of sweeps (issue 17): the speed-up of ``--jobs 2`` over ``--jobs 1``.

The same sweep (the report example, 4 learning rates × 2 seeds, batch size 1, N samples, one
epoch: 8 runs of N steps) is run through :func:`engine.sweep.run_sweep` with a process pool of 1
and of 2 workers, alternately, ``--repeats`` times each (best wall time of each kept), and in this
process with no pool at all (the same train_session calls one after the other: the work
itself, without processes, pickling or file writing). The work is CPU-bound pure Python, so only
processes run it side by side.

    python tests/bench/bench_sweep.py [--samples N] [--repeats R]

Prints Markdown (the figures quoted in docs/performance.md) with the machine and its load average
before and after: on a shared machine another process's work takes cores from the pool, so the
load says how far the figures can be trusted. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.session import Session
from backprop_lab.engine.sweep import make_grid, run_sweep
from backprop_lab.engine.training import train_session


def _sweep_seconds(session: Session, grid, jobs: int, folder: Path) -> tuple[float, float]:
    """The sweep's wall time, and how many runs trained at once on average (the runs' own
    training seconds over the wall time: 2 would be both processes busy all along)."""
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    results = run_sweep(session, grid, folder, jobs=jobs)
    seconds = time.perf_counter() - started
    assert len(results.runs) == len(grid.points) and all(r.status == "finished" for r in results.runs)
    return seconds, sum(r.seconds for r in results.runs) / seconds


def _serial_seconds(session: Session, grid) -> float:
    started = time.perf_counter()
    for point in grid.points:
        train_session(session.copy(), point.settings)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50_000, help="N: steps per run (default 50,000)")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps per pool size (default 3)")
    args = parser.parse_args()

    session = Session.report_example()
    base = session.training
    axes = {"learning_rate": [0.001, 0.003, 0.01, 0.03], "seed": [0, 1]}
    settings = type(base)(base.learning_rate, 1, args.samples, 1, 0)
    grid = make_grid(settings, axes, k=session.model.K)
    load_before = os.getloadavg()
    times: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        _sweep_seconds(session, grid, 2, Path(tmp) / "warm")  # kernels compiled and cached once
        serials = []
        for repeat in range(args.repeats):
            # In turn, each first in one repeat: a drift in the machine's load hits all three alike.
            order = [0, 1, 2][repeat % 3 :] + [0, 1, 2][: repeat % 3]
            for jobs in order:
                if jobs:
                    times[jobs].append(_sweep_seconds(session, grid, jobs, Path(tmp) / f"j{jobs}"))
                else:
                    serials.append(_serial_seconds(session, grid))
    serial = min(serials)
    load_after = os.getloadavg()
    (one, at_once_1), (two, at_once_2) = min(times[1]), min(times[2])
    steps = sum(p.settings.total_steps for p in grid.points)
    print(f"Machine: {machine()}")
    before = ", ".join(f"{x:.2f}" for x in load_before)
    after = ", ".join(f"{x:.2f}" for x in load_after)
    print(f"Load average (1, 5, 15 min): {before} before; {after} after")
    print()
    print(
        f"Sweep: {len(grid.points)} runs × {args.samples:,} steps (batch size 1, K = 3), "
        f"best of {args.repeats}"
    )
    print()
    print("| | wall time | steps/s | runs training at once | vs --jobs 1 |")
    print("|---|---|---|---|---|")
    print(f"| in this process, no pool | {serial:.2f} s | {steps / serial:,.0f} | 1 | {one / serial:.2f}× |")
    print(
        f"| `--jobs 1` (a pool of 1 process) | {one:.2f} s | {steps / one:,.0f} | {at_once_1:.2f} | 1.00× |"
    )
    print(
        f"| `--jobs 2` (a pool of 2 processes) | {two:.2f} s | {steps / two:,.0f} | {at_once_2:.2f} "
        f"| **{one / two:.2f}×** |"
    )
    print()
    walls = {jobs: [round(t, 2) for t, _ in ts] for jobs, ts in times.items()}
    walls[0] = [round(t, 2) for t in serials]
    print(f"All wall times (s): no pool {walls[0]}, --jobs 1 {walls[1]}, --jobs 2 {walls[2]}")


if __name__ == "__main__":  # the pool's processes import this module: it must not run again there
    main()
