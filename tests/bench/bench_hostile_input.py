"""How long hostile input takes to refuse: pasted text and session files (the timings that the
hardening tests in tests/engine/test_hardening_paste.py and test_hardening_session_input.py used
to assert, and no longer do: a test asserts behaviour, this file measures).

Run from the repository root::

    python tests/bench/bench_hostile_input.py [--repeats 3]

Prints the machine, then one Markdown row per input: its size and the best of ``--repeats``
wall-clock times (the machine is shared; the best is the least disturbed), and the ratio to parsing
a valid input of similar size measured in the same run, which is what to compare across machines.
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.matrix_text import MAX_TEXT_CHARS, parse_matrix_text
from backprop_lab.engine.session import Session, SessionError, dumps_session, load_session

HOSTILE_SIZE = 5_000_000
PASTES = [
    ("open paren then blanks", "(" + " " * 200_000 + "x"),
    ("blanks inside parens", "a(" + " " * 200_000 + "x)"),
    ("many closing parens", "(" + " )" * 100_000 + "x"),
    ("kwargs without a value", "a([1]" + ", b" * 100_000 + "=)"),
    ("one line of cells", "10 " * (HOSTILE_SIZE // 3)),
    ("a flat list", "[" + "10," * (HOSTILE_SIZE // 3) + "]"),
    ("many rows", "1\n" * (HOSTILE_SIZE // 2)),
    ("deep brackets", "[" * HOSTILE_SIZE),
    ("only separators", ",;\t " * (HOSTILE_SIZE // 4)),
    ("over the limit", "1 " * (MAX_TEXT_CHARS // 2 + 1)),
]


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def ratio(t: float, base: float) -> str:
    r = t / base
    return f"{r:.2f}" if r < 10 else f"{r:,.0f}"


def _refused(fn) -> None:
    """Run ``fn``, which must refuse its input: a time for accepting it would be the wrong figure."""
    try:
        fn()
    except (ValueError, SessionError):
        return
    raise AssertionError("hostile input was accepted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")

    valid = "\n".join(" ".join(["0.5"] * 64) for _ in range(64))  # a K = 64 matrix, ~16 KB
    base = best(lambda: parse_matrix_text(valid), args.repeats)
    print("| Pasted text | Characters | Seconds (best) | × a valid 64 × 64 paste |")
    print("|---|---:|---:|---:|")
    print(f"| a valid 64 × 64 matrix | {len(valid):,} | {base:.4f} | 1 |")
    for label, text in PASTES:
        t = best(lambda text=text: _refused(lambda: parse_matrix_text(text)), args.repeats)
        print(f"| {label} | {len(text):,} | {t:.4f} | {ratio(t, base)} |")

    base_doc = json.loads(dumps_session(Session.random(3, 0), history_encoding="json"))
    files = [
        ("6 million history entries", {**base_doc, "history": {"loss": [0.5] * 6_000_000}}),
        ("x of a million", {**base_doc, "model": {"x": [0.5] * 1_000_000, "A": [], "B": [], "C": []}}),
        ("a million empty arrays", {**base_doc, "model": {"x": [0.5], "A": [[]] * 1_000_000}}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        ok = Path(tmp) / "ok.json"
        ok.write_text(json.dumps(base_doc), encoding="utf-8")
        base = best(lambda: load_session(ok), args.repeats)
        print("\n| Session file | Bytes | Seconds (best) | × a valid K = 3 file |")
        print("|---|---:|---:|---:|")
        print(f"| a valid K = 3 session | {ok.stat().st_size:,} | {base:.4f} | 1 |")
        sparse = Path(tmp) / "sparse.json"
        with open(sparse, "wb") as fh:
            fh.truncate(1 << 30)
        t = best(lambda: _refused(lambda: load_session(sparse)), args.repeats)
        print(f"| a 1 GB sparse file | {1 << 30:,} | {t:.4f} | {ratio(t, base)} |")
        for label, doc in files:
            path = Path(tmp) / "hostile.json"
            path.write_text(json.dumps(doc), encoding="utf-8")
            t = best(lambda path=path: _refused(lambda: load_session(path)), args.repeats)
            print(f"| {label} | {path.stat().st_size:,} | {t:.4f} | {ratio(t, base)} |")


if __name__ == "__main__":
    main()
