"""``backprop-lab compare``: its output, its exit codes and its refusals.

The layout is tested on comparisons built by hand; the end-to-end tests feed it what students print
(the report's own text, PyTorch's, NumPy's) and mistakes from the catalogue built in the test.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

import backprop_lab.compare as compare_cli
import backprop_lab.engine.check_numbers as check_numbers
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.mistakes import Diagnosis

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "numpy", "torch")


def main(argv):
    return cli_main(argv, window=False)


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the layout, by hand

_TRANSPOSED = Diagnosis(
    "transposed",
    "Your ∂L/∂B is the transpose of the true one: row i holds what belongs in column i.",
    "∂L/∂B_ij = x_i · g_j",
)


def _by_hand() -> Comparison:
    return Comparison(
        (
            Verdict("loss", True, 1, (), Difference(0, 0, 44.0612, 44.061213140343526, 3e-7)),
            Verdict("A", True, 9, (), Difference(0, 1, 2.1648, 2.164830722982, 1.4e-5)),
            Verdict(
                "B",
                False,
                9,
                ((0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)),
                Difference(2, 0, 1.0331, 0.4873137, 1.12),
                _TRANSPOSED,
            ),
        )
    )


def test_the_layout_gives_each_quantity_its_verdict_worst_entry_and_diagnosis():
    lines = compare_cli.comparison_lines(_by_hand())
    text = "\n".join(lines)
    assert lines[0].startswith("Each number is judged to the digits it was printed with")
    order = [
        "Loss: agrees",
        "  given 44.0612, true 44.061213140343526",
        "∂L/∂A: agrees (all 9 entries)",
        "  worst entry A[0][1]: given 2.1648, true 2.164830722982",
        "∂L/∂B: DISAGREES in 6 of 9 entries",
        "  worst entry B[2][0]: given 1.0331, true 0.4873137 (relative difference 1.1e+00)",
        "  disagreeing: B[0][1], B[0][2], B[1][0], B[1][2], B[2][0], B[2][1]",
        "  diagnosis: transposed. Your ∂L/∂B is the transpose of the true one:",
        "  correct: ∂L/∂B_ij = x_i · g_j",
        "∂L/∂C: not given",
        "",
        "compare: ∂L/∂B disagrees",
    ]
    at = 0
    for start in order:  # each one after the one before
        at = next(n for n in range(at, len(lines)) if lines[n].startswith(start)) + 1
    assert lines[-1] == "compare: ∂L/∂B disagrees"
    # An agreeing quantity names no diagnosis and no relative difference.
    assert text.count("diagnosis:") == 1 and text.count("relative difference") == 1


def test_every_line_fits_the_width_and_long_sentences_wrap_indented():
    long = Diagnosis("scaled", "Every entry is the true one times 0.25. " * 6, "∂L/∂C_ij = z_i · 2w_j", 0.25)
    worst = Difference(2, 2, 1.0, 4.0, 0.75)
    c = Comparison((Verdict("C", False, 9, ((2, 2),), worst, long),))
    lines = compare_cli.comparison_lines(c, rtol=1e-3, width=60)
    assert all(len(line) <= 60 for line in lines), lines
    at = next(n for n, line in enumerate(lines) if line.startswith("  diagnosis: scaled."))
    assert lines[at + 1].startswith("    ")  # the sentence's continuation, under its first line
    tolerance = " ".join(line.strip() for line in lines[:2])
    assert tolerance == "Each number is judged to a relative tolerance of 0.001 (--rtol)."
    # One disagreeing entry is the worst: it is not named twice.
    assert not any("disagreeing:" in line for line in lines)


def test_everything_agreeing_ends_with_agreement():
    c = Comparison((Verdict("C", True, 4, (), Difference(1, 0, 0.5, 0.50001, 2e-5)),))
    assert compare_cli.comparison_lines(c)[-1] == "compare: everything given agrees"


# --------------------------------------------------------------------------- refusals (exit 2)


def test_a_bad_rtol_is_a_one_line_usage_error(capsys, tmp_path):
    answers = _write(tmp_path / "a.txt", "Loss = 44.0612\n")
    for bad, why in (("x", "'x' is not a number"), ("0", "'0' is not between 0 and 1"),
                     ("1.5", "'1.5' is not between 0 and 1"), ("nan", "'nan' is not between")):  # fmt: skip
        status, out, err = _run(capsys, ["compare", str(answers), "--rtol", bad])
        assert (status, out) == (2, "")
        assert err.count("\n") == 1 and f"argument --rtol: {why}" in err, err
        assert "backprop-lab compare --help" in err


def test_answers_are_required(capsys):
    status, out, err = _run(capsys, ["compare"])
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and "ANSWERS" in err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.txt", "cannot read {p}: No such file or directory"),
        (lambda d: d, "{p} is a folder, not a file of answers"),
        (lambda d: _write(d / "latin1.txt", b"Loss = 44.06\n\xe9\n"), "{p} is not UTF-8 text (byte 14"),
    ],
    ids=["missing", "folder", "not-utf8"],
)
def test_unreadable_answers_are_one_line_and_exit_2(capsys, tmp_path, make, message):
    path = make(tmp_path)
    status, out, err = _run(capsys, ["compare", str(path)])
    assert (status, out) == (2, "")
    assert err.startswith(f"backprop-lab compare: error: {message.format(p=path)}"), err
    assert err.count("\n") == 1


def test_answers_beyond_the_size_limit_are_refused_unread(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(check_numbers, "MAX_ANSWERS_BYTES", 64)
    path = _write(tmp_path / "big.txt", "1.0 " * 40)
    status, out, err = _run(capsys, ["compare", str(path)])
    assert (status, out) == (2, "")
    assert err.startswith(f"backprop-lab compare: error: {path} holds more than") and err.count("\n") == 1


def test_session_and_answers_cannot_both_be_standard_input(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{}")))
    status, out, err = _run(capsys, ["compare", "-", "-"])
    assert (status, out) == (2, "")
    assert err == "backprop-lab compare: error: SESSION and ANSWERS cannot both be standard input ('-')\n"


def test_a_session_the_loader_refuses_is_its_one_line(capsys, tmp_path):
    answers = _write(tmp_path / "a.txt", "Loss = 1.0\n")
    session = _write(tmp_path / "s.json", json.dumps({"model": {"x": [1.0], "A": [[1.0, 2.0]]}}))
    status, out, err = _run(capsys, ["compare", str(session), str(answers)])
    assert (status, out) == (2, "")
    assert err.startswith("backprop-lab compare: error: ") and err.count("\n") == 1
    assert str(session) in err or "s.json" in err


def test_a_bad_target_is_refused_before_any_work(capsys, tmp_path):
    answers = _write(tmp_path / "a.txt", "Loss = 1.0\n")
    status, out, err = _run(capsys, ["compare", str(answers), "--target", "1,2"])
    assert (status, out) == (2, "")
    assert err == "backprop-lab compare: error: --target: t has 2 numbers; expected K = 3\n"
