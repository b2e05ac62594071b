"""What a submission's own process costs: run_submission against calling gradients() in-process.

    python tests/bench/bench_sandbox.py [--repeats 5] [--no-numpy] [--no-torch]

One grade run: the report's example and 20 random models (K from 1 to 6). The same correct
submission is timed called directly in this process and through :func:`run_submission` (a new
interpreter, limits, pipes, the temporary folder), side by side in one run; then submissions in
NumPy and in PyTorch, whose import is most of their cost. Medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine

from backprop_lab.engine.session import Session
from backprop_lab.sandbox import run_submission

PLAIN = """
import math

def gradients(x, A, B, C):
    K = len(x)
    a = [sum(x[i] * A[i][j] for i in range(K)) for j in range(K)]
    y = [1 / (1 + math.exp(-v)) for v in a]
    z = [y[j] + sum(x[i] * B[i][j] for i in range(K)) for j in range(K)]
    w = [sum(z[i] * C[i][j] for i in range(K)) for j in range(K)]
    g = [sum(C[i][j] * 2 * w[j] for j in range(K)) for i in range(K)]
    dA = [[x[i] * g[j] * y[j] * (1 - y[j]) for j in range(K)] for i in range(K)]
    dB = [[x[i] * g[j] for j in range(K)] for i in range(K)]
    dC = [[z[i] * 2 * w[j] for j in range(K)] for i in range(K)]
    return sum(v * v for v in w), dA, dB, dC
"""

NUMPY = """
import numpy as np

def gradients(x, A, B, C):
    x, A, B, C = (np.array(m, dtype=float) for m in (x, A, B, C))
    x = x.reshape(1, -1)
    y = 1 / (1 + np.exp(-(x @ A)))
    z = y + x @ B
    w = z @ C
    g = (2 * w) @ C.T
    return np.sum(w ** 2), x.T @ (g * y * (1 - y)), x.T @ g, z.T @ (2 * w)
"""

TORCH = """
import torch

def gradients(x, A, B, C):
    x = torch.tensor([x], dtype=torch.float64)
    A, B, C = (torch.tensor(m, dtype=torch.float64, requires_grad=True) for m in (A, B, C))
    loss = ((torch.sigmoid(x @ A) + x @ B) @ C).pow(2).sum()
    loss.backward()
    return loss, A.grad, B.grad, C.grad
"""


def models(count: int = 20, seed: int = 16) -> list[list[object]]:
    """The report's example and ``count`` random models, K cycling from 1 to 6."""
    rng = random.Random(seed)
    example = Session.report_example().model
    chosen: list[list[object]] = [[example.x, example.A, example.B, example.C]]
    for n in range(count):
        k = 1 + n % 6
        x = [rng.uniform(0.5, 2.0) for _ in range(k)]
        A, B, C = ([[rng.uniform(-1, 1) for _ in range(k)] for _ in range(k)] for _ in range(3))
        chosen.append([x, A, B, C])
    return chosen


def _in_process(source: str, grading: list[list[object]]) -> float:
    space: dict[str, object] = {}
    start = time.perf_counter()
    exec(compile(source, "submission.py", "exec"), space)
    function = space["gradients"]
    for model in grading:
        function(*model)  # type: ignore[operator]
    return time.perf_counter() - start


def _sandboxed(path: Path, grading: list[list[object]]) -> float:
    start = time.perf_counter()
    outcome = run_submission(path, grading)
    elapsed = time.perf_counter() - start
    if outcome.status != "ok":
        raise SystemExit(f"{path.name}: {outcome.status} {outcome.detail}\n{outcome.output}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-numpy", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    grading = models()
    kinds = {"plain": PLAIN}
    if not args.no_numpy and importlib.util.find_spec("numpy"):
        kinds["numpy"] = NUMPY
    if not args.no_torch and importlib.util.find_spec("torch"):
        kinds["torch"] = TORCH
    print(machine())
    print(f"{len(grading)} models, median of {args.repeats} runs each, interleaved")
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for kind, source in kinds.items():
            paths[kind] = Path(folder) / f"{kind}.py"
            paths[kind].write_text(source, encoding="utf-8")
        times: dict[str, list[float]] = {"plain in-process": []} | {kind: [] for kind in kinds}
        for _ in range(args.repeats):
            times["plain in-process"].append(_in_process(PLAIN, grading))
            for kind, path in paths.items():
                times[kind].append(_sandboxed(path, grading))
    inside = statistics.median(times["plain in-process"])
    for name, values in times.items():
        middle = statistics.median(values)
        label = name if name == "plain in-process" else f"{name} in the sandbox"
        print(f"{label:>24}: {middle * 1000:8.1f} ms  ({middle / inside:6.0f}× in-process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
