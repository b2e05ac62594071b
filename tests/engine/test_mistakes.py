"""The catalogue of mistakes: each one built here independently, and named, alone.

The student's numbers are derived in this file with its own loops, straight from the chain rule
with one slip (the missing 2, σ where σ′ belongs, …), in each convention's own index order; the
engine's mistake functions are never used to build them. Each must then be named by its id, and
no other id of the catalogue may reproduce the numbers (:func:`matching_mistakes` lists exactly
that one), on the report's example and on a random model, in both conventions, with and without
a target, for every activation where the slip changes the numbers at all.
"""

from __future__ import annotations

import math
import random

import pytest

from backprop_lab.engine.answers import Answers, PrintedMatrix, PrintedNumber
from backprop_lab.engine.compare import compare_answers, tolerances
from backprop_lab.engine.mistakes import MISTAKE_IDS, UNKNOWN, chain_rule_line, matching_mistakes
from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.variant import Variant


def _sig(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


#: σ and σ′ written again here, so that the test does not lean on engine.variant's.
SIGMA = {
    "sigmoid": (_sig, lambda a: _sig(a) * (1.0 - _sig(a))),
    "tanh": (math.tanh, lambda a: 1.0 - math.tanh(a) ** 2),
    "relu": (lambda a: max(0.0, a), lambda a: 1.0 if a > 0 else 0.0),
    "softplus": (lambda a: math.log(1.0 + math.exp(a)), _sig),
    "identity": (lambda a: a, lambda a: 1.0),
}


# --------------------------------------------------------------------------- the derivation, by hand


def derive(
    model: Model,
    *,
    two: float = 2.0,
    act_in_dA: str = "derivative",
    derivative_at: str = "a",
    upstream_from_C_transposed: bool = False,
    dC_input: str = "z",
    dB_has_derivative: bool = False,
    dA_without_derivative: bool = False,
) -> dict[str, list[list[float]]]:
    """∂L/∂A, ∂L/∂B, ∂L/∂C by loops, with the slips the keywords name (defaults: none)."""
    v = model.variant
    sigma, sigma_prime = SIGMA[v.activation]
    x, A, B, C = model.x, model.A, model.B, model.C
    K = len(x)
    t = list(v.target) if v.target is not None else [0.0] * K
    r = range(K)
    if v.row:  # a_j = Σ_i x_i A_ij
        a = [sum(x[i] * A[i][j] for i in r) for j in r]
        u = [sum(x[i] * B[i][j] for i in r) for j in r]
    else:  # a_i = Σ_j A_ij x_j
        a = [sum(A[i][j] * x[j] for j in r) for i in r]
        u = [sum(B[i][j] * x[j] for j in r) for i in r]
    y = [sigma(e) for e in a]
    z = [y[n] + u[n] for n in r]
    if v.row:
        w = [sum(z[i] * C[i][j] for i in r) for j in r]
    else:
        w = [sum(C[i][j] * z[j] for j in r) for i in r]
    dw = [two * (w[n] - t[n]) for n in r]
    # g_n = ∂L/∂z_n: row g_i = Σ_j C_ij dw_j, column g_j = Σ_i dw_i C_ij; the slip swaps C's indices.
    if v.row != upstream_from_C_transposed:
        g = [sum(C[n][m] * dw[m] for m in r) for n in r]
    else:
        g = [sum(C[m][n] * dw[m] for m in r) for n in r]
    at = a if derivative_at == "a" else x
    factor = [sigma(at[n]) if act_in_dA == "function" else sigma_prime(at[n]) for n in r]
    if dA_without_derivative:
        factor = [1.0] * K
    b_factor = [sigma_prime(a[n]) for n in r] if dB_has_derivative else [1.0] * K
    zc = z if dC_input == "z" else y
    if v.row:  # [input i][unit j]
        dA = [[x[i] * factor[j] * g[j] for j in r] for i in r]
        dB = [[x[i] * b_factor[j] * g[j] for j in r] for i in r]
        dC = [[zc[i] * dw[j] for j in r] for i in r]
    else:  # [unit i][input j]
        dA = [[factor[i] * g[i] * x[j] for j in r] for i in r]
        dB = [[b_factor[i] * g[i] * x[j] for j in r] for i in r]
        dC = [[dw[i] * zc[j] for j in r] for i in r]
    return {"A": dA, "B": dB, "C": dC}


def flip(m: list[list[float]]) -> list[list[float]]:
    return [[m[j][i] for j in range(len(m))] for i in range(len(m))]


def times(m: list[list[float]], c: float) -> list[list[float]]:
    return [[c * e for e in row] for row in m]


#: The matrices each case changes (the others the student got right).
CHANGES = {
    "transposed": {"B"},
    "other-convention": {"A", "B", "C"},
    "missing-factor-2": {"A", "B", "C"},
    "scaled": {"C"},
    "sign-flipped": {"A"},
    "activation-not-derivative": {"A"},
    "derivative-at-input": {"A"},
    "upstream-C-transposed": {"A", "B"},
    "dC-uses-y": {"C"},
    "dB-has-derivative": {"B"},
    "dA-dB-swapped": {"A", "B"},
}


def student(model: Model, case: str) -> dict[str, list[list[float]]]:
    """The student's three gradients for a case: the chain rule with that one slip."""
    right = derive(model)
    slips = {
        "transposed": lambda: {**right, "B": flip(right["B"])},
        "other-convention": lambda: {n: flip(m) for n, m in right.items()},
        "missing-factor-2": lambda: derive(model, two=1.0),
        "scaled": lambda: {**right, "C": times(right["C"], 3.0)},
        "sign-flipped": lambda: {**right, "A": times(right["A"], -1.0)},
        "activation-not-derivative": lambda: derive(model, act_in_dA="function"),
        "derivative-at-input": lambda: derive(model, derivative_at="x"),
        "upstream-C-transposed": lambda: derive(model, upstream_from_C_transposed=True),
        "dC-uses-y": lambda: derive(model, dC_input="y"),
        "dB-has-derivative": lambda: derive(model, dB_has_derivative=True),
        "dA-dB-swapped": lambda: derive(model, dB_has_derivative=True, dA_without_derivative=True),
    }
    return slips[case]()


def random_model(seed: int, k: int, variant: Variant, scale: float = 1.0) -> Model:
    rng = random.Random(seed)

    def m() -> list[list[float]]:
        return [[rng.uniform(-scale, scale) for _ in range(k)] for _ in range(k)]

    return Model([rng.uniform(-1, 1) for _ in range(k)], m(), m(), m(), variant)


def report_model(report_example: dict, variant: Variant) -> Model:
    d = report_example["model"]
    return Model(d["x"], d["A"], d["B"], d["C"], variant)


def as_answers(grads: dict[str, list[list[float]]], printed: bool) -> Answers:
    """What the student handed in: 4 decimals as PyTorch prints them, or a program's floats."""
    if not printed:
        return Answers.from_values(None, grads)
    return Answers(
        None,
        {
            name: PrintedMatrix(
                name, tuple(tuple(PrintedNumber(round(e, 4), 1e-4) for e in row) for row in m)
            )
            for name, m in grads.items()
        },
    )


VARIANTS = [
    Variant(act, conv, target)
    for act in ("sigmoid", "tanh", "relu", "softplus", "identity")
    for conv in ("row", "column")
    for target in (None, (0.5, -1.0, 2.0, 0.25))
]

CASES = [m for m in MISTAKE_IDS if m != UNKNOWN]


def _models(report_example: dict, variant: Variant) -> list[Model]:
    k4 = (
        variant
        if variant.target is None
        else Variant(variant.activation, variant.convention, variant.target[:4])
    )
    k3 = (
        variant
        if variant.target is None
        else Variant(variant.activation, variant.convention, variant.target[:3])
    )
    return [report_model(report_example, k3), random_model(3, 4, k4)]


# --------------------------------------------------------------------------- each mistake, alone


def test_the_hand_derivation_here_is_the_engines(report_example: dict) -> None:
    # The test's own derivation must be right before its slips mean anything.
    for variant in VARIANTS:
        for model in _models(report_example, variant):
            truth = model_loss_and_grads(model)[1]
            mine = derive(model)
            for name in "ABC":
                for row_t, row_m in zip(truth[name], mine[name], strict=True):
                    assert row_m == pytest.approx(row_t, rel=1e-12, abs=1e-14), (variant, name)


@pytest.mark.parametrize("printed", [True, False], ids=["printed-4-decimals", "program"])
@pytest.mark.parametrize("case", CASES)
def test_each_mistake_is_named_and_only_it(report_example: dict, case: str, printed: bool) -> None:
    checked = 0
    for variant in VARIANTS:
        for model in _models(report_example, variant):
            truth = model_loss_and_grads(model)[1]
            answers = as_answers(student(model, case), printed)
            comparison = compare_answers(model, answers)
            where = f"{case} on K = {model.K}, {variant.describe()}"
            changed = {v.name for v in comparison.verdicts if not v.agree}
            assert changed <= CHANGES[case], where
            if not changed:
                # The slip gives the true numbers for this model (σ′ = 1 everywhere, …): nothing to name.
                continue
            checked += 1
            given = {n: answers.grads[n].values for n in "ABC"}
            tolerance = tolerances(model, answers)[1]
            for name in changed:
                verdict = comparison.verdict(name)
                assert verdict is not None and verdict.diagnosis is not None, where
                assert verdict.diagnosis.id == case, f"{where}: ∂L/∂{name} named {verdict.diagnosis.id}"
                assert verdict.diagnosis.correct == chain_rule_line(variant, name)
                found = matching_mistakes(model, name, given, tolerance, truth)
                assert found == [case], f"{where}: ∂L/∂{name} also matches {found}"
            if case == "scaled":
                assert comparison.verdict("C").diagnosis.factor == pytest.approx(3.0, rel=1e-4)
    # Every case is exercised on many members of the family, not skipped everywhere.
    assert checked >= 12


@pytest.mark.parametrize("case", CASES)
def test_on_the_report_example_every_mistake_changes_just_its_matrices(
    report_example: dict, case: str
) -> None:
    model = report_model(report_example, Variant())
    comparison = compare_answers(model, as_answers(student(model, case), printed=True))
    assert {v.name for v in comparison.verdicts if not v.agree} == CHANGES[case]
    assert {v.diagnosis.id for v in comparison.verdicts if v.diagnosis} == {case}


# --------------------------------------------------------------------------- which one, when several fit


def _compare(model: Model, grads: dict[str, list[list[float]]], printed: bool = False):
    return compare_answers(model, as_answers(grads, printed))


def _ids(comparison) -> dict[str, str]:
    return {v.name: v.diagnosis.id for v in comparison.verdicts if v.diagnosis is not None}


def test_with_one_number_every_mistake_is_a_multiple_and_the_specific_one_is_named() -> None:
    model = Model([0.7], [[0.4]], [[-0.3]], [[1.2]])
    grads = derive(model, derivative_at="x")
    answers = as_answers(grads, printed=False)
    comparison = compare_answers(model, answers)
    assert _ids(comparison) == {"A": "derivative-at-input"}
    truth = model_loss_and_grads(model)[1]
    given = {n: answers.grads[n].values for n in "ABC"}
    found = matching_mistakes(model, "A", given, tolerances(model, answers)[1], truth)
    # A 1×1 matrix is its own transpose: transposed is skipped, scaled fits too but comes last.
    assert found == ["derivative-at-input", "scaled"]


def test_relu_with_one_live_unit_names_the_specific_mistake_before_scaled() -> None:
    # Only unit 0 is live (a_0 > 0 > a_1): ∂L/∂A has one non-zero column, so σ(a) in place of σ′(a)
    # is a multiple of the truth there; the catalogue's own id wins over scaled.
    model = Model(
        [1.0, 0.5],
        [[0.3, -1.0], [0.2, -0.4]],
        [[0.1, 0.2], [0.3, 0.4]],
        [[0.5, -0.2], [0.7, 0.9]],
        Variant("relu"),
    )
    answers = as_answers(derive(model, act_in_dA="function"), printed=False)
    comparison = compare_answers(model, answers)
    assert _ids(comparison) == {"A": "activation-not-derivative"}
    truth = model_loss_and_grads(model)[1]
    given = {n: answers.grads[n].values for n in "ABC"}
    assert matching_mistakes(model, "A", given, tolerances(model, answers)[1], truth) == [
        "activation-not-derivative",
        "scaled",
    ]


def test_a_slip_that_gives_the_true_numbers_is_not_a_mistake(report_example: dict) -> None:
    # With the identity σ′ = 1 everywhere: σ′(x) and σ′(a) are the same numbers.
    model = report_model(report_example, Variant("identity"))
    assert _compare(model, derive(model, derivative_at="x")).agree
    assert _compare(model, derive(model, dB_has_derivative=True)).agree


def test_noise_is_unknown(report_example: dict) -> None:
    model = report_model(report_example, Variant())
    rng = random.Random(0)
    right = derive(model)
    noisy = {**right, "B": [[e + rng.uniform(-1, 1) for e in row] for row in right["B"]]}
    comparison = _compare(model, noisy, printed=True)
    verdict = comparison.verdict("B")
    assert _ids(comparison) == {"B": UNKNOWN}
    assert verdict.diagnosis.sentence.startswith("∂L/∂B matches none of the known mistakes")
    assert verdict.diagnosis.correct == "∂L/∂B_ij = x_i · g_j, with g_j = Σ_k C_j,k · 2w_k"


def test_one_entry_wrong_is_unknown(report_example: dict) -> None:
    model = report_model(report_example, Variant())
    right = derive(model)
    right["C"][1][2] += 0.5
    assert _ids(_compare(model, right, printed=True)) == {"C": UNKNOWN}


@pytest.mark.parametrize(
    ("factor", "expected"),
    [(0.5, "missing-factor-2"), (-1.0, "sign-flipped"), (0.0, UNKNOWN), (2.0, "scaled"), (-0.5, "scaled")],
)
def test_scaled_never_names_one_half_minus_one_or_zero(
    report_example: dict, factor: float, expected: str
) -> None:
    model = report_model(report_example, Variant("tanh", "column"))
    right = derive(model)
    comparison = _compare(model, {**right, "A": times(right["A"], factor)}, printed=True)
    diagnosis = comparison.verdict("A").diagnosis
    assert diagnosis.id == expected
    if expected == "scaled":
        assert diagnosis.factor == pytest.approx(factor, rel=1e-4)
        assert f"times {factor:g}:" in diagnosis.sentence
    else:
        assert diagnosis.factor is None


def test_only_the_matrices_given_are_judged_and_diagnosed(report_example: dict) -> None:
    model = report_model(report_example, Variant())
    right = derive(model)
    swapped = derive(model, dB_has_derivative=True, dA_without_derivative=True)
    # B = the true ∂L/∂A alone: σ′ on the linear branch (A's gradient may well be right).
    assert _ids(_compare(model, {"B": swapped["B"]})) == {"B": "dB-has-derivative"}
    # Both given, both swapped: the cross-matrix id for both.
    assert _ids(_compare(model, {"A": swapped["A"], "B": swapped["B"]})) == {
        "A": "dA-dB-swapped",
        "B": "dA-dB-swapped",
    }
    # A = the true ∂L/∂B while B is right: σ′ forgotten in A, no mistake of the catalogue.
    assert _ids(_compare(model, {"A": swapped["A"], "B": right["B"]})) == {"A": UNKNOWN}


def test_other_convention_needs_every_given_gradient_transposed(report_example: dict) -> None:
    model = report_model(report_example, Variant())
    right = derive(model)
    t = {n: flip(m) for n, m in right.items()}
    assert _ids(_compare(model, {"A": t["A"]})) == {"A": "transposed"}
    assert _ids(_compare(model, {"A": t["A"], "C": t["C"]})) == {
        "A": "other-convention",
        "C": "other-convention",
    }
    # Two transposed but the third right (and not symmetric): each is its own transposition.
    assert _ids(_compare(model, {"A": t["A"], "B": t["B"], "C": right["C"]})) == {
        "A": "transposed",
        "B": "transposed",
    }


# --------------------------------------------------------------------------- the words


def test_chain_rule_lines_follow_the_variant() -> None:
    assert chain_rule_line(Variant(), "A") == (
        "∂L/∂A_ij = x_i · σ′(a_j) · g_j, with g_j = Σ_k C_j,k · 2w_k and σ′(a) = σ(a)(1 − σ(a))"
    )
    assert chain_rule_line(Variant("tanh", "column", (1.0,)), "A") == (
        "∂L/∂A_ij = σ′(a_i) · g_i · x_j, with g_i = Σ_k C_k,i · 2(w_k − t_k) and σ′(a) = 1 − tanh(a)²"
    )
    assert (
        chain_rule_line(Variant(convention="column"), "B")
        == "∂L/∂B_ij = g_i · x_j, with g_i = Σ_k C_k,i · 2w_k"
    )
    assert chain_rule_line(Variant(), "C") == "∂L/∂C_ij = z_i · 2w_j, with z_i = σ(a_i) + u_i"
    assert (
        chain_rule_line(Variant(target=(0.0,)), "C")
        == "∂L/∂C_ij = z_i · 2(w_j − t_j), with z_i = σ(a_i) + u_i"
    )
    assert (
        chain_rule_line(Variant(convention="column"), "C") == "∂L/∂C_ij = 2w_i · z_j, with z_j = σ(a_j) + u_j"
    )
    with pytest.raises(ValueError, match="no matrix named 'D'"):
        chain_rule_line(Variant(), "D")


@pytest.mark.parametrize("case", CASES)
def test_every_diagnosis_is_one_sentence_about_its_matrix(report_example: dict, case: str) -> None:
    for variant in (Variant(), Variant("softplus", "column", (1.0, 2.0, 3.0))):
        model = report_model(report_example, variant)
        comparison = _compare(model, student(model, case), printed=True)
        for v in comparison.verdicts:
            if v.diagnosis is None:
                continue
            text = v.diagnosis.sentence
            assert text.endswith(".") and ". " not in text.replace("e.g. ", ""), text
            assert "\n" not in text
            if case not in ("other-convention", "dA-dB-swapped"):
                assert text.startswith(f"∂L/∂{v.name} "), text
            # The variant's own notation: column vectors write a = Ax.
            if case in ("derivative-at-input", "other-convention"):
                assert variant.products[0] in text


def test_the_math_docs_list_every_id() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "math.md").read_text(encoding="utf-8")
    section = text.split("## Checking a student's numbers", 1)[1].split("\n## ", 1)[0]
    for mistake in MISTAKE_IDS:
        assert f"| `{mistake}` |" in section, mistake
