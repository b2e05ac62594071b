"""``backprop-lab compare``: its output, its exit codes and its refusals.

The layout is tested on comparisons built by hand; the end-to-end tests feed it what students print
(the report's own text, PyTorch's, NumPy's) and mistakes from the catalogue built in the test.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import backprop_lab.compare as compare_cli
import backprop_lab.engine.check_numbers as check_numbers
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.mistakes import Diagnosis
from backprop_lab.engine.model import model_loss_and_grads
from backprop_lab.engine.session import Session, save_session
from backprop_lab.engine.variant import Variant

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


# --------------------------------------------------------------------------- end to end: what students print

#: The seed report's own text, verbatim: its "Resulting gradients" (full precision) and its
#: PyTorch block (four decimals, B's tensor continuing after a fence and a blank line).
REPORT_RESULTING = (
    "Resulting gradients are,\n"
    "\n"
    "A =\n"
    "\n"
    "[[2.164841106297983, 2.6681140650967543, 1.2098228357464476], [2.1981558022807874, "
    "2.7091736184596087, 1.2284407748869652], [2.1848830308131784, 2.69281525010984, "
    "1.2210232780700203]]\n"
    "\n"
    "B =\n"
    "\n"
    "[[14.089372084700397, 13.535386460481702, 8.792896243733097], [14.306193146636476, "
    "13.743682248855672, 8.928209946118045], [14.21981035611282, 13.660695977626299, "
    "8.87430016860969]]\n"
    "\n"
    "C =\n"
    "\n"
    "[[14.65610661598256, 18.529402674179796, 18.78898960873385], [12.038309499435838, "
    "15.219777671936383, 15.432998545805004], [11.676555948682925, 14.762420381467074, "
    "14.969233926447846]]\n"
    "\n"
    "Loss = 44.061213140343526\n"
)
REPORT_PYTORCH = (
    "Here is what I obtain using pyTorch's torch.backward() function\n"
    "\n"
    "A =\n"
    "\n"
    "```\n"
    "tensor([[2.1648, 2.6681, 1.2098], [2.1982, 2.7092, 1.2284], [2.1849, 2.6928, 1.2210]])\n"
    "```\n"
    "\n"
    "B =\n"
    "\n"
    "```\n"
    "tensor([[14.0894, 13.5354, 8.7929], [14.3062, 13.7437, 8.9282],\n"
    "```\n"
    "\n"
    "[14.2198, 13.6607, 8.8743]])\n"
    "\n"
    "C =\n"
    "\n"
    "tensor([[14.6561, 18.5294, 18.7890], [12.0383, 15.2198, 15.4330], [11.6766, 14.7624, "
    "14.9692]])\n"
    "\n"
    "Loss = tensor(44.0612, grad_fn=<SumBackward0>)\n"
)


def _example():
    return Session.report_example().model


def _printed(m, digits: int = 4) -> str:
    """A matrix as the report prints one: a nested list, ``digits`` decimals."""
    return "[" + ",\n ".join("[" + ", ".join(f"{v:.{digits}f}" for v in row) + "]" for row in m) + "]"


def _answers(loss: float | None, grads: dict, digits: int = 4) -> str:
    parts = [] if loss is None else [f"Loss = {loss:.{digits}f}", ""]
    for name, m in grads.items():
        parts += [f"dL/d{name} =", _printed(m, digits), ""]
    return "\n".join(parts)


def _transpose(m):
    return [list(r) for r in zip(*m, strict=True)]


def test_the_reports_own_resulting_gradients_agree(capsys, tmp_path):
    answers = _write(tmp_path / "report.txt", REPORT_RESULTING)
    assert "Resulting gradients are," in answers.read_text(encoding="utf-8")
    status, out, err = _run(capsys, ["compare", str(answers)])
    assert (status, err) == (0, "")
    assert f"compare of {answers} with the report example (K = 3)" in out
    assert "Variant: sigmoid, row vectors, no target" in out
    for name in "ABC":
        assert f"∂L/∂{name}: agrees (all 9 entries)" in out
    assert "Loss: agrees" in out and "given 44.061213140343526" in out
    assert out.rstrip().endswith("compare: everything given agrees")


def test_the_reports_pytorch_block_agrees_to_its_four_digits_and_not_to_1e_9(capsys, tmp_path):
    answers = _write(tmp_path / "torch.txt", REPORT_PYTORCH)
    status, out, err = _run(capsys, ["compare", str(answers)])
    assert (status, err) == (0, ""), out
    assert "Loss: agrees" in out and "given 44.0612, true 44.06121314034353" in out
    assert out.rstrip().endswith("compare: everything given agrees")
    status, out, err = _run(capsys, ["compare", str(answers), "--rtol", "1e-9"])
    assert (status, err) == (1, "")
    assert "Each number is judged to a relative tolerance of 1e-09 (--rtol)." in out
    assert "∂L/∂A: DISAGREES in 9 of 9 entries" in out


def test_a_transposed_gradient_is_named_with_its_correct_line(capsys, tmp_path):
    model = _example()
    loss, grads = model_loss_and_grads(model)
    dB = grads["B"]
    answers = _write(tmp_path / "a.txt", _answers(loss, {**grads, "B": _transpose(dB)}))
    status, out, err = _run(capsys, ["compare", str(answers)])
    assert (status, err) == (1, "")
    wrong = sorted((i, j) for i in range(3) for j in range(3) if abs(dB[i][j] - dB[j][i]) > 2e-4)
    assert f"∂L/∂B: DISAGREES in {len(wrong)} of 9 entries" in out
    # The worst entry is one of the pair furthest from its transpose (the two are as far).
    far = max(abs(dB[i][j] - dB[j][i]) for i, j in wrong)
    worst = [(i, j) for i, j in wrong if abs(dB[i][j] - dB[j][i]) == far]
    assert any(
        f"worst entry B[{i}][{j}]: given {round(dB[j][i], 4)!r}, true {dB[i][j]!r}" in out for i, j in worst
    )
    assert "  diagnosis: transposed. " in out
    assert "  correct: ∂L/∂B" in out
    for name in ("A", "C"):
        assert f"∂L/∂{name}: agrees (all 9 entries)" in out
    assert out.rstrip().endswith("compare: ∂L/∂B disagrees")


def test_a_halved_dC_from_standard_input_is_the_missing_factor_2(capsys, monkeypatch):
    model = _example()
    _, grads = model_loss_and_grads(model)
    half = [[v / 2 for v in row] for row in grads["C"]]
    text = "tensor(" + _printed(half, 6) + ")\n"  # unlabelled: the one matrix is read as ∂L/∂A…
    labelled = "C.grad = " + text
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(labelled.encode())))
    status, out, err = _run(capsys, ["compare", "-"])
    assert (status, err) == (1, "")
    assert "compare of standard input with the report example" in out
    assert "∂L/∂C: DISAGREES in 9 of 9 entries" in out and "diagnosis: missing-factor-2." in out
    assert "Loss: not given" in out and "∂L/∂A: not given" in out


def test_all_three_transposed_is_the_other_convention(capsys, tmp_path):
    model = _example()
    loss, grads = model_loss_and_grads(model)
    answers = _write(tmp_path / "col.txt", _answers(loss, {n: _transpose(m) for n, m in grads.items()}, 6))
    status, out, _ = _run(capsys, ["compare", str(answers)])
    assert status == 1
    assert out.count("diagnosis: other-convention.") == 3, out


def test_the_variant_options_choose_the_truth(capsys, tmp_path):
    model = _example().with_variant(Variant("tanh", "column", (-1.0, 0.5, 2.0)))
    loss, grads = model_loss_and_grads(model)
    answers = _write(tmp_path / "tanh.txt", _answers(loss, grads, 8))
    options = ["--activation", "tanh", "--convention", "column", "--target", "-1,0.5,2"]
    status, out, err = _run(capsys, ["compare", str(answers), *options])
    assert (status, err) == (0, ""), out
    assert "Variant: tanh, column vectors, target t" in out
    status, out, _ = _run(capsys, ["compare", str(answers)])  # the report's own member: other numbers
    assert status == 1 and "Loss: DISAGREES" in out


def test_a_session_file_gives_the_model(capsys, tmp_path):
    session = Session.random(2, 7)
    path = tmp_path / "s.json"
    save_session(session, path)
    loss, grads = model_loss_and_grads(session.model)
    answers = _write(tmp_path / "a.txt", _answers(loss, {"A": grads["A"]}, 10))
    status, out, err = _run(capsys, ["compare", str(path), str(answers)])
    assert (status, err) == (0, ""), out
    assert f"with {path} (K = 2)" in out and "∂L/∂A: agrees (all 4 entries)" in out
    assert "∂L/∂B: not given" in out


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Loss = 44.06\n\nA =\n[[1.0, 2.0, oops], [1, 2, 3], [1, 2, 3]]\n", 4),
        ("A =\n[[1.0, 2.0], [3.0, 4.0]]\n", 0),
    ],
    ids=["a-word", "not-KxK"],
)
def test_unreadable_answers_name_the_line_in_one_line_and_exit_2(capsys, tmp_path, text, line):
    answers = _write(tmp_path / "a.txt", text)
    status, out, err = _run(capsys, ["compare", str(answers)])
    assert (status, out) == (2, "")
    assert err.startswith(f"backprop-lab compare: error: {answers}: ") and err.count("\n") == 1, err
    if line:
        assert f": line {line}: " in err


def test_compare_never_imports_qt_numpy_or_torch(tmp_path):
    answers = _write(tmp_path / "a.txt", REPORT_PYTORCH)
    code = (
        "import sys\n"
        "from backprop_lab.cli import main\n"
        f"status = main(['compare', {str(answers)!r}])\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print('FORBIDDEN', bad)\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("FORBIDDEN []")
