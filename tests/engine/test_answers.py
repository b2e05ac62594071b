"""Reading a student's printed answers (issue 16): every form, every name, the units of the printed
digits, each refusal with its line, and a fuzz test that only AnswersError ever escapes."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.engine.answers import Answers, AnswersError, PrintedMatrix, PrintedNumber, parse_answers
from backprop_lab.engine.model import model_loss_and_grads
from backprop_lab.engine.resources import report_example_path
from backprop_lab.engine.session import load_session

# The seed report's lines 51-87, verbatim: the hand-derived block (51-65), a line of prose, and the
# PyTorch block (67-87), whose B runs on after a closing fence and a blank line.
SEED = (Path(__file__).parent / "answers" / "seed-report-lines-51-87.md").read_text(encoding="utf-8")
REPORT_HAND = "".join(SEED.splitlines(keepends=True)[:15])
REPORT_TORCH = "".join(SEED.splitlines(keepends=True)[16:])

M = [[1.5, -2.0], [3e-7, 4.25]]
N = [[0.5, 0.25], [-1.0, 8.0]]


def values(answers: Answers) -> dict[str, object]:
    out: dict[str, object] = {name: m.values for name, m in answers.grads.items()}
    if answers.loss is not None:
        out["loss"] = answers.loss.value
    return out


def error(text: str, k: int = 2) -> AnswersError:
    with pytest.raises(AnswersError) as info:
        parse_answers(text, k)
    return info.value


# --------------------------------------------------------------------------- the seed report


@pytest.fixture(scope="module")
def truth():
    loss, grads = model_loss_and_grads(load_session(report_example_path()).model)
    return loss, grads


def test_the_reports_hand_derived_block_verbatim(truth):
    answers = parse_answers(REPORT_HAND, 3)
    loss, grads = truth
    assert set(answers.grads) == {"A", "B", "C"}
    for name, m in answers.grads.items():
        assert m.name == name
        for row, true_row in zip(m.values, grads[name], strict=True):
            assert row == pytest.approx(true_row, rel=1e-13)
    assert answers.loss is not None and answers.loss.value == pytest.approx(loss, rel=1e-13)
    # Full precision: the unit is the last of the 15 to 17 printed digits.
    assert answers.grads["B"].rows[0][0].unit == pytest.approx(1e-15)
    assert answers.grads["C"].rows[0][0].unit == pytest.approx(1e-14)
    assert answers.loss.unit == pytest.approx(1e-15)
    assert (answers.grads["A"].line, answers.grads["B"].line, answers.grads["C"].line) == (3, 7, 11)
    assert answers.grads["A"].rows[2][1].line == 5 and answers.loss.line == 15


def test_the_reports_pytorch_block_verbatim(truth):
    answers = parse_answers(REPORT_TORCH, 3)
    grads = truth[1]
    for name, m in answers.grads.items():
        for row, true_row in zip(m.rows, grads[name], strict=True):
            for printed, true in zip(row, true_row, strict=True):
                assert printed.unit == pytest.approx(1e-4)
                assert abs(printed.value - true) <= printed.unit / 2 + 1e-12  # rounded to 4 places
    assert answers.loss == PrintedNumber(44.0612, pytest.approx(1e-4), 21)
    # B's last row is after the fence and the blank line, on line 15.
    assert [row[0].line for row in answers.grads["B"].rows] == [12, 12, 15]
    assert answers.grads["A"].rows[2][2] == PrintedNumber(1.221, pytest.approx(1e-4), 6)


def test_the_whole_seed_passage_gives_each_gradient_twice():
    # Both blocks together: the second A is the same quantity again, and that is said, not guessed.
    assert str(error(SEED, 3)) == "line 19: ∂L/∂A is given twice (first on line 3)"
    assert REPORT_HAND + "\n" + REPORT_TORCH == SEED


# --------------------------------------------------------------------------- the forms of a value


@pytest.mark.parametrize(
    "text",
    [
        "[[1.5, -2.0], [3e-7, 4.25]]",
        "[[1.5, -2.0],\n [3e-07, 4.25]]",
        "[[ 1.5  -2.  ]\n [ 3.e-07  4.25]]",  # NumPy's print
        "array([[ 1.5e+00, -2.0e+00],\n       [ 3.0e-07,  4.25e+00]])",
        "np.array([[1.5, -2], [3e-7, 4.25]], dtype=np.float64)",
        "tensor([[1.5000e+00, -2.0000e+00],\n        [3.0000e-07, 4.2500e+00]], dtype=torch.float64)",
        "tensor([[1.5, -2.0], [3e-7, 4.25]], requires_grad=True)",
        "tensor([[1.5, -2.0], [3e-7, 4.25]], device='cuda:0', grad_fn=<MmBackward0>)",
        "tensor([[1.5, -2.0], [3e-7, 4.25]],\n       grad_fn=<AddBackward0>)",
        "torch.tensor([[1.5, -2.0], [3e-7, 4.25]], device=device(type='cpu', index=0),)",
        "1.5 -2.0\n3e-7 4.25",
        "1.5\t-2.0\n3e-7\t4.25\n",
        "1.5,-2.0\n3e-7,4.25",
        "1.5; -2.0\r\n3e-7; 4.25",
        "1.5, -2.0,\n3E-7, +4.25,",
        "[[1.5, \u22122.0], [3e-7, 4.25]]",  # a Unicode minus from a document
        "```\n[[1.5, -2.0],\n```\n\n[3e-7, 4.25]]\n```",  # broken across a fence, as in the report
    ],
)
def test_every_printed_form_of_a_matrix(text):
    assert values(parse_answers(text, 2)) == {"A": M}
    assert values(parse_answers("dL/dB =\n" + text, 2)) == {"B": M}


@pytest.mark.parametrize(
    "text",
    [
        "44.0612",
        "Loss = 44.0612",
        "loss: 44.0612",
        "L = 44.0612",
        "Loss\n\n44.0612",
        "Loss = tensor(44.0612, grad_fn=<SumBackward0>)",
        "tensor(44.0612, dtype=torch.float64, grad_fn=<SumBackward0>)",
        "np.float64(44.0612)",
        "loss = array(44.0612)",
        "Loss = tensor([44.0612])",
        "total loss = 44.0612",
        "Loss (PyTorch) = 4.40612e+01",
    ],
)
def test_every_printed_form_of_the_loss(text):
    answers = parse_answers(text, 3)
    assert answers.grads == {} and answers.loss is not None
    assert answers.loss.value == pytest.approx(44.0612)
    assert answers.loss.unit == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "label",
    [
        "dL/d{X}",
        "∂L/∂{X}",
        "d{X}",
        "d_{X}",
        "grad_{X}",
        "grad {X}",
        "grad({X})",
        "{X}.grad",
        "{X}_grad",
        "{X} grad",
        "gradient of {X}",
        "Gradient of L with respect to {X}",
        "gradient w.r.t. {X}",
        "{X}",
        "dLd{X}",
        "dl_d{x}",
        "dLoss/d{X}",
        "∇{X}",
        "**dL/d{X}**",
        "`{X}.grad`",
        "$\\frac{{\\partial L}}{{\\partial {X}}}$",
        "d{X} (by hand)",
        "'{X}'",
    ],
)
@pytest.mark.parametrize("sep", [" = ", ": ", " ", " =\n", ":\n\n", "\n"])
def test_every_name_of_a_gradient(label, sep):
    for letter in "ABC":
        text = label.format(X=letter, x=letter.lower()) + sep + "[[1.5, -2.0], [3e-7, 4.25]]"
        answers = parse_answers(text, 2)
        assert values(answers) == {letter: M}, text
        assert answers.grads[letter].line == 1


@pytest.mark.parametrize("label", ["a", "x", "W1", "'grad_W'", "y"])
def test_a_matrix_under_another_name_is_refused_not_dropped(label):
    message = str(error(f"dL/dA = {N}\n{label} = [[1.5, -2.0], [3e-7, 4.25]]"))
    assert message.startswith("line 2: ") and "names neither the loss nor a gradient" in message
    assert str(error(f"{label}:\ntensor([[1.0]])", 1)).startswith("line 1: ")
    assert "names neither" in str(error(f"{label} =\n1.5 -2\n3e-7 4.25"))  # not taken for ∂L/∂A


def test_prose_and_other_numbers_are_skipped():
    text = (
        "# My results\n"
        "Resulting gradients are,\n"
        "Here is what I obtain using pyTorch's torch.backward() function (see [1])\n"
        "lr=0.01, N=1000\n"
        "Figure 3. Gradient descent\n"
        "Gradients:\n"
        "Parameter containing:\n"
        f"dA = {M}\n"
        "epoch 3: loss went down\n"
        "The results are the same, and if my results are converted to tensors, they would be identical.\n"
    )
    assert values(parse_answers(text, 2)) == {"A": M}


def test_a_python_dict_or_tuple_on_one_line():
    text = f"{{'loss': 3.5, 'A': {M}, 'B': {N}, 'C': {M}}}"
    assert values(parse_answers(text, 2)) == {"loss": 3.5, "A": M, "B": N, "C": M}
    text = f"(tensor(3.5, grad_fn=<SumBackward0>), tensor({M}), tensor({N}), tensor({M}))"
    assert values(parse_answers(text, 2)) == {"loss": 3.5, "A": M, "B": N, "C": M}
    assert values(parse_answers(f"loss: 3.5, dA: {M}", 2)) == {"loss": 3.5, "A": M}


def test_rows_may_start_on_the_names_line_and_a_comment_may_follow_a_value():
    assert values(parse_answers("dA = 1.5 -2\n3e-7 4.25\nLoss = 2  # by hand", 2)) == {"A": M, "loss": 2.0}
    assert values(parse_answers(f"dB = {M}  # from PyTorch\n", 2)) == {"B": M}


def test_line_numbers_count_every_kind_of_line_end_and_blank_line():
    text = "Loss = 1\r\n\r\n  \t \r\ndA:\r[[1, 2],\u2028 \n[3, 4]]\x0c\n\ndB\n1 2\n3 4\n"
    answers = parse_answers(text, 2)
    assert text.splitlines()[3] == "dA:" and text.splitlines()[9] == "dB"
    assert (answers.loss.line, answers.grads["A"].line, answers.grads["B"].line) == (1, 4, 10)
    assert [[n.line for n in row] for row in answers.grads["A"].rows] == [[5, 5], [7, 7]]
    assert [row[0].line for row in answers.grads["B"].rows] == [11, 12]
    # A blank line ends rows, even one holding only blanks.
    assert values(parse_answers("1 2\n3 4\n \t\n5 6\n7 8", 2)) == {
        "A": [[1, 2], [3, 4]],
        "B": [[5, 6], [7, 8]],
    }
    assert str(error("Loss = 1\n\n\n\n\nLoss = 2")) == "line 6: the loss is given twice (first on line 1)"


def test_any_subset_in_any_order():
    text = f"dL/dC = {M}\nLoss = 2\n\ndL/dA = {N}\n"
    answers = parse_answers(text, 2)
    assert values(answers) == {"C": M, "A": N, "loss": 2.0}
    assert (answers.grads["C"].line, answers.loss.line, answers.grads["A"].line) == (1, 2, 4)


def test_a_one_by_one_model():
    assert values(parse_answers("dA = 0.5\ndB: tensor([[2.0]])\ngrad_C = [1.25]\nL = 3", 1)) == {
        "A": [[0.5]],
        "B": [[2.0]],
        "C": [[1.25]],
        "loss": 3.0,
    }
    # Without names a lone number is the loss; bracketed 1×1 matrices are the gradients.
    assert values(parse_answers("3\n[[0.5]]\n[[2.0]]", 1)) == {"loss": 3.0, "A": [[0.5]], "B": [[2.0]]}


# --------------------------------------------------------------------------- values without names


def test_unnamed_values_a_lone_number_is_the_loss_and_matrices_are_a_b_c_in_order():
    text = f"{M}\n\n44.06\n\narray({N})\n1 2\n3 4\n"
    assert values(parse_answers(text, 2)) == {"A": M, "loss": 44.06, "B": N, "C": [[1.0, 2.0], [3.0, 4.0]]}


def test_rows_with_no_blank_line_between_matrices_are_split_and_a_trailing_number_is_the_loss():
    text = "1 2\n3 4\n5 6\n7 8\n9 10\n11 12\n0.5\n"
    answers = parse_answers(text, 2)
    assert values(answers) == {
        "A": [[1, 2], [3, 4]],
        "B": [[5, 6], [7, 8]],
        "C": [[9, 10], [11, 12]],
        "loss": 0.5,
    }
    assert [answers.grads[n].line for n in "ABC"] == [1, 3, 5] and answers.loss.line == 7
    assert values(parse_answers("44.06\n1 2\n3 4", 2)) == {"loss": 44.06, "A": [[1, 2], [3, 4]]}


def test_named_and_unnamed_matrices_are_not_mixed():
    assert str(error(f"dA = {M}\n{N}")) == (
        "line 2: some matrices are named and some not (see line 1): "
        "name every gradient (dL/dA, dL/dB, dL/dC) or none"
    )
    assert str(error(f"{N}\n\ndB: {M}")).startswith(
        "line 3: some matrices are named and some not (see line 1)"
    )
    # A named loss and unnamed matrices do mix: only matrices could be confused.
    assert values(parse_answers(f"Loss = 1\n{M}", 2)) == {"loss": 1.0, "A": M}


def test_a_fourth_unnamed_matrix_is_refused():
    assert (
        str(error(f"{M}\n{M}\n{M}\n{M}"))
        == "line 4: a fourth matrix: expected at most ∂L/∂A, ∂L/∂B and ∂L/∂C"
    )


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("printed", "unit"),
    [
        ("2.1648", 1e-4),
        ("14.089372084700397", 1e-15),
        ("1.2e-05", 1e-6),
        ("12", 1.0),
        ("0.0000", 1e-4),
        ("-2.5", 0.1),
        ("2.", 1.0),
        (".5", 0.1),
        ("1.2000e+01", 1e-3),
        ("1e5", 1e5),
        ("2.1648E-03", 1e-7),
        ("1.5e-320", 1e-321),
        ("0." + "0" * 380 + "1", 1e-323),  # below float64's smallest unit: clamped, never 0
    ],
)
def test_the_unit_of_the_last_printed_digit(printed, unit):
    answers = parse_answers(f"Loss = {printed}", 1)
    assert answers.loss is not None and answers.loss.value == float(printed)
    assert answers.loss.unit == pytest.approx(unit, rel=1e-9) and answers.loss.unit > 0


def test_units_per_entry_follow_each_numbers_own_digits():
    answers = parse_answers("dA = [[2.1648, 2.67], [3, 1.2e-05]]", 2)
    assert [[n.unit for n in row] for row in answers.grads["A"].rows] == [
        [pytest.approx(1e-4), pytest.approx(1e-2)],
        [1.0, pytest.approx(1e-6)],
    ]


def test_from_values_has_no_units():
    answers = Answers.from_values(2.0, {"A": M})
    assert answers.loss == PrintedNumber(2.0) and answers.loss.unit is None
    assert answers.grads["A"] == PrintedMatrix("A", tuple(tuple(PrintedNumber(v) for v in row) for row in M))


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "k", "message"),
    [
        ("dA = [[1, 2], [3, x]]", 2, "line 1: expected a number, ',' or ']', found 'x'"),
        ("dA:\n1 2\n3 four", 2, "line 3: expected a number, found 'four'"),
        ("Loss = abc", 2, "line 1: expected the loss's value (a number or a matrix), found 'abc'"),
        ("dB: about [[1]]", 1, "line 1: expected ∂L/∂B's value (a number or a matrix), found 'about'"),
        (
            "A =\n\nC =\n[[1]]",
            1,
            "line 3: expected ∂L/∂A's value (a number or a matrix) after 'A =' on line 1, found 'C'",
        ),
        (
            "dB =",
            2,
            "line 1: expected ∂L/∂B's value (a number or a matrix) after 'dB =' on line 1, found the end",
        ),
        ("\n\ndA = [[1, 2],\n [3, 4]", 2, "line 3: unbalanced brackets: this '[' is never closed"),
        ("dA = [[1, 2], [3, 4]]]", 2, "line 1: unbalanced brackets: expected no ']' here"),
        ("dA = tensor([[1, 2], [3, 4]]\n", 2, "line 1: unbalanced brackets: 'tensor(' is never closed"),
        ("dA = [[[1, 2], [3, 4]]]", 2, "line 1: expected a number or ']', found '['"),
        ("dA = [[1, 2], 3]", 2, "line 1: expected '[' to start a row, found a number outside any row"),
        (
            "dA = [[1, 2],\n [3]]",
            2,
            "line 2: a ragged row: row 2 of ∂L/∂A has 1 number but row 1 (line 1) has 2",
        ),
        (
            "\ndC:\n1 2 3\n4 5\n",
            3,
            "line 4: a ragged row: row 2 of ∂L/∂C has 2 numbers but row 1 (line 3) has 3",
        ),
        ("1 2\n3 4 5", 2, "line 2: a ragged row: row 2 of the matrix has 3 numbers but row 1 (line 1) has 2"),
        (
            "[[1, 2], [3]]",
            2,
            "line 1: a ragged row: row 2 of the matrix has 1 number but row 1 (line 1) has 2",
        ),
        ("Loss\n3 steps later", 2, "line 2: expected the end of the line, found 'steps'"),
        ("dA:\n1 2\n3 steps", 2, "line 3: expected a number, found 'steps'"),
        ("∂L/∂B = [[1, 2, 3], [4, 5, 6]]", 3, "line 1: ∂L/∂B is 2×3; the model is 3×3"),
        ("dA = 5", 2, "line 1: ∂L/∂A is one number; the model is 2×2"),
        ("[[1, 2, 3], [4, 5, 6]]", 2, "line 1: ∂L/∂A (matrix 1 without a name) is 2×3; the model is 2×2"),
        ("Loss = [[1, 2], [3, 4]]", 2, "line 1: expected the loss as one number, found 2×2 numbers"),
        ("Loss = 1\nL = 2", 2, "line 2: the loss is given twice (first on line 1)"),
        ("dA = [[1]]\n\nA.grad = [[2]]", 1, "line 3: ∂L/∂A is given twice (first on line 1)"),
        ("dA = [[1, nan], [3, 4]]", 2, "line 1: expected a finite number, found 'nan' (not a finite number"),
        ("Loss = inf", 2, "line 1: expected a finite number, found 'inf'"),
        ("dA = tensor([[-inf, 1.], [2., 3.]])", 2, "line 1: expected a finite number, found '-inf'"),
        ("Loss = 1e999", 2, "line 1: expected a finite number, found '1e999' (too large"),
        ("Loss = 44.06 (after 3 steps)", 2, "line 1: expected the end of the line, found 'after'"),
        ("dA = tensor([[1., 2.]] 5)", 2, "line 1: expected ',' or ')' to close 'tensor(', found '5'"),
        ("dA = tensor(x)", 2, "line 1: expected a number or '[' after 'tensor(', found 'x'"),
        (
            "dA = tensor([[1., 2.]], 5)",
            2,
            "line 1: expected a keyword such as dtype=… or ')' in 'tensor(', found '5'",
        ),
        ("[[ 1.0e+00 ...]]", 2, "line 1: expected a number, found '...': the matrix was printed abbreviated"),
        ("dA = [[1, 2], [3, 4]]\n\nLoss = 2\n3.5", 2, "line 4: the loss is given twice (first on line 3)"),
    ],
)
def test_each_refusal_is_one_line_naming_the_line(text, k, message):
    found = str(error(text, k))
    assert found.startswith(message), found
    assert "\n" not in found


@pytest.mark.parametrize(
    "text", ["", "   \n\n", "hello world", "Resulting gradients are,\n\nThe end.", "```\n```"]
)
def test_nothing_found_at_all(text):
    e = error(text)
    assert e.line == 0 and str(e).startswith(
        "no loss or gradient found: expected lines such as 'Loss = 44.06'"
    )


def test_too_long_a_text_is_refused_before_it_is_read(monkeypatch):
    import backprop_lab.engine.answers as answers_module

    monkeypatch.setattr(answers_module, "MAX_ANSWERS_CHARS", 100)
    assert str(error("Loss = 1\n" + " " * 100)).startswith("the text is too long to be answers")


def test_a_bad_k_is_a_programming_error():
    with pytest.raises(ValueError, match="K must be between"):
        parse_answers("Loss = 1", 0)


def test_a_matrix_far_too_big_is_refused_as_soon_as_it_is():
    # Up to 2K + 8 columns and 3K + 8 rows the shape is stated exactly; beyond, reading stops there.
    assert (
        str(error("dA = " + "[" + ", ".join(["[1, 2, 3]"] * 14) + "]"))
        == "line 1: ∂L/∂A is 14×3; the model is 2×2"
    )
    row = " ".join(["1.5"] * 400)
    assert str(error("dA:\n" + "\n".join([row] * 400))) == (
        "line 2: ∂L/∂A has more than 12 numbers in a row; the model is 2×2"
    )
    assert (
        str(error("\n".join(["1 2"] * 400))) == "line 15: the matrix has more than 14 rows; the model is 2×2"
    )
    assert str(error("Loss = [" + "1, " * 10_000 + "]")) == (
        "line 1: the loss has more than 12 numbers in a row; expected one number"
    )


# --------------------------------------------------------------------------- only AnswersError escapes


PIECES = [
    "[", "]", "[[", "]]", "(", ")", "{", "}", ",", ";", "=", ":", " ", "\t", "\n", "\r\n", "\n\n", "```\n",
    "1", "-2.5", "3e-7", "1e999", "nan", "-inf", "0.", ".5", "1.2.3", "...", "'", '"', "'A'", "#",
    "<SumBackward0>", "tensor(", "array(", "np.float64(", "dtype=torch.float32", "grad_fn=", "Loss", "L",
    "dL/dA", "∂L/∂B", "grad_C", "A.grad", "A", "B", "C", "x", "W1", "Resulting gradients are", "\u2212",
    "\u2028", "\\frac{", "∇", "**", "$", "é",
]  # fmt: skip


def check(text: str, k: int) -> None:
    """parse_answers either reads ``text`` into well-formed answers or raises a one-line AnswersError."""
    try:
        answers = parse_answers(text, k)
    except AnswersError as e:
        message = str(e)
        assert message and "\n" not in message and "\r" not in message
        assert 0 <= e.line <= len(text.splitlines()) + 1
        assert message.startswith(f"line {e.line}: ") if e.line else not message.startswith("line ")
        return
    assert answers.loss is not None or answers.grads
    numbers = [answers.loss] if answers.loss is not None else []
    for name, m in answers.grads.items():
        assert name in "ABC" and m.name == name
        assert len(m.rows) == k and all(len(row) == k for row in m.rows)
        numbers += [n for row in m.rows for n in row]
    for n in numbers:
        assert math.isfinite(n.value) and n.unit is not None and 0 < n.unit < math.inf
        assert 1 <= n.line <= len(text.splitlines()) + 1


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.integers(1, 3))
def test_random_pieces_only_ever_raise_answers_error(pieces, k):
    check("".join(pieces), k)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.integers(1, 3))
def test_random_text_only_ever_raises_answers_error(text, k):
    check(text, k)


VALID = [REPORT_HAND, REPORT_TORCH, SEED]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(VALID), st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_mutations_of_valid_answers_only_ever_raise_answers_error(text, seed, edits):
    rng = random.Random(seed)
    for _ in range(edits):
        at = rng.randrange(len(text) + 1)
        action = rng.randrange(4)
        if action == 0:  # delete a stretch
            text = text[:at] + text[at + rng.randrange(1, 20) :]
        elif action == 1:  # insert a piece
            text = text[:at] + rng.choice(PIECES) + text[at:]
        elif action == 2:  # replace a character
            text = text[:at] + rng.choice(PIECES) + text[at + 1 :]
        else:  # duplicate or drop a line
            lines = text.splitlines(keepends=True)
            i = rng.randrange(len(lines)) if lines else 0
            lines[i:i] = [lines[i]] if lines and rng.random() < 0.5 else []
            if lines and rng.random() < 0.5:
                del lines[rng.randrange(len(lines))]
            text = "".join(lines)
    check(text, 3)
