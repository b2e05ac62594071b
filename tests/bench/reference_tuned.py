"""A tuned, row-wise pure-Python trainer: the yardstick that the kernels have to beat.

What a careful Python programmer writes without generating code: the weights transposed once per
batch so that every entry of a = xA, u = xB and w = zC is one ``sum(map(mul, x, column))`` (the
loop runs in C), and each sample's gradients added to the batch sums one row at a time with list
comprehensions (∂L/∂A row i = x_i · σ′(a)∘g; zip without strict=, which costs ~10% here). Then
the same work as engine.training's step: the mean gradient, the update, the three norms, the
finiteness checks and L(x) with the new weights.

The report's own member of the family (sigmoid, row vectors, no target). Same model, data, shuffle
and update as engine.training, so a benchmark compares layouts, not algorithms; bench_training.py
checks that it ends with the same weights. Not used by the product; not a test.
"""

from __future__ import annotations

import math
import random
from itertools import chain
from operator import mul


def sigmoid(a: float) -> float:
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def loss_at(x, AT, BT, CT):
    """L(x), with the weights given as their transposes (lists of columns)."""
    z = [sigmoid(sum(map(mul, x, a))) + sum(map(mul, x, b)) for a, b in zip(AT, BT, strict=False)]
    w = [sum(map(mul, z, c)) for c in CT]
    return sum(map(mul, w, w))


def train_step(batch, A, B, C, x, lr):
    """One mini-batch step; returns (batch loss, L(x) after, norms, A', B', C', all finite)."""
    k = len(A)
    AT, BT, CT = (list(zip(*m, strict=False)) for m in (A, B, C))
    sA = [[0.0] * k for _ in range(k)]
    sB = [[0.0] * k for _ in range(k)]
    sC = [[0.0] * k for _ in range(k)]
    loss = 0.0
    for xs in batch:
        y = [sigmoid(sum(map(mul, xs, col))) for col in AT]
        z = [yj + sum(map(mul, xs, col)) for yj, col in zip(y, BT, strict=False)]
        w = [sum(map(mul, z, col)) for col in CT]
        loss += sum(map(mul, w, w))
        d = [2.0 * wj for wj in w]
        g = [sum(map(mul, row, d)) for row in C]
        s = [yj * (1.0 - yj) * gj for yj, gj in zip(y, g, strict=False)]
        sA = [
            [acc + xi * sj for acc, sj in zip(row, s, strict=False)] for row, xi in zip(sA, xs, strict=False)
        ]
        sB = [
            [acc + xi * gj for acc, gj in zip(row, g, strict=False)] for row, xi in zip(sB, xs, strict=False)
        ]
        sC = [
            [acc + zi * dj for acc, dj in zip(row, d, strict=False)] for row, zi in zip(sC, z, strict=False)
        ]
    n = len(batch)
    out = []
    for W, S in ((A, sA), (B, sB), (C, sC)):
        G = [[v / n for v in row] for row in S]
        new = [
            [wij - lr * gij for wij, gij in zip(rw, rg, strict=False)] for rw, rg in zip(W, G, strict=False)
        ]
        out.append(
            (math.hypot(*chain.from_iterable(G)), new, all(map(math.isfinite, chain.from_iterable(new))))
        )
    (nA, A2, okA), (nB, B2, okB), (nC, C2, okC) = out
    finite = okA and okB and okC
    loss_x = loss_at(x, *(list(zip(*m, strict=False)) for m in (A2, B2, C2))) if finite else math.nan
    return loss / n, loss_x, (nA, nB, nC), A2, B2, C2, finite


def train(x, A, B, C, samples, seed, epochs, batch_size, lr):
    """Train as engine.training does: each epoch's shuffle (the same procedure and seeds), walked in
    slices of batch_size. Returns the final weights and each step's (batch loss, L(x) after)."""
    losses = []
    for epoch in range(1, epochs + 1):
        shuffled = samples.copy()
        random.Random(f"backprop-lab/shuffle/{seed}/{epoch}").shuffle(shuffled)
        for lo in range(0, len(shuffled), batch_size):
            batch_loss, loss_x, _norms, A, B, C, _finite = train_step(
                shuffled[lo : lo + batch_size], A, B, C, x, lr
            )
            losses.append((batch_loss, loss_x))
    return A, B, C, losses
