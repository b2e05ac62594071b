"""Grading a class: how much ``--jobs 2`` gains over ``--jobs 1``.

Run from the repository root::

    python tests/bench/bench_grade.py                   # 8 submissions, 20 random models, 3 rounds
    python tests/bench/bench_grade.py --submissions 16 --repeats 5

Writes a class of submissions into a temporary folder, the kinds a class hands in: the report's
formulas in plain Python loops, the same in float32 NumPy (each process imports NumPy), and
central finite differences in plain Python (two forward passes per weight: the slow honest
kind). Then grades the whole class with :func:`backprop_lab.grade.grade_all`, as the command
does, at ``--jobs 1`` and ``--jobs 2``, the two interleaved round by round so that a busy moment
of a shared machine hits both alike, and prints the seconds of each (best and median), the CPU seconds
the submissions' processes used (the same work either way: on a busy machine it is the cores
free, not --jobs, that bound the gain), and the speed-up, best over best. Every run must give
the same verdicts (checked).
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine

from backprop_lab.engine.gradebook import Setup, submission_names
from backprop_lab.engine.grading import grading_models
from backprop_lab.grade import grade_all

LOOPS = """
import math

def gradients(x, A, B, C):
    k = len(x)
    sig = lambda v: 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    a = [sum(x[i] * A[i][j] for i in range(k)) for j in range(k)]
    y = [sig(v) for v in a]
    z = [y[j] + sum(x[i] * B[i][j] for i in range(k)) for j in range(k)]
    w = [sum(z[i] * C[i][j] for i in range(k)) for j in range(k)]
    g = [sum(C[i][j] * 2 * w[j] for j in range(k)) for i in range(k)]
    dA = [[x[i] * y[j] * (1 - y[j]) * g[j] for j in range(k)] for i in range(k)]
    dB = [[x[i] * g[j] for j in range(k)] for i in range(k)]
    dC = [[2 * w[j] * z[i] for j in range(k)] for i in range(k)]
    return sum(v * v for v in w), dA, dB, dC
"""

NUMPY = """
import numpy as np

def gradients(x, A, B, C):
    x, A, B, C = (np.asarray(m, dtype=np.float32) for m in (x, A, B, C))
    y = 1 / (1 + np.exp(-(x @ A)))
    z = y + x @ B
    w = z @ C
    g = C @ (2 * w)
    return (w * w).sum(), np.outer(x, y * (1 - y) * g), np.outer(x, g), np.outer(z, 2 * w)
"""

FINITE_DIFFERENCES = """
import math

def loss(x, A, B, C):
    k = len(x)
    sig = lambda v: 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))
    z = [sig(sum(x[i] * A[i][j] for i in range(k))) + sum(x[i] * B[i][j] for i in range(k)) for j in range(k)]
    return sum(sum(z[i] * C[i][j] for i in range(k)) ** 2 for j in range(k))

def gradients(x, A, B, C):
    mats, h = [A, B, C], 1e-6
    grads = []
    for m in range(3):
        grad = [[0.0] * len(x) for _ in x]
        for i in range(len(x)):
            for j in range(len(x)):
                for _ in range(REPEAT):  # a student's program is rarely the fastest way
                    up = [[row[:] for row in M] for M in mats]
                    down = [[row[:] for row in M] for M in mats]
                    up[m][i][j] += h
                    down[m][i][j] -= h
                    grad[i][j] = (loss(x, *up) - loss(x, *down)) / (2 * h)
        grads.append(grad)
    return (loss(x, A, B, C), *grads)
"""

KINDS = (("loops", LOOPS), ("numpy", NUMPY), ("fd", "REPEAT = 20\n" + FINITE_DIFFERENCES))


def write_class(folder: Path, n: int) -> list[str]:
    """``n`` submissions, the kinds in turn."""
    paths = []
    for s in range(n):
        kind, text = KINDS[s % len(KINDS)]
        path = folder / f"student{s + 1:02d}_{kind}.py"
        path.write_text(text)
        paths.append(str(path))
    return paths


def grade_once(paths: list[str], setup: Setup, jobs: int) -> tuple[float, float, list[str]]:
    """Wall seconds, the CPU seconds of the submissions' processes, and the verdicts."""
    names = submission_names(paths)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    grades = grade_all(paths, names, setup, jobs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, [g.verdict for g in grades]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    setup = Setup(grading_models(args.models), 16, 10.0, 1 << 30)
    times: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[float]] = {1: [], 2: []}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_class(Path(tmp), args.submissions)
        verdicts = None
        for _ in range(args.repeats):
            for jobs in (1, 2):
                seconds, used, got = grade_once(paths, setup, jobs)
                assert verdicts is None or got == verdicts, (got, verdicts)
                verdicts = got
                times[jobs].append(seconds)
                cpu[jobs].append(used)
    print(f"{machine()}; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(
        f"{args.submissions} submissions ({', '.join(k for k, _ in KINDS)} in turn), "
        f"{len(setup.models)} models, {args.repeats} rounds; "
        f"verdicts: {', '.join(sorted(set(verdicts or [])))}"
    )
    print("| --jobs | best s | median s | submissions' CPU s (median) |")
    print("|---|---|---|---|")
    for jobs, runs in times.items():
        best, median = min(runs), statistics.median(runs)
        print(f"| {jobs} | {best:.2f} | {median:.2f} | {statistics.median(cpu[jobs]):.2f} |")
    print(f"speed-up of --jobs 2 over --jobs 1 (best over best): {min(times[1]) / min(times[2]):.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
