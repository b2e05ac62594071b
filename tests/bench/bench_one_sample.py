"""One sample's loss and gradients, and one history record: the per-call costs outside the kernels.

Run from the repository root::

    python tests/bench/bench_one_sample.py            # K = 3, 16, 64
    python tests/bench/bench_one_sample.py --k 16 --rounds 30

Side by side in one run, per K, microseconds per call (the best over ``--rounds`` interleaved
rounds, each timing every candidate in turn, so that a busy moment of a shared machine hits them
all alike):

* the report's own loops (``tests/bench/baseline_report_style.py``: its ``forward`` then its
  ``backward``, one sample), the yardstick;
* ``engine.model.loss_and_grads`` (validation, forward, backward, the finiteness checks), and its
  parts: ``validate_model`` alone, ``forward`` + ``backward`` alone;
* ``History.append`` of one StepRecord as the trainer yields it (K does not matter);
* its share of a batch-size-1 training loop at K = 3 (``Trainer.steps()`` into a History, as
  ``backprop-lab train`` runs it, against the same steps into nothing).

The ratio to read is loss_and_grads ÷ report loops (issue 14's target: ≤ 0.5 at K = 16).
``--before REV`` adds ``loss_and_grads``, ``validate_model`` and ``History`` as they were at git
revision REV (``engine/model.py`` and ``engine/session_history.py`` loaded beside today's, same
run), e.g. ``--before e833bcb``.
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_report_style as report
from benchlib import machine

from backprop_lab.engine.model import Model, backward, forward, loss_and_grads, validate_model
from backprop_lab.engine.session import History
from backprop_lab.engine.training import StepRecord, Trainer, TrainingSettings


def per_call(fn: Callable[[], object], calls: int) -> float:
    t = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t) / calls


def interleaved(candidates: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, float]:
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, fn in candidates.items():
            best[name] = min(best[name], per_call(fn, calls))
    return best


Matrix = list[list[float]]


def model(k: int, seed: int = 0) -> tuple[list[float], Matrix, Matrix, Matrix]:
    r = random.Random(seed)
    x = [r.uniform(-1, 1) for _ in range(k)]
    A, B, C = ([[r.uniform(-1, 1) for _ in range(k)] for _ in range(k)] for _ in range(3))
    return x, A, B, C


def module_at(rev: str, path: str) -> types.ModuleType:
    """The file ``path`` as it was at git revision ``rev``, as a module of its own."""
    root = Path(__file__).resolve().parents[2]
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"{Path(path).stem}_at_{rev}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)
    return module


def one_k(k: int, rounds: int, before: types.ModuleType | None) -> dict[str, float]:
    x, A, B, C = model(k)
    # The same numbers both ways: the report's loops sum in engine.model's order, so only ∂L/∂A
    # (x_i·σ′ then ·g_j there, x_i·(σ′·g_j) here) may differ, in the last bits.
    loss, grads = loss_and_grads(x, A, B, C)
    theirs = report.forward(x, A, B, C)
    their_grads = report.backward(theirs)
    assert theirs["loss"] == loss and their_grads["B"] == grads["B"] and their_grads["C"] == grads["C"]
    scale = max(abs(v) for row in grads["A"] for v in row)
    assert all(
        abs(p - q) <= 1e-12 * scale
        for mine, yours in zip(grads["A"], their_grads["A"], strict=True)
        for p, q in zip(mine, yours, strict=True)
    )
    calls = max(5, 40_000 // (k * k))
    candidates: dict[str, Callable[[], object]] = {
        "report loops": lambda: report.backward(report.forward(x, A, B, C)),
        "loss_and_grads": lambda: loss_and_grads(x, A, B, C),
        "validate_model": lambda: validate_model(x, A, B, C),
        "forward+backward": lambda: backward(x, C, forward(x, A, B, C)),
    }
    if before is not None:
        old_loss, old_grads = before.loss_and_grads(x, A, B, C)
        assert (old_loss, old_grads) == (loss, grads), "the old loss_and_grads gives other numbers"
        candidates["loss_and_grads before"] = lambda: before.loss_and_grads(x, A, B, C)
        candidates["validate_model before"] = lambda: before.validate_model(x, A, B, C)
    return interleaved(candidates, calls, rounds)


def history_append(rounds: int, history: type = History, n: int = 20_000) -> float:
    records = [StepRecord(i + 1, 1 + i // 100, 1.5 + i, 0.5, 0.25, 0.125, 2.0) for i in range(n)]
    best = float("inf")
    for _ in range(rounds):
        h = history()
        append = h.append
        t = time.perf_counter()
        for record in records:
            append(record)
        best = min(best, (time.perf_counter() - t) / n)
    return best


def training_loop(rounds: int, histories: dict[str, type], steps: int = 20_000) -> dict[str, float]:
    """Seconds per step of a K = 3, batch-size-1 run into each kind of History (and into nothing)."""
    x, A, B, C = model(3)
    settings = TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=steps, epochs=1, seed=0)
    best = dict.fromkeys([*histories, "nothing"], float("inf"))
    for _ in range(rounds):
        for name in best:
            trainer = Trainer(Model(x, A, B, C), settings)
            sink = histories[name]().append if name in histories else (lambda record: None)
            t = time.perf_counter()
            for record in trainer.steps():
                sink(record)
            best[name] = min(best[name], (time.perf_counter() - t) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="*", default=[3, 16, 64])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--before", metavar="REV", help="also time engine/model.py as it was at REV")
    parser.add_argument("--steps", type=int, default=20_000, help="steps of the training loop")
    args = parser.parse_args()
    before = module_at(args.before, "engine/model.py") if args.before else None
    histories = {"History": History}
    if args.before:
        histories["History before"] = module_at(args.before, "engine/session_history.py").History
    print(f"Machine: {machine()}")
    print(f"Best of {args.rounds} interleaved rounds; microseconds per call\n")
    names = ["report loops", "loss_and_grads", "validate_model", "forward+backward"]
    if before is not None:
        names += ["loss_and_grads before", "validate_model before"]
    print(f"{'K':>4}" + "".join(f"{n:>{max(18, len(n) + 2)}}" for n in names) + f"{'ratio':>8}")
    for k in args.k:
        t = one_k(k, args.rounds, before)
        ratio = t["loss_and_grads"] / t["report loops"]
        print(
            f"{k:>4}" + "".join(f"{t[n] * 1e6:>{max(18, len(n) + 2)}.1f}" for n in names) + f"{ratio:>8.2f}"
        )
    print("\n(ratio = loss_and_grads ÷ report loops: one sample's loss and three gradients)")
    for name, history in histories.items():
        print(
            f"{name}.append: {history_append(args.rounds, history, args.steps) * 1e6:.2f} µs per StepRecord"
        )
    loop = training_loop(max(3, args.rounds // 3), histories, args.steps)
    print(f"Training, K = 3, batch size 1: {loop['nothing'] * 1e6:.2f} µs a step with the records dropped;")
    for name in histories:
        share = (loop[name] - loop["nothing"]) / loop[name]
        print(f"  {loop[name] * 1e6:.2f} µs a step into a {name}: its append is {share:.0%} of a step")


if __name__ == "__main__":
    main()
