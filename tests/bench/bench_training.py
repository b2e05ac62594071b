"""Training throughput: engine.training against pure-Python references, every variant, and PyTorch.

Run from the repository root::

    python tests/bench/bench_training.py            # docs/performance.md (a few minutes)
    python tests/bench/bench_training.py --quick    # a smoke run of a few seconds

Every column trains the same random model (entries U[-0.5, 0.5), seed 1) on the same inputs, in
the same mini-batches, with learning rate 1e-3, and computes what the product computes after each
step (the loss at x, the gradients' norms, the finiteness checks). Timed: the whole run, the inputs
drawn beforehand. For ours, a new Trainer each repeat with no compiled kernel kept in memory: the
kernels come from the disk cache, as in every run but a machine's first (the compile itself is in
its own table). The cache is a temporary folder of this run, never the user's.

Tables:

1. Batch 32 at K = 3, 16, 64: ours; ``reference_tuned.py`` (row-wise, ``sum(map(mul, …))`` for
   each entry, list comprehensions for each row of the gradients; the yardstick of issue 14, whose
   targets for the time ratio are ≤ 0.3, ≤ 0.5, ≤ 0.5); ``baseline_report_style.py`` (index loops,
   a dict of intermediates: the report's way of writing it); PyTorch float64 with one thread, per
   sample (as the report used it) and batched. Both references are checked to end with our weights.
2. Batch size 1 above K = 32 (K = 64 is the last unrolled K, 80 takes the column layout).
3. Every variant against the report's sigmoid (same K, same data, same run): the time ratio.
4. Compiling the generated step and loss: cold against from the disk cache.

Each figure is the best of several repeats in CPU time (the machine is shared; the best is the least
disturbed), the things compared interleaved repeat by repeat. Not collected by pytest (not named test_*.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The runs are timed in this process's CPU time: on a machine shared with other jobs, the wall
#: clock also counts the time the process waited for a core. PyTorch's columns too (one thread).
clock = time.process_time
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_report_style as baseline  # noqa: E402
import reference_tuned as reference  # noqa: E402
from benchlib import machine  # noqa: E402

from backprop_lab.engine import kernel_cache, kernels  # noqa: E402
from backprop_lab.engine.model import Model  # noqa: E402
from backprop_lab.engine.training import Trainer, TrainingSettings, generate_samples  # noqa: E402
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant  # noqa: E402

BATCH = 32
LR = 1e-3
SEED = 2

# (K, samples: ours and the tuned reference, the report-style baseline, torch per sample, torch batched)
FULL = [(3, 32_000, 16_000, 4_000, 64_000), (16, 4_000, 2_000, 2_000, 32_000), (64, 2_048, 256, 1_024, 8_192)]
QUICK = [(3, 640, 320, 320, 640), (16, 128, 64, 64, 320), (64, 64, 32, 32, 64)]
# Batch size 1: (K, steps)
BATCH_ONE = [(48, 300), (64, 200), (80, 120)]
BATCH_ONE_QUICK = [(48, 4)]
# Every variant: (K, samples)
VARIANT_PLAN = [(3, 16_000), (16, 2_000), (64, 512)]
VARIANT_PLAN_QUICK = [(3, 320)]
COMPILE_KS = [16, 32, 64]
COMPILE_KS_QUICK = [16]


def random_model(k: int, seed: int = 1):
    r = random.Random(seed)
    x = [r.random() for _ in range(k)]
    m = [[[r.random() - 0.5 for _ in range(k)] for _ in range(k)] for _ in range(3)]
    return x, m[0], m[1], m[2]


def _forget_kernels() -> None:
    """As in a new process: no compiled kernel in memory (the disk cache stays)."""
    kernels.unrolled_kernel.cache_clear()
    kernels._unrolled_step.cache_clear()
    kernels._unrolled_forward.cache_clear()


def _variant(activation: str, convention: str, with_target: bool, k: int) -> Variant:
    target = tuple(0.25 * ((j % 3) - 1) for j in range(k)) if with_target else None
    return Variant(activation, convention, target)


def run_ours(k: int, n: int, batch: int, variant: Variant = DEFAULT_VARIANT) -> float:
    """Seconds for one whole run: a new Trainer, kernels from the disk cache, every step."""
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=batch, n_samples=n, epochs=1, seed=SEED)
    samples = generate_samples(n, k, SEED)  # drawn before the clock, as for the references
    _forget_kernels()
    t0 = clock()
    trainer = Trainer(Model(x, A, B, C, variant), settings)
    trainer._samples = samples
    for _record in trainer.steps():
        pass
    elapsed = clock() - t0
    assert trainer.divergence is None and trainer.steps_done == settings.total_steps
    return elapsed


def run_reference(k: int, n: int, batch: int) -> float:
    x, A, B, C = random_model(k)
    samples = generate_samples(n, k, SEED)
    t0 = clock()
    reference.train(x, A, B, C, samples, SEED, 1, batch, LR)
    return clock() - t0


def run_baseline(k: int, n: int) -> float:
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=n, epochs=1, seed=SEED)
    trainer = Trainer(Model(x, A, B, C), settings)
    batches = list(trainer.batches())
    t0 = clock()
    baseline.train(x, A, B, C, trainer.samples, batches, LR)
    return clock() - t0


def best(runs: dict[str, object], repeats: int) -> dict[str, float]:
    """The best time of each run, the runs interleaved repeat by repeat (a disturbance hits all alike)."""
    times = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name] = min(times[name], run())  # type: ignore[operator]
    return times


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


def check_same_result(k: int, batch: int = BATCH) -> None:
    """The references and ours must agree, or the comparison means nothing."""
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=batch, n_samples=4 * batch + 5, seed=SEED)
    trainer = Trainer(Model(x, A, B, C), settings)
    records = list(trainer.steps())
    theirs = [
        baseline.train(x, A, B, C, trainer.samples, list(trainer.batches()), LR),
        reference.train(x, A, B, C, trainer.samples, SEED, 1, batch, LR),
    ]
    for A2, B2, C2, losses in theirs:
        for ours, other in zip(trainer.weights(), (A2, B2, C2), strict=True):
            for ro, rt in zip(ours, other, strict=True):
                assert all(_close(o, t) for o, t in zip(ro, rt, strict=True)), k
        for rec, (bl, lx) in zip(records, losses, strict=True):
            assert _close(rec.batch_loss, bl) and _close(rec.loss_at_x, lx), k


def time_torch(torch, k: int, n: int, repeats: int, batched: bool) -> float:
    x, A, B, C = random_model(k)
    settings = TrainingSettings(learning_rate=LR, batch_size=BATCH, n_samples=n, epochs=1, seed=SEED)
    trainer = Trainer(Model(x, A, B, C), settings)
    data = torch.tensor(trainer.samples, dtype=torch.float64)
    batches = [torch.tensor(b) for b in trainer.batches()]
    xt = torch.tensor([x], dtype=torch.float64)
    fastest = float("inf")
    for _ in range(repeats):
        W = [torch.tensor(m, dtype=torch.float64, requires_grad=True) for m in (A, B, C)]
        At, Bt, Ct = W
        t0 = clock()
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
        fastest = min(fastest, clock() - t0)
    return n / fastest


def table_batch_32(plan, repeats: int, torch) -> None:
    header = (
        "| K | ours | tuned reference | time, ours ÷ reference | baseline (report style) | ours ÷ baseline |"
    )
    rule = "|---:|---:|---:|---:|---:|---:|"
    if torch is not None:
        header += " torch per sample | ours ÷ torch per sample | torch batched |"
        rule += "---:|---:|---:|"
    print("Batch size 32, samples per second (higher is better); the time ratio (lower is better).\n")
    print(header)
    print(rule, flush=True)
    for k, n, n_base, n_tps, n_tb in plan:
        check_same_result(k)
        run_ours(k, BATCH, BATCH)  # compile once (cold), into the disk cache
        t = best(
            {
                "ours": lambda k=k, n=n: run_ours(k, n, BATCH),
                "ref": lambda k=k, n=n: run_reference(k, n, BATCH),
                "base": lambda k=k, n=n_base: run_baseline(k, n),
            },
            repeats,
        )
        ours, ref, base = n / t["ours"], n / t["ref"], n_base / t["base"]
        row = f"| {k} | {ours:,.0f} | {ref:,.0f} | **{t['ours'] / t['ref']:.2f}×** | {base:,.0f} | "
        row += f"{ours / base:.1f}× |"
        if torch is not None:
            tps = time_torch(torch, k, n_tps, repeats, batched=False)
            tb = time_torch(torch, k, n_tb, repeats, batched=True)
            row += f" {tps:,.0f} | {ours / tps:.1f}× | {tb:,.0f} |"
        print(row, flush=True)


def table_batch_one(plan, repeats: int) -> None:
    print("\nBatch size 1 (one sample a step), steps per second; the time ratio (lower is better).\n")
    print("| model | layout | ours | tuned reference | time, ours ÷ reference |")
    print("|---|---|---:|---:|---:|", flush=True)
    for k, steps in plan:
        check_same_result(k, batch=1)
        run_ours(k, 1, 1)
        t = best(
            {
                "ours": lambda k=k, n=steps: run_ours(k, n, 1),
                "ref": lambda k=k, n=steps: run_reference(k, n, 1),
            },
            repeats,
        )
        layout = "unrolled" if k <= kernels.UNROLL_MAX_K else "columns"
        print(
            f"| K = {k} | {layout} | {steps / t['ours']:,.0f} | {steps / t['ref']:,.0f} | "
            f"**{t['ours'] / t['ref']:.2f}×** |",
            flush=True,
        )


def table_variants(plan, repeats: int) -> None:
    forms = [(a, c, tt) for a in ACTIVATIONS for c in CONVENTIONS for tt in (False, True)]
    print("\nEvery variant: its run's time ÷ the sigmoid's (row vectors, no target), batch size 32.\n")
    print("| variant | " + " | ".join(f"K = {k}" for k, _ in plan) + " |")
    print("|---|" + "---:|" * len(plan), flush=True)
    ratios: dict[tuple[str, str, bool], list[float]] = {f: [] for f in forms}
    for k, n in plan:
        variants = {f: _variant(*f, k) for f in forms}
        for v in variants.values():
            run_ours(k, BATCH, BATCH, v)  # compile once, into the disk cache
        runs = {f: (lambda k=k, n=n, v=v: run_ours(k, n, BATCH, v)) for f, v in variants.items()}
        t = best(runs, repeats)  # type: ignore[arg-type]
        base = t[("sigmoid", "row", False)]
        for f in forms:
            ratios[f].append(t[f] / base)
    for (a, c, tt), rs in ratios.items():
        name = f"{a}, {c}, {'target' if tt else 'no target'}"
        print(f"| {name} | " + " | ".join(f"{r:.2f}" for r in rs) + " |")
    worst = max(r for rs in ratios.values() for r in rs)
    print(f"\nSlowest variant against the sigmoid: {worst:.2f}×.", flush=True)


def table_compile(ks, repeats: int) -> None:
    print("\nCompiling a K's generated step and loss (what a run needs), cold and from the disk cache.\n")
    print("| K | cold: generate and compile | from the disk cache | ratio |")
    print("|---|---:|---:|---:|", flush=True)
    for k in ks:
        cold = cached = float("inf")
        for _ in range(repeats):
            with _cache_folder():  # empty: a machine's first run
                _forget_kernels()
                t0 = clock()
                kernels.step_function(k), kernels.loss_at([0.5] * k, *random_model(k)[1:])
                cold = min(cold, clock() - t0)
                _forget_kernels()
                t0 = clock()
                kernels.step_function(k), kernels.loss_at([0.5] * k, *random_model(k)[1:])
                cached = min(cached, clock() - t0)
        print(
            f"| K = {k} | {cold * 1000:,.0f} ms | {cached * 1000:,.1f} ms | {cold / cached:,.0f}× |",
            flush=True,
        )


@contextlib.contextmanager
def _cache_folder():
    """The kernels' disk cache in a temporary folder for the duration (restored after)."""
    before = os.environ.get(kernel_cache.ENV_VAR)
    with tempfile.TemporaryDirectory(prefix="bench-kernels-") as folder:
        os.environ[kernel_cache.ENV_VAR] = folder
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(kernel_cache.ENV_VAR, None)
            else:
                os.environ[kernel_cache.ENV_VAR] = before
            _forget_kernels()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with few samples")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per figure (best is kept)")
    parser.add_argument("--no-torch", action="store_true", help="leave out the PyTorch columns")
    args = parser.parse_args(argv)
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
    print(f"Learning rate {LR}, best of {repeats} in CPU time, repeats interleaved.")
    if torch is not None:
        print(f"PyTorch {torch.__version__}, float64, 1 thread.")
    print()
    with _cache_folder():
        table_batch_32(QUICK if args.quick else FULL, repeats, torch)
        table_batch_one(BATCH_ONE_QUICK if args.quick else BATCH_ONE, repeats)
        table_variants(VARIANT_PLAN_QUICK if args.quick else VARIANT_PLAN, repeats)
    table_compile(COMPILE_KS_QUICK if args.quick else COMPILE_KS, 1 if args.quick else 3)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
