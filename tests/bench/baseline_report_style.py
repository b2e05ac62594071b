"""A straightforward trainer in the style of the report, the benchmark's yardstick.

Written the way the report describes its code: hand-made matrix helpers with index loops over
lists, a forward pass that saves every value in a dictionary, a backward pass per sample, and the
per-sample gradients summed and divided by the batch size. Same model, same data, same shuffle and
same update as engine.training, so the benchmark compares layouts, not algorithms.
Not used by the product; not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import math


def sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def derived_sig(v):
    s = sigmoid(v)
    return s * (1.0 - s)


def vec_mat_mult(v, M):
    K = len(v)
    out = []
    for j in range(K):
        total = 0.0
        for i in range(K):
            total = total + v[i] * M[i][j]
        out.append(total)
    return out


def vec_add(p, q):
    out = []
    for i in range(len(p)):
        out.append(p[i] + q[i])
    return out


def forward(x, A, B, C):
    values = {"x": x, "A": A, "B": B, "C": C}
    values["a"] = vec_mat_mult(x, A)
    values["y"] = [sigmoid(v) for v in values["a"]]
    values["u"] = vec_mat_mult(x, B)
    values["z"] = vec_add(values["y"], values["u"])
    values["w"] = vec_mat_mult(values["z"], C)
    loss = 0.0
    for j in range(len(values["w"])):
        loss = loss + values["w"][j] ** 2
    values["loss"] = loss
    return values


def backward(values):
    x, C = values["x"], values["C"]
    K = len(x)
    grad_C = [[0.0] * K for _ in range(K)]
    grad_B = [[0.0] * K for _ in range(K)]
    grad_A = [[0.0] * K for _ in range(K)]
    g = []
    for i in range(K):
        total = 0.0
        for j in range(K):
            total = total + (2 * values["w"][j]) * 1 * C[i][j]
        g.append(total)
    for i in range(K):
        for j in range(K):
            grad_C[i][j] = (2 * values["w"][j]) * 1 * values["z"][i]
            grad_B[i][j] = x[i] * 1 * g[j]
            grad_A[i][j] = x[i] * derived_sig(values["a"][j]) * g[j]
    return {"A": grad_A, "B": grad_B, "C": grad_C}


def train_step(batch, A, B, C, lr):
    """One mini-batch step: per-sample gradients, summed, divided by the batch size, subtracted."""
    K = len(A)
    total = {name: [[0.0] * K for _ in range(K)] for name in ("A", "B", "C")}
    batch_loss = 0.0
    for x in batch:
        values = forward(x, A, B, C)
        grads = backward(values)
        batch_loss = batch_loss + values["loss"]
        for name in ("A", "B", "C"):
            for i in range(K):
                for j in range(K):
                    total[name][i][j] = total[name][i][j] + grads[name][i][j]
    n = len(batch)
    new = {}
    for name, W in (("A", A), ("B", B), ("C", C)):
        new[name] = [[0.0] * K for _ in range(K)]
        for i in range(K):
            for j in range(K):
                new[name][i][j] = W[i][j] - lr * (total[name][i][j] / n)
    return batch_loss / n, new["A"], new["B"], new["C"]


def train(x, A, B, C, samples, batches, lr):
    """Walk the given batches (lists of sample indices); returns the final weights and the losses."""
    losses = []
    for indices in batches:
        batch = [samples[i] for i in indices]
        batch_loss, A, B, C = train_step(batch, A, B, C, lr)
        losses.append((batch_loss, forward(x, A, B, C)["loss"]))
    return A, B, C, losses
