"""The gradient checker: first on functions whose derivatives are known, then on the report's model."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import pytest

import backprop_lab.engine.gradcheck as gradcheck
from backprop_lab.engine.gradcheck import (
    DEFAULT_EPS,
    DEFAULT_RTOL,
    SWEEP_EPS,
    CheckReport,
    central_difference,
    compare_entry,
    eps_sweep,
    finite_difference_check,
    rounding_scales,
)
from backprop_lab.engine.model import Model, NumericalOverflowError, forward, loss_and_grads, sigmoid

Difference = Callable[[Callable[[list[float]], float], list[float], int, float], float]


def _model(example: dict) -> tuple:
    m = example["model"]
    return m["x"], m["A"], m["B"], m["C"]


# --------------------------------------------------------------------------- known derivatives

# (name, f, exact gradient, point): smooth functions whose derivatives are known in closed form,
# at points of very different magnitudes.
KNOWN = [
    ("cube", lambda p: p[0] ** 3, lambda p: [3 * p[0] ** 2], [0.7]),
    ("cube, large", lambda p: p[0] ** 3, lambda p: [3 * p[0] ** 2], [-2.5e3]),
    ("cube, small", lambda p: p[0] ** 3 + p[0], lambda p: [3 * p[0] ** 2 + 1], [3e-4]),
    ("exp", lambda p: math.exp(p[0]), lambda p: [math.exp(p[0])], [1.3]),
    ("sin", lambda p: math.sin(p[0]), lambda p: [math.cos(p[0])], [0.4]),
    ("sigmoid", lambda p: sigmoid(p[0]), lambda p: [sigmoid(p[0]) * (1 - sigmoid(p[0]))], [-1.5]),
    (
        "x²·sin(y) + y/z",
        lambda p: p[0] ** 2 * math.sin(p[1]) + p[1] / p[2],
        lambda p: [2 * p[0] * math.sin(p[1]), p[0] ** 2 * math.cos(p[1]) + 1 / p[2], -p[1] / p[2] ** 2],
        [1.7, -0.6, 2.2],
    ),
]


def _worst_relative_error(difference: Difference) -> float:
    worst = 0.0
    for _, f, grad, point in KNOWN:
        exact = grad(point)
        for index in range(len(point)):
            approx = difference(f, point, index, DEFAULT_EPS)
            worst = max(worst, abs(approx - exact[index]) / abs(exact[index]))
    return worst


def _x_minus_2h_over_2h(
    f: Callable[[list[float]], float], point: list[float], index: int, eps: float
) -> float:
    """The published bug: (f(x + h) − f(x − 2h)) / 2h, which is 1.5× the derivative."""
    h = eps * max(1.0, abs(point[index]))
    plus, minus = list(point), list(point)
    plus[index] += h
    minus[index] -= 2 * h
    return (f(plus) - f(minus)) / (2 * h)


@pytest.mark.parametrize(("name", "f", "grad", "point"), KNOWN, ids=[k[0] for k in KNOWN])
def test_central_difference_matches_known_derivatives(name, f, grad, point):
    exact = grad(point)
    for index in range(len(point)):
        approx = central_difference(f, point, index, DEFAULT_EPS)
        # Truncation + rounding at the default step: about u^(2/3) ≈ 4e-11 relative.
        assert approx == pytest.approx(exact[index], rel=1e-8), (name, index)


def test_the_known_function_test_catches_the_x_minus_2h_bug():
    # The same measure that passes the real central difference...
    assert _worst_relative_error(central_difference) < 1e-8
    # ...is off by half the derivative for the buggy one: (h + 2h) / 2h = 1.5.
    assert _worst_relative_error(_x_minus_2h_over_2h) == pytest.approx(0.5, rel=1e-3)


def test_a_check_built_on_the_buggy_difference_fails_loudly(monkeypatch, report_example):
    def buggy_central(f, theta, eps):
        return _x_minus_2h_over_2h(lambda p: f(p[0]), [theta], 0, eps)

    monkeypatch.setattr(gradcheck, "_central", buggy_central)
    report = finite_difference_check(Model(*_model(report_example)))
    assert not report.passed
    assert len(report.failures) == 27
    assert report.max_rel_error == pytest.approx(1 / 3, rel=1e-3)  # |1.5g − g| / 1.5g


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3, 1e6])
def test_central_difference_is_exact_on_quadratics_up_to_rounding(scale):
    # For a quadratic the truncation error is exactly zero, so what is left is rounding:
    # u·|f|/h ≈ 2e-16·3/6e-6 ≈ 1e-10 relative at these points.
    def f(p):
        return 3.0 * p[0] ** 2 - 2.0 * p[0] + 0.5

    point = [1.37 * scale]
    approx = central_difference(f, point, 0, DEFAULT_EPS)
    assert approx == pytest.approx(6.0 * point[0] - 2.0, rel=1e-9)


def test_central_difference_divides_by_the_step_actually_taken():
    # θ ± h round; dividing by the rounded points' distance (not the intended 2h) makes the
    # slope of 4·θ (exact products: a power of two) come out exactly, at any θ.
    def linear(p: list[float]) -> float:
        return 4.0 * p[0]

    for theta in (0.0, 0.1, 1.0 / 3.0, 12345.678, -9.87e8):
        assert central_difference(linear, [theta], 0, DEFAULT_EPS) == 4.0


def test_default_eps_is_the_cube_root_of_machine_epsilon():
    assert DEFAULT_EPS == pytest.approx(sys.float_info.epsilon ** (1 / 3), rel=1e-15)
    assert 6.0e-6 < DEFAULT_EPS < 6.1e-6


@pytest.mark.parametrize("eps", [0.0, -1e-6, float("nan"), float("inf"), True, "1e-6"])
def test_central_difference_refuses_a_bad_eps(eps):
    with pytest.raises(ValueError, match="eps must be a positive number"):
        central_difference(lambda p: p[0], [1.0], 0, eps)


def test_central_difference_refuses_an_index_out_of_range():
    with pytest.raises(ValueError, match="index 2 is out of range for a point of 2 coordinates"):
        central_difference(lambda p: p[0], [1.0, 2.0], 2, DEFAULT_EPS)


# --------------------------------------------------------------------------- the report's model


def test_report_example_passes_with_every_entry_listed(report_example):
    x, A, B, C = _model(report_example)
    report = finite_difference_check(Model(x, A, B, C))
    assert isinstance(report, CheckReport)
    assert report.passed and not report.failures and not report.unresolved
    assert report.method == f"finite differences (central, eps={DEFAULT_EPS:.3g})"
    assert report.eps == DEFAULT_EPS and report.rtol == DEFAULT_RTOL
    assert report.K == 3 and len(report.entries) == 27
    assert [e.label for e in report.entries[:4]] == ["A[0][0]", "A[0][1]", "A[0][2]", "A[1][0]"]
    assert [e.matrix for e in report.entries] == ["A"] * 9 + ["B"] * 9 + ["C"] * 9
    loss, grads = loss_and_grads(x, A, B, C)
    assert report.loss == loss and report.reference_loss is None
    expected = report_example["expected"]
    for name in "ABC":
        rows = report.by_matrix(name)
        assert [[(e.i, e.j) for e in row] for row in rows] == [[(i, j) for j in range(3)] for i in range(3)]
        for i, row in enumerate(rows):
            for j, e in enumerate(row):
                assert e.analytic == grads[name][i][j]
                # The differences reproduce the report's numbers to ~1e-9: they are an independent route.
                assert e.reference == pytest.approx(expected[f"grad_{name}"][i][j], rel=1e-8)
                assert e.abs_error == abs(e.analytic - e.reference)
                assert e.rel_error == pytest.approx(e.abs_error / abs(e.reference), rel=1e-12)
                assert e.passed and e.abs_error <= e.tolerance
    assert report.max_rel_error < 1e-8
    assert report.max_abs_error == max(e.abs_error for e in report.entries)
    assert report.summary().startswith("all 27 entries agree (max relative error ")


def test_by_matrix_refuses_an_unknown_name(report_example):
    report = finite_difference_check(Model(*_model(report_example)))
    with pytest.raises(ValueError, match="no matrix 'D'"):
        report.by_matrix("D")


def test_progress_is_reported_after_every_entry(report_example):
    calls: list[tuple[int, int]] = []
    finite_difference_check(
        Model(*_model(report_example)), progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(n, 27) for n in range(1, 28)]


def test_the_check_does_not_modify_its_inputs(report_example):
    x, A, B, C = _model(report_example)
    before = [list(x), [r[:] for r in A], [r[:] for r in B], [r[:] for r in C]]
    finite_difference_check(Model(x, A, B, C))
    eps_sweep(Model(x, A, B, C), eps_values=[1e-3])
    assert [x, A, B, C] == before


def _wrong_backward(mistake: str):
    """loss_and_grads with one deliberate mistake in the backward pass."""

    def grads(x, A, B, C, **variant):
        loss, g = loss_and_grads(x, A, B, C, **variant)
        v = forward(x, A, B, C)
        k = len(x)
        if mistake == "sigma instead of sigma'":
            dw = [2 * w for w in v["w"]]
            up = [sum(C[i][j] * dw[j] for j in range(k)) for i in range(k)]
            g["A"] = [[x[i] * sigmoid(v["a"][j]) * up[j] for j in range(k)] for i in range(k)]
        elif mistake == "dB transposed":
            g["B"] = [list(col) for col in zip(*g["B"], strict=True)]
        elif mistake == "w instead of 2w":
            g["C"] = [[e / 2 for e in row] for row in g["C"]]
        elif mistake == "one entry off by 1e-4":
            g["B"][2][1] *= 1 + 1e-4
        return loss, g

    return grads


@pytest.mark.parametrize(
    ("mistake", "expected_failures"),
    [
        ("sigma instead of sigma'", {f"A[{i}][{j}]" for i in range(3) for j in range(3)}),
        ("dB transposed", {"B[0][1]", "B[1][0]", "B[0][2]", "B[2][0]", "B[1][2]", "B[2][1]"}),
        ("w instead of 2w", {f"C[{i}][{j}]" for i in range(3) for j in range(3)}),
        ("one entry off by 1e-4", {"B[2][1]"}),
    ],
)
def test_the_check_catches_a_wrong_gradient_and_names_the_entries(
    monkeypatch, report_example, mistake, expected_failures
):
    wrong = _wrong_backward(mistake)
    monkeypatch.setattr(gradcheck, "model_loss_and_grads", lambda m: wrong(m.x, m.A, m.B, m.C))
    report = finite_difference_check(Model(*_model(report_example)))
    assert not report.passed
    assert {e.label for e in report.failures} == expected_failures
    assert report.summary().startswith(f"{len(expected_failures)} of 27 entries disagree")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (([1.0], [[1.0]], [[0.0]], [[float("nan")]]), r"C\[0\]\[0\] is not finite"),
        (([1.0, 2.0], [[1.0, 2.0], [3.0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]), r"A\[1\] has 1 entry"),
    ],
)
def test_bad_models_are_refused_naming_the_entry(model, message):
    with pytest.raises(ValueError, match=message):
        finite_difference_check(Model(*model))
    with pytest.raises(ValueError, match=message):
        eps_sweep(Model(*model))


def test_an_overflowing_model_raises_the_engines_overflow_error():
    with pytest.raises(NumericalOverflowError):
        finite_difference_check(Model([1e200], [[1.0]], [[1e200]], [[1e200]]))


@pytest.mark.parametrize(("kwargs", "message"), [({"rtol": -1.0}, "rtol"), ({"atol": float("nan")}, "atol")])
def test_bad_tolerances_are_refused(report_example, kwargs, message):
    with pytest.raises(ValueError, match=f"{message} must be a number ≥ 0"):
        finite_difference_check(Model(*_model(report_example)), **kwargs)


def test_compare_entry_defines_relative_error_and_the_pass_rule():
    both_zero = compare_entry("A", 0, 0, 0.0, 0.0, 1e-6, 0.0, 0.0)
    assert both_zero.rel_error == 0.0 and both_zero.passed
    nan = compare_entry("A", 0, 0, 1.0, float("nan"), 1e-6, 0.0, 0.0)
    assert not nan.passed and nan.rel_error == math.inf
    # |1 − 1.001| ≈ 1e-3 against atol + rtol·1.001 + allowance: each term can make the difference.
    assert not compare_entry("A", 0, 0, 1.0, 1.001, 1e-4, 0.0, 0.0).passed
    assert compare_entry("A", 0, 0, 1.0, 1.001, 1e-4, 1e-3, 0.0).passed
    assert compare_entry("A", 0, 0, 1.0, 1.001, 1e-3, 0.0, 0.0).passed
    assert compare_entry("A", 0, 0, 1.0, 1.001, 0.0, 0.0, 1.1e-3).passed
    assert compare_entry("A", 0, 0, 1.0, 1.001, 0.0, 0.0, 0.0).tolerance == 0.0


def test_rounding_scales_bound_the_loss_and_gradients(report_example):
    x, A, B, C = (list(v) for v in _model(report_example))
    scales = rounding_scales(Model(x, A, B, C))
    loss, grads = loss_and_grads(x, A, B, C)
    assert scales.loss >= loss > 0
    assert scales.gamma == (4 * 3 + 16) * sys.float_info.epsilon
    for name in "ABC":
        for i in range(3):
            for j in range(3):
                assert scales.grads[name][i][j] >= abs(grads[name][i][j])


# --------------------------------------------------------------------------- the eps sweep


def test_eps_sweep_shows_truncation_then_rounding(report_example):
    sweep = eps_sweep(Model(*_model(report_example)))
    eps = [e for e, _ in sweep]
    errors = dict(sweep)
    assert eps == list(SWEEP_EPS)
    assert eps[0] == pytest.approx(1e-1) and eps[-1] == pytest.approx(1e-12)
    best = min(errors, key=errors.__getitem__)
    # The V of a log-log plot: the minimum lies in the middle, near ∛u ≈ 6e-6...
    assert 1e-7 <= best <= 1e-3
    # ...truncation falls as eps² on the left (two decades of error per decade of eps)...
    assert errors[SWEEP_EPS[0]] / errors[SWEEP_EPS[2]] == pytest.approx(100, rel=0.1)
    # ...and rounding grows as 1/eps on the right.
    assert errors[SWEEP_EPS[-1]] > 1e3 * errors[best]


def test_eps_sweep_takes_eps_values_and_reports_progress(report_example):
    calls = []
    sweep = eps_sweep(
        Model(*_model(report_example)), eps_values=[1e-2, 1e-5], progress=lambda d, t: calls.append((d, t))
    )
    assert [e for e, _ in sweep] == [1e-2, 1e-5]
    assert all(err > 0 for _, err in sweep)
    assert calls == [(1, 2), (2, 2)]
    with pytest.raises(ValueError, match="eps must be a positive number"):
        eps_sweep(Model(*_model(report_example)), eps_values=[1e-3, 0.0])
