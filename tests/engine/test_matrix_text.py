"""Pasting and copying matrices as text: every accepted form, every refusal, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backprop_lab.engine.matrix_text import (
    MAX_TEXT_CHARS,
    format_latex_bmatrix,
    format_markdown,
    format_python,
    format_tsv,
    parse_matrix_text,
    parse_number,
)

M = [[1.0, -2.5], [3e-7, 4.0]]


@pytest.mark.parametrize(
    "text",
    [
        "1\t-2.5\n3e-7\t4",
        "1,-2.5\n3e-7,4\n",
        "1 -2.5\n  3e-7    4",
        "1; -2.5\r\n3e-7; 4",
        "[[1, -2.5], [3e-7, 4]]",
        "[[1.0, -2.5],\n [3e-07, 4.0]]",
        "array([[ 1.0e+00, -2.5e+00],\n       [ 3.0e-07,  4.0e+00]])",
        "np.array([[1, -2.5], [3e-7, 4]], dtype=np.float64)",
        "[[ 1.  -2.5]\n [ 3e-07  4. ]]",
        "tensor([[1.0000, -2.5000], [3e-7, 4.0000]], dtype=torch.float64, requires_grad=True)",
        "[[1, \u22122.5], [3e-7, 4]]",  # a Unicode minus from a document
    ],
)
def test_accepted_forms(text):
    assert parse_matrix_text(text) == M


def test_flat_list_and_single_number_are_one_row():
    assert parse_matrix_text("[1, 2, 3]") == [[1.0, 2.0, 3.0]]
    assert parse_matrix_text("  42 ") == [[42.0]]
    assert parse_matrix_text("1\n2\n3") == [[1.0], [2.0], [3.0]]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("1 abc", "not a number: 'abc'"),
        ("1 nan", "NaN"),
        ("inf 1", "infinite"),
        ("[[1, -Infinity]]", "infinite"),
        ("1e999", "overflows"),
        ("1 2\n3", "ragged rows: row 2 has 1 value but row 1 has 2"),
        ("[[1, 2], [3]]", "ragged"),
        ("[[1, 2]", "never closed"),
        ("[1, 2]]", "after the closing"),
        ("]", "no matching"),
        ("[[[1]]]", "deeper"),
        ("[[1]] 2", "after the closing"),
        ("__import__('os').system('true')", "not"),
        ("f(g(1))", "only one"),
        ("True", "not a number"),
        ("0x10", "not a number"),
    ],
)
def test_refusals_are_one_line_and_name_the_problem(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_matrix_text(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_size_is_bounded():
    with pytest.raises(ValueError, match="too long"):
        parse_matrix_text("1 " * (MAX_TEXT_CHARS // 2 + 1))
    with pytest.raises(ValueError, match="too many rows"):
        parse_matrix_text("1\n" * 1025)
    with pytest.raises(ValueError, match="too many columns"):
        parse_matrix_text(" ".join(["1"] * 1025))


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "nan", "NaN", "inf", "-inf", "1e999", "-1e400", "1..2", "1,5"]
)
def test_parse_number_refuses(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_parse_number_accepts_finite_numbers():
    assert parse_number(" -1.5e-3 ") == -0.0015
    assert parse_number("\u22122") == -2.0
    assert parse_number("1e308") == 1e308


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(
    st.integers(1, 4).flatmap(
        lambda k: st.lists(st.lists(finite, min_size=k, max_size=k), min_size=1, max_size=4)
    )
)
def test_tsv_and_python_round_trip_bit_for_bit(m):
    assert parse_matrix_text(format_tsv(m)) == m
    assert parse_matrix_text(format_python(m)) == m


def test_formatters():
    assert format_tsv(M) == "1.0\t-2.5\n3e-07\t4.0\n"
    assert format_python([1.0, 2.0]) == "[1.0, 2.0]"
    assert format_python(M) == "[[1.0, -2.5], [3e-07, 4.0]]"
    assert format_latex_bmatrix(M) == "\\begin{bmatrix}\n  1 & -2.5 \\\\\n  3e-07 & 4\n\\end{bmatrix}\n"
    md = format_markdown(M).splitlines()
    assert md[0] == "|   | 0 | 1 |"
    assert md[1] == "|---|---:|---:|"
    assert md[2] == "| 0 | 1 | -2.5 |"
    assert format_tsv(M, digits=2) == "1\t-2.5\n3e-07\t4\n"
