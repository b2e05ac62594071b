"""Training throughput (samples per second): engine.training against a report-style baseline and PyTorch.

Run from the repository root::

    python tests/bench/bench_training.py            # docs/performance.md (about a minute and a half)
    python tests/bench/bench_training.py --quick    # a smoke run of a few seconds

Every column trains the same random model (K = 3, 16, 64; entries U[-0.5, 0.5), seed 1) on the same
inputs, in the same mini-batches of 32, with learning rate 1e-3, and computes the loss at x after each
step as the product does. Columns:

* ours      ``engine.training.Trainer.steps()`` (data generation excluded);
* baseline  ``tests/bench/baseline_report_style.py``: index loops, a dict of intermediates, per-sample
            gradients summed and divided by the batch size (the report's way of writing it);
* torch per sample  float64 autograd, one forward/backward per sample accumulating into .grad, then
            the update (how the report used PyTorch); inputs pre-converted to one tensor;
* torch batched     float64, one forward/backward per mini-batch on a (32×K) tensor.

Each figure is the best of several repeats (the machine is shared; the best is the least disturbed).
PyTorch runs with one thread, like the Python code. Its columns are left out when it is not installed.
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_report_style as baseline  # noqa: E402
from benchlib import machine  # noqa: E402

from backprop_lab.engine.model import Model  # noqa: E402
from backprop_lab.engine.training import Trainer, TrainingSettings  # noqa: E402

BATCH = 32
LR = 1e-3

# (K, samples for ours, samples for the baseline, samples for torch per sample, samples for torch batched)
FULL = [(3, 64_000, 16_000, 4_000, 64_000), (16, 8_000, 2_000, 2_000, 32_000), (64, 1_024, 256, 1_024, 8_192)]
QUICK = [(3, 6_400, 1_600, 320, 6_400), (16, 640, 320, 320, 3_200), (64, 128, 64, 64, 640)]


def random_model(k: int, seed: int = 1):
    r = random.Random(seed)
    x = [r.random() for _ in range(k)]
    m = [[[r.random() - 0.5 for _ in range(k)] for _ in range(k)] for _ in range(3)]
    return x, m[0], m[1], m[2]


def time_ours(k: int, n: int, repeats: int) -> float:
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=n, epochs=1, seed=2)
    best = float("inf")
    for _ in range(repeats):
        trainer = Trainer(Model(x, A, B, C), settings)
        assert len(trainer.samples) == n  # draw the inputs before the clock starts, as for the others
        t0 = time.perf_counter()
        for _record in trainer.steps():
            pass
        best = min(best, time.perf_counter() - t0)
        assert trainer.divergence is None and trainer.steps_done == settings.total_steps
    return n / best


def time_baseline(k: int, n: int, repeats: int) -> float:
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=n, epochs=1, seed=2)
    trainer = Trainer(Model(x, A, B, C), settings)
    batches = list(trainer.batches())
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        baseline.train(x, A, B, C, trainer.samples, batches, LR)
        best = min(best, time.perf_counter() - t0)
    return n / best


def check_same_result(k: int) -> None:
    """The baseline and ours must agree, or the comparison means nothing."""
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=4 * BATCH + 5, seed=2)
    trainer = Trainer(Model(x, A, B, C), settings)
    records = list(trainer.steps())
    A2, B2, C2, losses = baseline.train(x, A, B, C, trainer.samples, list(trainer.batches()), LR)
    for ours, theirs in zip(trainer.weights(), (A2, B2, C2), strict=True):
        for ro, rt in zip(ours, theirs, strict=True):
            for o, t in zip(ro, rt, strict=True):
                assert abs(o - t) <= 1e-12 * max(1.0, abs(t)), (k, o, t)
    for rec, (bl, lx) in zip(records, losses, strict=True):
        assert abs(rec.batch_loss - bl) <= 1e-12 * max(1.0, bl) and abs(rec.loss_at_x - lx) <= 1e-12 * max(
            1.0, lx
        )


def time_torch(torch, k: int, n: int, repeats: int, batched: bool) -> float:
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=n, epochs=1, seed=2)
    trainer = Trainer(Model(x, A, B, C), settings)
    data = torch.tensor(trainer.samples, dtype=torch.float64)
    batches = [torch.tensor(b) for b in trainer.batches()]
    xt = torch.tensor([x], dtype=torch.float64)
    best = float("inf")
    for _ in range(repeats):
        W = [torch.tensor(m, dtype=torch.float64, requires_grad=True) for m in (A, B, C)]
        At, Bt, Ct = W
        t0 = time.perf_counter()
        for idx in batches:
            if batched:
                X = data[idx]
                w = (torch.sigmoid(X @ At) + X @ Bt) @ Ct
                (w * w).sum(dim=1).mean().backward()
            else:
                for i in idx.tolist():
                    xs = data[i : i + 1]
                    w = (torch.sigmoid(xs @ At) + xs @ Bt) @ Ct
                    (w * w).sum().backward()
            with torch.no_grad():
                scale = LR if batched else LR / len(idx)
                for p in W:
                    p -= scale * p.grad
                    p.grad = None
                wx = (torch.sigmoid(xt @ At) + xt @ Bt) @ Ct
                float((wx * wx).sum())
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few samples")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per figure (best is kept)")
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 5)
    torch = None
    if not args.no_torch:
        try:
            import torch  # lazily: the product never needs it
        except ImportError:
            torch = None
        else:
            torch.set_num_threads(1)

    t_start = time.perf_counter()
    print(f"Machine: {machine()}")
    print(
        f"Batch size {BATCH}, learning rate {LR}, best of {repeats}; samples per second (higher is better)."
    )
    if torch is not None:
        print(f"PyTorch {torch.__version__}, float64, 1 thread.")
    print()
    header = "| K | ours | baseline (report style) | ours ÷ baseline |"
    rule = "|---:|---:|---:|---:|"
    if torch is not None:
        header += " torch per sample | ours ÷ torch per sample | torch batched |"
        rule += "---:|---:|---:|"
    print(header)
    print(rule, flush=True)
    for k, n_ours, n_base, n_tps, n_tb in plan:
        check_same_result(k)
        ours = time_ours(k, n_ours, repeats)
        base = time_baseline(k, n_base, repeats)
        row = f"| {k} | {ours:,.0f} | {base:,.0f} | {ours / base:.1f}× |"
        if torch is not None:
            tps = time_torch(torch, k, n_tps, repeats, batched=False)
            tb = time_torch(torch, k, n_tb, repeats, batched=True)
            row += f" {tps:,.0f} | {ours / tps:.1f}× | {tb:,.0f} |"
        print(row, flush=True)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
