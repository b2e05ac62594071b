"""Every member of the family against PyTorch float64 autograd: how close, and how much bound it takes.

Run from the repository root (needs the torch extra)::

    python tests/bench/bench_family_accuracy.py               # 400 models × 20 members (about a minute)
    python tests/bench/bench_family_accuracy.py --models 50

Draws random models (K uniform in 1…33, entries uniform in ±1, ±10 or ±900: the last saturates every
σ) and, for each of the 5 activations × 2 conventions × (no target, a target of the same scale),
runs ``torch_check``. Prints one markdown row per member: the checks passed, the largest
norm-relative gradient difference ‖ours − torch‖/‖torch‖ per matrix, the largest entry-wise
relative difference, and how many entries needed the rounding bound (their difference exceeded
1e-9 relative). Accuracy, not time: the figures do not depend on the machine's speed, but PyTorch's
sums and its tanh do depend on its CPU, so the machine is printed too.

Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.model import MATRIX_NAMES, Model
from backprop_lab.engine.torch_check import TORCH_RTOL, torch_check, torch_version
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant


def _norm_relative(report, name: str) -> float:
    entries = [e for row in report.by_matrix(name) for e in row]
    diff = math.hypot(*(e.analytic - e.reference for e in entries))
    size = math.hypot(*(e.reference for e in entries))
    return diff / size if size > 0 else diff


def main(argv: list[str] | None = None) -> int:
    """Print the table; 0 when every check passed, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=400)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    members = list(itertools.product(ACTIVATIONS, CONVENTIONS, (False, True)))
    stats = {
        m: {"passed": 0, "runs": 0, "norm": 0.0, "entry": 0.0, "bound": 0, "entries": 0} for m in members
    }
    for _ in range(args.models):
        k = rng.randint(1, 33)
        scale = rng.choice((1.0, 10.0, 900.0))

        def draw(scale: float = scale) -> float:
            return rng.uniform(-scale, scale)

        x = [draw() for _ in range(k)]
        A, B, C = ([[draw() for _ in range(k)] for _ in range(k)] for _ in range(3))
        t = tuple(draw() for _ in range(k))
        for member in members:
            activation, convention, target = member
            report = torch_check(Model(x, A, B, C, Variant(activation, convention, t if target else None)))
            s = stats[member]
            s["runs"] += 1
            s["passed"] += report.passed
            s["norm"] = max(s["norm"], *(_norm_relative(report, n) for n in MATRIX_NAMES))
            s["entry"] = max(s["entry"], report.max_rel_error)
            s["bound"] += sum(e.rel_error > TORCH_RTOL for e in report.entries)
            s["entries"] += len(report.entries)
    print(f"Machine: {machine()}; PyTorch {torch_version()}; {args.models} models, seed {args.seed}")
    print()
    print("| member | passed | max ‖ours − torch‖/‖torch‖ | max entry rel. diff | entries > 1e-9 rel. |")
    print("|---|---|---|---|---|")
    for member in members:
        s = stats[member]
        activation, convention, target = member
        name = f"{activation}, {convention}, {'target' if target else 'no target'}"
        share = f"{s['bound']:,} of {s['entries']:,}"
        print(f"| {name} | {s['passed']}/{s['runs']} | {s['norm']:.1e} | {s['entry']:.1e} | {share} |")
    return 0 if all(s["passed"] == s["runs"] for s in stats.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
