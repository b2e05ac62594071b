"""``backprop-lab check``: the report's numbers, the verification table, the exit codes, the refusals."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import backprop_lab.check as cli
import backprop_lab.engine.gradcheck as gradcheck
import backprop_lab.engine.session_format as session_format
from backprop_lab.cli import main as cli_main
from backprop_lab.engine.model import loss_and_grads

ROOT = Path(__file__).resolve().parents[2]
NO_TORCH = "PyTorch is not installed (optional extra 'torch'): the side-by-side table is skipped"
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "numpy", "torch")


def main(argv):
    """``backprop-lab ARGV`` for the tools (``argv[0]`` is the command): never the window."""
    return cli_main(argv, window=False)


def _write(tmp_path: Path, data: object, name: str = "session.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def _small_model() -> dict:
    return {
        "x": [0.5, -1.25],
        "A": [[0.1, -0.2], [0.3, 0.4]],
        "B": [[1.0, 0.0], [-0.5, 2.0]],
        "C": [[0.25, -0.75], [1.5, 0.5]],
    }


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------- the report's example


def test_check_prints_the_reports_numbers_in_the_reports_order(capsys, report_example):
    status, out, err = _run(capsys, ["check"])
    assert status == 0 and err == ""
    m = report_example["model"]
    loss, grads = loss_and_grads(m["x"], m["A"], m["B"], m["C"])
    # Every input and every gradient entry at full precision (repr round-trips the float).
    for v in m["x"] + [e for name in "ABC" for row in m[name] for e in row]:
        assert repr(v) in out
    for name in "ABC":
        for row in grads[name]:
            assert ", ".join(repr(e) for e in row) in out
    assert f"Loss = {loss!r}" in out
    # The report printed 44.061213140343526; the engine's float is one ulp away (1.6e-16).
    assert "the report printed Loss = 44.061213140343526" in out
    order = [
        "check of the report example (K = 3)",
        "Let,",
        "x =",
        "A =",
        "B =",
        "C =",
        "Loss =",
        "Resulting gradients are,",
        "Verification against finite differences:",
        "The numbers the report printed: all 27 entries agree",
        "check passed",
    ]
    positions = [out.index(line) for line in order]
    assert positions == sorted(positions)
    table = [line for line in out.splitlines() if line[:2] in {"A[", "B[", "C["}]
    assert len(table) == 27 and all(line.endswith("  ok") for line in table)
    assert "Finite differences (central, relative step eps = 6.06e-06): all 27 entries agree" in out


def test_check_with_torch_puts_pytorch_beside_the_finite_differences(capsys):
    pytest.importorskip("torch", reason=NO_TORCH)
    status, out, err = _run(capsys, ["check", "--torch"])
    assert status == 0, err
    header = next(line for line in out.splitlines() if line.startswith("entry"))
    assert header.index("analytic") < header.index("finite differences") < header.index("PyTorch")
    # PyTorch's float sums differ in the last bit between CPUs (vector kernels): parse, then compare.
    (printed,) = re.findall(r"PyTorch's loss = (\S+)", out)
    assert float(printed) == pytest.approx(44.061213140343526, rel=1e-14)
    assert "PyTorch float64 autograd: all 27 entries agree" in out
    assert ", with PyTorch 2." in out.splitlines()[0]
    rows = [line.split() for line in out.splitlines() if line.startswith("A[0][0]")]
    assert len(rows) == 1 and len(rows[0]) == 9  # entry, analytic, (ref, abs, rel) × 2, ok


def test_check_torch_without_torch_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    status, out, err = _run(capsys, ["check", "--torch"])
    assert status == 2 and out == ""
    assert err == (
        "backprop-lab check: error: PyTorch is not installed; "
        "install the optional extra: pip install 'backprop-lab[torch]'\n"
    )


# --------------------------------------------------------------------------- session files


def test_check_reads_a_plain_model_file(capsys, tmp_path):
    path = _write(tmp_path, {"model": _small_model()})
    status, out, err = _run(capsys, ["check", str(path)])
    assert status == 0 and err == ""
    assert f"check of {path} (K = 2)" in out
    assert "x =\n[0.5, -1.25]" in out
    assert "The numbers the report printed" not in out  # this file has no "expected"
    assert sum(1 for line in out.splitlines() if line[:2] in {"A[", "B[", "C["}) == 12


def test_check_accepts_a_bare_model_object_and_standard_input(capsys, monkeypatch, tmp_path):
    path = _write(tmp_path, _small_model())
    assert _run(capsys, ["check", str(path)])[0] == 0
    stdin = io.TextIOWrapper(io.BytesIO(json.dumps({"model": _small_model()}).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    status, out, _ = _run(capsys, ["check", "-"])
    assert status == 0 and "check of - (K = 2)" in out


def test_check_reads_a_saved_session(capsys, tmp_path):
    session = pytest.importorskip(
        "backprop_lab.engine.session", reason="backprop_lab.engine.session is not there yet"
    )
    path = tmp_path / "random.json"
    session.save_session(session.Session.random(3, seed=7), path)
    status, out, _ = _run(capsys, ["check", str(path)])
    assert status == 0 and "(K = 3)" in out and "check passed" in out


def test_the_report_example_file_checks_like_the_built_in_one(capsys):
    from backprop_lab.engine.resources import report_example_path

    status, out, _ = _run(capsys, ["check", str(report_example_path())])
    assert status == 0
    assert "The numbers the report printed: all 27 entries agree" in out


def test_wrong_printed_numbers_fail_the_check(capsys, tmp_path, report_example):
    data = dict(report_example)
    data["expected"] = json.loads(json.dumps(report_example["expected"]))
    data["expected"]["grad_B"][1][2] *= 1 + 1e-9
    status, out, _ = _run(capsys, ["check", str(_write(tmp_path, data))])
    assert status == 1
    assert "The numbers the report printed: 1 of 27 entries disagree" in out
    assert "  B[1][2]: " in out and out.rstrip().endswith("check FAILED")


def test_a_wrong_gradient_fails_the_check_with_exit_1(capsys, monkeypatch):
    def forgot_sigma_prime(m):
        loss, g = loss_and_grads(m.x, m.A, m.B, m.C)
        g["A"] = [row.copy() for row in g["B"]]  # x_i · g_j: the chain rule without σ'(a_j)
        return loss, g

    monkeypatch.setattr(gradcheck, "model_loss_and_grads", forgot_sigma_prime)
    status, out, _ = _run(capsys, ["check"])
    assert status == 1
    failed = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert len(failed) == 9 and all(line.startswith("A[") for line in failed)
    assert "9 of 27 entries disagree" in out and out.rstrip().endswith("check FAILED")


def test_a_large_model_lists_the_worst_entries_unless_asked_for_all(capsys, tmp_path):
    session = pytest.importorskip(
        "backprop_lab.engine.session", reason="backprop_lab.engine.session is not there yet"
    )
    path = tmp_path / "k6.json"
    session.save_session(session.Session.random(6, seed=1), path)
    status, out, _ = _run(capsys, ["check", str(path)])
    rows = [line for line in out.splitlines() if line[:2] in {"A[", "B[", "C["}]
    assert status == 0 and len(rows) == cli.WORST_ROWS
    assert "(showing 10 of 108 entries" in out
    status, out, _ = _run(capsys, ["check", str(path), "--all"])
    assert sum(1 for line in out.splitlines() if line[:2] in {"A[", "B[", "C["}) == 108


# --------------------------------------------------------------------------- unusable input


def _huge_int_file(tmp_path: Path) -> Path:
    text = json.dumps({"model": _small_model()}).replace("0.5", "1" + "0" * 400, 1)
    return _write(tmp_path, text)


BAD_FILES = [
    ("missing", lambda p: p / "nope.json", "nope.json: the file does not exist"),
    ("folder", lambda p: p, "this is a folder, not a session file"),
    (
        "not JSON",
        lambda p: _write(p, "{model: 1}"),
        "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
    ),
    ("not UTF-8", lambda p: (p / "b.json").write_bytes(b"\xff\xfe\x00") and p / "b.json", "not UTF-8 text"),
    ("a list", lambda p: _write(p, [1, 2]), "the file does not hold a session (a JSON object) but a list"),
    ("no model", lambda p: _write(p, {"x": [1.0]}), "model.A is missing"),
    ("model not object", lambda p: _write(p, {"model": [1]}), "model must be a JSON object, not a list"),
    (
        "no C",
        lambda p: _write(p, {"model": {k: v for k, v in _small_model().items() if k != "C"}}),
        "model.C is missing",
    ),
    (
        "ragged A",
        lambda p: _write(p, {"model": {**_small_model(), "A": [[0.1, 0.2], [0.3]]}}),
        "A[1] has 1 entry; expected 2",
    ),
    (
        "NaN",
        lambda p: _write(p, '{"model": {"x": [NaN], "A": [[1]], "B": [[1]], "C": [[1]]}}'),
        "x[0] is not finite",
    ),
    (
        "a string",
        lambda p: _write(p, {"model": {**_small_model(), "B": [[1.0, "2"], [3.0, 4.0]]}}),
        "B[0][1] is not a number: '2'",
    ),
    (
        "K mismatch",
        lambda p: _write(p, {"model": {**_small_model(), "K": 3}}),
        "model.K is 3 but model.x has 2 entries",
    ),
    ("huge integer", _huge_int_file, "too large for a float64"),
    (
        "bad expected",
        lambda p: _write(p, {"model": _small_model(), "expected": {"loss": "x"}}),
        "expected.loss must be a number, not 'x'",
    ),
    (
        "overflow",
        lambda p: _write(p, {"model": {"x": [1e200], "A": [[1.0]], "B": [[1e200]], "C": [[1e200]]}}),
        "the loss overflows a float64",
    ),
]


@pytest.mark.parametrize(("case", "make", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_unusable_input_is_one_line_and_exit_2(capsys, tmp_path, case, make, message):
    path = make(tmp_path)
    status, out, err = _run(capsys, ["check", str(path)])
    assert status == 2, case
    assert out == ""
    assert err.startswith("backprop-lab check: error: ") and err.endswith("\n")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_a_file_over_the_size_limit_is_refused_before_reading(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 100)
    path = _write(tmp_path, {"model": _small_model()})
    status, _, err = _run(capsys, ["check", str(path)])
    assert status == 2 and "bytes; session files over 100 bytes are refused" in err


@pytest.mark.parametrize(
    ("argv", "status"), [(["check", "--bogus"], 2), ([], 2), (["frobnicate"], 2), (["check", "-h"], 0)]
)
def test_argument_errors_exit_2_and_help_exits_0(capsys, argv, status):
    assert _run(capsys, argv)[0] == status


def test_version(capsys):
    from backprop_lab.engine import __version__

    status, out, _ = _run(capsys, ["--version"])
    assert status == 0 and out.strip() == f"backprop-lab {__version__}"


def test_train_is_a_subcommand_built_by_cli_train(capsys):
    pytest.importorskip("backprop_lab.train", reason="no train module")
    status, out, _ = _run(capsys, ["train", "--help"])
    assert status == 0 and "usage: backprop-lab train" in out and "--batch-size" in out


# --------------------------------------------------------------------------- no Qt, via the entry point


def test_check_through_the_launcher_imports_no_qt_numpy_or_torch():
    # The installed ``backprop-lab`` script is backprop_lab.cli:main; run it as that, in a fresh process.
    code = (
        "import sys\n"
        "from backprop_lab.cli import main\n"
        "status = main(['check'])\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print('FORBIDDEN', bad)\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "the report printed Loss = 44.061213140343526" in result.stdout
    assert result.stdout.rstrip().endswith("FORBIDDEN []")
