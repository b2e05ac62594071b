"""engine.grading: the grading models, the judging of one returned value, a submission's grade."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from backprop_lab.engine.grading import (
    SATURATED,
    grade_run,
    grading_models,
    judge_returned,
    saturated_units,
)
from backprop_lab.engine.model import Model, model_loss_and_grads
from backprop_lab.engine.variant import Variant


@dataclass(frozen=True)
class FakeRun:
    """How a run ended, as the sandbox reports it (the fields grade_run reads)."""

    status: str
    returned: tuple[object, ...] = ()
    detail: str = ""
    output: str = ""
    seconds: float = 0.5
    failed_model: int | None = None


def _pre_activations(model: Model) -> list[float]:
    """a = xA (row) or Ax (column), by hand."""
    k = model.K
    if model.variant.row:
        return [sum(model.x[i] * model.A[i][j] for i in range(k)) for j in range(k)]
    return [sum(model.A[i][j] * model.x[j] for j in range(k)) for i in range(k)]


def _truth(model: Model) -> list[object]:
    loss, grads = model_loss_and_grads(model)
    return [loss, grads["A"], grads["B"], grads["C"]]


# --------------------------------------------------------------------------- the models


def test_the_report_example_comes_first_then_n_random_models(report_example):
    models = grading_models(7)
    assert len(models) == 8
    assert models[0].x == report_example["model"]["x"]
    assert models[0].A == report_example["model"]["A"]
    assert models[1].K == 1
    assert all(2 <= m.K <= 6 for m in models[2:])
    assert len(grading_models(0)) == 1


def test_the_same_seed_gives_the_same_models_and_another_seed_others():
    first, again, other = grading_models(20), grading_models(20), grading_models(20, seed=17)
    assert [(m.x, m.A, m.B, m.C) for m in first] == [(m.x, m.A, m.B, m.C) for m in again]
    assert [m.x for m in first[1:]] != [m.x for m in other[1:]]


@pytest.mark.parametrize("variant", [Variant(), Variant("tanh", "column"), Variant("relu")])
def test_every_fourth_random_model_has_a_saturated_unit_in_either_convention(variant):
    models = grading_models(20, variant)
    assert all(m.variant == variant for m in models)
    for index, model in enumerate(models[1:], start=1):
        a = _pre_activations(model)
        if index % 4 == 0:
            assert max(abs(v) for v in a) >= SATURATED, index
            assert saturated_units(model) == sum(abs(v) >= SATURATED for v in a)
    # And the random models are all usable: the loss and gradients are finite.
    assert all(math.isfinite(model_loss_and_grads(m)[0]) for m in models)


def test_a_target_or_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="no target"):
        grading_models(3, Variant(target=(1.0, 2.0, 3.0)))
    with pytest.raises(ValueError, match="0 or more"):
        grading_models(-1)


# --------------------------------------------------------------------------- bad output


@pytest.fixture(scope="module")
def example() -> Model:
    return grading_models(0)[0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "returned None; expected (loss, dA, dB, dC)"),
        ("4.0", "returned a string"),
        (3.5, "returned a number"),
        ([1.0, [[0.0]]], "returned 2 values; expected 4"),
        ({"loss": 1.0, "A": [], "C": []}, "the returned dict has no 'B'"),
        ({"dA": 1}, "its keys: dA"),
    ],
)
def test_a_returned_value_of_the_wrong_kind_is_bad_output(example, value, expected):
    judged = judge_returned(0, example, value)
    assert judged.status == "bad-output"
    assert judged.comparison is None
    assert judged.detail.startswith("model 1 (the report example, K = 3): ")
    assert expected in judged.detail


@pytest.mark.parametrize(
    ("where", "bad", "expected"),
    [
        (0, "44.06", "the loss is a string; expected one number"),
        (0, [1.0, 2.0], "the loss is a list of 2"),
        (0, True, "the loss is a boolean"),
        (0, math.nan, "the loss is not finite"),
        (1, [[0.0] * 3] * 2, "∂L/∂A has 2 rows; expected 3"),
        (2, [[0.0] * 3, [0.0] * 2, [0.0] * 3], "∂L/∂B[1] has 2 entries; expected 3"),
        (3, [[0.0] * 3, [0.0, "x", 0.0], [0.0] * 3], "∂L/∂C[1][1] is not a number"),
        (1, [[0.0] * 3, [0.0, math.inf, 0.0], [0.0] * 3], "∂L/∂A[1][1] is not finite"),
        (2, [[[0.0]] * 3] * 3, "∂L/∂B[0][0] is not a number"),
        (3, 2.0, "∂L/∂C must be a 3×3 list of rows, not float"),
    ],
)
def test_a_wrong_shape_type_or_a_non_finite_number_is_named(example, where, bad, expected):
    value = _truth(example)
    value[where] = bad
    judged = judge_returned(0, example, value)
    assert judged.status == "bad-output"
    assert expected in judged.detail


def test_a_huge_integer_is_not_finite_rather_than_an_overflow(example):
    value = _truth(example)
    value[0] = 10**400
    assert "the loss is not finite" in judge_returned(0, example, value).detail
    value = _truth(example)
    value[2] = [[0.0, 0.0, 0.0], [0.0, 10**400, 0.0], [0.0, 0.0, 0.0]]
    judged = judge_returned(0, example, value)
    assert judged.status == "bad-output"
    assert "∂L/∂B holds an integer too large for a float: not finite" in judged.detail


def test_huge_or_tiny_finite_numbers_are_judged_wrong_not_refused(example):
    for bad in (1e308, -1e308, 5e-324):
        value = _truth(example)
        value[1] = [[bad] * 3] * 3
        judged = judge_returned(0, example, value)
        assert judged.status == "wrong" and judged.comparison is not None
        assert not judged.comparison.verdict("A").agree


# --------------------------------------------------------------------------- how a run ended


def test_a_run_that_stopped_is_graded_by_how_it_stopped():
    models = grading_models(3)
    grade = grade_run("bob", models, FakeRun("timeout", detail="no answer within 10 s", failed_model=2))
    assert (grade.verdict, grade.failed_model) == ("timeout", 2)
    assert grade.detail == f"no answer within 10 s, on model 3 (K = {models[2].K})"
    assert grade.judged == ()
    assert grade.worst_relative is None
    assert grade.agreement("A") == (0, 0)


@pytest.mark.parametrize("status", ["error", "out-of-memory", "crashed", "bad-output"])
def test_each_sandbox_status_is_its_own_verdict(status):
    grade = grade_run("s", grading_models(1), FakeRun(status, detail="why"))
    assert (grade.verdict, grade.detail) == (status, "why")


def test_an_unloadable_file_is_an_error_and_an_unknown_status_is_refused():
    grade = grade_run(
        "s", grading_models(1), FakeRun("unloadable", detail="defines no gradients(x, A, B, C)")
    )
    assert (grade.verdict, grade.detail) == ("error", "defines no gradients(x, A, B, C)")
    for status in ("confused", "cancelled"):  # a cancelled run is never graded
        with pytest.raises(ValueError, match="unknown run status"):
            grade_run("s", grading_models(1), FakeRun(status))


def test_a_run_that_answered_too_few_models_is_bad_output():
    models = grading_models(2)
    grade = grade_run("s", models, FakeRun("ok", returned=(None,)))
    assert (grade.verdict, grade.detail) == ("bad-output", "answered 1 of 3 models")


def test_bad_output_names_the_first_model_that_returned_it():
    models = grading_models(2)
    grade = grade_run("s", models, FakeRun("ok", returned=("a", "b", "c")))
    assert grade.verdict == "bad-output"
    assert grade.failed_model == 0
    assert grade.detail.startswith("model 1 (the report example, K = 3): returned a string")
    assert [j.status for j in grade.judged] == ["bad-output"] * 3


# --------------------------------------------------------------------------- numbers judged


def _transposed(m):
    return [list(col) for col in zip(*m, strict=True)]


def test_the_true_numbers_are_correct_as_a_tuple_or_a_dict_with_a_nested_loss():
    models = grading_models(6, Variant("tanh", "column"))
    returned = []
    for i, m in enumerate(models):
        loss, dA, dB, dC = _truth(m)
        returned.append(
            [[loss], dA, dB, dC] if i % 2 else {"loss": loss, "A": dA, "B": dB, "C": dC, "extra": 1}
        )
    grade = grade_run("ok", models, FakeRun("ok", returned=tuple(returned)))
    assert (grade.verdict, grade.detail) == ("correct", "")
    assert all(grade.agreement(q) == (7, 7) for q in ("loss", "A", "B", "C"))
    assert grade.worst_relative is not None and grade.worst_relative < 1e-9
    assert grade.first_wrong is None


def test_a_transposed_da_is_wrong_except_where_k_is_1_and_diagnosed():
    models = grading_models(6)
    returned = []
    for m in models:
        loss, dA, dB, dC = _truth(m)
        returned.append([loss, _transposed(dA), dB, dC])
    grade = grade_run("t", models, FakeRun("ok", returned=tuple(returned)))
    assert grade.verdict == "wrong"
    assert grade.agreement("A") == (1, 7)  # the K = 1 model: a 1×1 matrix is its own transpose
    assert grade.agreement("B") == grade.agreement("C") == grade.agreement("loss") == (7, 7)
    assert grade.diagnoses("A") == ("transposed",)
    assert grade.diagnoses("B") == ()
    assert grade.detail == "∂L/∂A disagrees on 6 of 7 models"
    assert grade.failed_model == 0 and grade.first_wrong is not None
    assert grade.worst_relative is not None and grade.worst_relative > 1e-3


def test_a_sign_flipped_dc_and_a_wrong_loss_are_both_reported():
    models = grading_models(3)
    returned = []
    for m in models:
        loss, dA, dB, dC = _truth(m)
        returned.append([loss * 1.5, dA, dB, [[-v for v in row] for row in dC]])
    grade = grade_run("s", models, FakeRun("ok", returned=tuple(returned)))
    assert grade.verdict == "wrong"
    assert grade.detail == "the loss, ∂L/∂C disagree on 4 of 4 models"
    assert grade.diagnoses("C") == ("sign-flipped",)
    assert grade.agreement("loss") == (0, 4)


def test_the_answers_before_a_crash_are_judged_for_the_feedback():
    models = grading_models(3)
    grade = grade_run(
        "c",
        models,
        FakeRun("crashed", returned=(_truth(models[0]),), detail="called sys.exit(3)", failed_model=1),
    )
    assert grade.verdict == "crashed"
    assert [j.status for j in grade.judged] == ["correct"]
    assert grade.agreement("B") == (1, 1)


def _random_json(rng, depth=0):
    kinds = ["float", "int", "str", "none", "bool", "list", "dict", "special"]
    kind = rng.choice(kinds if depth < 4 else kinds[:5])
    if kind == "float":
        return rng.uniform(-1e3, 1e3)
    if kind == "int":
        return rng.choice([0, 1, -7, 10**400, -(10**400)])
    if kind == "str":
        return rng.choice(["", "1.0", "nan", "A"])
    if kind in ("none", "bool"):
        return None if kind == "none" else rng.random() < 0.5
    if kind == "special":
        return rng.choice([math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324])
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.choice([0, 1, 3, 4]))]
    return {
        rng.choice(["loss", "A", "B", "C", "x"]): _random_json(rng, depth + 1)
        for _ in range(rng.randint(0, 5))
    }


def _mutated(rng, value):
    """``value`` with one part, at any depth, replaced by random JSON."""
    if not isinstance(value, list) or not value or rng.random() < 0.3:
        return _random_json(rng)
    i = rng.randrange(len(value))
    return [*value[:i], _mutated(rng, value[i]), *value[i + 1 :]]


def test_no_returned_value_makes_the_judging_raise(example):
    import random

    rng = random.Random(16)
    truth = _truth(example)
    for n in range(3000):
        value = _random_json(rng) if n % 2 else _mutated(rng, truth)
        judged = judge_returned(0, example, value)
        assert judged.status in ("correct", "wrong", "bad-output")
        assert (judged.comparison is None) == (judged.status == "bad-output")
