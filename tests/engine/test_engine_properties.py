"""Properties of the model and its checker over K = 1..8 and entries across many magnitudes.

Budgets are kept small (tens of examples each, no deadline: two shared cores) so the whole
engine suite stays well under a minute; hypothesis still shrinks any failure to a minimal model.
For a deeper search set BACKPROP_LAB_EXAMPLES (e.g. 2000) in the environment.
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import backprop_lab.engine.gradcheck as gradcheck
from backprop_lab.engine.gradcheck import (
    DEFAULT_EPS,
    central_difference,
    finite_difference_check,
    rounding_scales,
)
from backprop_lab.engine.model import Model, NumericalOverflowError, forward, loss_and_grads, sigmoid

CI = settings(
    max_examples=int(os.environ.get("BACKPROP_LAB_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

MAGNITUDES = [1e-3, 0.1, 1.0, 10.0, 1e3]


@st.composite
def models(draw, magnitudes=MAGNITUDES, k_max: int = 8):
    """(x, A, B, C) with K in 1..k_max; each of x, A, B, C gets its own magnitude."""
    k = draw(st.integers(1, k_max))

    def tensor(shape: int | None):
        scale = draw(st.sampled_from(magnitudes))
        entry = st.floats(-1.0, 1.0, allow_nan=False).map(lambda v: v * scale)
        if shape is None:
            return draw(st.lists(entry, min_size=k, max_size=k))
        return draw(st.lists(st.lists(entry, min_size=k, max_size=k), min_size=k, max_size=k))

    return tensor(None), tensor(k), tensor(k), tensor(k)


@st.composite
def saturating_models(draw):
    """Models whose pre-activations a = xA are all in the hundreds (σ saturated, σ' ≈ 0)."""
    k = draw(st.integers(1, 8))
    x = draw(st.lists(st.floats(1.0, 10.0), min_size=k, max_size=k))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=k, max_size=k))
    # Same sign down each column: a_j = Σ_i x_i A_ij ≥ 100 in size, no cancellation.
    A = [[signs[j] * draw(st.floats(100.0, 300.0)) for j in range(k)] for _ in range(k)]
    small = st.floats(-2.0, 2.0, allow_nan=False)
    B = draw(st.lists(st.lists(small, min_size=k, max_size=k), min_size=k, max_size=k))
    C = draw(st.lists(st.lists(small, min_size=k, max_size=k), min_size=k, max_size=k))
    return x, A, B, C


# --------------------------------------------------------------------------- analytic vs finite differences


@CI
@given(models())
def test_analytic_gradients_agree_with_finite_differences_across_magnitudes(model):
    report = finite_difference_check(Model(*model))
    assert report.passed, report.failures
    assert len(report.entries) == 3 * len(model[0]) ** 2


@CI
@given(models(magnitudes=[0.3, 1.0, 2.0]))
def test_where_the_differences_resolve_an_entry_they_agree_to_1e6(model):
    # Moderate entries: the pass rule rests on rtol, not on the allowance, for resolved entries.
    report = finite_difference_check(Model(*model))
    for e in report.entries:
        if e.tolerance <= 2 * report.rtol * max(abs(e.analytic), abs(e.reference)):
            assert e.rel_error <= report.rtol, e


@CI
@given(saturating_models())
def test_saturated_sigmoids_pass_with_a_vanishing_gradient_through_A(model):
    x, A, B, C = model
    a = forward(x, A, B, C)["a"]
    assert min(abs(v) for v in a) >= 100  # the strategy's promise: |xA| in the hundreds
    _, grads = loss_and_grads(x, A, B, C)
    assert all(abs(v) < 1e-40 for row in grads["A"] for v in row)
    report = finite_difference_check(Model(x, A, B, C))
    assert report.passed, report.failures
    # Through B and C the gradient is alive: where the differences resolve it, it agrees to rtol.
    resolved = [e for e in report.entries if e.tolerance <= 2 * report.rtol * abs(e.reference)]
    assert all(e.rel_error <= report.rtol for e in resolved)


@CI
@given(models(magnitudes=[0.3, 1.0, 2.0]))
def test_a_wrong_sigma_prime_is_caught_wherever_the_reference_resolves_it(model):
    x, A, B, C = model

    def wrong(x, A, B, C, **variant):
        loss, g = loss_and_grads(x, A, B, C, **variant)
        v = forward(x, A, B, C)
        dw = [2 * w for w in v["w"]]
        up = [sum(c * d for c, d in zip(row, dw, strict=True)) for row in C]
        # σ(a) where σ'(a) belongs: off by 1/(1 − σ) > 1.
        g["A"] = [[xi * sigmoid(aj) * uj for aj, uj in zip(v["a"], up, strict=True)] for xi in x]
        return loss, g

    # (monkeypatch is function-scoped; hypothesis runs many examples per call, so patch by hand.)
    original = gradcheck.model_loss_and_grads
    gradcheck.model_loss_and_grads = lambda m: wrong(m.x, m.A, m.B, m.C)
    try:
        report = finite_difference_check(Model(x, A, B, C))
    finally:
        gradcheck.model_loss_and_grads = original
    a = forward(x, A, B, C)["a"]
    for e in (e for row in report.by_matrix("A") for e in row):
        # Wherever the mistake (a factor 1/(1 − σ)) is 1% or more and the differences resolve
        # the entry to 0.1%, it must be flagged.
        mistake = 1 / (1 - sigmoid(a[e.j])) - 1
        if mistake > 1e-2 and e.tolerance < 1e-3 * abs(e.reference):
            assert not e.passed, e


# --------------------------------------------------------------------------- soundness for every finite input


finite = st.floats(allow_nan=False, allow_infinity=False)


@CI
@given(
    st.integers(1, 4).flatmap(
        lambda k: st.tuples(
            st.lists(finite, min_size=k, max_size=k),
            *[st.lists(st.lists(finite, min_size=k, max_size=k), min_size=k, max_size=k)] * 3,
        )
    )
)
def test_every_finite_input_gives_finite_numbers_or_a_named_overflow(model):
    try:
        loss, grads = loss_and_grads(*model)
    except NumericalOverflowError as exc:
        assert "overflows a float64" in str(exc)
        return
    assert math.isfinite(loss) and loss >= 0
    assert all(math.isfinite(v) for g in grads.values() for row in g for v in row)


# --------------------------------------------------------------------------- exact identities


@CI
@given(models())
def test_euler_identity_for_C(model):
    # L is homogeneous of degree 2 in C, so Σ_ij C_ij ∂L/∂C_ij = 2L exactly (Euler's theorem).
    x, A, B, C = model
    loss, grads = loss_and_grads(x, A, B, C)
    scales = rounding_scales(Model(*(list(v) for v in model)))
    total = math.fsum(C[i][j] * grads["C"][i][j] for i in range(len(x)) for j in range(len(x)))
    assert abs(total - 2 * loss) <= 4 * scales.gamma * scales.loss + 1e-300


@CI
@given(models())
def test_the_gradients_are_the_reports_outer_products(model):
    # dB_ij = x_i g_j and dA_ij = x_i σ'(a_j) g_j: every row of dA and dB is x_i times one vector.
    x, A, B, C = model
    _, grads = loss_and_grads(x, A, B, C)
    k = len(x)
    for name in "AB":
        for i in range(k):
            for j in range(k):
                # dM_ij · x_0 == dM_0j · x_i (exact up to two roundings)
                lhs, rhs = grads[name][i][j] * x[0], grads[name][0][j] * x[i]
                assert lhs == pytest.approx(rhs, rel=1e-14, abs=1e-300)


@CI
@given(models(magnitudes=[0.1, 1.0, 10.0]))
def test_rounding_scales_bound_every_value(model):
    loss, grads = loss_and_grads(*model)
    scales = rounding_scales(Model(*(list(v) for v in model)))
    assert scales.loss >= loss * (1 - 1e-12)
    for name in "ABC":
        for row, srow in zip(grads[name], scales.grads[name], strict=True):
            for v, s in zip(row, srow, strict=True):
                assert s >= abs(v) * (1 - 1e-12)


# --------------------------------------------------------------------------- the central difference itself


@CI
@given(
    coefficients=st.lists(st.floats(-10, 10), min_size=4, max_size=4),
    point=st.floats(-100, 100),
)
def test_central_difference_of_a_cubic_has_the_textbook_error(coefficients, point):
    c0, c1, c2, c3 = coefficients

    def f(p):
        t = p[0]
        return ((c3 * t + c2) * t + c1) * t + c0

    exact = (3 * c3 * point + 2 * c2) * point + c1
    h = DEFAULT_EPS * max(1.0, abs(point))
    approx = central_difference(f, [point], 0, DEFAULT_EPS)
    # Truncation is exactly c3·h² for a cubic; rounding is a few u·Σ|terms at t ± h| / h.
    t = abs(point) + h
    magnitude = abs(c3) * t**3 + abs(c2) * t**2 + abs(c1) * t + abs(c0)
    bound = abs(c3) * h * h + 8 * 2.2e-16 * magnitude / h + 1e-300
    assume(math.isfinite(bound))
    assert abs(approx - exact) <= 1.01 * bound + 1e-12 * abs(exact)
