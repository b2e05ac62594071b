"""The generated kernels and the column layout for every member of the family (engine.variant).

Each is checked against engine.model's forward and backward passes summed sample by sample in
order: bit for bit on CPython 3.11, where sum() adds left to right as the kernels do, and to a
tight tolerance from 3.12 on (sum() compensates its rounding there).
"""

from __future__ import annotations

import math
import random
import sys
from itertools import product

import pytest

from backprop_lab.engine import kernel_source, kernels
from backprop_lab.engine.model import Model, backward, forward
from backprop_lab.engine.training import Trainer, TrainingSettings, epoch_order
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant

EXACT = sys.version_info < (3, 12)

#: Every combination as (activation, convention, with a target).
FORMS = list(product(ACTIVATIONS, CONVENTIONS, (False, True)))
#: Each activation, each convention and target or none at least once: for the K whose kernels
#: take a second each to compile (the source is the same code for every K, only longer).
COVERING = [
    ("sigmoid", "row", False),
    ("tanh", "column", True),
    ("relu", "row", True),
    ("softplus", "column", False),
    ("identity", "column", True),
]


def _form_id(form: tuple[str, str, bool]) -> str:
    return f"{form[0]}-{form[1]}" + ("-target" if form[2] else "")


def _close(a: float, b: float, rel: float = 1e-12) -> bool:
    if EXACT:
        return a == b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def _case(k: int, form: tuple[str, str, bool], n: int, seed: int, scale: float = 1.0):
    """A variant and a batch: weights U(−scale, scale), inputs in [0, 1) with one all-zero row
    (a = 0 exactly: relu's σ′(0) = 0) when the batch has room for it."""
    rng = random.Random(seed)
    activation, convention, with_target = form
    target = tuple(rng.uniform(-2.0, 2.0) for _ in range(k)) if with_target else None
    variant = Variant(activation, convention, target)
    A, B, C = ([[rng.uniform(-scale, scale) for _ in range(k)] for _ in range(k)] for _ in range(3))
    X = [[rng.random() for _ in range(k)] for _ in range(n)]
    if n > 2:
        X[1] = [0.0] * k
    x = [rng.random() for _ in range(k)]
    return variant, X, A, B, C, x


def _plain_sums(X, A, B, C, variant):
    """Σ L and Σ ∂L/∂A, ∂B, ∂C through engine.model, added sample by sample in order."""
    k = len(A)
    loss = 0.0
    sums = {name: [[0.0] * k for _ in range(k)] for name in ("dA", "dB", "dC")}
    for x in X:
        values = forward(list(x), A, B, C, variant)
        grads = backward(list(x), C, values, variant)
        loss += values["loss"]
        for name, total in sums.items():
            for i in range(k):
                for j in range(k):
                    total[i][j] += grads[name][i][j]
    return loss, sums["dA"], sums["dB"], sums["dC"]


def _plain_step(X, A, B, C, x, lr, variant):
    """The documented step through engine.model: mean gradients, update, norms, L(x) after."""
    n = len(X)
    loss, *sums = _plain_sums(X, A, B, C, variant)
    means = [[[v / n for v in row] for row in s] for s in sums]
    new = [
        [[w - lr * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, G, strict=True)]
        for W, G in zip((A, B, C), means, strict=True)
    ]
    norms = [math.hypot(*(v for row in g for v in row)) for g in means]
    return loss / n, forward(list(x), *new, variant)["loss"], *norms, *new


def _assert_matrices(got, want):
    for g, w in zip(got, want, strict=True):
        for rg, rw in zip(g, w, strict=True):
            for a, b in zip(rg, rw, strict=True):
                assert _close(a, b), (a, b)


def _assert_sums(got, want):
    assert _close(got[0], want[0]), (got[0], want[0])
    _assert_matrices(got[1:], want[1:])


def _assert_step(got, want):
    loss, loss_x, nA, nB, nC, A2, B2, C2, okA, okB, okC = got
    assert okA and okB and okC
    for a, b in zip((loss, loss_x, nA, nB, nC), want[:5], strict=True):
        assert _close(a, b), (a, b)
    _assert_matrices((A2, B2, C2), want[5:])


@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("form", FORMS, ids=_form_id)
def test_every_variant_s_unrolled_kernels_equal_the_model_summed_in_order(form, k):
    for seed, scale in ((k, 1.0), (k + 100, 30.0)):  # 30: sigmoid and tanh saturate, softplus passes 20
        variant, X, A, B, C, x = _case(k, form, 6, seed, scale)
        _assert_sums(kernels.batch_sums(X, A, B, C, variant), _plain_sums(X, A, B, C, variant))
        _assert_step(
            kernels.step_function(k, variant)(X, A, B, C, x, 0.01), _plain_step(X, A, B, C, x, 0.01, variant)
        )
        assert _close(kernels.loss_at(x, A, B, C, variant), forward(x, A, B, C, variant)["loss"])


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("form", FORMS, ids=_form_id)
def test_every_variant_s_column_layout_equals_the_model_summed_in_order(form, n, monkeypatch):
    # The layout above UNROLL_MAX_K, at a small K; batches of 1 and 2 add outer products instead.
    monkeypatch.setattr(kernels, "UNROLL_MAX_K", 0)
    k = 4
    variant, X, A, B, C, x = _case(k, form, n, seed=n, scale=5.0)
    _assert_sums(kernels.batch_sums(X, A, B, C, variant), _plain_sums(X, A, B, C, variant))
    _assert_step(
        kernels.step_function(k, variant)(X, A, B, C, x, 0.01), _plain_step(X, A, B, C, x, 0.01, variant)
    )
    assert _close(kernels.loss_at(x, A, B, C, variant), forward(x, A, B, C, variant)["loss"])


@pytest.mark.parametrize("k", [33, 64, 65])
@pytest.mark.parametrize("form", COVERING, ids=_form_id)
def test_large_k_kernels_equal_the_model_summed_in_order(form, k):
    # 33 and 64 are unrolled (64 is the largest), 65 takes the column layout.
    assert kernels.EVALUATION_UNROLL_MAX_K < 33
    variant, X, A, B, C, x = _case(k, form, 3, seed=k, scale=0.3)
    assert (k <= kernels.UNROLL_MAX_K) == (k != 65)
    _assert_sums(kernels.batch_sums(X, A, B, C, variant), _plain_sums(X, A, B, C, variant))
    if k <= kernels.UNROLL_MAX_K:  # the one-off evaluations take the columns above 32: the generated ones too
        _assert_sums(kernels.unrolled_kernel(k, variant)(X, A, B, C), _plain_sums(X, A, B, C, variant))
        assert _close(kernels._unrolled_forward(k, variant)(x, A, B, C), forward(x, A, B, C, variant)["loss"])
    _assert_step(
        kernels.step_function(k, variant)(X, A, B, C, x, 0.01), _plain_step(X, A, B, C, x, 0.01, variant)
    )
    assert _close(kernels.loss_at(x, A, B, C, variant), forward(x, A, B, C, variant)["loss"])


@pytest.mark.parametrize("n", [1, 2, 4, 5])
@pytest.mark.parametrize(
    "form", [("sigmoid", "row", False), ("identity", "column", True), ("softplus", "row", True)], ids=_form_id
)
def test_large_k_kernels_add_two_samples_a_turn_and_pad_an_odd_batch_exactly(form, n):
    # Above PHASED_MIN_K each gradient sum adds two samples a turn and an odd batch gets a sample
    # of zeros: every sum, its sign included, is what adding the samples one by one gives.
    k = kernel_source.PHASED_MIN_K + 1
    variant, X, A, B, C, x = _case(k, form, n, seed=n + 40, scale=2.0)
    got = kernels.unrolled_kernel(k, variant)(X, A, B, C)
    want = _plain_sums(X, A, B, C, variant)
    _assert_sums(got, want)
    if EXACT:  # == cannot tell 0.0 from -0.0: compare the bits
        assert [[[v.hex() for v in row] for row in m] for m in got[1:]] == [
            [[v.hex() for v in row] for row in m] for m in want[1:]
        ]
    _assert_step(
        kernels.step_function(k, variant)(X, A, B, C, x, 0.01), _plain_step(X, A, B, C, x, 0.01, variant)
    )


def test_a_batch_of_zeros_gives_positive_zero_sums_in_either_form():
    # With x = 0 every term of ∂L/∂A and ∂L/∂B is 0 · (a negative number) = −0.0; the sums start
    # at +0.0, so they stay +0.0, in the per-sample form and in the two-samples-a-turn form (whose
    # padding adds +0.0 · +0.0).
    for k in (kernel_source.PHASED_MIN_K, kernel_source.PHASED_MIN_K + 1):
        A = B = C = [[-1.0] * k for _ in range(k)]
        for n in (1, 2, 3):
            _, sA, sB, sC = kernels.unrolled_kernel(k, DEFAULT_VARIANT)([[0.0] * k] * n, A, B, C)
            assert all(v == 0.0 and math.copysign(1.0, v) == 1.0 for m in (sA, sB) for row in m for v in row)
            assert all(v < 0.0 for row in sC for v in row), (k, n)  # z = 1/2, d = −K: the sums are not zero


def test_the_large_k_form_is_the_only_change_to_the_source():
    # Up to PHASED_MIN_K the report's variant is written per sample, three sums per (i, j); above
    # it the sums have loops of their own.
    small, large = (
        kernels.kernel_source(kernel_source.PHASED_MIN_K),
        kernels.kernel_source(kernel_source.PHASED_MIN_K + 1),
    )
    assert "sA0_0 += x0 * s0\n        sB0_0 += x0 * g0\n        sC0_0 += z0 * d0\n" in small
    assert "XS" not in small and "sA0_0 += " not in large
    assert "    sA0_0 = sA0_0 + L0 * R0 + M0 * N0\n" in large
    column = kernels.kernel_source(kernel_source.PHASED_MIN_K + 1, Variant("tanh", "column"))
    assert "    sA0_1 = sA0_1 + R0 * L1 + N0 * M1\n" in column


def test_relu_s_derivative_at_zero_is_zero_in_the_kernels():
    # a = 0 exactly for every unit (x = 0): σ′(0) = 0, so ∂L/∂A is 0 although g is not.
    variant = Variant("relu")
    A, B, C = [[1.0, -1.0], [2.0, 0.5]], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]
    X = [[0.0, 0.0], [1.0, 0.5]]
    loss, sA, _, _ = kernels.batch_sums(X[:1], A, B, C, variant)
    assert loss == 0.0 and sA == [[0.0, 0.0], [0.0, 0.0]]
    _assert_sums(kernels.batch_sums(X, A, B, C, variant), _plain_sums(X, A, B, C, variant))


def test_the_source_depends_on_k_and_the_form_never_on_the_target_s_values():
    t1, t2 = Variant("tanh", "column", (1.25, -3.5, 7.0)), Variant("tanh", "column", (0.0, 0.0, 0.0))
    for source in (kernels.kernel_source, kernels.step_source, kernels.forward_source):
        assert source(3, t1) == source(3, t2)
        assert "1.25" not in source(3, t1) and "t=t" in source(3, t1)
    assert "tanh(" in kernels.kernel_source(2, t1) and "exp(" not in kernels.kernel_source(2, t1)
    assert "t=t" not in kernels.kernel_source(2, DEFAULT_VARIANT)
    # Two targets of the same length share one code object, each bound to its own t.
    X, A = [[0.5, 0.25, 1.0]], [[0.1] * 3 for _ in range(3)]
    assert kernels.batch_sums(X, A, A, A, t1)[0] != kernels.batch_sums(X, A, A, A, t2)[0]
    _assert_sums(kernels.batch_sums(X, A, A, A, t1), _plain_sums(X, A, A, A, t1))


def test_the_row_and_column_conventions_read_the_matrices_the_other_way_round():
    # Column vectors with Aᵀ, Bᵀ, Cᵀ are row vectors with A, B, C: the sums come out transposed.
    def T(m):
        return [list(c) for c in zip(*m, strict=True)]

    _, X, A, B, C, _ = _case(3, ("tanh", "row", False), 4, seed=9)
    row = kernels.batch_sums(X, A, B, C, Variant("tanh", "row"))
    column = kernels.batch_sums(X, T(A), T(B), T(C), Variant("tanh", "column"))
    assert column[0] == pytest.approx(row[0], rel=1e-12)
    for c, r in zip(column[1:], row[1:], strict=True):
        assert T(c) == [pytest.approx(v, rel=1e-12, abs=1e-300) for v in r]


@pytest.mark.parametrize("form", [("softplus", "column", True), ("relu", "row", False)], ids=_form_id)
def test_a_training_run_of_a_variant_equals_the_documented_procedure(form):
    k = 3
    variant, _, A, B, C, x = _case(k, form, 1, seed=4)
    settings = TrainingSettings(learning_rate=0.05, batch_size=4, n_samples=10, epochs=2, seed=3)
    trainer = Trainer(Model(x, A, B, C, variant), settings)
    records = list(trainer.steps())
    assert len(records) == settings.total_steps == 6
    weights = (A, B, C)
    for epoch in (1, 2):
        shuffled = epoch_order(trainer.samples, settings.seed, epoch)
        for lo in range(0, 10, 4):
            want = _plain_step(shuffled[lo : lo + 4], *weights, x, 0.05, variant)
            got = records.pop(0)
            for a, b in zip(
                (got.batch_loss, got.loss_at_x, got.grad_norm_A, got.grad_norm_B, got.grad_norm_C),
                want[:5],
                strict=True,
            ):
                assert _close(a, b), (a, b)
            weights = want[5:]
    _assert_matrices(trainer.weights(), weights)
