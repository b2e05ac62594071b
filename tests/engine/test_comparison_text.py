"""The words of a comparison (engine.comparison_text), on comparisons built by hand."""

from __future__ import annotations

import math

from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.comparison_text import (
    disagreeing_text,
    entry_label,
    outcome_text,
    quantity_title,
    tolerance_text,
    verdict_text,
    worst_text,
)
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
