"""How long reading a student's answers takes (issue 16, ``engine.answers.parse_answers``), beside
reading the same numbers as a pasted matrix (``engine.matrix_text.parse_matrix_text``), and how
long hostile text takes to be refused.

Run from the repository root::

    python tests/bench/bench_answers.py [--repeats 3]

Prints the machine, then Markdown rows: the input, its characters, the best of ``--repeats``
wall-clock seconds (the machine is shared; the best is the least disturbed), and the ratio to the
matrix paste of the same numbers measured in the same run (what to compare across machines).
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.answers import AnswersError, parse_answers
from backprop_lab.engine.matrix_text import format_python, parse_matrix_text

HOSTILE = 3_000_000


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def refused(text: str, k: int) -> None:
    try:
        parse_answers(text, k)
    except AnswersError:
        return
    raise AssertionError("hostile text was read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(16)
    print(machine(), "\n")
    print("| Answers | Characters | Seconds (best) | × the same numbers pasted as one matrix |")
    print("|---|---:|---:|---:|")
    base_per_char = 0.0
    for k in (3, 64, 256, 1024):
        m = [[rng.uniform(-20, 20) for _ in range(k)] for _ in range(k)]
        single = format_python(m)
        # The three gradients, labelled, and the loss: what parse_answers reads...
        text = "".join(f"dL/d{name} = {single}\n" for name in "ABC") + "Loss = 44.061213140343526\n"
        # ...against the same three matrices read by the matrix paste, one after another.
        pasted = best(lambda s=single: [parse_matrix_text(s) for _ in range(3)], args.repeats)
        seconds = best(lambda t=text, k=k: parse_answers(t, k), args.repeats)
        base_per_char = pasted / (3 * len(single))
        print(f"| K = {k}, full precision | {len(text):,} | {seconds:.4f} | {seconds / pasted:.2f} |")
    hostile = [
        ("one line of 1.5 under dL/dA", "dL/dA = " + "1.5 " * (HOSTILE // 4), 3),
        ("an open '[' and numbers", "dL/dA = [" + "1, " * (HOSTILE // 3), 3),
        ("deep brackets", "[" * HOSTILE, 3),
        ("words", "ab " * (HOSTILE // 3), 3),
        ("blank lines", "\n" * HOSTILE, 3),
        ("a label, then only blank lines", "dA =" + "\n" * HOSTILE, 3),
        ("lines of prose, each different", "".join(f"line {i} of prose\n" for i in range(HOSTILE // 20)), 3),
        ("an unknown name alone on each line", "W1 =\n" * (HOSTILE // 5), 3),
    ]
    print("\n| Hostile answers (refused) | Characters | Seconds (best) | × a valid paste as long |")
    print("|---|---:|---:|---:|")
    for label, text, k in hostile:
        seconds = best(lambda t=text, k=k: refused(t, k), args.repeats)
        print(f"| {label} | {len(text):,} | {seconds:.3f} | {seconds / (base_per_char * len(text)):.2f} |")


if __name__ == "__main__":
    main()
