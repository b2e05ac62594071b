"""Checking a student's numbers: reading them and comparing them, per K, as compare and the window do.

Run from the repository root::

    python tests/bench/bench_check_numbers.py            # K = 3, 16, 32, 64
    python tests/bench/bench_check_numbers.py --k 32 --rounds 5

Per K, milliseconds (the best of ``--rounds``) for ``parse_answers`` on the loss and all three
gradients printed at full precision (17 significant digits, the longest text a program prints) with
∂L/∂B transposed, and for ``compare_answers`` on them (the comparison and the diagnosis, which tries
the whole catalogue). The window checks at once up to K = 16 and 20,000 characters and on a worker
thread beyond (``gui/check_numbers_dialog.py``: SYNC_MAX_K, SYNC_MAX_CHARS): this is where those
limits come from. Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine

from backprop_lab.engine.answers import parse_answers
from backprop_lab.engine.compare import compare_answers
from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.session import Session


def answers_text(model: Model) -> str:
    """What a program printing every digit gives for ``model``, with ∂L/∂B transposed."""
    loss, grads = model_loss_and_grads(model)
    grads = {**grads, "B": [list(col) for col in zip(*grads["B"], strict=True)]}

    def matrix(m: list[list[float]]) -> str:
        return "[" + ",\n ".join("[" + ", ".join(f"{v:.17g}" for v in row) + "]" for row in m) + "]"

    return f"Loss = {loss:.17g}\n\n" + "\n\n".join(f"dL/d{n} =\n{matrix(m)}" for n, m in grads.items())


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def measure(k: int, rounds: int) -> tuple[int, float, float]:
    """(characters of text, ms to parse, ms to compare) at K = ``k``; asserts the diagnosis."""
    model = Session.random(k, 1).model
    text = answers_text(model)
    answers = parse_answers(text, k)
    comparison = compare_answers(model, answers)
    b = comparison.verdict("B")
    assert k == 1 or (b is not None and b.diagnosis is not None and b.diagnosis.id == "transposed")
    return (
        len(text),
        best_ms(lambda: parse_answers(text, k), rounds),
        best_ms(lambda: compare_answers(model, answers), rounds),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[3, 16, 32, 64], help="the K to measure")
    parser.add_argument("--rounds", type=int, default=3, help="timings per K; the best is kept")
    args = parser.parse_args(argv)
    print(machine())
    print()
    print("| K | characters | parse_answers (ms) | compare_answers (ms) | together (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for k in args.k:
        chars, parse, compare = measure(k, args.rounds)
        print(f"| {k} | {chars:,} | {parse:.1f} | {compare:.1f} | {parse + compare:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
