"""The words of a comparison (engine.check_numbers), on comparisons built by hand."""

from __future__ import annotations

import io
import math

import pytest

import backprop_lab.engine.check_numbers as check_numbers
from backprop_lab.engine.check_numbers import (
    AnswersFileError,
    disagreeing_text,
    entry_label,
    outcome_text,
    quantity_title,
    read_answers_text,
    tolerance_text,
    verdict_text,
    worst_text,
)
from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.mistakes import Diagnosis


def _verdict(name: str, wrong: tuple[tuple[int, int], ...] = (), entries: int = 9) -> Verdict:
    i, j = wrong[0] if wrong else (0, 1)
    worst = Difference(i, j, 1.0331 if wrong else 2.1648, 0.4873137 if wrong else 2.16483, 1.12)
    diagnosis = Diagnosis("transposed", "You gave ∂L/∂B transposed.", "∂L/∂B_ij = x_i · g_j")
    return Verdict(name, not wrong, entries, wrong, worst, diagnosis if wrong else None)


def test_titles_and_labels_name_the_quantity_and_the_entry_as_check_does():
    assert quantity_title("loss") == "Loss"
    assert [quantity_title(n) for n in "ABC"] == ["∂L/∂A", "∂L/∂B", "∂L/∂C"]
    assert entry_label("B", 2, 0) == "B[2][0]"


def test_the_tolerance_says_digits_or_the_rtol_given():
    assert "digits it was printed with" in tolerance_text(None)
    assert "one unit in its last printed digit" in tolerance_text(None)
    assert tolerance_text(1e-3) == "Each number is judged to a relative tolerance of 0.001 (--rtol)."


def test_a_verdict_counts_its_entries():
    assert verdict_text(_verdict("A")) == "agrees (all 9 entries)"
    assert verdict_text(_verdict("A", entries=1)) == "agrees (the one entry)"
    assert verdict_text(_verdict("B", ((2, 0), (0, 2), (1, 2)))) == "DISAGREES in 3 of 9 entries"
    assert verdict_text(_verdict("loss", entries=1)) == "agrees"
    assert verdict_text(_verdict("loss", ((0, 0),), entries=1)) == "DISAGREES"


def test_the_worst_entry_shows_both_values_and_only_a_disagreement_its_relative_difference():
    assert worst_text(_verdict("A")) == "worst entry A[0][1]: given 2.1648, true 2.16483"
    assert worst_text(_verdict("B", ((2, 0),))) == (
        "worst entry B[2][0]: given 1.0331, true 0.4873137 (relative difference 1.1e+00)"
    )
    loss = Verdict("loss", False, 1, ((0, 0),), Difference(0, 0, 44.0, 44.0612, math.inf))
    assert worst_text(loss) == "given 44.0, true 44.0612 (relative difference inf)"


def test_disagreeing_entries_are_named_up_to_a_limit():
    cells = tuple((i, j) for i in range(3) for j in range(3))
    v = _verdict("C", cells)
    assert disagreeing_text(v, limit=4) == "C[0][0], C[0][1], C[0][2], C[1][0] and 5 more"
    assert disagreeing_text(_verdict("C", ((1, 2),))) == "C[1][2]"
    assert disagreeing_text(_verdict("C")) == ""


def test_the_outcome_lists_what_disagrees_in_order():
    assert outcome_text(Comparison((_verdict("A"), _verdict("B")))) == "everything given agrees"
    assert outcome_text(Comparison((_verdict("A"), _verdict("B", ((0, 0),))))) == "∂L/∂B disagrees"
    wrong = Comparison((_verdict("loss", ((0, 0),), 1), _verdict("A", ((0, 0),)), _verdict("C", ((1, 1),))))
    assert outcome_text(wrong) == "the loss, ∂L/∂A and ∂L/∂C disagree"


def test_answers_are_read_as_utf8_without_a_byte_order_mark(tmp_path):
    path = tmp_path / "answers.txt"
    path.write_bytes("\ufeff∂L/∂A =\n[[1.5, 2]]\n".encode())
    assert read_answers_text(path) == "∂L/∂A =\n[[1.5, 2]]\n"
    assert read_answers_text(io.BytesIO(b"Loss = 1\n")) == "Loss = 1\n"


def test_an_unreadable_file_of_answers_is_one_line_naming_it(tmp_path, monkeypatch):
    with pytest.raises(AnswersFileError, match=r"^cannot read .*nope\.txt: No such file or directory$"):
        read_answers_text(tmp_path / "nope.txt")
    with pytest.raises(AnswersFileError, match=r"is a folder, not a file of answers$"):
        read_answers_text(tmp_path)
    with pytest.raises(AnswersFileError, match=r"^standard input is not UTF-8 text \(byte 3 "):
        read_answers_text(io.BytesIO(b"1 \xff 2"))
    monkeypatch.setattr(check_numbers, "MAX_ANSWERS_BYTES", 10)
    with pytest.raises(AnswersFileError, match=r"^pasted holds more than 0 MiB"):
        read_answers_text(io.BytesIO(b"1.0 " * 3), "pasted")
    assert read_answers_text(io.BytesIO(b"1.0 2.0 3")) == "1.0 2.0 3"  # exactly at the limit


def test_a_stream_that_fails_is_one_line():
    class Broken(io.RawIOBase):
        def read(self, n=-1):
            raise OSError(5, "Input/output error")

    with pytest.raises(AnswersFileError, match=r"^cannot read standard input: Input/output error$"):
        read_answers_text(Broken())
