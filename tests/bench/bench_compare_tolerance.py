"""How close a correct float32 program comes, and how far each mistake lands: the margins behind
``engine.compare``'s tolerance for a program's numbers (PROGRAM_RTOL times each entry's scale).

Run from the repository root (needs the torch extra)::

    python tests/bench/bench_compare_tolerance.py                # 3,000 models (about a minute)
    python tests/bench/bench_compare_tolerance.py --models 300

Draws random models (K in 1, 2, 3, 4, 5, 8; weights uniform in ±0.3, ±1, ±3, ±10 or ±30, the last
ones saturating σ; x in ±1; every activation, both conventions, a target half the time) and
measures, in units of each entry's rounding scale m (``engine.rounding.rounding_scales``):

* float32: the largest |PyTorch float32 autograd − the hand-derived float64 value| / m over the
  loss and every gradient entry (a correct program must stay far below PROGRAM_RTOL);
* each mistake of the catalogue: the largest |mistaken − true| / m over the matrix it changes
  (it must land far above PROGRAM_RTOL to be caught), as the minimum over models, and how many
  (model, mistake, matrix) triples land below PROGRAM_RTOL (those are, to that tolerance, the
  truth for that model: a saturated σ′ makes ∂L/∂A and every mistake of it ≈ 0);
* the same separation on the report's example in all 20 members.

Accuracy, not time; PyTorch's sums depend on its CPU, so the machine is printed too.
Not collected by pytest (the file is not named test_*.py).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchlib import machine

from backprop_lab.engine.compare import PROGRAM_RTOL
from backprop_lab.engine.mistakes import mistaken_gradients
from backprop_lab.engine.model import Model, NumericalOverflowError, model_loss_and_grads
from backprop_lab.engine.resources import load_report_example_data
from backprop_lab.engine.rounding import rounding_scales
from backprop_lab.engine.variant import ACTIVATIONS, Variant


def torch_float32(torch, model: Model) -> tuple[float, dict[str, list[list[float]]]]:
    v = model.variant
    f = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "softplus": torch.nn.functional.softplus,
        "identity": lambda a: a,
    }[v.activation]
    x = torch.tensor(model.x, dtype=torch.float32)
    A, B, C = (torch.tensor(M, dtype=torch.float32, requires_grad=True) for M in (model.A, model.B, model.C))
    w = (f(x @ A) + x @ B) @ C if v.row else C @ (f(A @ x) + B @ x)
    if v.target is not None:
        w = w - torch.tensor(v.target, dtype=torch.float32)
    loss = (w**2).sum()
    loss.backward()
    return loss.item(), {n: M.grad.tolist() for n, M in zip("ABC", (A, B, C), strict=True)}


def separation(model: Model) -> dict[tuple[str, str], float]:
    """{(mistake, matrix): max |mistaken − true| / m} for every mistake that changes the numbers."""
    truth = model_loss_and_grads(model)[1]
    scales = rounding_scales(model).grads
    out = {}
    for mistake, matrices in mistaken_gradients(model, truth).items():
        for name, numbers in matrices.items():
            s = max(
                (
                    abs(numbers[i][j] - truth[name][i][j]) / scales[name][i][j]
                    for i in range(model.K)
                    for j in range(model.K)
                    if scales[name][i][j] > 0
                ),
                default=0.0,
            )
            if s > 0:
                out[(mistake, name)] = s
    return out


def random_model(rng: random.Random) -> Model:
    k = rng.choice((1, 2, 3, 4, 5, 8))
    scale = rng.choice((0.3, 1.0, 3.0, 10.0, 30.0))
    target = tuple(rng.uniform(-5, 5) for _ in range(k)) if rng.random() < 0.5 else None
    variant = Variant(rng.choice(list(ACTIVATIONS)), rng.choice(("row", "column")), target)

    def m() -> list[list[float]]:
        return [[rng.uniform(-scale, scale) for _ in range(k)] for _ in range(k)]

    return Model([rng.uniform(-1, 1) for _ in range(k)], m(), m(), m(), variant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    worst_f32, models, below, triples = 0.0, 0, 0, 0
    minimum: dict[tuple[str, str], float] = {}
    while models < args.models:
        model = random_model(rng)
        try:
            loss, truth = model_loss_and_grads(model)
        except NumericalOverflowError:
            continue
        models += 1
        scales = rounding_scales(model)
        f_loss, f_grads = torch_float32(torch, model)
        worst_f32 = max(worst_f32, abs(f_loss - loss) / scales.loss)
        for name in "ABC":
            for i in range(model.K):
                for j in range(model.K):
                    diff = abs(f_grads[name][i][j] - truth[name][i][j])
                    m = scales.grads[name][i][j]
                    worst_f32 = max(worst_f32, diff / m if m > 0 else (0.0 if diff == 0 else math.inf))
        for key, s in separation(model).items():
            triples += 1
            below += s <= PROGRAM_RTOL
            minimum[key] = min(minimum.get(key, math.inf), s)
    print(
        f"{machine()}; torch {torch.__version__}; {models} random models; PROGRAM_RTOL = {PROGRAM_RTOL:g}\n"
    )
    print(f"float32 autograd, worst |float32 − float64| / m: {worst_f32:.2g}")
    print(f"mistakes within PROGRAM_RTOL·m of the truth: {below} of {triples} (model, mistake, matrix)\n")
    d = load_report_example_data()["model"]
    report_min: dict[tuple[str, str], float] = {}
    for act in ACTIVATIONS:
        for conv in ("row", "column"):
            for target in (None, (1.0, -2.0, 0.5)):
                model = Model(d["x"], d["A"], d["B"], d["C"], Variant(act, conv, target))
                for key, s in separation(model).items():
                    report_min[key] = min(report_min.get(key, math.inf), s)
    print("| mistake | matrix | min over random models | min on the report example (20 members) |")
    print("|---|---|---|---|")
    for key in sorted(minimum):
        print(f"| {key[0]} | {key[1]} | {minimum[key]:.2g} | {report_min.get(key, math.nan):.2g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
